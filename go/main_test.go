package inferencekey_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/inferencekey/inferencekey-sdk/go/inferencekeytest"
)

// The session's local platform and its project, started once for every test that needs real
// models (see platform).
var (
	dev   *inferencekeytest.Server
	creds inferencekeytest.Credentials
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if part := os.Getenv("IK_TEST_CHILD"); part != "" {
		runChildPart(part)
		return 0
	}
	if os.Getenv("INFERENCEKEY_DEV_PYTHON") != "" {
		var err error
		if dev, err = inferencekeytest.Start(inferencekeytest.Config{}); err != nil {
			fmt.Fprintln(os.Stderr, "starting the local platform:", err)
			return 1
		}
		defer dev.Close()
		if creds, err = dev.CreateProject("acme"); err != nil {
			fmt.Fprintln(os.Stderr, "creating the project:", err)
			return 1
		}
	}
	return m.Run()
}

// platform returns the local platform, failing (never skipping) when the test command did not
// provide INFERENCEKEY_DEV_PYTHON.
func platform(t testing.TB) *inferencekeytest.Server {
	t.Helper()
	if dev == nil {
		t.Fatal("INFERENCEKEY_DEV_PYTHON is not set: tests against the local platform need it (tests/run-all.sh sets it)")
	}
	return dev
}

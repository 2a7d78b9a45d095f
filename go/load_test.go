package inferencekey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// What is read once per process (the library, INFERENCEKEY_LOG) is tested in a child: this
// test binary run again with IK_TEST_CHILD naming the part TestMain runs instead of the tests.
func runChildPart(part string) {
	switch part {
	case "load":
		loadChild()
	case "log":
		logChild()
	}
}

// runChild runs a part in a child process with extra environment and returns its output.
func runChild(t *testing.T, part string, env ...string) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "IK_TEST_CHILD="+part), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return string(out)
}

// logChild makes one request with INFERENCEKEY_LOG set by the parent.
func logChild() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	}))
	defer srv.Close()
	mgmt, err := inferencekey.NewManagementClient(inferencekey.WithBaseURL(srv.URL), inferencekey.WithProject("acme"),
		inferencekey.WithSDKToken(fakeToken))
	if err != nil {
		os.Stdout.WriteString(err.Error())
		return
	}
	defer mgmt.Close()
	_, _ = mgmt.List(context.Background())
	time.Sleep(200 * time.Millisecond) // the records drain asynchronously
}

func loadChild() {
	_, err := inferencekey.NewManagementClient(inferencekey.WithProject("acme"))
	if err == nil {
		os.Stdout.WriteString("LOADED\n")
		return
	}
	os.Stdout.WriteString("LOAD-ERROR: " + err.Error() + "\n")
}

func loadInChild(t *testing.T, lib string) string {
	out := runChild(t, "load", "INFERENCEKEY_LIB="+lib)
	for _, line := range strings.Split(out, "\n") {
		if msg, ok := strings.CutPrefix(line, "LOAD-ERROR: "); ok {
			return msg
		}
	}
	t.Fatalf("child printed no error:\n%s", out)
	return ""
}

func TestLoadRefuses(t *testing.T) {
	t.Run("missing file names the path", func(t *testing.T) {
		msg := loadInChild(t, "/nonexistent/libinferencekey.so")
		if !strings.Contains(msg, "/nonexistent/libinferencekey.so") || !strings.Contains(msg, "config") {
			t.Fatalf("message %q", msg)
		}
	})
	t.Run("another ABI version names both and the path", func(t *testing.T) {
		if _, err := exec.LookPath("cc"); err != nil {
			t.Fatal("a C compiler (cc) is needed to build the stand-in library")
		}
		dir := t.TempDir()
		src, lib := filepath.Join(dir, "abi2.c"), filepath.Join(dir, "libabi2.so")
		if err := os.WriteFile(src, []byte("unsigned int ik_abi_version(void) { return 2; }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
			t.Fatalf("cc: %v\n%s", err, out)
		}
		msg := loadInChild(t, lib)
		if !strings.Contains(msg, "ABI version 2") || !strings.Contains(msg, "module's 3") || !strings.Contains(msg, lib) {
			t.Fatalf("message %q", msg)
		}
	})
}

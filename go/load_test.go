package inferencekey_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// The loader runs once per process, so each case runs this test binary again as a child with
// INFERENCEKEY_LIB set; IK_LOAD_CHILD makes TestMain run loadChild instead of the tests.
func loadChild() {
	_, err := inferencekey.NewManagementClient(inferencekey.WithProject("acme"))
	if err == nil {
		os.Stdout.WriteString("LOADED\n")
		return
	}
	os.Stdout.WriteString("LOAD-ERROR: " + err.Error() + "\n")
}

func loadInChild(t *testing.T, lib string) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "IK_LOAD_CHILD=1", "INFERENCEKEY_LIB="+lib)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
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

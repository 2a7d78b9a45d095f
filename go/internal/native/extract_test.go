package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded library is written once under its checksum, a damaged cached copy is replaced,
// and bytes that do not match their checksum are refused.
func TestExtractEmbedded(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	data := []byte("not really a library")
	sum := sha256Hex(data)
	defer func(old func() ([]byte, string, bool)) { EmbeddedLibrary = old }(EmbeddedLibrary)
	EmbeddedLibrary = func() ([]byte, string, bool) { return data, sum, true }

	path, err := extractEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Dir(path)) != sum {
		t.Fatalf("extracted to %s, not under its checksum", path)
	}
	if err := os.WriteFile(path, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := extractEmbedded()
	if err != nil || again != path {
		t.Fatalf("%s, %v", again, err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(data) {
		t.Fatalf("the damaged copy was kept: %q", got)
	}

	EmbeddedLibrary = func() ([]byte, string, bool) { return data, strings.Repeat("0", 64), true }
	if _, err := extractEmbedded(); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a checksum mismatch was not refused: %v", err)
	}
	EmbeddedLibrary = func() ([]byte, string, bool) { return nil, "", false }
	if _, err := extractEmbedded(); err == nil || !strings.Contains(err.Error(), EnvLib) {
		t.Fatalf("no library, no hint: %v", err)
	}
}

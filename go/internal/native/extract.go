package native

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// extractEmbedded writes the embedded library to <user cache>/inferencekey/<sha256>/ once and
// returns its path. The directory is named by the checksum, so a file found there is used only
// after its bytes hash to that name: a truncated or altered copy is replaced, never loaded.
func extractEmbedded() (string, error) {
	if EmbeddedLibrary == nil {
		return "", errNoLibrary
	}
	data, sum, ok := EmbeddedLibrary()
	if !ok {
		return "", errNoLibrary
	}
	if got := sha256Hex(data); got != sum {
		return "", fmt.Errorf("inferencekey: the embedded library's checksum %s does not match %s", got, sum)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "inferencekey", sum)
	path := filepath.Join(dir, libraryFileName())
	if existing, err := os.ReadFile(path); err == nil && sha256Hex(existing) == sum {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("inferencekey: cannot create the library cache %s: %w", dir, err)
	}
	// Write then rename: a concurrent process never loads a half-written file.
	tmp, err := os.CreateTemp(dir, "lib-*.tmp")
	if err != nil {
		return "", fmt.Errorf("inferencekey: cannot write the library cache %s: %w", dir, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("inferencekey: cannot write the library cache %s: %v", dir, errorsJoin(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("inferencekey: cannot write the library cache %s: %w", dir, err)
	}
	return path, nil
}

func libraryFileName() string {
	if runtime.GOOS == "darwin" {
		return "libinferencekey.dylib"
	}
	return "libinferencekey.so"
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

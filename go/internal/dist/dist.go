// Package dist carries the native library inside the module, one directory per platform;
// only the current platform's file is compiled in (by the _GOOS_GOARCH file suffixes).
// release/build.sh puts libinferencekey.{so,dylib} and its SHA-256 (libinferencekey.sha256)
// in each directory of a release; in a checkout the checksum file says "none" and the
// library comes from INFERENCEKEY_LIB.
package dist

import (
	"io/fs"
	"path"
	"runtime"
	"strings"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

func init() {
	native.EmbeddedLibrary = library
}

func library() ([]byte, string, bool) {
	sum, err := fs.ReadFile(files, path.Join(dir, "libinferencekey.sha256"))
	if err != nil {
		return nil, "", false
	}
	name := "libinferencekey.so"
	if runtime.GOOS == "darwin" {
		name = "libinferencekey.dylib"
	}
	data, err := fs.ReadFile(files, path.Join(dir, name))
	if err != nil {
		return nil, "", false
	}
	return data, strings.TrimSpace(string(sum)), true
}

// Package native is the one door to the InferenceKey C library: loading it, binding its
// exports with purego, and turning result buffers and ik_error handles into Go values. It
// holds every use of unsafe in the module; nothing outside it sees a C pointer.
package native

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/ebitengine/purego"
)

// ABIVersion is the ABI this module is written against (c-abi rule 21, ABI 3 amendments).
const ABIVersion = 3

// EnvLib names the variable that overrides where the library is loaded from.
const EnvLib = "INFERENCEKEY_LIB"

// EmbeddedLibrary, when set by a per-platform package (see internal/dist), returns the
// library bytes shipped inside the module and their SHA-256 checksum in hex.
var EmbeddedLibrary func() (data []byte, sha256hex string, ok bool)

var (
	loadOnce sync.Once
	loadErr  error
	// Path is the file the library was loaded from (for messages).
	Path string
)

// Load opens the library once per process: INFERENCEKEY_LIB first, then the embedded
// per-platform copy (extracted to the user cache directory). It checks the ABI version.
func Load() error {
	loadOnce.Do(func() { loadErr = load() })
	return loadErr
}

func load() error {
	path := os.Getenv(EnvLib)
	if path == "" {
		var err error
		if path, err = extractEmbedded(); err != nil {
			return err
		}
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return fmt.Errorf("inferencekey: cannot load the native library %s: %w", path, err)
	}
	Path = path
	var abi func() uint32
	if err := register(lib, &abi, "ik_abi_version"); err != nil {
		return err
	}
	if found := abi(); found != ABIVersion {
		return fmt.Errorf("inferencekey: native library ABI version %d does not match this module's %d (library %s)",
			found, ABIVersion, path)
	}
	return bindAll(lib)
}

// register binds one export, turning purego's panic on a missing symbol into an error.
func register(lib uintptr, fptr any, name string) (err error) {
	sym, err := purego.Dlsym(lib, name)
	if err != nil {
		return fmt.Errorf("inferencekey: the native library %s lacks %s (too old?): %w", Path, name, err)
	}
	purego.RegisterFunc(fptr, sym)
	return nil
}

var errNoLibrary = errors.New("inferencekey: no native library: this platform has no embedded library " +
	"in the module; set " + EnvLib + " to the path of libinferencekey")

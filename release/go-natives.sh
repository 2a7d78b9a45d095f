#!/usr/bin/env bash
# Puts a native library into a copy of the Go module, as its release carries it:
#
#   bash release/go-natives.sh MODULE_DIR GOOS_GOARCH LIBRARY
#
# writes MODULE_DIR/internal/dist/GOOS_GOARCH/libinferencekey.{so,dylib} (stripped when a
# strip tool is at hand) and libinferencekey.sha256 beside it, which the module embeds and
# checks before it loads the library (go/internal/dist). The checkout itself carries none:
# there the checksum file says "none" and INFERENCEKEY_LIB names the library.
set -euo pipefail
module="$1" platform="$2" lib="$3"
dir="$module/internal/dist/$platform"
[ -d "$dir" ] || { echo "go-natives.sh: no platform directory $dir" >&2; exit 1; }
name=libinferencekey.so
[[ "$platform" == darwin_* ]] && name=libinferencekey.dylib
cp "$lib" "$dir/$name"
chmod 0644 "$dir/$name"
if [[ "$platform" == linux_* ]] && command -v strip >/dev/null && [ "$platform" = "linux_$(go env GOARCH)" ]; then
    strip --strip-unneeded "$dir/$name"
fi
sha256sum "$dir/$name" | cut -d' ' -f1 >"$dir/libinferencekey.sha256"
echo "   $platform: $(wc -c <"$dir/$name") bytes, sha256 $(cat "$dir/libinferencekey.sha256")"

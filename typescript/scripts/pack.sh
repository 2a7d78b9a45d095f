#!/usr/bin/env bash
# Packs @inferencekey/sdk and its per-platform native package for this machine into OUT_DIR:
#   bash scripts/pack.sh LIBRARY OUT_DIR
# The published package.json gains `optionalDependencies` on every platform package here
# (npm installs only the one whose os/cpu/libc match), as esbuild and napi-rs packages do;
# the workspace's own package.json has none, so `npm ci` never looks for unpublished ones.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$(realpath "$1")"
OUT="$(mkdir -p "$2" && realpath "$2")"
VERSION="$(node -p "require('$HERE/package.json').version")"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

(cd "$HERE" && npm run --silent build)

optional="{}"
for dir in "$HERE"/npm/*/; do
    name="$(node -p "require('$dir/package.json').name")"
    optional="$(node -p "JSON.stringify({...$optional, '$name': '$VERSION'})")"
done

# The platform package of this machine, with the library built here.
key="$(cd "$HERE" && node -p "require('./dist/cjs/native.js').platformKey()")"
[[ -d "$HERE/npm/$key" ]] || { echo "no package dir npm/$key for this platform" >&2; exit 1; }
mkdir -p "$STAGE/native"
cp "$HERE/npm/$key/package.json" "$HERE/npm/$key/README.md" "$STAGE/native/"
cp "$LIB" "$STAGE/native/libinferencekey.so"
(cd "$STAGE/native" && npm pack --silent --pack-destination "$OUT" >/dev/null)

# The main package: built files, README, and package.json with the optional dependencies.
mkdir -p "$STAGE/main"
cp -r "$HERE/dist" "$HERE/README.md" "$HERE/package.json" "$STAGE/main/"
(cd "$STAGE/main" && npm pkg set "optionalDependencies=$optional" --json && npm pkg delete scripts \
    && npm pack --silent --pack-destination "$OUT" >/dev/null)
ls "$OUT"/inferencekey-sdk-*.tgz

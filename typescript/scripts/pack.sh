#!/usr/bin/env bash
# Packs @inferencekey/sdk and one native package per PLATFORM=LIBRARY pair into OUT_DIR:
#   bash scripts/pack.sh OUT_DIR linux-x64-gnu=path/to/libinferencekey.so [darwin-arm64=...]
# PLATFORM is a directory of npm/ (`node -p "require('./dist/cjs/native.js').platformKey()"`
# names this machine's). The published package.json gains `optionalDependencies` on every
# platform package here (npm installs only the one whose os/cpu/libc match), as esbuild and
# napi-rs packages do; the workspace's own package.json has none, so `npm ci` never looks for
# unpublished ones.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "$1" && realpath "$1")"
shift
[[ $# -gt 0 ]] || { echo "usage: pack.sh OUT_DIR PLATFORM=LIBRARY..." >&2; exit 64; }
VERSION="$(node -p "require('$HERE/package.json').version")"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

(cd "$HERE" && npm run --silent build)

optional="{}"
for dir in "$HERE"/npm/*/; do
    name="$(node -p "require('$dir/package.json').name")"
    optional="$(node -p "JSON.stringify({...$optional, '$name': '$VERSION'})")"
done

# One platform package per pair, holding its library under the file name it declares.
for pair in "$@"; do
    key="${pair%%=*}" lib="${pair#*=}"
    [[ -d "$HERE/npm/$key" ]] || { echo "no package dir npm/$key" >&2; exit 1; }
    [[ -f "$lib" ]] || { echo "$key: no library at $lib" >&2; exit 1; }
    file="$(node -p "require('$HERE/npm/$key/package.json').files[0]")"
    rm -rf "$STAGE/native" && mkdir -p "$STAGE/native"
    cp "$HERE/npm/$key/package.json" "$HERE/npm/$key/README.md" "$STAGE/native/"
    cp "$lib" "$STAGE/native/$file"
    (cd "$STAGE/native" && npm pack --silent --pack-destination "$OUT" >/dev/null)
done

# The main package: built files, README, and package.json with the optional dependencies.
mkdir -p "$STAGE/main"
cp -r "$HERE/dist" "$HERE/README.md" "$HERE/package.json" "$STAGE/main/"
(cd "$STAGE/main" && npm pkg set "optionalDependencies=$optional" --json && npm pkg delete scripts \
    && npm pack --silent --pack-destination "$OUT" >/dev/null)
ls "$OUT"/inferencekey-sdk-*.tgz

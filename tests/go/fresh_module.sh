#!/usr/bin/env bash
# A user's first run of the Go SDK: a fresh module outside the repository requires the SDK
# (a replace to a release-staged copy of go/, the native library embedded as a release embeds
# it, INFERENCEKEY_LIB unset), builds the quickstart and runs it against the local platform
# with real CPU models, under `inferencekey dev` as the README says.
#
#   bash tests/go/fresh_module.sh LIBRARY INFERENCEKEY_CLI
#
# GO_SDK_DIR names an already staged module (release/build.sh's dist/go); LIBRARY is then "-".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lib="$1" cli="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The SDK as a release tag carries it: this checkout's go/ plus this platform's library.
sdk="${GO_SDK_DIR:-$work/sdk}"
if [ -z "${GO_SDK_DIR:-}" ]; then
    mkdir -p "$sdk"
    cp -r "$ROOT/go/." "$sdk/"
    bash "$ROOT/release/go-natives.sh" "$sdk" "$(go env GOOS)_$(go env GOARCH)" "$lib"
fi

mkdir -p "$work/app"
cp "$ROOT/go/examples/quickstart/main.go" "$work/app/main.go"
cd "$work/app"
cat >go.mod <<MOD
module example.com/app

go 1.25.0

require github.com/inferencekey/inferencekey-sdk/go v1.0.0

replace github.com/inferencekey/inferencekey-sdk/go => $sdk
MOD
go mod tidy
CGO_ENABLED=0 go build -o quickstart .
echo "   built with CGO_ENABLED=0: $(wc -c <quickstart) bytes"

# A cache of its own, so that the run extracts (and checks) the embedded library.
export XDG_CACHE_HOME="$work/cache"
unset INFERENCEKEY_LIB
"$cli" dev --project acme --temp --port 0 -- ./quickstart | tee "$work/out.txt"
grep -q "2 vectors of 384" "$work/out.txt"
ls "$XDG_CACHE_HOME"/inferencekey/*/libinferencekey.so >/dev/null
echo "OK: a fresh module built and ran the quickstart with the embedded library"

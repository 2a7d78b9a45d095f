#!/usr/bin/env bash
# Every test: Rust (unit, conformance, local-platform contract), the C ABI under
# AddressSanitizer and valgrind, the fuzz targets, and pytest against the wheel in a fresh
# environment, on every CPython 3.10-3.13 of the machine (see pythons.sh), and the Go binding
# (vet, staticcheck, go test -race, a fresh module running the quickstart).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$ROOT/tests/pythons.sh"
cd "$ROOT"

# Before the long steps: a missing CPython fails here, not after them.
echo "== CPythons under test"
find_other_pythons

echo "== lint: cargo fmt, clippy, ruff, mypy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
"$VENV/bin/ruff" check python tests examples benches release
"$VENV/bin/ruff" format --check python tests examples benches release
"$VENV/bin/mypy" --strict python/inferencekey python/_inferencekey_pytest python/docs/hooks examples

echo "== docs: API reference (mkdocs --strict)"
# Any warning (a docstring griffe cannot parse, a broken link or cross-reference) fails the
# build. Not --quiet: it drops warnings before strict mode counts them. The variable silences
# the theme's notice of its end of life (May 2027), which is no warning about these docs.
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict -f python/mkdocs.yml

echo "== lint: pyright --verifytypes (type completeness of the public API, at least 95%)"
# --verifytypes ignores --pythonpath: the venv goes first on PATH so that pyright finds the
# installed wheel. Its exit status is 1 as soon as one symbol is incomplete; the score decides.
PATH="$VENV/bin:$PATH" "$VENV/bin/pyright" --verifytypes inferencekey --ignoreexternal \
    --outputjson >"$ROOT/target/verifytypes.json" || true
"$VENV/bin/python" - "$ROOT/target/verifytypes.json" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))["typeCompleteness"]
for symbol in report["symbols"]:
    if not symbol["isTypeKnown"] or symbol["isTypeAmbiguous"]:
        print(f"  incomplete: {symbol['name']}")
score = report["completenessScore"]
print(f"type completeness score: {score:.1%} (minimum 95%)")
sys.exit(0 if score >= 0.95 else 1)
PY

echo "== header: the committed include/inferencekey.h matches the code"
git diff --exit-code -- include/

echo "== cargo test"
cargo test --workspace --quiet

echo "== C ABI tests (AddressSanitizer, then valgrind)"
bash tests/c/run.sh

echo "== fuzz: SSE parser, HTTP/1 responses, workload lists, tokens, request JSON (cargo fuzz)"
bash tests/fuzz/run.sh

echo "== pytest on CPython $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'): the whole suite"
"$VENV/bin/python" -m pytest -q tests/python
test_other_pythons

echo "== TypeScript (@inferencekey/sdk): npm ci, build, tsc --strict + ESLint, node --test, packed tarballs"
# The library the wheel was built from (maturin's release build, by env.sh). npm ci fills the
# npm cache that the packed-tarball test then installs koffi from.
(
    cd "$ROOT/typescript"
    export INFERENCEKEY_LIB="$ROOT/target/release/libinferencekey.so"
    [[ -f "$INFERENCEKEY_LIB" ]] || cargo build --release --quiet -p inferencekey-ffi
    npm ci --no-audit --no-fund --loglevel=error
    npm run --silent build
    npm run --silent lint
    npm test
    env -u INFERENCEKEY_LIB bash scripts/pack-test.sh "$INFERENCEKEY_LIB"
)

echo "== Java: mvn verify (JUnit 5: quickstart on the local platform, conformance, errors, cancel, leaks), then a fresh Maven project"
# The library the wheel build above made (maturin builds it into target/release); built here
# only if that build left none.
JAVA_LIB="$ROOT/target/release/libinferencekey.so"
[ -f "$JAVA_LIB" ] || cargo build --release --quiet -p inferencekey-ffi
INFERENCEKEY_LIB="$JAVA_LIB" mvn -B -q -f java/pom.xml verify
cat java/target/surefire-reports/*.txt | awk '/^Tests run:/ {split($0, f, /[:,] */); run += f[2]; failed += f[4] + f[6]; skipped += f[8]}
    END {printf "java: %d passed, %d failed, %d skipped\n", run - failed - skipped, failed, skipped}'
VENV="$VENV" bash java/fresh-project.sh "$JAVA_LIB"

echo "== Go: gofmt, go vet, staticcheck, go test -race, the fresh-module quickstart"
# The library the wheel build above left in target/release (a plain cargo build otherwise).
GO_LIB="$ROOT/target/release/libinferencekey.so"
[ -f "$GO_LIB" ] || cargo build --release --quiet -p inferencekey-ffi
(
    cd "$ROOT/go"
    export INFERENCEKEY_LIB="$GO_LIB"
    go mod download
    (cd tools && go mod download && go build -o "$ROOT/target/go-tools/staticcheck" honnef.co/go/tools/cmd/staticcheck)
    # Listed on stderr, not through `tee /dev/stderr`: reopening a log file truncates it.
    unformatted="$(gofmt -l .)"
    [ -z "$unformatted" ] || { echo "not gofmt-formatted: $unformatted" >&2; exit 1; }
    go vet ./...
    "$ROOT/target/go-tools/staticcheck" ./...
    go test -race -count=1 ./...
    # RSS is measured without the race detector too, where its bound is tight.
    go test -count=1 -run 'TestNoLeakOverTenThousandCalls' .
)
bash tests/go/fresh_module.sh "$GO_LIB" "$VENV/bin/inferencekey"

#!/usr/bin/env bash
# The cargo-fuzz targets (c-abi §7), each for a fixed time from an empty corpus:
#   bash tests/fuzz/run.sh [seconds per target, default 20]
# Needs the nightly toolchain (libFuzzer's instrumentation); installs cargo-fuzz when missing.
# A crash fails the run and leaves its input under tests/fuzz/artifacts/<target>/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_PER_TARGET="${1:-20}"

rustup run nightly rustc --version >/dev/null 2>&1 || {
    echo "the nightly toolchain is required for cargo fuzz: rustup toolchain install nightly" >&2
    exit 1
}
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz@0.13.2

cd "$ROOT"
for target in $(cargo +nightly fuzz list --fuzz-dir tests/fuzz); do
    log="$(mktemp)"
    if ! cargo +nightly fuzz run --fuzz-dir tests/fuzz -O "$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "   fuzz target $target: FAILED (input kept under tests/fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    echo "   $target: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)s, no crash"
    rm -f "$log"
done

#!/usr/bin/env bash
# The Java benchmark against the answerer of benches/run.sh (start it with `bash benches/run.sh
# --serve`, or let benches/run.sh call this script):
#
#   bash benches/java/run.sh --base http://127.0.0.1:PORT [--rows FILE] [--rounds N] [--calls N]
#
# Installs the SDK from java/ into the local Maven repository (no natives in the jar: the
# library comes from INFERENCEKEY_LIB, default target/release/libinferencekey.so) and resolves
# openai-java. A benchmark, not a test: it exits 0 whatever the ratios.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export INFERENCEKEY_LIB="${INFERENCEKEY_LIB:-$ROOT/target/release/libinferencekey.so}"
[ -f "$INFERENCEKEY_LIB" ] || (cd "$ROOT" && cargo build --release --quiet -p inferencekey-ffi)
mvn -B -q -Dstyle.color=never -f "$ROOT/java/pom.xml" -DskipTests install
mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" compile dependency:build-classpath -Dmdep.outputFile="$HERE/target/cp.txt"
exec java -cp "$HERE/target/classes:$(cat "$HERE/target/cp.txt")" Bench "$@"

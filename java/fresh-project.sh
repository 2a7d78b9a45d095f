#!/usr/bin/env bash
# A user's first run: installs the jar (natives inside) into the local Maven repository, builds
# examples/java as a fresh Maven project depending on it alone, and runs its quickstart
# against the local platform (`inferencekey dev`, real CPU models) with no INFERENCEKEY_LIB,
# so the library must come out of the jar.
#
#   bash java/fresh-project.sh LIBRARY     (LIBRARY: the libinferencekey.so to put in the jar)
# Needs VENV (tests/env.sh) for the `inferencekey dev` command.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

case "$(uname -m)" in
    x86_64) platform=linux-x86-64 ;;
    aarch64) platform=linux-aarch64 ;;
    *) echo "no JNA resource path for $(uname -m)" >&2; exit 1 ;;
esac
mkdir -p "$work/natives/$platform"
cp "$1" "$work/natives/$platform/libinferencekey.so"
bash "$HERE/package.sh" "$work/natives" "$work" --install >/dev/null

mkdir "$work/project"
cp "$ROOT/examples/java/pom.xml" "$ROOT/examples/java/Quickstart.java" "$work/project/"
(cd "$work/project" && mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=cp.txt)
cp_="$work/project/target/classes:$(cat "$work/project/cp.txt")"

out="$(cd "$ROOT" && env -u INFERENCEKEY_LIB "$VENV/bin/inferencekey" dev --project acme --temp --port 0 -- \
    sh -c '"$0" examples/declare_workloads.py && java -cp "$1" Quickstart' "$VENV/bin/python" "$cp_")"
echo "$out" | sed 's/^/   /'
grep -q "^2 vectors of 384" <<<"$out" || { echo "the Java quickstart did not print its embeddings" >&2; exit 1; }

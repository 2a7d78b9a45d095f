# The Python suite on every other CPython 3.10-3.13 of the machine: the one wheel built by
# env.sh (py3-none, so it installs on each) in a venv per version, beside the main venv.
# Only the SDK under test changes interpreter: the local platform's CPU backends keep running
# on the main venv's ($INFERENCEKEY_DEV_PYTHON). Sourced by run-all.sh after env.sh.
#
# Each version is looked for in pyenv ($PYENV_ROOT/versions/3.X.Y, newest patch first) and as
# python3.X on PATH, /usr/local/bin, /usr/bin; the first that runs, is that CPython and has
# venv with ensurepip counts. A missing version fails the run unless IK_ALLOW_MISSING_PYTHONS=1.
# 3.14 is tested where the machine has it; neither pyenv here nor Debian 12 has it yet.

IK_PYTHON_MINORS=(10 11 12 13)
IK_PYTHON_OPTIONAL_MINORS=(14)

# On the other versions: the whole suite (unit and integration) but for the two files below,
# which take over half its time (367 of 660 s in one run) and exercise the native core rather
# than the interpreter: the RSS loops of test_resources.py (the library's memory over
# thousands of calls against stand-in workloads) and test_transport_faults.py (the Rust
# transport against hostile servers, with a fixed two-minute fork storm). Everything that
# depends on the interpreter -- cffi calls and handles, pydantic types, asyncio, signals and
# Ctrl-C, threads and fork, interpreter exit, the CLI, TLS settings, the pytest plugin -- runs
# on every version.
IK_PYTHON_SUBSET_IGNORES=(
    tests/python/integration/test_resources.py
    tests/python/integration/test_transport_faults.py
)

# Prints a working CPython 3.$1 (with venv and ensurepip), or nothing.
find_cpython() {
    local minor="$1" candidate
    local -a candidates=()
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    if [ -d "$pyenv_root/versions" ]; then
        # Final releases only (not 3.13.0t, 3.14.0rc1, or virtualenvs named after a version).
        mapfile -t candidates < <(find "$pyenv_root/versions" -mindepth 1 -maxdepth 1 \
            -regex ".*/3\.$minor\.[0-9]+" -printf "%f\n" | sort -V -r \
            | sed "s|^|$pyenv_root/versions/|; s|\$|/bin/python3.$minor|")
    fi
    # A pyenv shim on PATH for a version that is not selected fails to run: it is skipped.
    candidates+=("$(command -v "python3.$minor" || true)" "/usr/local/bin/python3.$minor"
        "/usr/bin/python3.$minor")
    for candidate in "${candidates[@]}"; do
        if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
        if "$candidate" -c "import sys, venv, ensurepip
sys.exit(sys.implementation.name != 'cpython' or sys.version_info[:2] != (3, $minor))" \
            >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
}

# Finds the versions besides the main venv's (OTHER_PYTHONS) and fails on a missing one.
find_other_pythons() {
    local main_minor minor python
    local -a missing=()
    main_minor="$("$VENV/bin/python" -c 'import sys; print(sys.version_info[1])')"
    OTHER_PYTHONS=()
    for minor in "${IK_PYTHON_MINORS[@]}" "${IK_PYTHON_OPTIONAL_MINORS[@]}"; do
        [ "$minor" = "$main_minor" ] && continue
        python="$(find_cpython "$minor")"
        if [ -n "$python" ]; then
            OTHER_PYTHONS+=("$python")
        elif [[ " ${IK_PYTHON_MINORS[*]} " == *" $minor "* ]]; then
            missing+=("3.$minor")
        fi
    done
    echo "   main venv: CPython $("$VENV/bin/python" -c 'import platform; print(platform.python_version())') (full suite)"
    for python in "${OTHER_PYTHONS[@]}"; do
        echo "   also: CPython $("$python" -c 'import platform; print(platform.python_version())') ($python)"
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        local what="CPython ${missing[*]} not found (looked in ${PYENV_ROOT:-$HOME/.pyenv}/versions and for python3.X on PATH, /usr/local/bin, /usr/bin)"
        if [ "${IK_ALLOW_MISSING_PYTHONS:-}" = 1 ]; then
            echo "WARNING: $what; IK_ALLOW_MISSING_PYTHONS=1, so the suite runs without it." >&2
        else
            echo "ERROR: $what. Install it (pyenv install 3.X, or Debian's python3.X-venv)," \
                "or set IK_ALLOW_MISSING_PYTHONS=1 to run the tests without it." >&2
            exit 1
        fi
    fi
}

# A fresh venv ($2) for an interpreter ($1): the wheel with the dependencies it declares (as
# users get them on that version), and the suite's own tools.
other_python_venv() {
    rm -rf "$2"
    "$1" -m venv "$2"
    "$2/bin/pip" install -q --disable-pip-version-check \
        -r "$ROOT/tests/requirements-pytest.txt" "$ROOT"/target/wheels/inferencekey-*.whl
}

# Sets up each other version's venv ($VENV-py3.X), runs the suite there; prints the times.
test_other_pythons() {
    local python venv version start
    local -a summary=()
    for python in "${OTHER_PYTHONS[@]}"; do
        version="$("$python" -c 'import platform; print(platform.python_version())')"
        echo "== pytest on CPython $version: the suite but ${IK_PYTHON_SUBSET_IGNORES[*]##*/}"
        start=$SECONDS
        venv="$VENV-py${version%.*}"
        other_python_venv "$python" "$venv"
        "$venv/bin/python" -m pytest -q tests/python "${IK_PYTHON_SUBSET_IGNORES[@]/#/--ignore=}"
        summary+=("CPython $version: $((SECONDS - start)) s")
    done
    echo "== other CPythons done: ${summary[*]:-none}"
}

#!/usr/bin/env bash
# The C ABI tests (shared/spec/c-abi.md §7), from the repository root:
#
#     bash tests/c/run.sh
#
#  1. builds the library (cargo build -p inferencekey-ffi, debug);
#  2. checks the exports: every `ik_` function of the header is exported, nothing else is,
#     the test-only export stays out of the header, and every export is called by a test;
#  3. builds the tests with AddressSanitizer + UBSan, checks `__asan_init` is linked, runs them
#     with leak detection;
#  4. builds them again without sanitizers and runs them under valgrind (memcheck): zero
#     errors, zero definite, indirect or possible leaks (see valgrind.supp for why possible
#     leaks count);
#  5. builds and runs a smoke program against the committed header and the static archive;
#  6. checks IK_VERSION / IK_ABI_VERSION against ik_version() / ik_abi_version() and the
#     workspace version in Cargo.toml, and that the ABI is the one the tests are written for.
#
# Needs INFERENCEKEY_DEV_PYTHON (the Python with the local platform's model back-ends), cc,
# nm, readelf and valgrind (installed with apt-get when missing and running as root).
# Knobs: IK_C_SKIP_VALGRIND=1 skips step 4; IK_TEST_VERBOSE=1 prints every error seen.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

die() { echo "tests/c/run.sh: $*" >&2; exit 1; }
step() { echo "-- $*"; }
T0=$SECONDS

# --- prerequisites -----------------------------------------------------------------------
if [ -z "${INFERENCEKEY_DEV_PYTHON:-}" ]; then
    die "INFERENCEKEY_DEV_PYTHON is not set: point it at the Python interpreter with the local \
platform's model back-ends (tests/env.sh sets it; e.g. INFERENCEKEY_DEV_PYTHON=/path/to/venv/bin/python)"
fi
[ -x "$INFERENCEKEY_DEV_PYTHON" ] || command -v "$INFERENCEKEY_DEV_PYTHON" >/dev/null \
    || die "INFERENCEKEY_DEV_PYTHON=$INFERENCEKEY_DEV_PYTHON is not an executable"
export INFERENCEKEY_DEV_PYTHON
for tool in cargo cc nm readelf awk sed; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if [ "${IK_C_SKIP_VALGRIND:-0}" != 1 ] && ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq valgrind >/dev/null || die "could not install valgrind"
    else
        die "valgrind is required (apt-get install -y valgrind), or set IK_C_SKIP_VALGRIND=1"
    fi
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LIB_DIR="$TARGET_DIR/debug"
OUT="$TARGET_DIR/c-tests"
HEADER="$ROOT/include/inferencekey.h"
# test_runtime needs a process of its own: it configures the runtime before it starts.
TESTS=(test_abi test_runtime test_platform)
# The ABI these tests are written for (include/inferencekey.h, IK_ABI_VERSION).
EXPECTED_ABI=3
mkdir -p "$OUT"

# --- 1. the library ----------------------------------------------------------------------
step "cargo build -p inferencekey-ffi"
cargo build -p inferencekey-ffi --quiet
[ -f "$LIB_DIR/libinferencekey.so" ] && [ -f "$LIB_DIR/libinferencekey.a" ] \
    || die "no libinferencekey.so / .a in $LIB_DIR"

# --- 2. exports --------------------------------------------------------------------------
step "exports"
EXPORTS="$(nm -D --defined-only "$LIB_DIR/libinferencekey.so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u)"
HEADER_FUNCS="$(grep -oE '\bik_[a-z0-9_]+\(' "$HEADER" | tr -d '(' | sort -u)"
bad=0
while read -r sym; do
    [ -z "$sym" ] && continue
    case "$sym" in
        ik_*) ;;
        *) echo "   exported symbol without the ik_ prefix (c-abi rule 2): $sym"; bad=1 ;;
    esac
done <<<"$EXPORTS"
while read -r fn; do
    grep -qx "$fn" <<<"$EXPORTS" || { echo "   declared in the header but not exported: $fn"; bad=1; }
done <<<"$HEADER_FUNCS"
while read -r sym; do
    case "$sym" in
        ik_test_*)
            ! grep -qw "$sym" "$HEADER" || { echo "   test-only export in the public header: $sym"; bad=1; }
            grep -qw "$sym" "$HERE/ik_test.h" || { echo "   test-only export missing from ik_test.h: $sym"; bad=1; } ;;
        ik_*)
            grep -qx "$sym" <<<"$HEADER_FUNCS" || { echo "   exported but not in the header: $sym"; bad=1; } ;;
    esac
    grep -qw "$sym" "$HERE"/test_*.c || { echo "   no C test calls $sym"; bad=1; }
done <<<"$EXPORTS"
[ "$bad" = 0 ] || die "export check failed"
echo "   $(wc -l <<<"$EXPORTS") exports, all prefixed ik_, all declared (test-only ones in ik_test.h), all exercised"

CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -I "$ROOT/include" -I "$HERE")
LINK=(-L "$LIB_DIR" -linferencekey "-Wl,-rpath,$LIB_DIR" -lpthread)

# Runs one test binary (with an optional wrapper), requires `N passed, 0 failed`.
run_test() {
    local name="$1" log="$2"; shift 2
    local rc=0
    "$@" >"$log" 2>&1 || rc=$?
    grep -E '^  (ok|FAIL) |^ +FAIL |TIMEOUT|ERROR SUMMARY|AddressSanitizer|LeakSanitizer|runtime error' "$log" \
        | grep -v '^  ok ' | sed 's/^/   /' || true
    local summary
    summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)"
    echo "   $name: ${summary:-no summary line} (exit $rc)"
    if [ "$rc" != 0 ] || ! grep -qE '^[0-9]+ passed, 0 failed$' <<<"$summary"; then
        echo "   full log: $log"
        return 1
    fi
}

failed=0

# --- 3. AddressSanitizer + UBSan -----------------------------------------------------------
step "AddressSanitizer + UndefinedBehaviorSanitizer"
for t in "${TESTS[@]}"; do
    cc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
        "$HERE/$t.c" -o "$OUT/$t.asan" "${LINK[@]}" -lm
    nm "$OUT/$t.asan" >"$OUT/$t.asan.nm"
    grep -q ' __asan_init$' "$OUT/$t.asan.nm" || die "$t.asan: __asan_init is not linked"
done
echo "   __asan_init linked in: ${TESTS[*]/%/.asan}"
cc "${CFLAGS[@]}" -fsanitize=address "$HERE/leak_canary.c" -o "$OUT/leak_canary.asan" "${LINK[@]}"
if ASAN_OPTIONS=detect_leaks=1 "$OUT/leak_canary.asan" c >"$OUT/leak_canary.asan.log" 2>&1 \
    || ! grep -q 'LeakSanitizer: detected memory leaks' "$OUT/leak_canary.asan.log"; then
    die "LeakSanitizer did not report the canary's leak: $OUT/leak_canary.asan.log"
fi
echo "   canary: LeakSanitizer reports a leaked block"
for t in "${TESTS[@]}"; do
    run_test "$t (ASan)" "$OUT/$t.asan.log" env \
        ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$OUT/$t.asan" || failed=1
done

# --- 4. valgrind -------------------------------------------------------------------------
if [ "${IK_C_SKIP_VALGRIND:-0}" != 1 ]; then
    step "valgrind memcheck"
    # Leak kinds. Every string, error and handle the library hands out stays recorded in its
    # live-handle registry (a hash map, referenced through an interior pointer) until it is
    # freed; anything forgotten therefore ends up "possibly lost", never "definitely lost". So
    # definite, indirect AND possible leaks are errors here; valgrind.supp suppresses only the
    # benign "possible" roots (the registry's own table, tokio's blocking-pool table, the TLS
    # of live threads, Rust's handle of the C main thread). "Still reachable" is the
    # deliberate process-lifetime state: the global tokio runtime (leaked on purpose so that a
    # forked child never drops it), the registry, the log sink. Forked children are silent:
    # they leak their parent's runtime and pools by design (c-abi rule 16) and report their
    # result through a pipe (harness.h, h_fork_run).
    VALGRIND=(valgrind --tool=memcheck --leak-check=full
        --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
        --suppressions="$HERE/valgrind.supp" --error-exitcode=86 --child-silent-after-fork=yes
        --num-callers=40)
    for t in "${TESTS[@]}"; do
        cc "${CFLAGS[@]}" -O0 "$HERE/$t.c" -o "$OUT/$t.vg" "${LINK[@]}" -lm
        nm "$OUT/$t.vg" >"$OUT/$t.vg.nm"
        ! grep -q '__asan' "$OUT/$t.vg.nm" || die "$t.vg must not be built with ASan"
    done
    # The canary: a forgotten string and error must be reported.
    cc "${CFLAGS[@]}" -O0 "$HERE/leak_canary.c" -o "$OUT/leak_canary.vg" "${LINK[@]}"
    rc=0
    "${VALGRIND[@]}" "--log-file=$OUT/leak_canary.valgrind.log" "$OUT/leak_canary.vg" abi || rc=$?
    [ "$rc" = 86 ] && grep -q 'by .*ik_management_client_describe' "$OUT/leak_canary.valgrind.log" \
        || die "valgrind did not report the canary's leaked string (exit $rc): $OUT/leak_canary.valgrind.log"
    echo "   canary: a leaked result buffer / ik_error is reported"
    for t in "${TESTS[@]}"; do
        mc="$OUT/$t.valgrind.memcheck.log"
        run_test "$t (valgrind)" "$OUT/$t.valgrind.log" env IK_TEST_TIME_SCALE=10 \
            "${VALGRIND[@]}" "--log-file=$mc" "$OUT/$t.vg" || failed=1
        errors="$(grep -E 'ERROR SUMMARY:' "$mc" | tail -n 1 | sed 's/.*ERROR SUMMARY: //')"
        leaks="$(grep -E '(definitely|indirectly|possibly) lost:' "$mc" | sed 's/.*== *//' | paste -sd ';' -)"
        echo "   $t (valgrind): errors: ${errors:-?}; ${leaks:-no leaks}"
        if ! grep -q 'ERROR SUMMARY: 0 errors' "$mc"; then
            echo "   memcheck found errors: $mc"
            failed=1
        fi
    done
fi

# --- 5. static link ----------------------------------------------------------------------
step "static-link smoke (include/inferencekey.h + libinferencekey.a)"
cc -std=c11 -Wall -Wextra -Werror -pedantic -g -I "$ROOT/include" "$HERE/smoke_static.c" \
    "$LIB_DIR/libinferencekey.a" -lpthread -ldl -lm -o "$OUT/smoke_static"
readelf -d "$OUT/smoke_static" >"$OUT/smoke_static.dynamic"
if grep -q 'libinferencekey' "$OUT/smoke_static.dynamic"; then
    die "smoke_static is linked against the shared library"
fi
SMOKE="$("$OUT/smoke_static")" || { echo "$SMOKE"; die "smoke_static failed"; }
sed 's/^/   /' <<<"$SMOKE"

# --- 6. versions -------------------------------------------------------------------------
step "versions"
CARGO_VERSION="$(awk '
    /^\[/ { in_pkg = ($0 == "[workspace.package]") }
    in_pkg && $1 == "version" { gsub(/[" ]/, "", $3); print $3; exit }' Cargo.toml)"
HEADER_VERSION="$(sed -n 's/^#define IK_VERSION "\(.*\)"$/\1/p' "$HEADER")"
HEADER_ABI="$(sed -n 's/^#define IK_ABI_VERSION \([0-9]*\)$/\1/p' "$HEADER")"
LIB_VERSION="$(sed -n 's/^ik_version=//p' <<<"$SMOKE")"
LIB_ABI="$(sed -n 's/^ik_abi_version=//p' <<<"$SMOKE")"
echo "   Cargo.toml [workspace.package] $CARGO_VERSION; header IK_VERSION $HEADER_VERSION, IK_ABI_VERSION $HEADER_ABI; library ik_version() $LIB_VERSION, ik_abi_version() $LIB_ABI"
[ -n "$CARGO_VERSION" ] && [ "$CARGO_VERSION" = "$HEADER_VERSION" ] && [ "$HEADER_VERSION" = "$LIB_VERSION" ] \
    || die "version mismatch"
[ -n "$HEADER_ABI" ] && [ "$HEADER_ABI" = "$LIB_ABI" ] || die "ABI version mismatch"
[ "$LIB_ABI" = "$EXPECTED_ABI" ] \
    || die "the library implements ABI $LIB_ABI; these tests are written for ABI $EXPECTED_ABI"

echo "-- C ABI tests: $([ "$failed" = 0 ] && echo passed || echo FAILED) in $((SECONDS - T0))s"
exit "$failed"

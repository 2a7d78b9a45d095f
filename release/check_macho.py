"""Checks a macOS library cross-built on Linux: its architecture, its minimum macOS, and that its
ad-hoc code signature matches its bytes (arm64 macOS refuses to load code whose signature does
not: a post-link edit such as objcopy would break it, and no Mac is at hand to find out).

    python release/check_macho.py LIBRARY ARCH MINOS     e.g. lib_native.dylib arm64 11.0
"""

import hashlib
import struct
import sys
from typing import NoReturn

MH_MAGIC_64 = 0xFEEDFACF
CPU_TYPES = {"x86_64": 0x01000007, "arm64": 0x0100000C}
LC_CODE_SIGNATURE = 0x1D
LC_BUILD_VERSION = 0x32
LC_VERSION_MIN_MACOSX = 0x24  # what a library for macOS < 10.14 carries instead
PLATFORM_MACOS = 1
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CS_HASHTYPE_SHA256 = 2


def fail(message: str) -> NoReturn:
    sys.exit(f"check_macho: {message}")


def check(path: str, arch: str, minos: str) -> str:
    with open(path, "rb") as f:
        data = f.read()
    magic, cputype, _, _, ncmds, _, _, _ = struct.unpack_from("<8I", data)
    if magic != MH_MAGIC_64:
        fail(f"{path} is not a 64-bit Mach-O file")
    if cputype != CPU_TYPES[arch]:
        fail(f"{path} is not {arch} (cputype {cputype:#x})")
    offset = 32
    signature: tuple[int, int] | None = None
    min_version: int | None = None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", data, offset)
        if cmd == LC_CODE_SIGNATURE:
            dataoff, datasize = struct.unpack_from("<2I", data, offset + 8)
            signature = (dataoff, datasize)
        elif cmd == LC_BUILD_VERSION:
            platform, version = struct.unpack_from("<2I", data, offset + 8)
            if platform == PLATFORM_MACOS:
                min_version = version
        elif cmd == LC_VERSION_MIN_MACOSX:
            (min_version,) = struct.unpack_from("<I", data, offset + 8)
        offset += size
    if min_version is None:
        fail(f"{path} names no minimum macOS version")
    built_min = f"{min_version >> 16}.{(min_version >> 8) & 0xFF}"
    if built_min != minos:
        fail(f"{path} needs macOS {built_min}, the wheel tag says {minos}")
    if signature is None:
        if arch == "arm64":
            fail(f"{path} has no code signature (arm64 macOS loads only signed code)")
        return f"{arch}, macOS >= {built_min}, unsigned (x86_64 needs no signature)"
    return f"{arch}, macOS >= {built_min}, {verify_signature(data, *signature)}"


def verify_signature(data: bytes, dataoff: int, datasize: int) -> str:
    magic, _, count = struct.unpack_from(">3I", data, dataoff)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        fail("the code signature is not an embedded signature")
    for i in range(count):
        _, blob = struct.unpack_from(">2I", data, dataoff + 12 + 8 * i)
        cd = dataoff + blob
        if struct.unpack_from(">I", data, cd)[0] != CSMAGIC_CODEDIRECTORY:
            continue
        hash_offset, _, _, n_code_slots, code_limit = struct.unpack_from(">5I", data, cd + 16)
        hash_size, hash_type, _, page_log2 = struct.unpack_from(">4B", data, cd + 36)
        if hash_type != CS_HASHTYPE_SHA256 or hash_size != 32:
            fail(f"unexpected code signature hash type {hash_type}")
        if code_limit != dataoff:
            fail(f"the signature covers {code_limit} bytes, the code ends at {dataoff}")
        page = 1 << page_log2
        for slot in range(n_code_slots):
            chunk = data[slot * page : min((slot + 1) * page, code_limit)]
            want = data[cd + hash_offset + 32 * slot : cd + hash_offset + 32 * (slot + 1)]
            if hashlib.sha256(chunk).digest() != want:
                fail(f"code signature page {slot} does not match the library's bytes")
        return f"ad-hoc signature valid ({n_code_slots} pages)"
    fail("the code signature has no code directory")


if __name__ == "__main__":
    print(check(*sys.argv[1:]))

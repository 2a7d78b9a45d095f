//! Version checks: bindings refuse a library whose ABI version differs from theirs.

use std::ffi::c_char;

/// Bumped on every breaking change of the ABI; the header's `IK_ABI_VERSION` matches it.
pub const IK_ABI_VERSION: u32 = 3;

/// The library's semantic version, e.g. `0.3.0`. Static: never freed.
#[no_mangle]
pub extern "C" fn ik_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version the library implements.
#[no_mangle]
pub extern "C" fn ik_abi_version() -> u32 {
    IK_ABI_VERSION
}

//! The panic boundary and argument checks every export goes through (c-abi rules 8–14).

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use inferencekey_core::{Error, ErrorKind};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codes::{self, AbiCode};
use crate::error::{ik_error, report};
use crate::handles::{self, Handle, Refusal};
use crate::payload::{self, Payload};
use crate::status::*;

/// What a fallible export body returns; `Err` is turned into a status and an `ik_error`.
pub(crate) type FfiResult<T = ()> = Result<T, ik_error>;

/// Runs a fallible export body: a panic becomes `IK_ERR_PANIC`, an error is reported.
pub(crate) fn guard(err_out: *mut *mut ik_error, body: impl FnOnce() -> FfiResult) -> ik_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => IK_OK,
        Ok(Err(error)) => report(err_out, error),
        Err(_) => report(err_out, panic_error()),
    }
}

/// Runs an infallible export body; a panic yields `default`.
pub(crate) fn guard_or<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

pub(crate) fn panic_error() -> ik_error {
    ffi_error(
        codes::INTERNAL_PANIC,
        "a bug in the library was caught at the C boundary",
    )
}

/// An error raised by the boundary itself (bad pointer, bad UTF-8, …).
pub(crate) fn ffi_error(code: AbiCode, message: &str) -> ik_error {
    coded_error(code.status, code.code, message)
}

/// An error with `status` and a code from one of the tables (never a literal; a core test
/// checks).
pub(crate) fn coded_error(status: ik_status, code: &str, message: &str) -> ik_error {
    let kind = match status {
        IK_ERR_INVALID_ARG => ErrorKind::InvalidArgument,
        _ => ErrorKind::InvalidState,
    };
    ik_error::new(status, &Error::external(kind, code, message))
}

pub(crate) fn null_arg(name: &str) -> ik_error {
    ffi_error(codes::NULL_ARGUMENT, &format!("{name} must not be NULL"))
}

/// A live handle argument (c-abi rules 9 and 9a): NULL is `IK_ERR_NULL_ARG`; a freed,
/// foreign or other-kind pointer is `IK_ERR_INVALID_HANDLE` (code `invalid_handle`).
pub(crate) fn arg_handle<T: Handle>(ptr: *const T, name: &str) -> FfiResult<std::sync::Arc<T>> {
    if ptr.is_null() {
        return Err(null_arg(name));
    }
    match handles::borrow(ptr) {
        Some(handle) => Ok(handle),
        None => Err(invalid_handle(
            name,
            T::KIND,
            handles::diagnose(ptr, T::KIND),
        )),
    }
}

/// Refuses, in a forked child, a handle made by the process with id `pid` (its parent):
/// `IK_ERR_INVALID_STATE`, code `forked`, saying `message`.
pub(crate) fn made_in_this_process(pid: u32, message: &str) -> FfiResult {
    if pid == inferencekey_core::process::pid() {
        Ok(())
    } else {
        Err(ffi_error(codes::FORKED, message))
    }
}

#[cold]
fn invalid_handle(name: &str, expected: handles::Kind, why: Refusal) -> ik_error {
    let expected = expected.type_name();
    let why = match why {
        Refusal::Freed => format!("it is an {expected} that was freed"),
        Refusal::OtherKind { kind, live: true } => {
            format!("it is an {} (a handle of another kind)", kind.type_name())
        }
        Refusal::OtherKind { kind, live: false } => format!(
            "it is an {} that was freed (a handle of another kind)",
            kind.type_name()
        ),
        Refusal::Foreign => "it was not made by this library (a foreign pointer)".to_string(),
    };
    ffi_error(
        codes::INVALID_HANDLE,
        &format!("{name} is not a live {expected}: {why}"),
    )
}

pub(crate) fn core_error(err: Error) -> ik_error {
    ik_error::from_core(&err)
}

/// A borrowed UTF-8 string argument (`ptr`, `len`); no terminator needed.
pub(crate) fn arg_str<'a>(ptr: *const c_char, len: usize, name: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr` (c-abi rule 10).
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ffi_error(
            codes::INVALID_UTF8,
            &format!("{name} is not valid UTF-8: {e}"),
        )
    })?;
    if text.contains('\0') {
        return Err(ffi_error(
            codes::INTERIOR_NUL,
            &format!("{name} contains a NUL byte"),
        ));
    }
    Ok(text)
}

/// A borrowed byte-string argument; NULL is allowed only with length 0.
pub(crate) fn arg_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(null_arg(name))
        };
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr` (c-abi rule 10).
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A JSON argument decoded strictly (unknown keys are errors that name the key).
pub(crate) fn arg_json<T: DeserializeOwned>(
    ptr: *const c_char,
    len: usize,
    name: &str,
) -> FfiResult<T> {
    let text = arg_str(ptr, len, name)?;
    // Every request is a JSON object: serde would also read a struct from an array of its
    // fields in order (`[2]` as `{"worker_threads":2}`), which strict validation (c-abi rule
    // 11) must refuse.
    if !text.trim_start().starts_with('{') {
        return Err(core_error(Error::invalid_json(format!(
            "{name} is not valid request JSON: expected a JSON object"
        ))));
    }
    serde_json::from_str(text).map_err(|e| {
        core_error(Error::invalid_json(format!(
            "{name} is not valid request JSON: {}",
            inferencekey_core::suggest::json_error_message(&e)
        )))
    })
}

/// Checks an out-parameter before any work, so failures never leave partial results.
pub(crate) fn out_ptr<T>(ptr: *mut T, name: &str) -> FfiResult<*mut T> {
    if ptr.is_null() {
        Err(null_arg(name))
    } else {
        Ok(ptr)
    }
}

/// A library-owned C string (interior NULs, impossible in our JSON, are replaced).
pub(crate) fn to_cstring(s: &str) -> CString {
    CString::new(s)
        .unwrap_or_else(|_| CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default())
}

/// Writes `value` as a JSON result to checked out-parameters.
pub(crate) fn write_json<T: Serialize + ?Sized>(
    out: *mut *mut c_char,
    out_len: *mut usize,
    value: &T,
) -> FfiResult<()> {
    Payload::json(value)
        .map_err(core_error)?
        .write_to(out, out_len);
    Ok(())
}

/// Frees a result buffer (a `char **out`, a completion callback's `json`, a redacted text);
/// NULL is a no-op, and so is a pointer that is not a live result buffer (a second free
/// included). Buffers, unlike
/// handles, are real addresses: if the library has meanwhile handed out a new buffer at the
/// same address, a second free of the old pointer frees the new buffer (as libc `free`
/// would). Free each buffer exactly once.
#[no_mangle]
pub extern "C" fn ik_buffer_free(buf: *mut c_char) {
    guard_or((), || {
        payload::free(buf);
    });
}

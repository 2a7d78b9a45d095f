//! `ik_error`: the structured error written to the optional `ik_error **err` out-parameter.

use std::ffi::{c_char, CString};
use std::ptr;

use inferencekey_core::Error;

use crate::boundary::{guard_or, to_cstring};
use crate::handles::{self, Handle, Kind};
use crate::status::{ik_status, status_of, IK_ERR_UNKNOWN};

/// Opaque error details; read with the accessors, free with `ik_error_free`.
pub struct ik_error {
    status: ik_status,
    http_status: i32,
    code: CString,
    message: CString,
    request_id: Option<CString>,
    details: Option<CString>,
}

impl Handle for ik_error {
    const KIND: Kind = Kind::Error;
}

impl ik_error {
    pub(crate) fn new(status: ik_status, err: &Error) -> ik_error {
        // Every field leaves the library redacted, however the error was built.
        let err = &err.clone().redacted();
        ik_error {
            status,
            http_status: err.http_status.map_or(0, i32::from),
            code: to_cstring(&err.code),
            message: to_cstring(&err.message),
            request_id: err.request_id.as_deref().map(to_cstring),
            details: (!err.details.is_empty())
                .then(|| to_cstring(&serde_json::Value::Object(err.details.clone()).to_string())),
        }
    }

    pub(crate) fn from_core(err: &Error) -> ik_error {
        ik_error::new(status_of(err.kind), err)
    }

    pub(crate) fn status(&self) -> ik_status {
        self.status
    }
}

/// Hands an error to the caller through `err` (when non-NULL) and returns its status.
pub(crate) fn report(err_out: *mut *mut ik_error, error: ik_error) -> ik_status {
    let status = error.status;
    if !err_out.is_null() {
        // SAFETY: the caller passed a writable `ik_error **` (c-abi rule 6).
        unsafe { *err_out = handles::register(error) };
    }
    status
}

/// Frees an error; NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_error_free(e: *mut ik_error) {
    guard_or((), || handles::release(e));
}

fn with_error<T: Copy>(e: *const ik_error, default: T, f: impl FnOnce(&ik_error) -> T) -> T {
    guard_or(default, || match handles::borrow(e) {
        Some(error) => f(&error),
        None => default,
    })
}

/// The status that produced this error (`IK_ERR_UNKNOWN` for an invalid pointer).
#[no_mangle]
pub extern "C" fn ik_error_status(e: *const ik_error) -> ik_status {
    with_error(e, IK_ERR_UNKNOWN, |e| e.status)
}

/// The HTTP status of the response behind the error; 0 when there was none.
#[no_mangle]
pub extern "C" fn ik_error_http_status(e: *const ik_error) -> i32 {
    with_error(e, 0, |e| e.http_status)
}

/// The machine-readable code; never NULL for a valid error ("" otherwise).
#[no_mangle]
pub extern "C" fn ik_error_code(e: *const ik_error) -> *const c_char {
    with_error(e, c"".as_ptr(), |e| e.code.as_ptr())
}

/// The redacted message, without class prefix; never NULL for a valid error.
#[no_mangle]
pub extern "C" fn ik_error_message(e: *const ik_error) -> *const c_char {
    with_error(e, c"".as_ptr(), |e| e.message.as_ptr())
}

/// The server's request id; NULL when unknown.
#[no_mangle]
pub extern "C" fn ik_error_request_id(e: *const ik_error) -> *const c_char {
    with_error(e, ptr::null(), |e| {
        e.request_id.as_ref().map_or(ptr::null(), |s| s.as_ptr())
    })
}

/// Class-specific extras as a JSON object (`changes`, `retry_after`, `field`, `last_event`,
/// `log_tail`); NULL when there are none.
#[no_mangle]
pub extern "C" fn ik_error_details_json(e: *const ik_error) -> *const c_char {
    with_error(e, ptr::null(), |e| {
        e.details.as_ref().map_or(ptr::null(), |s| s.as_ptr())
    })
}

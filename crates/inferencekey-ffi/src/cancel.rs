//! `ik_cancel`: cancellation tokens created before a call and shared with it (c-abi rule 19).

use tokio_util::sync::CancellationToken;

use crate::boundary::{arg_handle, guard_or, FfiResult};
use crate::handles::{self, Handle, Kind};

/// Opaque cancellation token; thread-safe, idempotent.
pub struct ik_cancel {
    token: CancellationToken,
}

impl Handle for ik_cancel {
    const KIND: Kind = Kind::Cancel;
}

/// A new, uncancelled token. Free it with `ik_cancel_free`; calls using it keep their own
/// reference, so it may be freed while they run.
#[no_mangle]
pub extern "C" fn ik_cancel_new() -> *mut ik_cancel {
    guard_or(std::ptr::null_mut(), || {
        handles::register(ik_cancel {
            token: CancellationToken::new(),
        })
    })
}

/// Cancels every call using this token: each aborts its HTTP exchange, closes its connection
/// and completes with `IK_ERR_CANCELLED`: an `_async` call at once, a blocking one within
/// about 50 ms (its waits check the token as they run the interrupt check). Idempotent; NULL
/// or an unknown pointer is ignored.
#[no_mangle]
pub extern "C" fn ik_cancel_cancel(c: *const ik_cancel) {
    guard_or((), || {
        if let Some(c) = handles::borrow(c) {
            c.token.cancel();
        }
    });
}

/// 1 when cancelled, 0 otherwise (also for NULL).
#[no_mangle]
pub extern "C" fn ik_cancel_is_cancelled(c: *const ik_cancel) -> i32 {
    guard_or(0, || {
        handles::borrow(c).is_some_and(|c| c.token.is_cancelled()) as i32
    })
}

/// Frees a token; NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_cancel_free(c: *mut ik_cancel) {
    guard_or((), || handles::release(c));
}

/// The library's own reference to an optional token argument.
pub(crate) fn token_of(c: *const ik_cancel) -> FfiResult<Option<CancellationToken>> {
    if c.is_null() {
        return Ok(None);
    }
    Ok(Some(arg_handle(c, "cancel")?.token.clone()))
}

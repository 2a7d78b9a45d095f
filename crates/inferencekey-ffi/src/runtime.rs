//! The process-global tokio runtime (c-abi rule 16): created lazily on first use, small and
//! fixed, and per process so that a forked child builds its own instead of touching the
//! parent's threads (which do not exist in the child) or its locks.

use std::cell::RefCell;
use std::future::Future;

use inferencekey_core::process::ForkLocal;
use tokio::runtime::Runtime;

use crate::boundary::{ffi_error, FfiResult};
use crate::codes;

/// A forked child's runtime is built anew; the parent's is leaked, never dropped there.
static RUNTIME: ForkLocal<Runtime> = ForkLocal::new();

/// The runtime of this process, built on first use (never at load).
pub(crate) fn get() -> FfiResult<&'static Runtime> {
    RUNTIME.get_or_try_init(
        || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(crate::lifecycle::worker_threads_at_start())
                .thread_name("inferencekey-rt")
                .enable_all()
                .build()
                .map_err(|e| ffi_error(codes::RUNTIME, &format!("cannot start the runtime: {e}")))
        },
        // Another thread built the first one at the same time (this one may be inside a
        // runtime's callback, where dropping a runtime would panic).
        Runtime::shutdown_background,
    )
}

thread_local! {
    /// The calling thread's own current-thread runtime, for blocking calls that complete
    /// within the call: request, connection and reply all run on the caller's thread, with no
    /// hop to a worker (the hop cost more than the HTTP exchange on loopback).
    static CALLER_RUNTIME: RefCell<Option<(u32, Runtime)>> = const { RefCell::new(None) };
}

/// A blocking call from a runtime thread would deadlock it, and one from a completion
/// callback would stall every callback queued behind it (rule 17): both are refused.
pub(crate) fn refuse_on_runtime_thread() -> FfiResult {
    if tokio::runtime::Handle::try_current().is_ok() || crate::deliver::on_delivery_thread() {
        return Err(ffi_error(
            codes::WRONG_THREAD,
            "a blocking call was made from a runtime thread or a callback; use the _async variant",
        ));
    }
    Ok(())
}

/// Runs `fut` to completion on the shared runtime, blocking the caller. For work whose
/// connections must outlive the call (streams). Refused on a runtime thread (e.g. inside a
/// callback), where blocking would deadlock.
pub(crate) fn block_on_shared<F: Future>(fut: F) -> FfiResult<F::Output> {
    refuse_on_runtime_thread()?;
    Ok(get()?.block_on(fut))
}

/// Runs `fut` to completion on the caller's own runtime (built on first use per thread and
/// rebuilt in a forked child, leaking the parent's). For calls that finish within the call.
pub(crate) fn block_on_caller<F: Future>(fut: F) -> FfiResult<F::Output> {
    refuse_on_runtime_thread()?;
    CALLER_RUNTIME.with(|slot| {
        let mut slot = slot.borrow_mut();
        let pid = inferencekey_core::process::pid();
        if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ffi_error(codes::RUNTIME, &format!("cannot start a runtime: {e}")))?;
            if let Some(parent) = slot.replace((pid, rt)) {
                std::mem::forget(parent);
            }
        }
        let (_, rt) = slot.as_ref().expect("set above");
        Ok(rt.block_on(fut))
    })
}

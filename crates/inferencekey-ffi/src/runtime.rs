//! The process-global tokio runtime (c-abi rule 16): created lazily on first use, small and
//! fixed, and keyed by PID so that a forked child builds its own instead of touching the
//! parent's threads (which do not exist in the child).

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Mutex, Once};

use tokio::runtime::Runtime;

use crate::boundary::{ffi_error, FfiResult};
use crate::status::IK_ERR_INVALID_STATE;

const WORKER_THREADS: usize = 2;

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime of this process, built on first use (never at load).
pub(crate) fn get() -> FfiResult<&'static Runtime> {
    let pid = inferencekey_core::process::pid();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("inferencekey-rt")
        .enable_all()
        .build()
        .map_err(|e| {
            ffi_error(
                IK_ERR_INVALID_STATE,
                "runtime",
                &format!("cannot start the runtime: {e}"),
            )
        })?;
    // Leaked on purpose: a parent's runtime must never be dropped in a forked child.
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

thread_local! {
    /// The calling thread's own current-thread runtime, for blocking calls that complete
    /// within the call: request, connection and reply all run on the caller's thread, with no
    /// hop to a worker (the hop cost more than the HTTP exchange on loopback).
    static CALLER_RUNTIME: RefCell<Option<(u32, Runtime)>> = const { RefCell::new(None) };
}

fn refuse_on_runtime_thread() -> FfiResult {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(ffi_error(
            IK_ERR_INVALID_STATE,
            "wrong_thread",
            "a blocking call was made from a runtime thread; use the _async variant",
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
                .map_err(|e| {
                    ffi_error(
                        IK_ERR_INVALID_STATE,
                        "runtime",
                        &format!("cannot start a runtime: {e}"),
                    )
                })?;
            if let Some(parent) = slot.replace((pid, rt)) {
                std::mem::forget(parent);
            }
        }
        let (_, rt) = slot.as_ref().expect("set above");
        Ok(rt.block_on(fut))
    })
}

/// Lets the core serve its fork checks' PID from memory (no `getpid` per check): a
/// `pthread_atfork` child handler refreshes it in every forked child before anything else
/// runs there. Registered once, by the first client.
pub(crate) fn track_forks() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        extern "C" fn in_child() {
            inferencekey_core::process::cache_pid();
        }
        // SAFETY: registers a handler that only reads the PID and stores it atomically.
        if unsafe { libc::pthread_atfork(None, None, Some(in_child)) } == 0 {
            inferencekey_core::process::cache_pid();
        }
    });
}

/// Rebuilds the runtime in a forked child now rather than on first use.
#[no_mangle]
pub extern "C" fn ik_after_fork_child() {
    crate::boundary::guard_or((), || {
        let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some_and(|(owner, _)| owner != inferencekey_core::process::pid()) {
            *slot = None;
        }
    });
}

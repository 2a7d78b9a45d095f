//! Running core operations from exports: blocking on the caller's thread, or spawned with a
//! completion callback that runs exactly once (c-abi rules 17–19).

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};

use futures_util::FutureExt;
use inferencekey_core::{interrupt, Error};
use tokio_util::sync::CancellationToken;

use crate::boundary::{core_error, null_arg, panic_error, FfiResult};
use crate::deliver::{self, Completion};
use crate::error::ik_error;
use crate::handles;
use crate::payload::Payload;
use crate::runtime;
use crate::status::{ik_status, IK_OK};

/// Completion callback of every `_async` export, run exactly once on the library's delivery
/// thread (never a runtime worker, never the caller's thread; one callback at a time, in
/// completion order). It receives ownership: `json` (NULL on failure or at the end of a
/// stream; a result buffer as for `char **out`, `json_len` bytes of text without the NUL) is
/// freed with `ik_buffer_free`, `err` (NULL on success) with `ik_error_free`, later and from
/// any thread. It must not block: hand both to the host's own loop and return. It may end
/// its thread (e.g. `pthread_exit`); the next completion gets a new one.
pub type ik_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: ik_status,
        json: *mut c_char,
        json_len: usize,
        err: *mut ik_error,
    ),
>;

/// A non-NULL `ik_callback`.
pub(crate) type RawCallback =
    unsafe extern "C" fn(*mut c_void, ik_status, *mut c_char, usize, *mut ik_error);

pub(crate) fn cancelled() -> ik_error {
    core_error(Error::cancelled())
}

/// Races `fut` against the caller's token.
async fn cancellable<T>(
    cancel: Option<CancellationToken>,
    fut: impl Future<Output = Result<T, Error>>,
) -> FfiResult<T> {
    match cancel {
        None => fut.await.map_err(core_error),
        Some(token) => tokio::select! {
            biased;
            _ = token.cancelled() => Err(cancelled()),
            result = fut => result.map_err(core_error),
        },
    }
}

/// Races a blocking call against the host's interrupt check, run every interval on the
/// caller's thread (the one polling this future). Free when `fut` is done at its first poll.
async fn interruptible<T>(fut: impl Future<Output = FfiResult<T>>) -> FfiResult<T> {
    tokio::select! {
        biased;
        result = fut => result,
        () = interrupt_requested() => Err(core_error(interrupt::interrupted())),
    }
}

async fn interrupt_requested() {
    loop {
        tokio::time::sleep(interrupt::CHECK_INTERVAL).await;
        if interrupt::requested() {
            return;
        }
    }
}

/// Runs an operation that completes within the call, blocking the caller: on the caller's
/// thread, its HTTP exchanges blocking it in socket calls directly. A token is then watched
/// by the waits' interrupt check (every `CHECK_INTERVAL`); a cancelled exchange closes its
/// connection as it stops. Through a proxy (reqwest), a call with a token runs on the shared
/// runtime instead, whose workers close a cancelled exchange's connection at once (on the
/// caller's own runtime it would wait for the thread's next call).
pub(crate) fn blocking<T>(
    cancel: Option<CancellationToken>,
    fut: impl Future<Output = Result<T, Error>>,
) -> FfiResult<T> {
    let on_caller = cancel.is_none() || inferencekey_core::transport::direct_io();
    let token = cancel.clone();
    let fut = interruptible(cancellable(cancel, fut));
    if !on_caller {
        return runtime::block_on_shared(fut)?;
    }
    let run = || inferencekey_core::transport::as_blocking_caller(|| runtime::block_on_caller(fut));
    let Some(token) = token else {
        return run()?;
    };
    let watched = token.clone();
    let check: interrupt::Check = std::sync::Arc::new(move || watched.is_cancelled());
    let outcome = interrupt::with_thread_check(check, run)?;
    // Stopped by the token rather than the host's check: the error says so.
    outcome.map_err(|e| if token.is_cancelled() { cancelled() } else { e })
}

/// Runs an operation on the shared runtime, blocking the caller: for streams, whose
/// connection outlives the call that opens or reads them.
pub(crate) fn blocking_shared<T>(
    cancel: Option<CancellationToken>,
    fut: impl Future<Output = Result<T, Error>>,
) -> FfiResult<T> {
    runtime::block_on_shared(interruptible(cancellable(cancel, fut)))?
}

/// The `user_data` pointer travels to a runtime thread; the binding owns what it points to.
pub(crate) struct UserData(pub(crate) *mut c_void);
// SAFETY: the library never dereferences user_data; it only hands it back to `cb`.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Spawns an operation whose JSON result (or `None` at a stream's end) goes to `cb`.
pub(crate) fn spawn<F>(
    cancel: Option<CancellationToken>,
    cb: ik_callback,
    user_data: *mut c_void,
    fut: F,
) -> FfiResult
where
    F: Future<Output = Result<Option<Payload>, Error>> + Send + 'static,
{
    let cb = cb.ok_or_else(|| null_arg("cb"))?;
    let rt = runtime::get()?;
    let user_data = UserData(user_data);
    rt.spawn(async move {
        let outcome = AssertUnwindSafe(cancellable(cancel, fut))
            .catch_unwind()
            .await;
        let outcome = outcome.unwrap_or_else(|_| Err(panic_error()));
        let user_data = user_data;
        complete(cb, user_data.0, outcome);
    });
    Ok(())
}

/// Hands an outcome to `cb` (rule 18a): on the delivery thread, with ownership of the buffer
/// and the error, or into the completion queue bound to `cb` (rule 18b). Nothing is
/// delivered once the host is exiting.
pub(crate) fn complete(
    cb: RawCallback,
    user_data: *mut c_void,
    outcome: FfiResult<Option<Payload>>,
) {
    if crate::lifecycle::shut_down() {
        return;
    }
    let completion = match outcome {
        Ok(Some(payload)) => {
            let (json, len) = payload.into_raw();
            Completion::new(cb, user_data, IK_OK, json, len, std::ptr::null_mut())
        }
        Ok(None) => Completion::new(
            cb,
            user_data,
            IK_OK,
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        ),
        Err(error) => {
            let status = error.status();
            let err = handles::register(error);
            Completion::new(cb, user_data, status, std::ptr::null_mut(), 0, err)
        }
    };
    let Err(completion) = crate::queue::offer(completion) else {
        return; // the host takes it from its queue
    };
    if crate::lifecycle::callbacks_on_worker() {
        completion.deliver();
    } else {
        deliver::send(completion);
    }
}

/// An operation prepared by an export: arguments already checked, result serialised to JSON
/// (`None` only at the end of a stream). Exports take it unboxed: a blocking call pins it on
/// its caller's stack (no allocation, and never moved again: it is large), `spawn` moves it
/// into the runtime's task.
pub(crate) trait Op:
    Future<Output = Result<Option<Payload>, Error>> + Send + 'static
{
}
impl<F: Future<Output = Result<Option<Payload>, Error>> + Send + 'static> Op for F {}

/// An operation whose type is chosen at run time (a stream's next step).
pub(crate) type OpFuture = Pin<Box<dyn Op>>;

/// The blocking form of an export: prepares, waits, writes `*out` only on success.
pub(crate) fn export_blocking<F: Op>(
    err: *mut *mut ik_error,
    cancel: *const crate::cancel::ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    prepare: impl FnOnce() -> FfiResult<F>,
) -> ik_status {
    export_blocking_on(err, cancel, out, out_len, prepare, |c, f| blocking(c, f))
}

/// `export_blocking` on the shared runtime, for work whose connections are closed by the
/// workers that drive them (a readiness wait).
pub(crate) fn export_blocking_shared<F: Op>(
    err: *mut *mut ik_error,
    cancel: *const crate::cancel::ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    prepare: impl FnOnce() -> FfiResult<F>,
) -> ik_status {
    export_blocking_on(err, cancel, out, out_len, prepare, |c, f| {
        blocking_shared(c, f)
    })
}

fn export_blocking_on<F: Op>(
    err: *mut *mut ik_error,
    cancel: *const crate::cancel::ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    prepare: impl FnOnce() -> FfiResult<F>,
    run: impl FnOnce(Option<CancellationToken>, Pin<&mut F>) -> FfiResult<Option<Payload>>,
) -> ik_status {
    crate::boundary::guard(err, || {
        crate::boundary::out_ptr(out, "out")?;
        let cancel = crate::cancel::token_of(cancel)?;
        let fut = pin!(prepare()?);
        write_item(run(cancel, fut)?, out, out_len);
        Ok(())
    })
}

/// Writes a result (or NULL, the end of a stream) through out-parameters checked with
/// `out_ptr`.
pub(crate) fn write_item(item: Option<Payload>, out: *mut *mut c_char, out_len: *mut usize) {
    match item {
        Some(payload) => payload.write_to(out, out_len),
        // SAFETY: the caller checked `out`; NULL marks the end of a stream.
        None => unsafe {
            *out = std::ptr::null_mut();
            if !out_len.is_null() {
                *out_len = 0;
            }
        },
    }
}

/// The `_async` form: prepares on the caller's thread (argument errors return here and `cb`
/// never runs), then completes through `cb` exactly once.
pub(crate) fn export_async<F: Op>(
    err: *mut *mut ik_error,
    cancel: *const crate::cancel::ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    prepare: impl FnOnce() -> FfiResult<F>,
) -> ik_status {
    crate::boundary::guard(err, || {
        if cb.is_none() {
            return Err(null_arg("cb"));
        }
        let cancel = crate::cancel::token_of(cancel)?;
        let fut = prepare()?;
        spawn(cancel, cb, user_data, fut)
    })
}

/// Serialises a JSON-only result for the boundary.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<Option<Payload>, Error> {
    Payload::json(value).map(Some)
}

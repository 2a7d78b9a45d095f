//! `ik_completion_queue` (c-abi rule 18b): completions a host collects on its own thread
//! instead of receiving them on the delivery thread.
//!
//! A callback host pays one thread hop per completion, and a host whose loop holds a lock
//! (CPython's GIL) pays for that lock changing hands as well: on 2 CPUs the delivery thread
//! and the loop then take turns per completion. With a queue, the worker that finishes an
//! operation appends its completion and, when the queue was empty, makes a descriptor
//! readable; the host's loop watches that descriptor and takes every waiting completion in
//! one call. No library thread runs host code, and a burst costs the loop one wake-up.
//!
//! A queue is bound to one `ik_callback`: completions addressed to it are queued, so no
//! export's signature changes and an operation started with another callback is called back
//! as before. Freeing the queue hands what it still holds to the delivery thread: every
//! completion still reaches its callback exactly once.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use inferencekey_core::process::{pid, ForkLocal};

use crate::boundary::{
    arg_handle, ffi_error, guard, guard_or, made_in_this_process, null_arg, out_ptr, FfiResult,
};
use crate::codes;
use crate::deliver::{self, Completion};
use crate::error::ik_error;
use crate::handles::{self, Handle, Kind};
use crate::ops::ik_callback;
use crate::status::ik_status;

/// One finished operation, as `ik_callback` would have received it; the host owns `json`
/// (`ik_buffer_free`) and `err` (`ik_error_free`) once it is taken from the queue.
#[repr(C)]
pub struct ik_completion {
    /// The `user_data` the operation was started with.
    pub user_data: *mut c_void,
    /// `IK_OK`, or the failure's status (then `err` is set and `json` is NULL).
    pub status: ik_status,
    /// The result (NULL on failure or at the end of a stream); `json_len` bytes without the NUL.
    pub json: *mut c_char,
    pub json_len: usize,
    pub err: *mut ik_error,
}

/// Opaque queue of completions bound to one callback; see `ik_completion_queue_new`.
pub struct ik_completion_queue {
    shared: Arc<Shared>,
    /// The process that made it: a forked child has its own queues.
    pid: u32,
}

impl Handle for ik_completion_queue {
    const KIND: Kind = Kind::CompletionQueue;
}

struct Shared {
    /// The callback whose completions this queue holds (its address).
    callback: usize,
    state: Mutex<State>,
    /// Readable while `state.signalled`: one byte is written per wake-up.
    readable: UnixStream,
    wake: UnixStream,
}

struct State {
    waiting: VecDeque<Completion>,
    /// A byte is in flight on `wake`: set by the push that found the queue empty, cleared by
    /// the drain that emptied it.
    signalled: bool,
    /// Set when the queue's handle is dropped: late pushes go to the delivery thread.
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `completion`, or gives it back when the queue is closed.
    fn push(&self, completion: Completion) -> Result<(), Completion> {
        let mut state = self.state();
        if state.closed {
            return Err(completion);
        }
        state.waiting.push_back(completion);
        if !state.signalled {
            state.signalled = true;
            // Full only if the host stopped reading: it is readable then anyway.
            let _ = (&self.wake).write(&[1]);
        }
        Ok(())
    }

    /// Unsignals the descriptor once the queue is empty (under the state's lock, so no push
    /// can signal in between and be lost).
    fn unsignal(&self, state: &mut State) {
        if state.waiting.is_empty() && state.signalled {
            state.signalled = false;
            let mut buf = [0u8; 16];
            while matches!((&self.readable).read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}

impl Drop for ik_completion_queue {
    fn drop(&mut self) {
        let shared = &self.shared;
        {
            let mut queues = queues().write().unwrap_or_else(|p| p.into_inner());
            queues.retain(|q| !Arc::ptr_eq(q, shared));
            COUNT.store(queues.len(), Ordering::Release);
        }
        let waiting = {
            let mut state = shared.state();
            state.closed = true;
            std::mem::take(&mut state.waiting)
        };
        if self.pid == pid() {
            waiting.into_iter().for_each(deliver::send);
        }
    }
}

/// This process's queues; `COUNT` lets a completion skip the lookup when there is none.
static QUEUES: ForkLocal<RwLock<Vec<Arc<Shared>>>> = ForkLocal::new();
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn queues() -> &'static RwLock<Vec<Arc<Shared>>> {
    QUEUES.get_or_init(|| RwLock::new(Vec::new()), drop)
}

/// Queues `completion` if a queue holds its callback's completions; otherwise gives it back.
pub(crate) fn offer(completion: Completion) -> Result<(), Completion> {
    if COUNT.load(Ordering::Acquire) == 0 {
        return Err(completion);
    }
    let shared = {
        let queues = queues().read().unwrap_or_else(|p| p.into_inner());
        match queues.iter().find(|q| q.callback == completion.callback()) {
            Some(q) => Arc::clone(q),
            None => return Err(completion),
        }
    };
    shared.push(completion)
}

/// A queue for the completions addressed to `cb`: from now on operations completing with
/// `cb` (any `_async` function's, and a readiness wait's `on_event` reported through it) are
/// not called back on the delivery thread but wait here, in completion order, until taken
/// with `ik_completion_queue_drain`; `ik_completion_queue_fd` tells when. One queue per
/// callback at a time (`IK_ERR_INVALID_STATE`, code "callback_queued", otherwise). Free it
/// with `ik_completion_queue_free`, which hands what it still holds back to the delivery
/// thread (each completion still reaches `cb` exactly once). A forked child's completions
/// never reach its parent's queue: the child makes its own.
#[no_mangle]
pub extern "C" fn ik_completion_queue_new(
    cb: ik_callback,
    out: *mut *mut ik_completion_queue,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let callback = cb.ok_or_else(|| null_arg("cb"))? as usize;
        let (readable, wake) = UnixStream::pair().map_err(system_error)?;
        readable.set_nonblocking(true).map_err(system_error)?;
        wake.set_nonblocking(true).map_err(system_error)?;
        let shared = Arc::new(Shared {
            callback,
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                signalled: false,
                closed: false,
            }),
            readable,
            wake,
        });
        let mut queues = queues().write().unwrap_or_else(|p| p.into_inner());
        if queues.iter().any(|q| q.callback == callback) {
            return Err(ffi_error(
                codes::CALLBACK_QUEUED,
                "a completion queue already holds this callback's completions",
            ));
        }
        queues.push(Arc::clone(&shared));
        COUNT.store(queues.len(), Ordering::Release);
        let queue = handles::register(ik_completion_queue { shared, pid: pid() });
        // SAFETY: checked by `out_ptr`.
        unsafe { *out = queue };
        Ok(())
    })
}

/// The queue's descriptor: readable while completions wait. Watch it with the host's loop
/// (epoll, kqueue, `add_reader`, `uv_poll`) and call `ik_completion_queue_drain` when it is;
/// never read, write or close it. It lives as long as the queue.
#[no_mangle]
pub extern "C" fn ik_completion_queue_fd(
    q: *const ik_completion_queue,
    out_fd: *mut c_int,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out_fd = out_ptr(out_fd, "out_fd")?;
        let q = live(q)?;
        // SAFETY: checked by `out_ptr`.
        unsafe { *out_fd = q.shared.readable.as_raw_fd() };
        Ok(())
    })
}

/// Moves up to `capacity` waiting completions, oldest first, into `items` (an array the
/// caller owns) and writes how many to `*out_count`. Ownership of each `json` and `err`
/// passes to the caller. Fewer than `capacity` means the queue is empty now and its
/// descriptor no longer readable; otherwise call again. Never blocks.
#[no_mangle]
pub extern "C" fn ik_completion_queue_drain(
    q: *const ik_completion_queue,
    items: *mut ik_completion,
    capacity: usize,
    out_count: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out_count = out_ptr(out_count, "out_count")?;
        let q = live(q)?;
        if items.is_null() && capacity > 0 {
            return Err(null_arg("items"));
        }
        let mut state = q.shared.state();
        let count = capacity.min(state.waiting.len());
        for (i, completion) in state.waiting.drain(..count).enumerate() {
            // SAFETY: the caller's array holds `capacity` items; `i < count <= capacity`.
            unsafe { items.add(i).write(completion.hand_over()) };
        }
        q.shared.unsignal(&mut state);
        // SAFETY: checked by `out_ptr`.
        unsafe { *out_count = count };
        Ok(())
    })
}

/// Frees a queue: completions it still holds, and those of operations still running, go to
/// the delivery thread, calling back its callback. NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_completion_queue_free(q: *mut ik_completion_queue) {
    guard_or((), || handles::release(q));
}

fn live(q: *const ik_completion_queue) -> FfiResult<Arc<ik_completion_queue>> {
    let q = arg_handle(q, "queue")?;
    made_in_this_process(
        q.pid,
        "this completion queue was made before fork() and is unusable here",
    )?;
    Ok(q)
}

#[cold]
fn system_error(e: std::io::Error) -> ik_error {
    ffi_error(
        codes::COMPLETION_QUEUE,
        &format!("the system refused the completion queue's descriptor: {e}"),
    )
}

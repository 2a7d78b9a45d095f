//! Completion delivery (c-abi rule 18a): every `_async` callback runs on one library thread
//! made for it, never on a runtime worker.
//!
//! - A callback that is slow (a host that hops to its own event loop first) delays only the
//!   callbacks queued behind it, never the HTTP work of the runtime's workers.
//! - A host may end the thread inside its callback. CPython does, with a forced unwind
//!   (`pthread_exit`), when a finalizing interpreter is asked for the GIL; crossing a
//!   `catch_unwind` frame would abort the process ("FATAL: exception not rethrown"). This
//!   thread is started with `pthread_create`, not `std::thread` (whose entry catches
//!   unwinds), and nothing on its stack catches: such an unwind runs the destructors and ends
//!   the thread. The next completion starts a new one.
//!
//! The callback owns what it receives: the buffer (`ik_buffer_free`) and the error
//! (`ik_error_free`). A completion that cannot be delivered frees both itself.

use std::ffi::{c_char, c_void};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use inferencekey_core::process::ForkLocal;

use crate::error::ik_error;
use crate::handles;
use crate::lifecycle::HostCall;
use crate::ops::RawCallback;
use crate::payload;
use crate::status::ik_status;

/// The binding's callback as this thread calls it: `C-unwind`, so that a host's forced unwind
/// may pass (`ik_callback` is the same function seen by cbindgen).
type Callback =
    unsafe extern "C-unwind" fn(*mut c_void, ik_status, *mut c_char, usize, *mut ik_error);

/// One finished operation on its way to the binding.
pub(crate) struct Completion {
    cb: Callback,
    user_data: *mut c_void,
    status: ik_status,
    json: *mut c_char,
    json_len: usize,
    err: *mut ik_error,
}

// SAFETY: `user_data` is the host's, only handed back; `json` and `err` are owned by this
// value until delivered (or freed by its drop).
unsafe impl Send for Completion {}

impl Completion {
    /// `cb` is the binding's non-NULL `ik_callback`.
    pub(crate) fn new(
        cb: RawCallback,
        user_data: *mut c_void,
        status: ik_status,
        json: *mut c_char,
        json_len: usize,
        err: *mut ik_error,
    ) -> Self {
        // SAFETY: the same function; only the unwinding attribute differs (see `Callback`).
        let cb = unsafe { std::mem::transmute::<RawCallback, Callback>(cb) };
        Completion {
            cb,
            user_data,
            status,
            json,
            json_len,
            err,
        }
    }

    /// The callback it is addressed to, by address (the key of a completion queue).
    pub(crate) fn callback(&self) -> usize {
        self.cb as usize
    }

    /// The completion as a queue hands it out, with ownership of the buffer and error.
    pub(crate) fn hand_over(mut self) -> crate::queue::ik_completion {
        crate::queue::ik_completion {
            user_data: self.user_data,
            status: self.status,
            json: std::mem::replace(&mut self.json, std::ptr::null_mut()),
            json_len: self.json_len,
            err: std::mem::replace(&mut self.err, std::ptr::null_mut()),
        }
    }

    /// Calls the binding's callback on this thread, handing over the buffer and error.
    pub(crate) fn deliver(mut self) {
        let Some(_call) = HostCall::enter() else {
            return; // dropped: frees the buffer and error
        };
        // Ownership passes to the binding before the call: an unwind out of it frees nothing.
        let json = std::mem::replace(&mut self.json, std::ptr::null_mut());
        let err = std::mem::replace(&mut self.err, std::ptr::null_mut());
        // SAFETY: the binding's function and pointer, with arguments it now owns.
        unsafe { (self.cb)(self.user_data, self.status, json, self.json_len, err) };
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        payload::free(self.json);
        if !self.err.is_null() {
            // SAFETY: registered by `ops::complete` and never handed over.
            handles::release(self.err);
        }
    }
}

thread_local! {
    /// Set on delivery threads: a blocking call from a callback is refused there (rule 17).
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on a delivery thread, i.e. inside a completion callback.
pub(crate) fn on_delivery_thread() -> bool {
    DELIVERING.with(std::cell::Cell::get)
}

/// The sending side of this process's delivery thread; replaced when that thread has ended.
static QUEUE: ForkLocal<Mutex<Option<Sender<Completion>>>> = ForkLocal::new();

/// Queues `completion` for the delivery thread, starting one when there is none.
pub(crate) fn send(completion: Completion) {
    let queue = QUEUE.get_or_init(|| Mutex::new(None), drop);
    let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
    let completion = match queue.as_ref() {
        Some(tx) => match tx.send(completion) {
            Ok(()) => return,
            Err(failed) => failed.0,
        },
        None => completion,
    };
    let (tx, rx) = channel();
    if start(rx) {
        // A new receiver is alive until it is told to stop, so this send succeeds.
        let _ = tx.send(completion);
        *queue = Some(tx);
    }
    // No thread could be made: the completion is dropped, which frees what it holds.
}

/// Starts a detached delivery thread reading `rx`; `false` when the system refused.
fn start(rx: Receiver<Completion>) -> bool {
    let arg = Box::into_raw(Box::new(rx)).cast::<c_void>();
    // SAFETY: `run` has the C calling convention pthread expects; `C-unwind` only lets a
    // host's forced unwind leave it.
    let entry = unsafe {
        std::mem::transmute::<
            extern "C-unwind" fn(*mut c_void) -> *mut c_void,
            extern "C" fn(*mut c_void) -> *mut c_void,
        >(run)
    };
    let mut thread = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: default attributes; `arg` is a boxed receiver that `run` takes over.
    let started =
        unsafe { libc::pthread_create(thread.as_mut_ptr(), std::ptr::null(), entry, arg) } == 0;
    if started {
        // SAFETY: the thread was created above; nobody joins it.
        unsafe {
            let thread = thread.assume_init();
            #[cfg(not(target_vendor = "apple"))]
            libc::pthread_setname_np(thread, c"inferencekey-cb".as_ptr());
            libc::pthread_detach(thread);
        }
    } else {
        // SAFETY: not taken over by a thread.
        drop(unsafe { Box::from_raw(arg.cast::<Receiver<Completion>>()) });
    }
    started
}

/// The queue a delivery thread serves. When a callback ends the thread (a forced unwind), its
/// drop hands the queue, with the completions already waiting in it, to a new delivery thread:
/// they are still called back exactly once and in order (dropping the receiver would have
/// discarded them, freeing their results without a callback).
struct Served {
    rx: Option<Receiver<Completion>>,
    /// Cleared when the loop ends normally (every sender gone: nothing left to serve).
    hand_over: bool,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            if self.hand_over {
                // Refused by the system: `rx` is dropped with what it holds, and the next
                // `send` starts a thread of its own.
                let _ = start(rx);
            }
        }
    }
}

/// The delivery thread: calls back completions in order until its queue is replaced. No
/// frame here catches an unwind (see the module's comment).
extern "C-unwind" fn run(arg: *mut c_void) -> *mut c_void {
    // SAFETY: the box `start` made for this thread.
    let rx = unsafe { Box::from_raw(arg.cast::<Receiver<Completion>>()) };
    // Apple's pthread_setname_np names only the calling thread.
    // SAFETY: a NUL-terminated static name.
    #[cfg(target_vendor = "apple")]
    unsafe {
        libc::pthread_setname_np(c"inferencekey-cb".as_ptr());
    }
    DELIVERING.with(|d| d.set(true));
    let mut served = Served {
        rx: Some(*rx),
        hand_over: true,
    };
    while let Some(Ok(completion)) = served.rx.as_ref().map(Receiver::recv) {
        completion.deliver();
    }
    served.hand_over = false;
    std::ptr::null_mut()
}

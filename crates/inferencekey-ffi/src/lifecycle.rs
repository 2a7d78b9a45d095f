//! The library's life in the host process (c-abi rule 3a): runtime configuration before first
//! use, fork tracking, and shutdown when the host exits. Every call into the host from a
//! library thread or a blocking call (completions, log records, interrupt checks) goes
//! through [`HostCall`], so that shutdown can wait for those already running.

use std::ffi::c_char;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::boundary::{arg_json, ffi_error, guard, guard_or, FfiResult};
use crate::codes;
use crate::error::ik_error;
use crate::status::ik_status;

/// Set by `ik_runtime_shutdown`: no host call starts from then on.
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);
/// Host calls running now.
static IN_HOST: AtomicUsize = AtomicUsize::new(0);
/// How long shutdown waits for host calls already running (a blocked callback is a host bug).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A call into the host that is running; shutdown waits for it to return.
pub(crate) struct HostCall(());

impl HostCall {
    /// `None` once the host is shutting down: the call must not be made.
    pub(crate) fn enter() -> Option<HostCall> {
        // Counted before the flag is read, so shutdown either sees this call or this call
        // sees the flag.
        IN_HOST.fetch_add(1, Ordering::SeqCst);
        if SHUT_DOWN.load(Ordering::SeqCst) {
            IN_HOST.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(HostCall(()))
    }
}

impl Drop for HostCall {
    fn drop(&mut self) {
        IN_HOST.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The runtime's settings, taken before its first use.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuntimeConfig {
    /// Worker threads of the shared runtime, 1 to 64 (default 2). They run HTTP work only;
    /// callbacks run on the library's delivery thread unless `callbacks` says otherwise.
    pub worker_threads: Option<usize>,
    /// Where `_async` completion callbacks run: `"delivery_thread"` (the default: one thread,
    /// one callback at a time, in completion order) or `"worker"`: on the runtime worker that
    /// finished the operation, as soon as it finishes, one thread hop sooner. Only for a host
    /// whose callback returns at once (it queues and wakes, never blocks or waits for its own
    /// loop), may run on several workers at a time, and never ends the calling thread (Go,
    /// Java; not koffi, whose callbacks wait for the event loop, nor CPython).
    pub callbacks: Option<CallbackThreads>,
}

/// See [`RuntimeConfig::callbacks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CallbackThreads {
    DeliveryThread,
    Worker,
}

/// Set by `"callbacks": "worker"`.
static CALLBACKS_ON_WORKER: AtomicBool = AtomicBool::new(false);

/// Whether completions are delivered on the worker that finished them.
pub(crate) fn callbacks_on_worker() -> bool {
    CALLBACKS_ON_WORKER.load(Ordering::Relaxed)
}

/// Worker threads of the shared runtime; fixed when it starts.
static WORKER_THREADS: AtomicUsize = AtomicUsize::new(2);
/// Set when the runtime starts: configuration is refused from then on.
static STARTED: AtomicBool = AtomicBool::new(false);

/// The worker count, read once by the runtime as it starts (later configuration is refused).
pub(crate) fn worker_threads_at_start() -> usize {
    STARTED.store(true, Ordering::SeqCst);
    WORKER_THREADS.load(Ordering::SeqCst)
}

fn configure(config: RuntimeConfig) -> FfiResult {
    if STARTED.load(Ordering::SeqCst) {
        return Err(ffi_error(
            codes::RUNTIME_STARTED,
            "the runtime has started; configure it before the first call",
        ));
    }
    if let Some(n) = config.worker_threads {
        if !(1..=64).contains(&n) {
            return Err(ffi_error(
                codes::INVALID_RUNTIME_OPTION,
                &format!("worker_threads must be from 1 to 64, got {n}"),
            ));
        }
        WORKER_THREADS.store(n, Ordering::SeqCst);
    }
    if let Some(threads) = config.callbacks {
        CALLBACKS_ON_WORKER.store(threads == CallbackThreads::Worker, Ordering::SeqCst);
    }
    Ok(())
}

/// Configures the shared runtime from JSON `{"worker_threads": 2, "callbacks":
/// "delivery_thread"}` (workers 1 to 64; callbacks `"delivery_thread"` or `"worker"`, see the
/// schema). Only before the first call that needs the runtime; later → `IK_ERR_INVALID_STATE`
/// (code `runtime_started`).
#[no_mangle]
pub extern "C" fn ik_runtime_configure(
    cfg: *const c_char,
    cfg_len: usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || configure(arg_json(cfg, cfg_len, "cfg")?))
}

/// True once the host is exiting.
pub(crate) fn shut_down() -> bool {
    SHUT_DOWN.load(Ordering::SeqCst)
}

/// The host process is exiting: from now on no callback runs (completion, log, interrupt
/// check) and operations still in flight are dropped. Returns once every callback already
/// running has returned (waiting up to 2 s), so call it with no lock a callback may need
/// (Python: from an `atexit` hook, GIL released), before the host can no longer take
/// callbacks (a finalizing CPython ends such a thread mid-call). Irreversible.
#[no_mangle]
pub extern "C" fn ik_runtime_shutdown() {
    guard_or((), || {
        SHUT_DOWN.store(true, Ordering::SeqCst);
        inferencekey_core::log::set_sink(None, None);
        inferencekey_core::interrupt::set_check(None);
        let deadline = Instant::now() + DRAIN_LIMIT;
        while IN_HOST.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers `pthread_atfork` handlers, once, by the first client: before a fork the forking
/// thread takes the process-wide locks every call may take (so that no other thread holds
/// one when the child is made), and after it, in parent and child, releases them; the child
/// also refreshes the PID the core serves from memory (no `getpid` per fork check). Every
/// other per-process state (runtime, pools, delivery thread) is rebuilt lazily by a child.
pub(crate) fn track_forks() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        extern "C" fn prepare() {
            guard_or((), || {
                inferencekey_core::process::before_fork(|| vec![crate::handles::hold_for_fork()])
            });
        }
        extern "C" fn in_parent() {
            guard_or((), inferencekey_core::process::after_fork);
        }
        extern "C" fn in_child() {
            inferencekey_core::process::cache_pid();
            // Host calls running in the parent's other threads do not exist here.
            IN_HOST.store(0, Ordering::SeqCst);
            guard_or((), inferencekey_core::process::after_fork);
        }
        // SAFETY: the handlers take and release locks that are never held across a call out
        // of the library, and store the PID atomically; none of them unwinds (guarded).
        if unsafe { libc::pthread_atfork(Some(prepare), Some(in_parent), Some(in_child)) } == 0 {
            inferencekey_core::process::cache_pid();
        }
    });
}

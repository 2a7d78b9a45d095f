//! Interrupting blocking calls. A host that runs its signal handlers on the thread a signal
//! interrupted (Python's Ctrl-C) registers a check; a blocking call runs it on its own thread
//! when a read is interrupted by a signal and every [`CHECK_INTERVAL`] while it waits, and
//! stops with [`interrupted`] when the check says so. A caller may add a check of its own for
//! the calls it runs on its thread ([`with_thread_check`]): a cancel token, so that a
//! cancellable call keeps its I/O on the caller's thread too.

use std::cell::RefCell;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::codes;
use crate::error::{Error, ErrorKind};

/// How long a blocking call waits at most between two checks: short enough that an interrupt
/// (Ctrl-C, `Thread.interrupt()`) stops a call well within 100 ms; a wait that wakes 20 times
/// a second costs nothing measurable.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// Returns true when the calling thread's blocking call must stop.
pub type Check = Arc<dyn Fn() -> bool + Send + Sync>;

static CHECK: RwLock<Option<Check>> = RwLock::new(None);

thread_local! {
    /// The check of the calls this thread runs inside [`with_thread_check`].
    static THREAD_CHECK: RefCell<Option<Check>> = const { RefCell::new(None) };
}

/// Registers the process's check, or removes it (`None`).
pub fn set_check(check: Option<Check>) {
    *CHECK.write().unwrap_or_else(|p| p.into_inner()) = check;
}

/// The check's lock, held across `fork()` by [`crate::process::before_fork`].
pub(crate) fn hold_for_fork() -> Box<dyn std::any::Any> {
    Box::new(CHECK.write().unwrap_or_else(|p| p.into_inner()))
}

/// Runs `f` with `check` consulted, on this thread, beside the process's check.
pub fn with_thread_check<R>(check: Check, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Check>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_CHECK.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(THREAD_CHECK.with(|c| c.borrow_mut().replace(check)));
    f()
}

/// Runs this thread's check, then the registered one (false when there is none).
pub fn requested() -> bool {
    let thread_check = THREAD_CHECK.with(|c| c.borrow().clone());
    if thread_check.is_some_and(|check| check()) {
        return true;
    }
    let check = CHECK.read().unwrap_or_else(|p| p.into_inner()).clone();
    check.is_some_and(|check| check())
}

/// Serialises the tests that register a check: there is one per process.
#[cfg(test)]
pub(crate) static TEST_CHECK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The error of a call the check stopped.
pub fn interrupted() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        codes::INTERRUPTED,
        "the call was interrupted",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_registered_check_decides() {
        let _one = TEST_CHECK.lock().unwrap_or_else(|p| p.into_inner());
        assert!(!requested());
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        set_check(Some(Arc::new(move || {
            seen.fetch_add(1, Ordering::SeqCst) >= 1
        })));
        assert!(!requested());
        assert!(requested());
        set_check(None);
        assert!(!requested());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(interrupted().kind, ErrorKind::Cancelled);
    }

    #[test]
    fn a_thread_check_holds_only_within_its_scope_and_thread() {
        let _one = TEST_CHECK.lock().unwrap_or_else(|p| p.into_inner());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = stop.clone();
        let check: Check = Arc::new(move || seen.load(Ordering::SeqCst));
        with_thread_check(check, || {
            assert!(!requested());
            stop.store(true, Ordering::SeqCst);
            assert!(requested());
            // Another thread's calls are not this one's to stop.
            assert!(!std::thread::spawn(requested).join().unwrap());
            // Nested scopes restore the outer check when they end.
            with_thread_check(Arc::new(|| false), || assert!(!requested()));
            assert!(requested());
        });
        assert!(!requested());
    }
}

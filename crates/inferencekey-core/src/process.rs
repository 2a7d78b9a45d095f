//! The process id behind the fork checks, served from memory once an embedder keeps it fresh.
//!
//! Connection pools and runtimes remember the PID that built them, so that a forked child never
//! uses its parent's sockets or threads. `std::process::id()` is a `getpid` system call on every
//! use (glibc stopped caching it), and each blocking call checks it several times. An embedder
//! that runs code in every forked child (the C ABI registers a `pthread_atfork` handler) calls
//! [`cache_pid`] once, and again in each child; until then nothing is cached.
//!
//! [`ForkLocal`] holds state that belongs to one process (connection pools, clients,
//! runtimes): a forked child builds its own without touching the parent's, not even its locks,
//! which another thread of the parent may have held at the moment of the fork.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// 0 until [`cache_pid`] is first called (no process has PID 0).
static CACHED: AtomicU32 = AtomicU32::new(0);

/// This process's id.
pub fn pid() -> u32 {
    match CACHED.load(Ordering::Relaxed) {
        0 => std::process::id(),
        pid => pid,
    }
}

/// Reads the PID once and serves [`pid`] from memory from now on. Only for a caller that also
/// calls it in every forked child before anything else runs there (async-signal-safe: one
/// system call and one atomic store); otherwise a child would see its parent's PID.
pub fn cache_pid() {
    CACHED.store(std::process::id(), Ordering::Relaxed);
}

/// A value of this process: built on first use, and built again in a forked child, which
/// leaks the parent's copy unread (its sockets, threads and locks are the parent's).
///
/// Lock-free on purpose: the check that tells a child from its parent is one atomic load and a
/// PID comparison, so it cannot block on anything the parent held when it forked.
pub struct ForkLocal<T> {
    slot: AtomicPtr<Owned<T>>,
    /// Shared references to `T` cross threads: `Sync` and `Send` follow `T`'s.
    _owns: PhantomData<T>,
}

struct Owned<T> {
    pid: u32,
    value: T,
}

impl<T> ForkLocal<T> {
    pub const fn new() -> ForkLocal<T> {
        ForkLocal {
            slot: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// This process's value, made by `make` when there is none yet. Two threads racing to
    /// make the first one both build; the loser's value is handed to `discard`.
    pub fn get_or_init(&self, make: impl FnOnce() -> T, discard: impl FnOnce(T)) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(make()), discard) {
            Ok(value) => value,
        }
    }

    /// [`get_or_init`](Self::get_or_init) with a `make` that may fail (nothing is stored then).
    pub fn get_or_try_init<E>(
        &self,
        make: impl FnOnce() -> Result<T, E>,
        discard: impl FnOnce(T),
    ) -> Result<&T, E> {
        let me = pid();
        let seen = self.slot.load(Ordering::Acquire);
        // SAFETY: a non-null slot points to an `Owned` that is freed only by `drop` (which has
        // `&mut self`, so no reference handed out here outlives it) or never (a parent's).
        if let Some(owned) = unsafe { seen.as_ref() } {
            if owned.pid == me {
                return Ok(&owned.value);
            }
        }
        let fresh = Box::into_raw(Box::new(Owned {
            pid: me,
            value: make()?,
        }));
        match self
            .slot
            .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // The parent's value (if `seen` was one) is leaked: it is not ours to drop.
            // SAFETY: `fresh` was just leaked from a box and is now owned by the slot.
            Ok(_) => Ok(unsafe { &(*fresh).value }),
            Err(winner) => {
                // SAFETY: `fresh` never became visible to another thread.
                discard(unsafe { Box::from_raw(fresh) }.value);
                // SAFETY: as above; the winner was stored by a thread of this process.
                let owned = unsafe { &*winner };
                debug_assert_eq!(owned.pid, me);
                Ok(&owned.value)
            }
        }
    }
}

impl<T> Default for ForkLocal<T> {
    fn default() -> Self {
        ForkLocal::new()
    }
}

impl<T> Drop for ForkLocal<T> {
    fn drop(&mut self) {
        let owned = *self.slot.get_mut();
        // SAFETY: see `get_or_init`; only this process's own value is dropped.
        if !owned.is_null() && unsafe { (*owned).pid } == pid() {
            drop(unsafe { Box::from_raw(owned) });
        }
    }
}

thread_local! {
    /// Locks the forking thread holds from just before `fork()` until just after it.
    static HELD_ACROSS_FORK: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Before `fork()` (a `pthread_atfork` prepare handler): takes the process-wide locks that
/// every call may take (the log sink, the interrupt check, and whatever `more` holds, such as
/// a binding's handle registry), so that no other thread holds one at the moment of the fork
/// and the child never finds one locked forever. Each is held only briefly elsewhere and never
/// while calling out to the host, so this cannot wait on the forking thread itself.
pub fn before_fork(more: impl FnOnce() -> Vec<Box<dyn Any>>) {
    let mut held = more();
    held.push(crate::log::hold_for_fork());
    held.push(crate::interrupt::hold_for_fork());
    HELD_ACROSS_FORK.with(|h| h.borrow_mut().extend(held));
}

/// After `fork()`, in the parent and in the child: releases what [`before_fork`] took.
pub fn after_fork() {
    let held = HELD_ACROSS_FORK.with(|h| std::mem::take(&mut *h.borrow_mut()));
    // Released in the reverse order of taking.
    held.into_iter().rev().for_each(drop);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_local_is_built_once_per_process() {
        let built = std::sync::atomic::AtomicUsize::new(0);
        let local = ForkLocal::new();
        let make = || built.fetch_add(1, Ordering::SeqCst);
        assert_eq!(*local.get_or_init(make, drop), 0);
        assert_eq!(*local.get_or_init(make, drop), 0);
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn cached_pid_is_the_real_one() {
        assert_eq!(pid(), std::process::id());
        cache_pid();
        assert_eq!(pid(), std::process::id());
    }
}

//! The process id behind the fork checks, served from memory once an embedder keeps it fresh.
//!
//! Connection pools and runtimes remember the PID that built them, so that a forked child never
//! uses its parent's sockets or threads. `std::process::id()` is a `getpid` system call on every
//! use (glibc stopped caching it), and each blocking call checks it several times. An embedder
//! that runs code in every forked child (the C ABI registers a `pthread_atfork` handler) calls
//! [`cache_pid`] once, and again in each child; until then nothing is cached.

use std::sync::atomic::{AtomicU32, Ordering};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_pid_is_the_real_one() {
        assert_eq!(pid(), std::process::id());
        cache_pid();
        assert_eq!(pid(), std::process::id());
    }
}

//! Live-handle registry: the library only dereferences pointers it handed out itself and
//! has not freed yet, so a stale, foreign or double-freed pointer is an error, not UB.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Which family a pointer belongs to; a pointer of one family is never accepted as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Cancel,
    ManagementClient,
    DataClient,
    Endpoint,
    Stream,
    #[cfg_attr(not(feature = "dev-server"), allow(dead_code))]
    DevServer,
    /// A result buffer returned through `char **out`.
    String,
}

/// Each live pointer with its family and, for buffers, the allocation's length in bytes.
type Live = HashMap<usize, (Kind, usize)>;

static LIVE: Mutex<Option<Live>> = Mutex::new(None);

fn live() -> MutexGuard<'static, Option<Live>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The registry's lock, held by the forking thread across `fork()` (see
/// `runtime::track_forks`): a child never inherits it locked by a thread that does not exist
/// there. It is held only briefly, and never while calling out of the library.
pub(crate) fn hold_for_fork() -> Box<dyn std::any::Any> {
    Box::new(live())
}

/// Leaks `value` to the caller and records the pointer.
pub(crate) fn register<T>(value: Box<T>, kind: Kind) -> *mut T {
    let ptr = Box::into_raw(value);
    live()
        .get_or_insert_with(HashMap::new)
        .insert(ptr as usize, (kind, 0));
    ptr
}

pub(crate) fn is_live<T>(ptr: *const T, kind: Kind) -> bool {
    !ptr.is_null()
        && live()
            .as_ref()
            .and_then(|m| m.get(&(ptr as usize)))
            .is_some_and(|(k, _)| *k == kind)
}

/// Borrows a live handle; `None` for NULL or a pointer we do not own.
///
/// # Safety
/// `ptr`, when registered under `kind`, must point to a `T` (guaranteed by `register`), and
/// the caller must not free it while the borrow lives (c-abi rule 15).
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T, kind: Kind) -> Option<&'a T> {
    if is_live(ptr, kind) {
        Some(&*ptr)
    } else {
        None
    }
}

/// Records a buffer of `len` bytes allocated elsewhere (result buffers).
pub(crate) fn record<T>(ptr: *mut T, kind: Kind, len: usize) {
    live()
        .get_or_insert_with(HashMap::new)
        .insert(ptr as usize, (kind, len));
}

/// Forgets a live pointer, returning the length it was recorded with; `None` when it was not
/// live under `kind`.
pub(crate) fn forget<T>(ptr: *mut T, kind: Kind) -> Option<usize> {
    let mut guard = live();
    match guard.as_mut() {
        Some(map) if !ptr.is_null() => match map.get(&(ptr as usize)) {
            Some(&(k, len)) if k == kind => {
                map.remove(&(ptr as usize));
                Some(len)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Frees a live handle; NULL and unknown pointers are ignored.
///
/// # Safety
/// As for [`borrow`].
pub(crate) unsafe fn release<T>(ptr: *mut T, kind: Kind) {
    if forget(ptr, kind).is_some() {
        drop(Box::from_raw(ptr));
    }
}

//! Live-handle registry (c-abi rules 9 and 9a): the library only dereferences objects it
//! handed out itself and has not freed yet, so a stale, foreign, double-freed or wrong-kind
//! pointer is an error, not UB.
//!
//! **Handles** (`ik_error`, `ik_cancel`, clients, endpoints, streams, dev servers) are not the
//! addresses of their Rust objects: the host gets an opaque identifier, cast to the handle's
//! pointer type, which it never dereferences. An identifier is never issued twice in a
//! process, so a freed handle stays refused however often its object's memory is reused:
//!
//! ```text
//!  63   60 59  56 55                                                 0
//! +-------+------+----------------------------------------------------+
//! |  0100 | kind |  sequence number (process-wide, from 1, never reused) |
//! +-------+------+----------------------------------------------------+
//! ```
//!
//! The tag makes every identifier a non-canonical address on x86-64 and AArch64 (and far
//! above any heap): it can never equal a real pointer, and garbage collectors that check
//! pointer-typed values (Go's) ignore it. The kind in the identifier lets a lookup refuse a
//! handle of another kind without touching the table, and lets an error say what the
//! pointer was. On 32-bit targets there is no tag and the sequence has 28 bits; it is
//! reused only after 2^28 handles, never while the old one is live.
//!
//! **Result buffers** (`char **out`, freed by `ik_buffer_free`) are real pointers the host
//! reads, so they are recorded by address. Freeing one forgets it, so a double free is
//! ignored, except in one case no address-keyed scheme can tell apart: when the allocator has
//! meanwhile reused the address for a *new* result buffer, a second `ik_buffer_free` of the
//! old pointer frees the new buffer. That is a double free in the host (as with libc `free`);
//! the header says so.
//!
//! Both tables sit behind one lock, taken briefly (one hash lookup) and never while calling
//! out of the library; `hold_for_fork` takes it across `fork()`.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

/// Which family a handle belongs to; a handle of one family is never accepted as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Error = 1,
    Cancel = 2,
    ManagementClient = 3,
    DataClient = 4,
    Endpoint = 5,
    Stream = 6,
    #[cfg_attr(not(feature = "dev-server"), allow(dead_code))]
    DevServer = 7,
    CompletionQueue = 8,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Error,
        Kind::Cancel,
        Kind::ManagementClient,
        Kind::DataClient,
        Kind::Endpoint,
        Kind::Stream,
        Kind::DevServer,
        Kind::CompletionQueue,
    ];

    /// The C type name, for messages.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Kind::Error => "ik_error",
            Kind::Cancel => "ik_cancel",
            Kind::ManagementClient => "ik_management_client",
            Kind::DataClient => "ik_data_client",
            Kind::Endpoint => "ik_endpoint",
            Kind::Stream => "ik_stream",
            Kind::DevServer => "ik_dev_server",
            Kind::CompletionQueue => "ik_completion_queue",
        }
    }

    fn from_code(code: usize) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as usize == code)
    }
}

/// A type handed to the host as a handle, with its family.
pub(crate) trait Handle: Send + Sync + 'static {
    const KIND: Kind;
}

// --- identifiers ---------------------------------------------------------------------------

const KIND_BITS: u32 = 4;
#[cfg(target_pointer_width = "64")]
const TAG_BITS: u32 = 4;
#[cfg(not(target_pointer_width = "64"))]
const TAG_BITS: u32 = 0;
/// `0100` in the top four bits (64-bit targets).
const TAG: usize = if TAG_BITS == 0 {
    0
} else {
    0b0100 << (usize::BITS - TAG_BITS)
};
const KIND_SHIFT: u32 = usize::BITS - TAG_BITS - KIND_BITS;
const SEQ_MASK: usize = (1 << KIND_SHIFT) - 1;
const KIND_MASK: usize = ((1 << KIND_BITS) - 1) << KIND_SHIFT;
/// The bits that must read `TAG | kind` in an identifier of a given kind.
const HEAD_MASK: usize = !SEQ_MASK;

fn head(kind: Kind) -> usize {
    TAG | ((kind as usize) << KIND_SHIFT)
}

// --- the tables ----------------------------------------------------------------------------

/// Hashes a `usize` key with one multiply and a fold: cheaper than SipHash and well spread
/// for both sequential identifiers and 16-aligned addresses (low bits mixed from high ones).
#[derive(Clone, Copy, Default)]
struct Mix;

#[derive(Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for Mix {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher(0)
    }
}

struct Registry {
    /// The next sequence number (1-based; 0 is never issued).
    next: usize,
    /// Live handles: identifier → address of the boxed object.
    handles: HashMap<usize, usize, Mix>,
    /// Live result buffers: address → allocation length in bytes.
    buffers: HashMap<usize, usize, Mix>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 1,
    handles: HashMap::with_hasher(Mix),
    buffers: HashMap::with_hasher(Mix),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The registry's lock, held by the forking thread across `fork()` (see
/// `lifecycle::track_forks`): a child never inherits it locked by a thread that does not exist
/// there. It is held only briefly, and never while calling out of the library.
pub(crate) fn hold_for_fork() -> Box<dyn std::any::Any> {
    Box::new(registry())
}

// --- handles -------------------------------------------------------------------------------

/// Moves `value` into the registry and returns its new, never-reused identifier, typed as
/// the handle pointer the host receives (never to be dereferenced by anyone).
pub(crate) fn register<T: Handle>(value: T) -> *mut T {
    let addr = Arc::into_raw(Arc::new(value)) as usize;
    let mut reg = registry();
    loop {
        let seq = reg.next;
        reg.next = if seq >= SEQ_MASK { 1 } else { seq + 1 };
        let id = head(T::KIND) | seq;
        // Only a 32-bit process that made 2^28 handles ever wraps; it skips those still live.
        if let Entry::Vacant(slot) = reg.handles.entry(id) {
            slot.insert(addr);
            return id as *mut T;
        }
    }
}

/// A new reference to the object behind a live handle of `T`'s kind; `None` for NULL,
/// freed, foreign or other-kind.
fn lookup<T: Handle>(id: usize) -> Option<Arc<T>> {
    if id & HEAD_MASK != head(T::KIND) {
        return None;
    }
    let reg = registry();
    let addr = *reg.handles.get(&id)?;
    // SAFETY: made by `Arc::into_raw::<T>` in `register::<T>` (the kind is `T`'s); the table's
    // reference is still held (it is dropped only after removal, under this lock), so the
    // count is at least one while we add ours.
    unsafe {
        Arc::increment_strong_count(addr as *const T);
        Some(Arc::from_raw(addr as *const T))
    }
}

/// A live handle's object, kept alive by the returned reference for as long as the caller
/// holds it: a `_free` from another thread meanwhile (a binding's race, but no reason for
/// undefined behaviour) only drops the table's reference. `None` for NULL or anything but a
/// live handle of `T`'s kind.
pub(crate) fn borrow<T: Handle>(ptr: *const T) -> Option<Arc<T>> {
    lookup(ptr as usize)
}

/// Frees a live handle: its object goes when the last call using it returns. NULL and
/// anything else are ignored (a double free included).
pub(crate) fn release<T: Handle>(ptr: *mut T) {
    let id = ptr as usize;
    if id & HEAD_MASK != head(T::KIND) {
        return;
    }
    let addr = registry().handles.remove(&id);
    // Dropped outside the lock: a drop may take other locks or take time.
    if let Some(addr) = addr {
        // SAFETY: made by `Arc::into_raw::<T>` in `register::<T>`; removed from the table
        // above, so the table's reference is given up exactly once.
        drop(unsafe { Arc::from_raw(addr as *const T) });
    }
}

/// Why a non-NULL pointer is not a live handle of the expected kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A handle of the expected kind that was freed.
    Freed,
    /// A handle of another kind, live or freed.
    OtherKind { kind: Kind, live: bool },
    /// Not made by this library (or never a handle: a result buffer, a stack address, …).
    Foreign,
}

/// Says why `ptr` was refused as a handle of `kind` (off the hot path: only after a failed
/// lookup). A pointer that is, after all, live under `kind` (freed and looked up
/// concurrently is a binding bug anyway) reads as `Freed`.
pub(crate) fn diagnose<T>(ptr: *const T, kind: Kind) -> Refusal {
    let id = ptr as usize;
    let seq = id & SEQ_MASK;
    let reg = registry();
    if id & !(SEQ_MASK | KIND_MASK) != TAG || seq == 0 || seq >= reg.next {
        return Refusal::Foreign;
    }
    match Kind::from_code((id & KIND_MASK) >> KIND_SHIFT) {
        Some(k) if k == kind => Refusal::Freed,
        Some(other) => Refusal::OtherKind {
            kind: other,
            live: reg.handles.contains_key(&id),
        },
        None => Refusal::Foreign,
    }
}

// --- result buffers ------------------------------------------------------------------------

/// Records a result buffer of `len` bytes handed to the host at `ptr`.
pub(crate) fn record_buffer<T>(ptr: *mut T, len: usize) {
    registry().buffers.insert(ptr as usize, len);
}

/// Forgets a live result buffer, returning its length; `None` for NULL or anything else.
pub(crate) fn forget_buffer<T>(ptr: *mut T) -> Option<usize> {
    if ptr.is_null() {
        return None;
    }
    registry().buffers.remove(&(ptr as usize))
}

// --- counts --------------------------------------------------------------------------------

/// How many handles of each kind (by C type name) and how many result buffers are live.
pub(crate) fn live_counts() -> (Vec<(&'static str, usize)>, usize) {
    let reg = registry();
    let mut per_kind: Vec<(&'static str, usize)> =
        Kind::ALL.iter().map(|k| (k.type_name(), 0)).collect();
    for id in reg.handles.keys() {
        let name = Kind::from_code((id & KIND_MASK) >> KIND_SHIFT).map(Kind::type_name);
        if let Some(slot) = per_kind.iter_mut().find(|(n, _)| Some(*n) == name) {
            slot.1 += 1;
        }
    }
    (per_kind, reg.buffers.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Thing(u64);
    impl Handle for Thing {
        const KIND: Kind = Kind::Endpoint;
    }

    struct Other(#[allow(dead_code)] u8);
    impl Handle for Other {
        const KIND: Kind = Kind::Cancel;
    }

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);
    impl Handle for Counted {
        const KIND: Kind = Kind::Stream;
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_live_handle_is_borrowed_and_its_object_is_reached() {
        let h = register(Thing(42));
        assert!(!h.is_null());
        assert_eq!(borrow(h).map(|t| t.0), Some(42));
        release(h);
        assert!(borrow(h).is_none());
    }

    #[test]
    fn identifiers_are_tagged_never_addresses_and_never_reused() {
        let mut seen = HashSet::new();
        for i in 0..2000 {
            let h = register(Thing(i));
            let addr = Arc::as_ptr(&borrow(h).unwrap()) as usize;
            let id = h as usize;
            assert_ne!(id, addr);
            assert!(id >= 4096, "a Go runtime rejects small pointer values");
            #[cfg(target_pointer_width = "64")]
            assert_eq!(id >> 60, 0b0100, "tagged: {id:#x}");
            assert!(seen.insert(id), "identifier {id:#x} issued twice");
            release(h);
        }
    }

    #[test]
    fn a_freed_handle_is_refused_even_when_its_memory_is_reused() {
        let old = register(Thing(1));
        let old_addr = Arc::as_ptr(&borrow(old).unwrap()) as usize;
        release(old);
        let mut reused = false;
        let mut live = Vec::new();
        for i in 0..1000 {
            let h = register(Thing(i));
            reused |= borrow(h).is_some_and(|t| Arc::as_ptr(&t) as usize == old_addr);
            assert!(borrow(old).is_none());
            assert_eq!(diagnose(old, Kind::Endpoint), Refusal::Freed);
            live.push(h);
        }
        for h in live {
            release(h);
        }
        // The allocator gives the same block back at once (same size class): proof that the
        // address did repeat while the old identifier stayed refused.
        assert!(reused, "the old object's address was never reused");
    }

    #[test]
    fn an_object_outlives_its_release_while_a_call_uses_it() {
        let drops = Arc::new(AtomicUsize::new(0));
        let h = register(Counted(drops.clone()));
        let in_use = borrow(h).unwrap();
        release(h);
        assert!(borrow(h).is_none(), "freed handles are refused at once");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "dropped under a call using it"
        );
        drop(in_use);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn another_kind_is_refused_and_named() {
        let t = register(Thing(7));
        let o = register(Other(1));
        assert!(borrow(t.cast::<Other>()).is_none());
        assert!(borrow(o.cast::<Thing>()).is_none());
        assert_eq!(
            diagnose(o, Kind::Endpoint),
            Refusal::OtherKind {
                kind: Kind::Cancel,
                live: true
            }
        );
        // Releasing as the wrong kind does nothing.
        release(t.cast::<Other>());
        assert_eq!(borrow(t).map(|t| t.0), Some(7));
        release(o);
        assert_eq!(
            diagnose(o, Kind::Endpoint),
            Refusal::OtherKind {
                kind: Kind::Cancel,
                live: false
            }
        );
        release(t);
    }

    #[test]
    fn foreign_pointers_are_refused() {
        let local = 5u64;
        let heap = Box::new(Thing(3));
        let foreign: [*const Thing; 5] = [
            (&local as *const u64).cast(),
            &*heap,
            // Tagged like ours, right kind, but a sequence number never issued.
            (head(Kind::Endpoint) | (SEQ_MASK - 1)) as *const Thing,
            (head(Kind::Endpoint)) as *const Thing,
            usize::MAX as *const Thing,
        ];
        for p in foreign {
            assert!(borrow(p).is_none(), "{p:p}");
            assert_eq!(diagnose(p, Kind::Endpoint), Refusal::Foreign, "{p:p}");
            release(p.cast_mut());
        }
        assert!(borrow(std::ptr::null::<Thing>()).is_none());
        release(std::ptr::null_mut::<Thing>());
        assert_eq!(heap.0, 3);
    }

    #[test]
    fn double_release_drops_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let h = register(Counted(drops.clone()));
        release(h);
        release(h);
        let h2 = register(Counted(drops.clone()));
        release(h);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(borrow(h2).is_some());
        release(h2);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn buffers_are_recorded_by_address_and_forgotten_once() {
        let buf = Box::into_raw(vec![1u8; 24].into_boxed_slice()).cast::<u8>();
        record_buffer(buf, 24);
        assert_eq!(forget_buffer(buf), Some(24));
        assert_eq!(forget_buffer(buf), None);
        assert_eq!(forget_buffer(std::ptr::null_mut::<u8>()), None);
        // A handle identifier is never a buffer, and a buffer never a handle.
        let h = register(Thing(0));
        assert_eq!(forget_buffer(h), None);
        record_buffer(buf, 24);
        assert!(borrow(buf.cast::<Thing>()).is_none());
        assert_eq!(forget_buffer(buf), Some(24));
        release(h);
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buf, 24)) });
    }

    #[test]
    fn concurrent_registration_gives_distinct_identifiers() {
        let ids: Vec<usize> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..500)
                            .map(|i| register(Thing(i)) as usize)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let unique: HashSet<_> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len());
        for id in ids {
            assert!(borrow(id as *const Thing).is_some());
            release(id as *mut Thing);
        }
    }

    #[test]
    fn hold_for_fork_takes_the_registry_lock() {
        let guard = hold_for_fork();
        assert!(matches!(
            REGISTRY.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        ));
        drop(guard);
        // Released with the guard: the registry works again.
        let h = register(Thing(9));
        release(h);
    }

    #[test]
    fn the_hasher_spreads_aligned_addresses_and_sequences() {
        let buckets = 64u64;
        for keys in [
            (0..1024usize)
                .map(|i| 0x5555_0000_0000 + i * 16)
                .collect::<Vec<_>>(),
            (1..1025usize).map(|i| head(Kind::Stream) | i).collect(),
        ] {
            let mut used = HashSet::new();
            for k in keys {
                let mut h = Mix.build_hasher();
                h.write_usize(k);
                used.insert(h.finish() % buckets);
            }
            assert_eq!(used.len() as u64, buckets);
        }
    }
}

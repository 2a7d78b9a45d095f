//! `ik_live_objects`: what the library holds for the host right now, so that a binding's
//! tests can prove it releases every handle and buffer it is given (bindings.md §2,
//! "Resource release") without guessing from RSS alone.

use std::collections::BTreeMap;
use std::ffi::c_char;

use schemars::JsonSchema;
use serde::Serialize;

use crate::boundary::{guard, out_ptr, write_json};
use crate::error::ik_error;
use crate::handles;
use crate::status::ik_status;

/// The counts `ik_live_objects` reports.
#[derive(Serialize, JsonSchema)]
pub(crate) struct LiveObjects {
    /// Live handles by C type name (`ik_endpoint`, …), every kind listed, zeros included.
    pub handles: BTreeMap<&'static str, usize>,
    /// Live result buffers, counted before this result was made.
    pub buffers: usize,
}

/// Writes `{"handles":{"ik_error":0,…},"buffers":0}`: the live handles of each kind and the
/// result buffers not yet freed with ik_buffer_free (this result not included). For leak
/// tests; the counts are process-wide, so other threads' calls change them too.
#[no_mangle]
pub extern "C" fn ik_live_objects(
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        let (per_kind, buffers) = handles::live_counts();
        let live = LiveObjects {
            handles: per_kind.into_iter().collect(),
            buffers,
        };
        write_json(out, out_len, &live)
    })
}

//! `ik_log_set_callback`: the core's log records go to the host, never to stdout/stderr.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use inferencekey_core::log::{set_sink, Level};

use crate::boundary::{ffi_error, guard, to_cstring};
use crate::codes;
use crate::error::ik_error;
use crate::status::ik_status;

/// Receives one redacted record as JSON `{"target","message","fields"}` at `level` (1 error,
/// 2 warning, 3 info, 4 debug), from any thread, including runtime threads: it must not
/// block. `json` is borrowed for the call.
pub type ik_log_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, level: i32, json: *const c_char, json_len: usize),
>;

struct SinkData(*mut c_void);
// SAFETY: only handed back to the host's callback, which must accept any thread (documented).
unsafe impl Send for SinkData {}
unsafe impl Sync for SinkData {}

/// Installs the log callback for records up to `max_level` (0 or a NULL `cb` turns logging
/// off). Replaces any previous callback.
#[no_mangle]
pub extern "C" fn ik_log_set_callback(
    max_level: i32,
    cb: ik_log_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let level = match max_level {
            0 => None,
            n => Some(
                Level::from_i32(n)
                    .ok_or_else(|| ffi_error(codes::INVALID_LEVEL, "max_level must be 0 to 4"))?,
            ),
        };
        match (cb, level) {
            (Some(cb), Some(level)) => {
                let data = SinkData(user_data);
                set_sink(
                    Some(level),
                    Some(Arc::new(move |level: Level, record: &str| {
                        let Some(_call) = crate::lifecycle::HostCall::enter() else {
                            return;
                        };
                        let text = to_cstring(record);
                        let data = &data;
                        // SAFETY: the host's callback; arguments live for the call.
                        unsafe { cb(data.0, level as i32, text.as_ptr(), text.as_bytes().len()) };
                    })),
                );
            }
            _ => set_sink(None, None),
        }
        Ok(())
    })
}

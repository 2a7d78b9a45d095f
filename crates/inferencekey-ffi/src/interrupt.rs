//! `ik_interrupt_set_check`: lets a host stop its blocking calls on a signal (Ctrl-C).

use std::ffi::c_void;
use std::sync::Arc;

use inferencekey_core::interrupt::{self, Check};

use crate::boundary::guard_or;

/// The host's interrupt check: nonzero stops the blocking call of the thread it runs on.
pub type ik_interrupt_check = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i32>;

/// The library never dereferences `user_data`; it only hands it back to the check.
struct UserData(*mut c_void);
// SAFETY: an opaque pointer owned by the host, passed back to the host's own function.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never reads or writes through it.
unsafe impl Sync for UserData {}

impl UserData {
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Registers the process's interrupt check; NULL removes it. A blocking call runs the check on
/// its own thread when a read of its socket is interrupted by a signal and about every 50 ms
/// while it waits; a nonzero answer stops the call with `IK_ERR_CANCELLED` (code
/// `interrupted`) and closes its connection. For hosts whose signal handlers run on the
/// interrupted thread, such as Python's `KeyboardInterrupt`. Never run for `_async` calls nor
/// after `ik_runtime_shutdown`. `user_data` must stay valid until the check is replaced.
#[no_mangle]
pub extern "C" fn ik_interrupt_set_check(check: ik_interrupt_check, user_data: *mut c_void) {
    guard_or((), || {
        let user_data = UserData(user_data);
        interrupt::set_check(check.map(|f| -> Check {
            Arc::new(move || {
                let Some(_call) = crate::lifecycle::HostCall::enter() else {
                    return false;
                };
                // SAFETY: the host's function with the host's pointer, as registered.
                unsafe { f(user_data.get()) != 0 }
            })
        }));
    });
}

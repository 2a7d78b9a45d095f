//! Test-only exports, declared in `tests/c/ik_test.h` and left out of the public header.

use crate::boundary::guard;
use crate::error::ik_error;
use crate::status::ik_status;

/// Panics inside the boundary, to prove a panic never crosses it (`IK_ERR_PANIC`).
#[no_mangle]
pub extern "C" fn ik_test_force_panic(err: *mut *mut ik_error) -> ik_status {
    guard(err, || panic!("forced by ik_test_force_panic"))
}

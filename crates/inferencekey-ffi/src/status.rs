//! Status codes (c-abi §2): stable numbers in blocks of 100 per class; never renumbered.

use inferencekey_core::ErrorKind;

/// The result of every fallible export.
pub type ik_status = i32;

pub const IK_OK: ik_status = 0;
pub const IK_ERR_INVALID_ARG: ik_status = 1000;
/// A required pointer argument was NULL (code `null_argument`).
pub const IK_ERR_NULL_ARG: ik_status = 1001;
pub const IK_ERR_INVALID_UTF8: ik_status = 1002;
pub const IK_ERR_INVALID_JSON: ik_status = 1003;
pub const IK_ERR_INVALID_STATE: ik_status = 1004;
/// A non-NULL handle argument is not a live handle of the expected kind: it was freed, is a
/// handle of another kind, or was not made by this library (code `invalid_handle`; the
/// message names the expected type and which of these it is). Handles are opaque
/// identifiers that are never reused, so a freed handle stays refused even when its memory
/// has been reused. A binding bug, like `IK_ERR_NULL_ARG`. Functions without a status
/// (`_free`, `ik_cancel_cancel`, `ik_stream_close`, the `ik_error_*` accessors, …) ignore
/// such a handle (accessors return their documented default).
pub const IK_ERR_INVALID_HANDLE: ik_status = 1005;
pub const IK_ERR_CONFIG: ik_status = 1100;
pub const IK_ERR_AUTH: ik_status = 1200;
pub const IK_ERR_PERMISSION: ik_status = 1300;
pub const IK_ERR_VALIDATION: ik_status = 1400;
pub const IK_ERR_DRIFT: ik_status = 1401;
pub const IK_ERR_NOT_FOUND: ik_status = 1500;
pub const IK_ERR_CONFLICT: ik_status = 1600;
pub const IK_ERR_RATE_LIMITED: ik_status = 1700;
pub const IK_ERR_API: ik_status = 1800;
pub const IK_ERR_SERVER: ik_status = 1801;
pub const IK_ERR_WORKLOAD_FAILED: ik_status = 1802;
pub const IK_ERR_CONNECTION: ik_status = 1900;
pub const IK_ERR_TIMEOUT: ik_status = 2000;
pub const IK_ERR_READINESS_TIMEOUT: ik_status = 2001;
pub const IK_ERR_CANCELLED: ik_status = 2100;
pub const IK_ERR_PANIC: ik_status = 9000;
pub const IK_ERR_UNKNOWN: ik_status = 9999;

/// The status of a core error class.
pub(crate) fn status_of(kind: ErrorKind) -> ik_status {
    match kind {
        ErrorKind::InvalidArgument => IK_ERR_INVALID_ARG,
        ErrorKind::InvalidJson => IK_ERR_INVALID_JSON,
        ErrorKind::InvalidState => IK_ERR_INVALID_STATE,
        ErrorKind::Config => IK_ERR_CONFIG,
        ErrorKind::Auth => IK_ERR_AUTH,
        ErrorKind::Permission => IK_ERR_PERMISSION,
        ErrorKind::Validation => IK_ERR_VALIDATION,
        ErrorKind::Drift => IK_ERR_DRIFT,
        ErrorKind::NotFound => IK_ERR_NOT_FOUND,
        ErrorKind::Conflict => IK_ERR_CONFLICT,
        ErrorKind::RateLimited => IK_ERR_RATE_LIMITED,
        ErrorKind::Api => IK_ERR_API,
        ErrorKind::Server => IK_ERR_SERVER,
        ErrorKind::WorkloadFailed => IK_ERR_WORKLOAD_FAILED,
        ErrorKind::Connection => IK_ERR_CONNECTION,
        ErrorKind::Timeout => IK_ERR_TIMEOUT,
        ErrorKind::ReadinessTimeout => IK_ERR_READINESS_TIMEOUT,
        ErrorKind::Cancelled => IK_ERR_CANCELLED,
    }
}

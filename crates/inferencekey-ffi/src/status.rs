//! Status codes (c-abi §2): stable numbers in blocks of 100 per class; never renumbered.

use inferencekey_core::ErrorKind;

/// The result of every fallible export.
pub type ik_status = i32;

/// Success.
pub const IK_OK: ik_status = 0;
/// A caller argument fails a local check.
pub const IK_ERR_INVALID_ARG: ik_status = 1000;
/// A required pointer argument was NULL (code `null_argument`; a binding bug).
pub const IK_ERR_NULL_ARG: ik_status = 1001;
/// A string argument is not valid UTF-8 (a binding bug).
pub const IK_ERR_INVALID_UTF8: ik_status = 1002;
/// A JSON argument is malformed or does not match its schema (a binding bug).
pub const IK_ERR_INVALID_JSON: ik_status = 1003;
/// The object cannot do this now: made before fork(), wrong thread, busy stream, out of order.
pub const IK_ERR_INVALID_STATE: ik_status = 1004;
/// A non-NULL handle argument is not a live handle of the expected kind: it was freed, is a
/// handle of another kind, or was not made by this library (code `invalid_handle`; the
/// message names the expected type and which of these it is). Handles are opaque
/// identifiers that are never reused, so a freed handle stays refused even when its memory
/// has been reused. A binding bug, like `IK_ERR_NULL_ARG`. Functions without a status
/// (`_free`, `ik_cancel_cancel`, `ik_stream_close`, the `ik_error_*` accessors, …) ignore
/// such a handle (accessors return their documented default).
pub const IK_ERR_INVALID_HANDLE: ik_status = 1005;
/// A local setup problem: missing token, project or key, a bad option, a secret in a spec.
pub const IK_ERR_CONFIG: ik_status = 1100;
/// HTTP 401, or a token that is not an InferenceKey token.
pub const IK_ERR_AUTH: ik_status = 1200;
/// HTTP 403 (the code says why), or a token of the other plane.
pub const IK_ERR_PERMISSION: ik_status = 1300;
/// HTTP 400 or 422, or a local argument or spec check (detail `field`).
pub const IK_ERR_VALIDATION: ik_status = 1400;
/// The live workload differs from the spec (detail `changes`).
pub const IK_ERR_DRIFT: ik_status = 1401;
/// HTTP 404, or a workload missing from its project.
pub const IK_ERR_NOT_FOUND: ik_status = 1500;
/// HTTP 409.
pub const IK_ERR_CONFLICT: ik_status = 1600;
/// HTTP 429 (detail `retry_after` when the server sent Retry-After).
pub const IK_ERR_RATE_LIMITED: ik_status = 1700;
/// Any other non-2xx answer, an undecodable 2xx body, or an error event inside a stream.
pub const IK_ERR_API: ik_status = 1800;
/// HTTP 5xx after retries.
pub const IK_ERR_SERVER: ik_status = 1801;
/// The workload reached phase error while waiting (details `last_event`, `log_tail`).
pub const IK_ERR_WORKLOAD_FAILED: ik_status = 1802;
/// No usable response: refused, reset, DNS, TLS, or a truncated stream.
pub const IK_ERR_CONNECTION: ik_status = 1900;
/// A request exceeded its timeout.
pub const IK_ERR_TIMEOUT: ik_status = 2000;
/// The readiness wait's deadline passed (detail `last_event`).
pub const IK_ERR_READINESS_TIMEOUT: ik_status = 2001;
/// Cancelled through an ik_cancel token, a closed stream, or an interrupt.
pub const IK_ERR_CANCELLED: ik_status = 2100;
/// A webhook delivery does not verify: bad signature, stale or future timestamp, malformed
/// header or payload.
pub const IK_ERR_WEBHOOK_SIGNATURE: ik_status = 2200;
/// A bug in the library was caught at the C boundary.
pub const IK_ERR_PANIC: ik_status = 9000;
/// An error of no known class; also what ik_error_status gives for an invalid pointer.
pub const IK_ERR_UNKNOWN: ik_status = 9999;

// Read by the schema (a test-only module).
#[cfg_attr(not(test), allow(dead_code))]
/// One status: the constant cbindgen writes into the header, its name and its doc comment.
pub(crate) struct StatusInfo {
    pub value: ik_status,
    pub name: &'static str,
    pub description: &'static str,
}

#[cfg_attr(not(test), allow(dead_code))]
/// Every status, for the schema's `x-ik-statuses` (c-abi rule 5a). A schema test checks it
/// against the `#define`s and comments of the committed header.
pub(crate) fn table() -> &'static [StatusInfo] {
    const TABLE: &[StatusInfo] = &[
        StatusInfo {
            value: IK_OK,
            name: "IK_OK",
            description: "Success.",
        },
        StatusInfo {
            value: IK_ERR_INVALID_ARG,
            name: "IK_ERR_INVALID_ARG",
            description: "A caller argument fails a local check.",
        },
        StatusInfo {
            value: IK_ERR_NULL_ARG,
            name: "IK_ERR_NULL_ARG",
            description: "A required pointer argument was NULL (code `null_argument`; a binding bug).",
        },
        StatusInfo {
            value: IK_ERR_INVALID_UTF8,
            name: "IK_ERR_INVALID_UTF8",
            description: "A string argument is not valid UTF-8 (a binding bug).",
        },
        StatusInfo {
            value: IK_ERR_INVALID_JSON,
            name: "IK_ERR_INVALID_JSON",
            description: "A JSON argument is malformed or does not match its schema (a binding bug).",
        },
        StatusInfo {
            value: IK_ERR_INVALID_STATE,
            name: "IK_ERR_INVALID_STATE",
            description: "The object cannot do this now: made before fork(), wrong thread, busy stream, out of order.",
        },
        StatusInfo {
            value: IK_ERR_INVALID_HANDLE,
            name: "IK_ERR_INVALID_HANDLE",
            description: "A non-NULL handle argument is not a live handle of the expected kind: it was freed, is a handle of another kind, or was not made by this library (code `invalid_handle`; the message names the expected type and which of these it is). Handles are opaque identifiers that are never reused, so a freed handle stays refused even when its memory has been reused. A binding bug, like `IK_ERR_NULL_ARG`. Functions without a status (`_free`, `ik_cancel_cancel`, `ik_stream_close`, the `ik_error_*` accessors, …) ignore such a handle (accessors return their documented default).",
        },
        StatusInfo {
            value: IK_ERR_CONFIG,
            name: "IK_ERR_CONFIG",
            description: "A local setup problem: missing token, project or key, a bad option, a secret in a spec.",
        },
        StatusInfo {
            value: IK_ERR_AUTH,
            name: "IK_ERR_AUTH",
            description: "HTTP 401, or a token that is not an InferenceKey token.",
        },
        StatusInfo {
            value: IK_ERR_PERMISSION,
            name: "IK_ERR_PERMISSION",
            description: "HTTP 403 (the code says why), or a token of the other plane.",
        },
        StatusInfo {
            value: IK_ERR_VALIDATION,
            name: "IK_ERR_VALIDATION",
            description: "HTTP 400 or 422, or a local argument or spec check (detail `field`).",
        },
        StatusInfo {
            value: IK_ERR_DRIFT,
            name: "IK_ERR_DRIFT",
            description: "The live workload differs from the spec (detail `changes`).",
        },
        StatusInfo {
            value: IK_ERR_NOT_FOUND,
            name: "IK_ERR_NOT_FOUND",
            description: "HTTP 404, or a workload missing from its project.",
        },
        StatusInfo {
            value: IK_ERR_CONFLICT,
            name: "IK_ERR_CONFLICT",
            description: "HTTP 409.",
        },
        StatusInfo {
            value: IK_ERR_RATE_LIMITED,
            name: "IK_ERR_RATE_LIMITED",
            description: "HTTP 429 (detail `retry_after` when the server sent Retry-After).",
        },
        StatusInfo {
            value: IK_ERR_API,
            name: "IK_ERR_API",
            description: "Any other non-2xx answer, an undecodable 2xx body, or an error event inside a stream.",
        },
        StatusInfo {
            value: IK_ERR_SERVER,
            name: "IK_ERR_SERVER",
            description: "HTTP 5xx after retries.",
        },
        StatusInfo {
            value: IK_ERR_WORKLOAD_FAILED,
            name: "IK_ERR_WORKLOAD_FAILED",
            description: "The workload reached phase error while waiting (details `last_event`, `log_tail`).",
        },
        StatusInfo {
            value: IK_ERR_CONNECTION,
            name: "IK_ERR_CONNECTION",
            description: "No usable response: refused, reset, DNS, TLS, or a truncated stream.",
        },
        StatusInfo {
            value: IK_ERR_TIMEOUT,
            name: "IK_ERR_TIMEOUT",
            description: "A request exceeded its timeout.",
        },
        StatusInfo {
            value: IK_ERR_READINESS_TIMEOUT,
            name: "IK_ERR_READINESS_TIMEOUT",
            description: "The readiness wait's deadline passed (detail `last_event`).",
        },
        StatusInfo {
            value: IK_ERR_CANCELLED,
            name: "IK_ERR_CANCELLED",
            description: "Cancelled through an ik_cancel token, a closed stream, or an interrupt.",
        },
        StatusInfo {
            value: IK_ERR_WEBHOOK_SIGNATURE,
            name: "IK_ERR_WEBHOOK_SIGNATURE",
            description: "A webhook delivery does not verify: bad signature, stale or future timestamp, malformed header or payload.",
        },
        StatusInfo {
            value: IK_ERR_PANIC,
            name: "IK_ERR_PANIC",
            description: "A bug in the library was caught at the C boundary.",
        },
        StatusInfo {
            value: IK_ERR_UNKNOWN,
            name: "IK_ERR_UNKNOWN",
            description: "An error of no known class; also what ik_error_status gives for an invalid pointer.",
        },
    ];
    TABLE
}

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
        ErrorKind::WebhookSignature => IK_ERR_WEBHOOK_SIGNATURE,
    }
}

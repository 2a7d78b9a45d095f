//! `ik_webhook_verify`: the one webhook signature check (wire §8), so no binding keeps a copy.

use std::ffi::c_char;
use std::time::SystemTime;

use inferencekey_core::webhooks::{self, DEFAULT_TOLERANCE_S};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::boundary::{arg_bytes, arg_json, core_error, guard, out_ptr, write_json};
use crate::error::ik_error;
use crate::status::ik_status;

/// What to verify a delivery's raw body against.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyRequest {
    /// The request's headers as `[name, value]` pairs (repeats kept) or an object; names are
    /// compared case-insensitively.
    headers: Headers,
    /// The destination's signing secret.
    #[schemars(length(min = 1))]
    secret: String,
    /// Largest accepted distance between the signed timestamp and now, in seconds
    /// (default 300).
    #[schemars(range(min = 0))]
    tolerance_s: Option<f64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Headers {
    Pairs(Vec<(String, String)>),
    Object(std::collections::BTreeMap<String, String>),
}

/// Verifies a webhook delivery: `payload` is the raw request body exactly as received
/// (`payload_len` bytes, any content; NULL only with length 0), `req` a `VerifyRequest`.
/// → the `WebhookEvent` JSON. A delivery that does not verify fails with
/// `IK_ERR_WEBHOOK_SIGNATURE` and a code naming why (malformed header, signature mismatch,
/// timestamp out of tolerance, payload that is no event); each signature is compared in
/// constant time. No network and no runtime: callable from any thread.
#[no_mangle]
pub extern "C" fn ik_webhook_verify(
    payload: *const u8,
    payload_len: usize,
    req: *const c_char,
    req_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        let payload = arg_bytes(payload, payload_len, "payload")?;
        let r: VerifyRequest = arg_json(req, req_len, "req")?;
        let pairs: Vec<(&str, &str)> = match &r.headers {
            Headers::Pairs(pairs) => pairs.iter().map(|(k, v)| (&**k, &**v)).collect(),
            Headers::Object(map) => map.iter().map(|(k, v)| (&**k, &**v)).collect(),
        };
        let event = webhooks::verify(
            payload,
            pairs,
            &r.secret,
            r.tolerance_s.unwrap_or(DEFAULT_TOLERANCE_S),
            SystemTime::now(),
        )
        .map_err(core_error)?;
        write_json(out, out_len, &event)
    })
}

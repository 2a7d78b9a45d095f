//! Webhook signatures (wire §8): `X-InferenceKey-Signature: t=<unix seconds>,v1=<hex>`, where
//! `v1` is HMAC-SHA256 over `"{t}.{raw body}"` keyed with the destination's secret. A receiver
//! verifies the raw body before trusting any of it; several `v1` values (a secret being
//! rotated) verify when any one matches, as Stripe's scheme does.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::codes::{self, Code};
use crate::error::{Error, ErrorKind, Result};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-inferencekey-signature";

/// The default tolerance between the signed timestamp and now, in seconds.
pub const DEFAULT_TOLERANCE_S: f64 = 300.0;

type HmacSha256 = Hmac<Sha256>;

/// A verified delivery. `event` is `job.completed`, `job.failed` or `ping`; unknown keys are
/// kept so a newer platform's additions reach the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookEvent {
    pub event: String,
    /// When the delivery was made, unix seconds (the body's own `ts`).
    pub ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The `context` given at submit, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<JobData>,
}

/// What a job produced (`data` of a job event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobData {
    pub job_id: String,
    /// `completed` or `failed`.
    pub status: String,
    /// The route's JSON response, shaped as the synchronous route's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Keys beyond `job_id`, `status` and `output` (`payload`, `binary_b64`, `content_type`,
    /// `usage`, `units`, `metrics`, `error`, and any a newer platform adds).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn refused(code: Code, message: impl AsRef<str>) -> Error {
    Error::new(ErrorKind::WebhookSignature, code, message)
}

/// The signature header for `payload` at unix time `t`: what a platform sends.
pub fn signature_header(secret: &str, t: i64, payload: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(secret, t, payload).finalize().into_bytes())
    )
}

fn mac(secret: &str, t: i64, payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key size");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The parts of a signature header: its timestamp and every `v1` value (undecodable ones are
/// kept as empty, so they count as present but never match).
struct Signature {
    t: i64,
    v1: Vec<Vec<u8>>,
}

fn parse_header(value: &str) -> Result<Signature> {
    let malformed = |why: &str| {
        refused(
            codes::WEBHOOK_HEADER_MALFORMED,
            format!("the {SIGNATURE_HEADER} header {why}; expected t=<unix seconds>,v1=<hex>"),
        )
    };
    let (mut t, mut v1) = (None, Vec::new());
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = part
            .split_once('=')
            .ok_or_else(|| malformed("has a part without `=`"))?;
        match key.trim() {
            "t" => {
                let val = val.trim();
                let parsed = (!val.is_empty() && val.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| val.parse::<i64>().ok())
                    .flatten()
                    .ok_or_else(|| malformed("has a timestamp that is not unix seconds"))?;
                if t.is_some_and(|seen| seen != parsed) {
                    return Err(malformed("has two different timestamps"));
                }
                t = Some(parsed);
            }
            "v1" => v1.push(hex::decode(val.trim()).unwrap_or_default()),
            _ => {} // other schemes (a future v2) are not ours to judge
        }
    }
    let t = t.ok_or_else(|| malformed("has no timestamp (t=)"))?;
    if v1.is_empty() {
        return Err(malformed("has no v1 signature"));
    }
    Ok(Signature { t, v1 })
}

/// Verifies a delivery and decodes its event.
///
/// `headers` are the request's (name, value) pairs, names compared case-insensitively; several
/// signature headers are read as one list. The signature is checked before the timestamp (a
/// forged timestamp then reveals nothing), each candidate in constant time.
pub fn verify<'a>(
    payload: &[u8],
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &str,
    tolerance_s: f64,
    now: SystemTime,
) -> Result<WebhookEvent> {
    if secret.is_empty() {
        return Err(Error::invalid_argument(
            "the webhook secret must not be empty",
        ));
    }
    if !(tolerance_s.is_finite() && tolerance_s >= 0.0) {
        return Err(Error::invalid_argument(
            "tolerance must be a finite, non-negative number of seconds",
        ));
    }
    let values: Vec<&str> = headers
        .into_iter()
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(_, value)| value)
        .collect();
    if values.is_empty() {
        return Err(refused(
            codes::WEBHOOK_HEADER_MALFORMED,
            format!("no {SIGNATURE_HEADER} header: this request was not signed by InferenceKey"),
        ));
    }
    let signature = parse_header(&values.join(","))?;
    let expected = mac(secret, signature.t, payload);
    // `verify_slice` compares in constant time; every candidate is tried.
    let matched = signature.v1.iter().fold(false, |ok, v1| {
        expected.clone().verify_slice(v1).is_ok() | ok
    });
    if !matched {
        return Err(refused(
            codes::WEBHOOK_SIGNATURE_MISMATCH,
            "no v1 signature matches the payload: the body was changed, the secret is not this \
             destination's, or the body was re-encoded (verify the raw request bytes)",
        ));
    }
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let age = now_s - signature.t as f64;
    if age.abs() > tolerance_s {
        let when = if age > 0.0 {
            format!("{age:.0} s old")
        } else {
            format!("{:.0} s in the future", -age)
        };
        return Err(refused(
            codes::WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE,
            format!("the signed timestamp is {when}, beyond the tolerance of {tolerance_s} s"),
        ));
    }
    decode_event(payload)
}

fn decode_event(payload: &[u8]) -> Result<WebhookEvent> {
    let invalid = |why: String| {
        refused(
            codes::WEBHOOK_PAYLOAD_INVALID,
            format!("the signed payload is not a webhook event: {why}"),
        )
    };
    let event: WebhookEvent =
        serde_json::from_slice(payload).map_err(|e| invalid(e.to_string()))?;
    if event.event.starts_with("job.") {
        let Some(data) = &event.data else {
            return Err(invalid(format!("a {} event has no data", event.event)));
        };
        if event.job_id.as_deref() != Some(data.job_id.as_str()) {
            return Err(invalid("job_id and data.job_id differ".into()));
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &str = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
    const BODY: &[u8] = br#"{"event":"job.completed","ts":1700000000,"job_id":"j1","data":{"job_id":"j1","status":"completed","output":{"x":1},"usage":{"total_tokens":3}}}"#;

    fn at(t: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(t as u64)
    }

    fn check(header: &str, body: &[u8], now: i64) -> Result<WebhookEvent> {
        verify(
            body,
            [("X-InferenceKey-Signature", header)],
            SECRET,
            300.0,
            at(now),
        )
    }

    #[test]
    fn a_signed_body_verifies_and_decodes() {
        let header = signature_header(SECRET, 1_700_000_000, BODY);
        let event = check(&header, BODY, 1_700_000_100).unwrap();
        assert_eq!(event.event, "job.completed");
        let data = event.data.unwrap();
        assert_eq!(
            (data.job_id.as_str(), data.status.as_str()),
            ("j1", "completed")
        );
        assert_eq!(data.extra["usage"]["total_tokens"], 3);
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest(), computed with Python.
        assert_eq!(
            signature_header("key", 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }

    #[test]
    fn tampering_and_wrong_secrets_are_refused() {
        let header = signature_header(SECRET, 1_700_000_000, BODY);
        let mut tampered = BODY.to_vec();
        tampered[30] ^= 1;
        assert_eq!(
            check(&header, &tampered, 1_700_000_000).unwrap_err().code,
            codes::WEBHOOK_SIGNATURE_MISMATCH
        );
        let other = signature_header("whsec_other", 1_700_000_000, BODY);
        assert_eq!(
            check(&other, BODY, 1_700_000_000).unwrap_err().code,
            codes::WEBHOOK_SIGNATURE_MISMATCH
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused_after_the_signature() {
        let header = signature_header(SECRET, 1_700_000_000, BODY);
        for now in [1_700_000_301, 1_699_999_699] {
            let err = check(&header, BODY, now).unwrap_err();
            assert_eq!(err.code, codes::WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE);
            assert_eq!(err.kind, ErrorKind::WebhookSignature);
        }
        assert!(check(&header, BODY, 1_700_000_300).is_ok());
    }

    #[test]
    fn any_matching_v1_verifies() {
        let good = signature_header(SECRET, 5, BODY);
        let v1 = &good[good.find("v1=").unwrap()..];
        let header = format!("t=5,v1=00ff,v1=zz, {v1} ,v0=abc");
        assert!(verify(
            BODY,
            [("x-inferencekey-signature", &*header)],
            SECRET,
            1e12,
            at(5)
        )
        .is_ok());
    }

    #[test]
    fn malformed_headers_are_named() {
        for header in [
            "",
            "v1=00",
            "t=5",
            "t=abc,v1=00",
            "t=-5,v1=00",
            "t=5,v1=00,t=6",
            "t5,v1=00",
        ] {
            let err = check(header, BODY, 5).unwrap_err();
            assert_eq!(err.code, codes::WEBHOOK_HEADER_MALFORMED, "{header:?}");
        }
        let err = verify(
            BODY,
            [("Content-Type", "application/json")],
            SECRET,
            300.0,
            at(5),
        );
        assert_eq!(err.unwrap_err().code, codes::WEBHOOK_HEADER_MALFORMED);
    }

    #[test]
    fn a_signed_body_that_is_no_event_is_refused() {
        for body in [
            &b"not json"[..],
            br#"{"event":"job.failed","ts":1,"job_id":"a"}"#,
        ] {
            let header = signature_header(SECRET, 1, body);
            let err = check(&header, body, 1).unwrap_err();
            assert_eq!(err.code, codes::WEBHOOK_PAYLOAD_INVALID);
        }
    }

    #[test]
    fn bad_arguments_are_validation_errors() {
        let h = [("x-inferencekey-signature", "t=1,v1=00")];
        assert_eq!(
            verify(BODY, h, "", 300.0, at(1)).unwrap_err().kind,
            ErrorKind::Validation
        );
        assert_eq!(
            verify(BODY, h, SECRET, f64::NAN, at(1)).unwrap_err().kind,
            ErrorKind::Validation
        );
        assert_eq!(
            verify(BODY, h, SECRET, -1.0, at(1)).unwrap_err().kind,
            ErrorKind::Validation
        );
    }
}

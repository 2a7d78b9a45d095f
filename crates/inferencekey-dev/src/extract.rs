//! Request plumbing: decoded path segments and JSON bodies, with the contract's errors.

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use futures_util::StreamExt;
use serde_json::Value;

use crate::errors::ApiError;

/// Largest accepted request body (wire §1).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The path parameters, percent-decoded once. A decoded segment holding `/` (or invalid
/// UTF-8) matches nothing: 404.
pub struct Segments(pub Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Segments {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("no such route"))?;
        let mut out = Vec::new();
        for (_, value) in &raw {
            if value.contains('/') || value.is_empty() {
                return Err(ApiError::not_found("no such route"));
            }
            out.push(value.to_string());
        }
        Ok(Segments(out))
    }
}

/// After a 413, the rest of the body is still read and discarded, up to this many bytes in
/// all and for this long: a client that writes its whole body before reading then gets the
/// answer, where closing on unread data would reset the connection under it (ECONNRESET or
/// a broken pipe, the 413 lost). Past either bound the connection is closed anyway, so a
/// client that never stops sending costs little.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and discards what is left of an oversized body (`read` bytes already seen), in the
/// background so that the 413 goes out at once. hyper keeps reading the connection for as
/// long as the body is alive; the 413 carries `Connection: close`, so the connection ends
/// cleanly once the body is done or dropped.
fn drain_in_background(mut stream: BodyDataStream, mut read: u64) {
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + DRAIN_TIME;
        while read <= DRAIN_LIMIT {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(chunk))) => read += chunk.len() as u64,
                _ => break,
            }
        }
    });
}

/// Reads a JSON object body: 415 for a non-JSON content type, 413 over 16 MiB, 400
/// `invalid_json` for anything but a JSON object. A missing content type is read as JSON.
pub async fn read_json(
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let media = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json")))
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("request bodies are application/json, not {media}"),
            ));
        }
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 16 MiB",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|n| *n > MAX_BODY as u64) {
        // A client that sent `Expect: 100-continue` waits for leave to send: it gets the 413
        // instead and sends nothing, so there is nothing to drain.
        let waits_for_continue = headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if declared <= DRAIN_LIMIT && !waits_for_continue {
            drain_in_background(body.into_data_stream(), 0);
        }
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("could not read the body: {e}"),
            )
        })?;
        if bytes.len() + chunk.len() > MAX_BODY {
            drain_in_background(stream, (bytes.len() + chunk.len()) as u64);
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// How error messages name the JSON type of `value`.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(items) if items.is_empty() => "an empty array",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// 400 `invalid_request` for `field` holding `got` where `expected` belongs (wire §3.2: a
/// wrong JSON type is a malformed request, not a missing field).
pub fn wrong_type(field: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid_request(
        field,
        format!("{field} must be {expected}, not {}", json_type(got)),
    )
}

/// Typed access to a request object. An absent key is `None`; a key of any other JSON type,
/// `null` included, is a 400 `invalid_request` naming the field and the expected type. Only
/// the `nullable_*` accessors take `null` (as `Some(None)`), for the fields the contract lets
/// a client clear.
pub struct Fields<'a>(pub &'a serde_json::Map<String, Value>);

impl Fields<'_> {
    fn typed<T>(
        &self,
        field: &str,
        expected: &str,
        cast: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(value) => cast(value)
                .map(Some)
                .ok_or_else(|| wrong_type(field, expected, value)),
        }
    }

    pub fn string(&self, field: &str) -> Result<Option<String>, ApiError> {
        self.typed(field, "a string", |v| v.as_str().map(str::to_string))
    }

    pub fn nullable_string(&self, field: &str) -> Result<Option<Option<String>>, ApiError> {
        self.typed(field, "a string or null", |v| match v {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => None,
        })
    }

    pub fn nullable_object(
        &self,
        field: &str,
    ) -> Result<Option<Option<serde_json::Map<String, Value>>>, ApiError> {
        self.typed(field, "an object or null", |v| match v {
            Value::Null => Some(None),
            Value::Object(m) => Some(Some(m.clone())),
            _ => None,
        })
    }

    /// A string that must be present: absent is 400 "`field` is required".
    pub fn required_string(&self, field: &str) -> Result<String, ApiError> {
        self.string(field)?
            .ok_or_else(|| ApiError::invalid_request(field, format!("{field} is required")))
    }
}

/// Rejects any string, at any depth (keys included), that holds a token (422 `secret_in_spec`).
pub fn reject_secrets(body: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    fn holds_secret(v: &Value) -> bool {
        match v {
            Value::String(s) => has_token(s),
            Value::Array(items) => items.iter().any(holds_secret),
            Value::Object(map) => map.iter().any(|(k, v)| has_token(k) || holds_secret(v)),
            _ => false,
        }
    }
    fn has_token(s: &str) -> bool {
        s.contains("ik_sdk_") || s.contains("ik_live_")
    }
    for (key, value) in body {
        if has_token(key) || holds_secret(value) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "secret_in_spec",
                format!("{key} holds what looks like an InferenceKey token; tokens never belong in a workload spec"),
            )
            .with_field(key.clone()));
        }
    }
    Ok(())
}

//! Typed errors: one `Error` struct whose `kind` is the error class every binding maps to.
//!
//! Every field is redacted (no token secret can be inside: message, code, request id and every
//! string of the details), and messages carry no class prefix; bindings add the documented
//! prefixes (`authentication failed: `, …) themselves.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::codes::{self, Code};
use crate::token::scrub_secrets;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The class of an error. Each maps to one ABI status and one binding exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A bad argument from the caller (a local check; `ValidationError` in Python).
    InvalidArgument,
    /// Malformed JSON handed to the core by a binding.
    InvalidJson,
    /// The object cannot do this now: closed client, forked stream, wrong thread.
    InvalidState,
    Config,
    Auth,
    Permission,
    Validation,
    Drift,
    NotFound,
    Conflict,
    RateLimited,
    Api,
    Server,
    WorkloadFailed,
    Connection,
    Timeout,
    ReadinessTimeout,
    Cancelled,
    /// A webhook delivery that does not verify: signature, timestamp or header.
    WebhookSignature,
}

impl ErrorKind {
    /// Every class, in declaration order.
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::InvalidArgument,
        ErrorKind::InvalidJson,
        ErrorKind::InvalidState,
        ErrorKind::Config,
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::Validation,
        ErrorKind::Drift,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::RateLimited,
        ErrorKind::Api,
        ErrorKind::Server,
        ErrorKind::WorkloadFailed,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::ReadinessTimeout,
        ErrorKind::Cancelled,
        ErrorKind::WebhookSignature,
    ];

    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::Validation => "validation",
            ErrorKind::Drift => "drift",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Api => "api",
            ErrorKind::Server => "server",
            ErrorKind::WorkloadFailed => "workload_failed",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ReadinessTimeout => "readiness_timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::WebhookSignature => "webhook_signature",
        }
    }
}

/// An error raised by the core.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    /// HTTP status of the response that caused it, when there was one.
    pub http_status: Option<u16>,
    /// Machine-readable code: one of [`codes::ALL`], or a server's (open-ended, wire §3).
    pub code: String,
    /// Human-readable, redacted, without class prefix.
    pub message: String,
    pub request_id: Option<String>,
    /// Class-specific extras: `changes`, `retry_after`, `field`, `last_event`, `log_tail`.
    pub details: Map<String, Value>,
}

impl Error {
    /// An error with one of the core's own codes ([`codes::ALL`]), which lists `kind` for it.
    pub fn new(kind: ErrorKind, code: Code, message: impl AsRef<str>) -> Self {
        debug_assert!(
            code.info().kinds.contains(&kind),
            "codes::{} is not listed for {kind:?}",
            code.info().name
        );
        Self::external(kind, code.as_str(), message)
    }

    /// An error with a code from outside [`codes::ALL`]: a server's (wire §3, open-ended),
    /// the local platform's or the C boundary's own (each listed in its own table). Never
    /// called with a literal (a test checks).
    pub fn external(kind: ErrorKind, code: impl Into<String>, message: impl AsRef<str>) -> Self {
        Error {
            kind,
            http_status: None,
            code: scrub_secrets(&code.into()),
            message: scrub_secrets(message.as_ref()),
            request_id: None,
            details: Map::new(),
        }
    }

    pub fn config(code: Code, message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Config, code, message)
    }

    pub fn validation(code: Code, message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Validation, code, message)
    }

    /// A caller argument that fails a local check (`invalid_argument`).
    pub fn invalid_argument(message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Validation, codes::INVALID_ARGUMENT, message)
    }

    pub fn invalid_json(message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::InvalidJson, codes::INVALID_JSON, message)
    }

    pub fn invalid_state(code: Code, message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::InvalidState, code, message)
    }

    pub fn connection(code: Code, message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Connection, code, message)
    }

    pub fn timeout(message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Timeout, codes::TIMEOUT, message)
    }

    pub fn cancelled() -> Self {
        Self::new(
            ErrorKind::Cancelled,
            codes::CANCELLED,
            "the operation was cancelled",
        )
    }

    /// A 2xx body we cannot decode.
    pub fn invalid_response(message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Api, codes::INVALID_RESPONSE, message)
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Sets the request id (redacted: a server may echo anything in `X-Request-Id`, a token
    /// included); `None` keeps the current one.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        if let Some(id) = request_id {
            self.request_id = Some(scrub_secrets(&id));
        }
        self
    }

    /// Adds a class-specific extra; every string in it is redacted.
    pub fn with_detail(mut self, key: &str, value: Value) -> Self {
        self.details.insert(key.to_owned(), scrub_json(value));
        self
    }

    /// The same error with every field redacted once more: a last check for errors whose
    /// public fields were set directly rather than through the constructors.
    pub fn redacted(mut self) -> Self {
        self.code = scrub_secrets(&self.code);
        self.message = scrub_secrets(&self.message);
        self.request_id = self.request_id.as_deref().map(scrub_secrets);
        let details = std::mem::take(&mut self.details);
        if let Value::Object(details) = scrub_json(Value::Object(details)) {
            self.details = details;
        }
        self
    }

    /// The `field` detail of a validation error, if any.
    pub fn field(&self) -> Option<&str> {
        self.details.get("field").and_then(Value::as_str)
    }

    /// Whether a retry may help (connection errors and retryable statuses; wire §3.3).
    pub fn is_retryable_status(status: u16) -> bool {
        matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request_id: {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `value` with every string in it (object keys included) scrubbed of token-like text.
pub fn scrub_json(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains("ik_") => Value::String(scrub_secrets(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (scrub_secrets(&k), scrub_json(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The class of an HTTP error status (sdk-behaviour.md §7).
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        400 | 422 => ErrorKind::Validation,
        401 => ErrorKind::Auth,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Api,
    }
}

/// The default `code` for a status when the body names none (wire §3.1).
pub fn default_code(status: u16) -> String {
    match status {
        400 => "bad_request".into(),
        401 => "unauthorized".into(),
        403 => "forbidden".into(),
        404 => "not_found".into(),
        409 => "conflict".into(),
        422 => "validation_failed".into(),
        429 => "rate_limited".into(),
        500..=599 => "server_error".into(),
        s => format!("http_{s}"),
    }
}

/// The server code of a data call made while the workload is not ready (wire §3.2).
pub const WORKLOAD_NOT_READY: &str = "workload_not_ready";
/// The server code of a token used on another project's path (wire §2.2).
pub const PROJECT_SCOPE_MISMATCH: &str = "project_scope_mismatch";

/// Decodes any error body a server may send (wire §3.1) into an [`Error`]; never fails.
///
/// A `project_scope_mismatch` whose body names the token's project (`error.details.
/// token_project`, as the local platform sends it) gets it as the `token_project` detail,
/// and in the message when the server's message does not already say it.
pub fn from_response(status: u16, reason: &str, body: &[u8], request_id: Option<String>) -> Error {
    let (code, mut message, field, token_project) = decode_error_body(status, reason, body);
    let token_project = token_project.filter(|_| code == PROJECT_SCOPE_MISMATCH);
    if let Some(project) = &token_project {
        if !message.contains(&format!("\"{project}\"")) {
            message = format!("{message} (the token belongs to project \"{project}\")");
        }
    }
    let mut err = Error::external(kind_for_status(status), code, message)
        .with_status(status)
        .with_request_id(request_id);
    if let Some(field) = field {
        err = err.with_detail("field", Value::String(field));
    }
    if let Some(project) = token_project {
        err = err.with_detail("token_project", Value::String(project));
    }
    err
}

/// `err` with what to do added when it says the workload `slug` is not ready yet (503
/// `workload_not_ready`): wait for it, with the management client or the command line.
/// Other errors are returned as they are.
pub fn with_not_ready_hint(mut err: Error, slug: &str) -> Error {
    if err.code == WORKLOAD_NOT_READY && !err.message.contains("wait_until_ready") {
        err.message = format!(
            "{}; wait until the workload is ready before calling it: the management client's \
             wait_until_ready(\"{slug}\"), or `inferencekey wait {slug}` in a shell",
            err.message.trim_end_matches(['.', ' '])
        );
    }
    err
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `(code, message, field, token_project)` of an error body.
type DecodedBody = (String, String, Option<String>, Option<String>);

fn decode_error_body(status: u16, reason: &str, body: &[u8]) -> DecodedBody {
    let fallback_message = || {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            reason.to_owned()
        } else {
            text.chars().take(512).collect()
        }
    };
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return (default_code(status), fallback_message(), None, None);
    };
    match obj.get("error") {
        Some(Value::Object(e)) => {
            let code = non_empty_str(e.get("code"))
                .or_else(|| non_empty_str(e.get("type")))
                .map(str::to_owned)
                .unwrap_or_else(|| default_code(status));
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(fallback_message);
            let field = e.get("field").and_then(Value::as_str).map(str::to_owned);
            let token_project =
                non_empty_str(e.get("details").and_then(|d| d.get("token_project")))
                    .map(str::to_owned);
            (code, message, field, token_project)
        }
        Some(Value::String(code)) if !code.is_empty() => {
            let message = obj
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or(code)
                .to_owned();
            (code.clone(), message, None, None)
        }
        _ => {
            let message = non_empty_str(obj.get("message"))
                .or_else(|| non_empty_str(obj.get("detail")))
                .map(str::to_owned)
                .unwrap_or_else(fallback_message);
            (default_code(status), message, None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: &str) -> Error {
        from_response(status, "Reason", body.as_bytes(), Some("req_1".into()))
    }

    #[test]
    fn kind_names_are_their_serialized_form() {
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn nested_shape() {
        let e = decode(
            422,
            r#"{"error":{"code":"invalid_field","message":"bad","field":"task_type"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Validation);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("invalid_field", "bad")
        );
        assert_eq!(e.field(), Some("task_type"));
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        assert_eq!(e.http_status, Some(422));
    }

    #[test]
    fn openai_shape_uses_type_when_code_is_null_or_number() {
        let e = decode(
            400,
            r#"{"error":{"message":"m","type":"invalid_request_error","code":null}}"#,
        );
        assert_eq!(e.code, "invalid_request_error");
        let e = decode(400, r#"{"error":{"message":"m","type":"t","code":42}}"#);
        assert_eq!(e.code, "t");
    }

    #[test]
    fn flat_shape() {
        let e = decode(403, r#"{"error":"wrong_credential_type"}"#);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("wrong_credential_type", "wrong_credential_type")
        );
        let e = decode(403, r#"{"error":"x","message":"why"}"#);
        assert_eq!(e.message, "why");
    }

    #[test]
    fn message_and_detail_shapes_use_status_default() {
        assert_eq!(decode(404, r#"{"message":"gone"}"#).code, "not_found");
        let e = decode(409, r#"{"detail":"dup"}"#);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("conflict", "dup"));
    }

    #[test]
    fn odd_bodies_never_fail() {
        let e = decode(502, "  <html>bad gateway</html> ");
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("server_error", "<html>bad gateway</html>")
        );
        assert_eq!(decode(418, "").message, "Reason");
        assert_eq!(decode(418, "").code, "http_418");
        assert_eq!(decode(500, "[1,2]").code, "server_error");
        assert_eq!(decode(400, &"x".repeat(2000)).message.len(), 512);
    }

    #[test]
    fn request_id_code_and_details_are_scrubbed() {
        let secret = "ffeeddccbbaa99887766554433221100";
        let token = format!("ik_live_9f8e7d6c_{secret}");
        let body =
            format!(r#"{{"error":{{"code":"bad {token}","message":"m","field":"f {token}"}}}}"#);
        let e = from_response(500, "Reason", body.as_bytes(), Some(token.clone())).with_detail(
            "last_event",
            serde_json::json!({"message": token, "list": [token]}),
        );
        assert_eq!(e.request_id.as_deref(), Some("ik_live_9f8e7d6c…"));
        let shown = format!("{e} {:?}", e.details);
        assert!(!shown.contains(secret), "{shown}");
        assert!(!e.code.contains(secret), "{}", e.code);
        assert_eq!(e.field(), Some("f ik_live_9f8e7d6c…"));
        // Plain request ids are kept as they are.
        let e = Error::timeout("t").with_request_id(Some("req_01j30ex245d5g9z8dwennmh1wp".into()));
        assert_eq!(
            e.request_id.as_deref(),
            Some("req_01j30ex245d5g9z8dwennmh1wp")
        );
        // Fields set directly are caught by `redacted`.
        let mut e = Error::timeout("t");
        e.request_id = Some(token.clone());
        e.details
            .insert("log_tail".into(), Value::String(token.clone()));
        let e = e.redacted();
        assert!(!format!("{e} {:?}", e.details).contains(secret));
    }

    #[test]
    fn project_mismatch_names_the_token_project() {
        // The local platform's body: the message already names it.
        let e = decode(
            403,
            r#"{"error":{"code":"project_scope_mismatch","message":"this token belongs to project \"acme\", not \"other\"","details":{"token_project":"acme"}}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Permission);
        assert_eq!(e.details.get("token_project"), Some(&Value::from("acme")));
        assert_eq!(e.message.matches("\"acme\"").count(), 1, "{}", e.message);
        // A server whose message does not say it: added.
        let e = decode(
            403,
            r#"{"error":{"code":"project_scope_mismatch","message":"forbidden","details":{"token_project":"acme"}}}"#,
        );
        assert!(e.message.starts_with("forbidden"), "{}", e.message);
        assert!(e.message.contains("project \"acme\""), "{}", e.message);
        // Without details, or on another code, nothing is added.
        let e = decode(
            403,
            r#"{"error":{"code":"project_scope_mismatch","message":"m"}}"#,
        );
        assert_eq!((e.message.as_str(), e.details.len()), ("m", 0));
        let e = decode(
            403,
            r#"{"error":{"code":"scope_insufficient","message":"m","details":{"token_project":"acme"}}}"#,
        );
        assert_eq!((e.message.as_str(), e.details.len()), ("m", 0));
    }

    #[test]
    fn workload_not_ready_says_what_to_do() {
        let body =
            r#"{"error":{"code":"workload_not_ready","message":"workload \"chat\" is starting"}}"#;
        let e = with_not_ready_hint(decode(503, body), "chat");
        assert_eq!(e.code, WORKLOAD_NOT_READY);
        assert!(
            e.message.starts_with("workload \"chat\" is starting; "),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("wait_until_ready(\"chat\")"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("`inferencekey wait chat`"),
            "{}",
            e.message
        );
        // Once only, and only for this code.
        let again = with_not_ready_hint(e.clone(), "chat");
        assert_eq!(again.message, e.message);
        let other = decode(503, r#"{"error":{"code":"workload_failed","message":"m"}}"#);
        assert_eq!(with_not_ready_hint(other, "chat").message, "m");
    }

    #[test]
    fn server_messages_are_scrubbed() {
        let body = r#"{"error":{"code":"c","message":"bad token ik_live_9f8e7d6c_ffee"}}"#;
        let e = decode(401, body);
        assert!(!e.message.contains("ffee"), "{}", e.message);
        assert!(e.message.contains("ik_live_9f8e7d6c…"));
    }
}

//! Every error `code` the core itself emits (c-abi rule 5a), grouped by the [`ErrorKind`] it
//! comes with, each with a one-line description. [`Error::new`](crate::Error::new) takes a
//! [`Code`], which only this module can make, so a code cannot be emitted without an entry in
//! [`ALL`]. The C ABI publishes the table in `include/inferencekey.schema.json`
//! (`x-ik-error-codes`), together with its own boundary codes and the server codes of
//! [`SERVER`]; bindings generate their error classes and code constants from it.
//!
//! Codes a server sends are open-ended: the status defaults and the local platform's codes are
//! listed in [`SERVER`], but any other string may come from a server (wire §3).

use std::fmt;

use crate::error::ErrorKind;

/// An error code the core emits; only this module makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(&'static str);

impl Code {
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// This code's entry in [`ALL`].
    pub fn info(self) -> &'static CodeInfo {
        ALL.iter()
            .find(|info| info.code == self)
            .expect("every Code has an entry in ALL")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<Code> for String {
    fn eq(&self, other: &Code) -> bool {
        self == other.0
    }
}

impl PartialEq<Code> for &str {
    fn eq(&self, other: &Code) -> bool {
        *self == other.0
    }
}

/// One row of the table.
#[derive(Debug)]
pub struct CodeInfo {
    /// The Rust constant's name.
    pub name: &'static str,
    pub code: Code,
    /// The classes an error with this code can have (usually one).
    pub kinds: &'static [ErrorKind],
    pub description: &'static str,
}

macro_rules! codes {
    ($( $name:ident = $code:literal [$($kind:ident)|+] $description:literal; )*) => {
        $(
            #[doc = $description]
            pub const $name: Code = Code($code);
        )*
        /// Every code the core emits, in the order of [`ErrorKind`].
        pub const ALL: &[CodeInfo] = &[$(
            CodeInfo {
                name: stringify!($name),
                code: $name,
                kinds: &[$(ErrorKind::$kind),+],
                description: $description,
            },
        )*];
    };
}

codes! {
    // InvalidJson
    INVALID_JSON = "invalid_json" [InvalidJson]
        "A JSON argument is malformed or does not match its schema (a binding bug).";

    // InvalidState
    INVALID_STATE = "invalid_state" [InvalidState]
        "An operation was driven out of order (a binding bug).";
    INTERNAL = "internal" [InvalidState]
        "An internal invariant failed (a library bug).";

    // Config
    MISSING_TOKEN = "missing_token" [Config]
        "No ik_sdk_ token was given or found in the environment.";
    MISSING_PROJECT = "missing_project" [Config]
        "No project was given or found in the environment or the spec.";
    MISSING_API_KEY = "missing_api_key" [Config]
        "No ik_live_ key was given or found in the environment for the workload.";
    INVALID_OPTION = "invalid_option" [Config]
        "A client or call option is out of range or unusable.";
    INVALID_BASE_URL = "invalid_base_url" [Config]
        "The base URL is not an http(s) URL with a host and nothing after the path.";
    SECRET_IN_SPEC = "secret_in_spec" [Config]
        "A workload spec carries a secret; `field` names where.";
    TLS = "tls" [Config]
        "TLS could not be set up (no usable root certificates, e.g. from SSL_CERT_FILE).";
    INVALID_CA_BUNDLE = "invalid_ca_bundle" [Config]
        "ca_bundle_path is missing, unreadable, or holds no usable PEM CA certificate.";
    INVALID_HEADER = "invalid_header" [Config]
        "A default or per-call header is malformed, or one the client must set itself.";

    // Auth, Permission
    WRONG_CREDENTIAL_TYPE = "wrong_credential_type" [Auth | Permission]
        "A token of the other plane (permission) or not an InferenceKey token at all (auth).";
    INVALID_CREDENTIAL = "invalid_credential" [Auth]
        "The token cannot be sent (it is not valid ASCII).";

    // Validation
    INVALID_ARGUMENT = "invalid_argument" [Validation]
        "A call argument fails a local check.";
    EMPTY_FIELD = "empty_field" [Validation]
        "A required spec field is empty; `field` names it.";
    INVALID_FIELD = "invalid_field" [Validation]
        "A spec field has a value that is not allowed; `field` names it.";
    INVALID_SLUG = "invalid_slug" [Validation]
        "A slug does not match ^[a-z0-9]+(-[a-z0-9]+)*$; `field` names it.";
    CONFLICTING_FIELD = "conflicting_field" [Validation]
        "A spec sets a field twice (an option and an extra); `field` names it.";

    // Drift
    DRIFT_DETECTED = "drift_detected" [Drift]
        "The live workload differs from the spec under on_drift=fail; `changes` lists the fields.";
    IMMUTABLE_FIELD = "immutable_field" [Drift]
        "A drifted field cannot be patched; `changes` lists the fields.";

    // NotFound
    NOT_FOUND = "not_found" [NotFound]
        "The workload does not exist in the project.";

    // Api
    INVALID_RESPONSE = "invalid_response" [Api]
        "A 2xx body could not be decoded.";
    RESPONSE_TOO_LARGE = "response_too_large" [Api]
        "A response body is larger than max_response_bytes; `limit_bytes` holds the cap.";
    EVENT_TOO_LARGE = "event_too_large" [Api]
        "A server-sent event is larger than max_event_bytes; `limit_bytes` holds the cap.";
    STREAM_ENDED = "stream_ended" [Api]
        "A readiness stream ended (`[DONE]`) without a terminal phase.";
    STREAM_ERROR = "stream_error" [Api]
        "An error event inside a stream named no code.";

    // WorkloadFailed
    WORKLOAD_FAILED = "workload_failed" [WorkloadFailed]
        "The workload reached phase error while waiting for it; `last_event`, `log_tail`.";

    // Connection
    CONNECTION_FAILED = "connection_failed" [Connection]
        "No connection could be made (DNS, refused, TLS handshake); nothing reached the server.";
    CONNECTION_ERROR = "connection_error" [Connection]
        "The connection failed during the exchange, or the answer was not valid HTTP.";
    TLS_CERTIFICATE = "tls_certificate" [Connection]
        "The server's TLS certificate was not accepted (unknown issuer, wrong name, expired).";
    STREAM_TRUNCATED = "stream_truncated" [Connection]
        "A stream ended before it was complete.";

    // Timeout, ReadinessTimeout
    TIMEOUT = "timeout" [Timeout]
        "No complete answer within the timeout.";
    READINESS_TIMEOUT = "readiness_timeout" [ReadinessTimeout]
        "The workload was not ready before the deadline; `last_event`.";

    // Cancelled
    CANCELLED = "cancelled" [Cancelled]
        "The operation was cancelled (cancel token, or its stream was closed).";
    INTERRUPTED = "interrupted" [Cancelled]
        "A blocking call was interrupted (ik_interrupt, e.g. on a signal).";

    // WebhookSignature
    WEBHOOK_HEADER_MALFORMED = "webhook_header_malformed" [WebhookSignature]
        "The signature header is missing or not `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`.";
    WEBHOOK_SIGNATURE_MISMATCH = "webhook_signature_mismatch" [WebhookSignature]
        "No v1 signature matches the payload and the secret (tampered body or wrong secret).";
    WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE = "webhook_timestamp_out_of_tolerance" [WebhookSignature]
        "The signed timestamp is further from now than the tolerance (a replay or a bad clock).";
    WEBHOOK_PAYLOAD_INVALID = "webhook_payload_invalid" [WebhookSignature]
        "The signed payload is not a webhook event (not JSON, or no `event` and `ts`).";
}

/// A code a server may send, with the HTTP statuses it comes with.
#[derive(Debug)]
pub struct ServerCode {
    pub code: &'static str,
    /// Empty for a code that comes in a stream's error event (no status).
    pub http_statuses: &'static [u16],
    pub description: &'static str,
}

const fn server(
    code: &'static str,
    http_statuses: &'static [u16],
    description: &'static str,
) -> ServerCode {
    ServerCode {
        code,
        http_statuses,
        description,
    }
}

/// The codes of wire §3.1 (status defaults, used when a body names none) and §3.2 (the local
/// platform's). Open-ended: any other string may come from a server, with the class of its
/// HTTP status ([`kind_for_status`](crate::error::kind_for_status)).
pub const SERVER: &[ServerCode] = &[
    // Status defaults (wire §3.1); any other status gives `http_<status>`.
    server("bad_request", &[400], "Status default for 400."),
    server("unauthorized", &[401], "Status default for 401."),
    server("forbidden", &[403], "Status default for 403."),
    server("not_found", &[404], "Status default for 404."),
    server("conflict", &[409], "Status default for 409."),
    server("validation_failed", &[422], "Status default for 422."),
    server("rate_limited", &[429], "Status default for 429."),
    server(
        "server_error",
        &[500, 501, 502, 503, 504, 505],
        "Status default for any 5xx.",
    ),
    // The local platform's codes (wire §3.2).
    server("invalid_json", &[400], "The body is not a JSON object."),
    server(
        "invalid_request",
        &[400],
        "A required field is missing or has the wrong JSON type.",
    ),
    server(
        "task_type_mismatch",
        &[400],
        "The data route is not served for the workload's task type.",
    ),
    server("missing_credential", &[401], "No token was sent."),
    server(
        "invalid_credential",
        &[401],
        "The token is unknown, revoked or malformed.",
    ),
    server(
        "wrong_credential_type",
        &[403],
        "A token of the other plane was sent.",
    ),
    server(
        "project_scope_mismatch",
        &[403],
        "The token belongs to another project; detail `token_project` names it when the server says it.",
    ),
    server(
        "scope_insufficient",
        &[403],
        "The token lacks a scope or grant for the call.",
    ),
    server(
        "method_not_allowed",
        &[405],
        "A known path with the wrong method.",
    ),
    server(
        "slug_conflict",
        &[409],
        "A create used a slug already taken in the project.",
    ),
    server(
        "payload_too_large",
        &[413],
        "The request body is over 16 MiB.",
    ),
    server(
        "unsupported_media_type",
        &[415],
        "The request body is not JSON.",
    ),
    server(
        "invalid_field",
        &[422],
        "A well-formed but invalid value; `field` names it.",
    ),
    server("invalid_slug", &[422], "An invalid slug; `field` names it."),
    server(
        "immutable_field",
        &[422],
        "A patch changes a field that cannot change.",
    ),
    server("secret_in_spec", &[422], "A spec carries a secret."),
    server("internal_error", &[500], "A server bug."),
    server(
        "upstream_error",
        &[502],
        "The workload process refused, crashed or answered garbage.",
    ),
    server(
        "workload_not_ready",
        &[503],
        "A data call while the workload is starting (with Retry-After); the message says how to wait for it.",
    ),
    server(
        "workload_failed",
        &[503],
        "A data call while the workload is in phase error.",
    ),
    server(
        "upstream_timeout",
        &[504],
        "The workload process did not answer in time.",
    ),
];

/// The pattern of the status default for statuses without a named default (wire §3.1).
pub const HTTP_STATUS_DEFAULT_PATTERN: &str = "^http_[0-9]{3}$";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::default_code;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    #[test]
    fn codes_are_unique_snake_case_and_described() {
        let mut seen = HashSet::new();
        for info in ALL {
            let code = info.code.as_str();
            assert!(seen.insert(code), "{code} is listed twice");
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{code} is not snake_case"
            );
            assert_eq!(info.name, code.to_ascii_uppercase(), "{code}'s constant");
            assert!(!info.kinds.is_empty() && !info.description.is_empty());
            assert_eq!(info.code.info().name, info.name);
        }
    }

    #[test]
    fn status_defaults_are_listed() {
        for status in [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504] {
            let code = default_code(status);
            let entry = SERVER.iter().find(|s| s.code == code);
            assert!(
                entry.is_some_and(|s| s.http_statuses.contains(&status)),
                "{code}"
            );
        }
        assert!(default_code(418).starts_with("http_"));
    }

    /// The Rust sources of the crates that construct errors (core and the C ABI), each with its
    /// test module cut off (tests may build errors with any code).
    fn sources() -> Vec<(PathBuf, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        for dir in ["inferencekey-core/src", "inferencekey-ffi/src"] {
            let mut stack = vec![root.join(dir)];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).expect("read the sources") {
                    let path = entry.expect("entry").path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "rs") {
                        let text = std::fs::read_to_string(&path).expect("read a source");
                        let text = match text.find("#[cfg(test)]\nmod tests") {
                            Some(at) => text[..at].to_owned(),
                            None => text,
                        };
                        out.push((path, text));
                    }
                }
            }
        }
        out
    }

    /// Whether the second argument of the call whose arguments start `args` is a literal.
    fn second_argument_is_a_literal(args: &str) -> bool {
        let mut depth = 0;
        for (i, c) in args.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => return false,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => return args[i + 1..].starts_with('"'),
                _ => {}
            }
        }
        false
    }

    #[test]
    fn no_error_is_built_with_a_code_literal() {
        // `Error::new` takes a `Code`; the other ways to set a code take a string, which must
        // never be a literal outside the tables (the codes of servers, the dev platform and
        // the C boundary's own table come in through variables).
        for (path, text) in sources() {
            let squashed: String = text.split_whitespace().collect();
            let mut found = Vec::new();
            for call in ["Error::external(", "coded_error("] {
                for (at, _) in squashed.match_indices(call) {
                    if second_argument_is_a_literal(&squashed[at + call.len()..]) {
                        found.push(at);
                    }
                }
            }
            for field in [".code=\"", "code:\""] {
                found.extend(squashed.match_indices(field).map(|(at, _)| at));
            }
            if let Some(&at) = found.first() {
                panic!(
                    "{}: an error code literal outside the code tables: {}…",
                    path.display(),
                    &squashed[at..(at + 80).min(squashed.len())]
                );
            }
        }
    }

    #[test]
    fn every_listed_code_is_emitted_somewhere() {
        let sources: Vec<String> = sources()
            .into_iter()
            .filter(|(path, _)| !path.ends_with("codes.rs"))
            .map(|(_, text)| text)
            .collect();
        // Codes are always named `codes::NAME` outside this module.
        for info in ALL {
            let name = format!("codes::{}", info.name);
            let used = sources.iter().any(|text| {
                text.match_indices(&name).any(|(at, _)| {
                    let after = text[at + name.len()..].chars().next();
                    !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            });
            assert!(used, "{name} is never used");
        }
    }
}

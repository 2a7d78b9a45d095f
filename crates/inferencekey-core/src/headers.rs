//! Headers a user adds to requests: a client's `default_headers` and a call's `headers`
//! (openai-python's and httpx's `default_headers` / `extra_headers`).
//!
//! Precedence: a call's headers over the client's defaults over the client's own (`User-Agent`,
//! `Accept`, `Content-Type`). Never overridable: `Authorization` (the client's token) and the
//! headers that frame or route the connection (`Host`, `Content-Length`, `Transfer-Encoding`,
//! `Connection` and the other hop-by-hop headers of RFC 9110 §7.6.1). A `null` value in a
//! call's headers removes a default header for that call.
//!
//! Values are never shown: not in messages, not in `Debug`, not in logs (the transport logs
//! no header at all, sdk §11). Names are shown; a value is described only by its JSON type.

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::codes;
use crate::error::{Error, Result};

/// Headers the client sets from its token.
const CREDENTIALS: &[&str] = &["authorization", "proxy-authorization"];
/// Headers that frame or route the connection, set by the transport (RFC 9110 §7.6.1,
/// RFC 9112 §6, RFC 9113 §8.2.2).
const CONNECTION_LEVEL: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// A validated, merged set of extra headers, in the order given (names lower-case).
#[derive(Clone, Default, PartialEq)]
pub struct Headers(Arc<Vec<(HeaderName, HeaderValue)>>);

impl std::fmt::Debug for Headers {
    /// Names only, never values (any of them may be a credential).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name.as_str()))
            .finish()
    }
}

/// One entry of a header mapping: a value to set, or (per call) a default to drop.
type Change = (HeaderName, Option<HeaderValue>);

impl Headers {
    /// The client's `default_headers` (JSON object of strings; `null` = none).
    pub fn from_config(value: Option<&Value>) -> Result<Headers> {
        Headers::default().merge(value, "default_headers", false)
    }

    /// These headers with `value` (a call's or `with_options`' `headers`) merged over them.
    pub fn with(&self, value: Option<&Value>, what: &str) -> Result<Headers> {
        self.merge(value, what, true)
    }

    fn merge(&self, value: Option<&Value>, what: &str, may_drop: bool) -> Result<Headers> {
        let changes = match value {
            None | Some(Value::Null) => return Ok(self.clone()),
            Some(v) => parse(v, what, may_drop)?,
        };
        if changes.is_empty() {
            return Ok(self.clone());
        }
        let mut merged: Vec<(HeaderName, HeaderValue)> = self.0.as_ref().clone();
        for (name, value) in changes {
            let at = merged.iter().position(|(n, _)| *n == name);
            match (at, value) {
                (Some(i), Some(v)) => merged[i].1 = v,
                (None, Some(v)) => merged.push((name, v)),
                (Some(i), None) => {
                    merged.remove(i);
                }
                (None, None) => {}
            }
        }
        Ok(Headers(Arc::new(merged)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// The value set for `name` (lower-case), if any.
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The names, for a description.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|(n, _)| n.as_str().to_owned()).collect()
    }
}

fn invalid(message: String) -> Error {
    Error::config(codes::INVALID_HEADER, message)
}

/// A JSON value described by its type only (it could be a secret).
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether a header's value may be a credential: such values are never shown, even to say
/// how they are malformed. (No value is shown anyway; the name decides the wording only.)
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "proxy-authorization"
        || name.contains("cookie")
        || name.ends_with("-key")
        || name.ends_with("_key")
        || name == "key"
        || name.contains("token")
        || name.contains("secret")
        || name.contains("password")
        || name.contains("signature")
}

/// Checks one mapping: names are HTTP tokens, given once (case-insensitively) and none the
/// client must set; values are strings of visible ASCII, spaces and tabs (a `null` drops a
/// default only in a call's headers).
fn parse(value: &Value, what: &str, may_drop: bool) -> Result<Vec<Change>> {
    let Value::Object(map) = value else {
        return Err(invalid(format!(
            "{what} must be a mapping of header names to strings, got {}",
            json_type(value)
        )));
    };
    let mut out: Vec<Change> = Vec::with_capacity(map.len());
    for (raw_name, raw_value) in map {
        let name = header_name(raw_name)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(invalid(format!(
                "header {raw_name:?} is given twice in {what} (header names are case-insensitive)"
            )));
        }
        let value = match raw_value {
            Value::Null if may_drop => None,
            Value::String(s) => Some(header_value(raw_name, s)?),
            other => {
                return Err(invalid(format!(
                    "the value of header {raw_name:?} must be a string, got {}",
                    json_type(other)
                )))
            }
        };
        out.push((name, value));
    }
    Ok(out)
}

fn header_name(raw: &str) -> Result<HeaderName> {
    if raw.is_empty() {
        return Err(invalid("a header name must not be empty".into()));
    }
    // An HTTP token (RFC 9110 §5.6.2); `HeaderName` alone would also take non-token bytes
    // that some servers refuse. The name is shown only when it is printable ASCII.
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !raw.bytes().all(is_tchar) {
        let shown = if raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && raw.len() <= 64 {
            format!("{raw:?}")
        } else {
            "a name".to_owned()
        };
        return Err(invalid(format!(
            "{shown} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
        )));
    }
    let name = HeaderName::from_bytes(raw.as_bytes())
        .map_err(|_| invalid(format!("{raw:?} is not a valid header name")))?;
    let lower = name.as_str();
    if CREDENTIALS.contains(&lower) {
        return Err(invalid(format!(
            "header {raw:?} cannot be set: the client sends its own credentials from its token"
        )));
    }
    if CONNECTION_LEVEL.contains(&lower) {
        return Err(invalid(format!(
            "header {raw:?} cannot be set: the HTTP transport manages it"
        )));
    }
    Ok(name)
}

fn header_value(name: &str, raw: &str) -> Result<HeaderValue> {
    // Visible ASCII, spaces and tabs inside; no line break, NUL or other control character
    // (they would split or end the request head), no non-ASCII (its encoding is not agreed).
    let ok = raw
        .bytes()
        .all(|b| b == b'\t' || b == b' ' || b.is_ascii_graphic());
    let trimmed = raw.trim_matches([' ', '\t']).len() == raw.len();
    if !ok || !trimmed {
        let why = if !ok {
            "only visible ASCII characters, spaces and tabs are allowed (no line breaks, \
             control or non-ASCII characters)"
        } else {
            "it must not start or end with whitespace"
        };
        return Err(invalid(format!(
            "the value of header {name:?} is not a valid header value: {why}"
        )));
    }
    let mut value = HeaderValue::from_str(raw).map_err(|_| {
        invalid(format!(
            "the value of header {name:?} is not a valid header value"
        ))
    })?;
    value.set_sensitive(looks_secret(name));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use serde_json::json;

    fn refused(value: Value, what: &str) -> String {
        let err = Headers::default().with(Some(&value), what).unwrap_err();
        assert_eq!(err.code, "invalid_header", "{value}");
        assert_eq!(err.kind, crate::ErrorKind::Config);
        err.message
    }

    #[test]
    fn merge_order_call_over_defaults() {
        let defaults = Headers::from_config(Some(&json!({"X-A": "1", "X-B": "2"}))).unwrap();
        let call = defaults
            .with(
                Some(&json!({"x-b": "3", "X-C": "4", "X-A": null})),
                "headers",
            )
            .unwrap();
        let got: Vec<(String, String)> = call
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            got,
            vec![("x-b".into(), "3".into()), ("x-c".into(), "4".into())]
        );
        // The defaults are untouched by a call's merge.
        assert_eq!(defaults.get("x-a").unwrap(), "1");
        assert_eq!(defaults.with(None, "headers").unwrap(), defaults);
        assert_eq!(
            defaults.with(Some(&json!({})), "headers").unwrap(),
            defaults
        );
        // Ours may be overridden.
        let ua = Headers::from_config(Some(&json!({"User-Agent": "app/1"}))).unwrap();
        assert_eq!(ua.get("user-agent").unwrap(), "app/1");
    }

    #[test]
    fn refusals_name_the_header_and_never_the_value() {
        for name in [
            "Authorization",
            "authorization",
            "Proxy-Authorization",
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "CONNECTION",
            "Keep-Alive",
            "TE",
            "Upgrade",
        ] {
            let message = refused(json!({ name: "hunter2-secret" }), "headers");
            assert!(message.contains(&format!("{name:?}")), "{message}");
            assert!(message.contains("cannot be set"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        for (value, says) in [
            (
                json!({"X-A": "a\r\nInjected: 1"}),
                "not a valid header value",
            ),
            (json!({"X-A": "a\nb"}), "not a valid header value"),
            (json!({"X-A": "a\0b"}), "not a valid header value"),
            (json!({"X-A": "café"}), "non-ASCII"),
            (json!({"X-A": " padded"}), "whitespace"),
            (json!({"X-A": 1}), "must be a string, got a number"),
            (json!({"X-A": true}), "must be a string, got a boolean"),
            (json!({"X-A": ["v"]}), "must be a string, got a list"),
            (json!({"X A": "v"}), "\"X A\" is not a valid header name"),
            (json!({"X:A": "v"}), "is not a valid header name"),
            (json!({"": "v"}), "must not be empty"),
            (json!({"Ünï": "v"}), "a name is not a valid header name"),
            (json!({"X-A": "1", "x-a": "2"}), "given twice"),
            (json!(["X-A", "1"]), "headers must be a mapping"),
            (json!("X-A: 1"), "got a string"),
        ] {
            let message = refused(value.clone(), "headers");
            assert!(message.contains(says), "{value}: {message}");
            for secret in ["Injected", "café", "padded"] {
                assert!(!message.contains(secret), "{message}");
            }
        }
        // A default header cannot be null (there is nothing to drop).
        let err = Headers::from_config(Some(&json!({"X-A": null}))).unwrap_err();
        assert!(err.message.contains("got null"), "{}", err.message);
        assert!(refused(json!(3), "default_headers").starts_with("default_headers must be"));
    }

    #[test]
    fn debug_shows_names_only_and_secret_values_are_sensitive() {
        let h = Headers::from_config(Some(&json!({
            "X-Api-Key": "k-123", "Cookie": "c-456", "X-Session-Token": "t-789", "X-Trace": "z"
        })))
        .unwrap();
        let shown = format!("{h:?}");
        for secret in ["k-123", "c-456", "t-789", "\"z\""] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("x-api-key"), "{shown}");
        assert!(h.get("x-api-key").unwrap().is_sensitive());
        assert!(h.get("cookie").unwrap().is_sensitive());
        assert!(h.get("x-session-token").unwrap().is_sensitive());
        assert!(!h.get("x-trace").unwrap().is_sensitive());
        for name in [
            "authorization",
            "Cookie",
            "set-cookie",
            "x-api-key",
            "X-Auth-Token",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["x-trace-id", "user-agent", "accept"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    /// Property: any mapping of random names and values is either accepted, and then every
    /// header is sendable (valid for `http`, not one the client sets) with its value intact,
    /// or refused with `invalid_header` and a message holding none of the values.
    #[test]
    fn random_mappings_are_sendable_or_refused_cleanly() {
        let mut rng = rand::rng();
        let alphabet: Vec<char> = "aZ-_.~!x\u{7f}\r\n\t :\0é\u{1}0Q".chars().collect();
        let pick = |rng: &mut rand::rngs::ThreadRng, max: usize| -> String {
            let len = rng.random_range(0..=max);
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        };
        for _ in 0..5000 {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..4) {
                let name = if rng.random_bool(0.1) {
                    ["Host", "Authorization", "connection"][rng.random_range(0..3)].to_owned()
                } else {
                    pick(&mut rng, 8)
                };
                let value = format!("SECRET{}", pick(&mut rng, 8));
                map.insert(name, Value::String(value));
            }
            let value = Value::Object(map.clone());
            match Headers::default().with(Some(&value), "headers") {
                Ok(h) => {
                    for (name, v) in h.iter() {
                        let lower = name.as_str();
                        assert!(
                            !CREDENTIALS.contains(&lower) && !CONNECTION_LEVEL.contains(&lower)
                        );
                        let original = map
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(lower))
                            .and_then(|(_, v)| v.as_str())
                            .unwrap();
                        assert_eq!(v.as_bytes(), original.as_bytes());
                        assert!(!v.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n' | 0)));
                    }
                }
                Err(e) => {
                    assert_eq!(e.code, "invalid_header");
                    assert!(!e.message.contains("SECRET"), "{}", e.message);
                }
            }
        }
    }
}

//! Client configuration: the JSON every binding passes, environment resolution and checks.
//!
//! Resolution is done here, once, so every binding resolves configuration identically:
//! explicit value > `INFERENCEKEY_*` variable (only with `from_env`) > default.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::codes;
use crate::error::{Error, Result};
use crate::headers::Headers;

pub const DEFAULT_BASE_URL: &str = "https://api.inferencekey.com";
const DEFAULT_REQUEST_TIMEOUT_S: f64 = 60.0;
const DEFAULT_CONNECT_TIMEOUT_S: f64 = 5.0;
const DEFAULT_MAX_RETRIES: u32 = 2;
const MAX_MAX_RETRIES: u32 = 10;
/// The largest response body read into memory, and the longest server-sent-event line.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 << 20;
pub const DEFAULT_MAX_EVENT_BYTES: u64 = 16 << 20;
/// Below this a cap would refuse ordinary answers (error bodies, one chat completion).
const MIN_CAP_BYTES: u64 = 4 << 10;

/// Client configuration as bindings send it (c-abi §4). Unknown keys are rejected.
///
/// Option values (`timeout_s`, `connect_timeout_s`, `max_retries`, `max_response_bytes`,
/// `max_event_bytes`) are read as any JSON and checked afterwards, so a wrong type is a
/// `ConfigurationError` (`invalid_option`) naming the option, not a JSON error. A key left out
/// takes its default; an explicit `null` is refused (there is no "no timeout"). Messages show
/// a number, but of any other value only its JSON type (`got a string`), never the value.
/// Non-finite numbers cannot travel in JSON: bindings send them as the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"`, reported as `got nan`, `got inf` and `got -inf`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub base_url: Option<String>,
    /// Management clients only.
    pub sdk_token: Option<String>,
    /// Data clients only: the default `ik_live_` key of `endpoint()`.
    pub api_key: Option<String>,
    pub project: Option<String>,
    #[serde(default)]
    pub from_env: bool,
    /// Seconds one attempt may take, positive and finite (default 60); alone, it also caps
    /// the connect timeout.
    #[serde(default, deserialize_with = "present")]
    #[schemars(transform = no_default, with = "f64", extend("exclusiveMinimum" = 0))]
    pub timeout_s: Option<Value>,
    /// Seconds to connect, positive and finite (default 5).
    #[serde(default, deserialize_with = "present")]
    #[schemars(transform = no_default, with = "f64", extend("exclusiveMinimum" = 0))]
    pub connect_timeout_s: Option<Value>,
    /// Retries of a failed attempt, an integer from 0 to 10 (default 2).
    #[serde(default, deserialize_with = "present")]
    #[schemars(transform = no_default, with = "u32", range(max = 10))]
    pub max_retries: Option<Value>,
    /// Cap on one response body held in memory, an integer from 4096 (default 256 MiB).
    #[serde(default, deserialize_with = "present")]
    #[schemars(transform = no_default, with = "u64", range(min = 4096))]
    pub max_response_bytes: Option<Value>,
    /// Cap on one server-sent-event line, an integer from 4096 (default 16 MiB).
    #[serde(default, deserialize_with = "present")]
    #[schemars(transform = no_default, with = "u64", range(min = 4096))]
    pub max_event_bytes: Option<Value>,
    pub binding: Option<String>,
    pub binding_version: Option<String>,
    /// A PEM file of CA certificates: the only roots this client trusts (else
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the system store; see `tls.rs`). A missing,
    /// unreadable or certificate-less file is a `ConfigurationError` (`invalid_ca_bundle`).
    pub ca_bundle_path: Option<String>,
    /// Headers sent with every request, as a JSON object of strings. `Authorization` and
    /// connection-level headers (`Host`, `Content-Length`, `Transfer-Encoding`,
    /// `Connection`, …) are refused (`invalid_header`); others override the client's own
    /// (`User-Agent`, `Accept`, `Content-Type`).
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub default_headers: Option<Value>,
}

/// Per-call overrides (`"options"` key of any request, or `with_options`). Values are checked
/// as in [`ClientConfig`]; a key left out or `null` keeps the client's value.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallOptions {
    /// Seconds one attempt may take; alone, it also caps the connect timeout.
    #[schemars(with = "Option<f64>", extend("exclusiveMinimum" = 0))]
    pub timeout_s: Option<Value>,
    /// Seconds to connect.
    #[schemars(with = "Option<f64>", extend("exclusiveMinimum" = 0))]
    pub connect_timeout_s: Option<Value>,
    /// An integer from 0 to 10.
    #[schemars(with = "Option<u32>", range(max = 10))]
    pub max_retries: Option<Value>,
    /// Bytes, an integer from 4096.
    #[schemars(with = "Option<u64>", range(min = 4096))]
    pub max_response_bytes: Option<Value>,
    /// Bytes, an integer from 4096.
    #[schemars(with = "Option<u64>", range(min = 4096))]
    pub max_event_bytes: Option<Value>,
    /// Headers merged over the client's `default_headers` (same rules); a `null` value drops
    /// a default header. Per call: that call's extra headers; in `with_options`: the new
    /// client's defaults.
    #[schemars(with = "Option<std::collections::BTreeMap<String, Option<String>>>")]
    pub headers: Option<Value>,
}

/// `deserialize_with` for option keys: a present key is `Some`, even when its value is `null`
/// (with `#[serde(default)]`, a missing key is `None`).
pub fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Schema of a `present` key: optional, but with no default of `null` to show.
pub fn no_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

/// Whether an explicit `null` option keeps the current value (per-call options) or is refused
/// (client configuration, where it would mean "no timeout").
#[derive(Debug, Clone, Copy, PartialEq)]
enum Null {
    Keeps,
    Refused,
}

/// Timeouts, retry budget and memory caps of one client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Whole exchange of one attempt; for streams, until headers and then between events.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    /// A longer body is refused (`response_too_large`) before it is held in memory.
    pub max_response_bytes: usize,
    /// A longer server-sent-event line is refused (`event_too_large`) likewise.
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs_f64(DEFAULT_REQUEST_TIMEOUT_S),
            connect_timeout: Duration::from_secs_f64(DEFAULT_CONNECT_TIMEOUT_S),
            max_retries: DEFAULT_MAX_RETRIES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES as usize,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES as usize,
        }
    }
}

impl Limits {
    /// Applies overrides; `null` keeps a value. A request timeout alone also caps the connect
    /// timeout (sdk §2).
    pub fn with(self, opts: &CallOptions) -> Result<Limits> {
        self.apply(opts, Null::Keeps)
    }

    fn apply(self, opts: &CallOptions, null: Null) -> Result<Limits> {
        let given = |v: &Option<Value>| match v {
            Some(Value::Null) if null == Null::Keeps => None,
            other => other.clone(),
        };
        let mut limits = self;
        if let Some(t) = given(&opts.timeout_s) {
            limits.request_timeout = seconds_value("timeout", &t)?;
            limits.connect_timeout = limits.connect_timeout.min(limits.request_timeout);
        }
        if let Some(t) = given(&opts.connect_timeout_s) {
            limits.connect_timeout = seconds_value("connect timeout", &t)?;
        }
        if let Some(n) = given(&opts.max_retries) {
            limits.max_retries = retries_value(&n)?;
        }
        if let Some(n) = given(&opts.max_response_bytes) {
            limits.max_response_bytes = cap_bytes("max_response_bytes", &n)?;
        }
        if let Some(n) = given(&opts.max_event_bytes) {
            limits.max_event_bytes = cap_bytes("max_event_bytes", &n)?;
        }
        Ok(limits)
    }
}

/// An option value as a message may show it: a number as given (`2.0`, `-1`), the strings
/// standing for non-finite numbers as `nan`/`inf`/`-inf`, anything else only by its JSON type
/// (it could be a mistyped secret).
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => match non_finite(s) {
            Some(x) => float(x),
            None => "a string".into(),
        },
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The strings bindings send for the numbers JSON cannot hold.
fn non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// A number shown as a float: `-1.0`, `0.5`, `nan`, `inf`, `-inf`.
fn float(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:?}")
    }
}

/// A number of seconds from any JSON value (see [`seconds`]); the message shows numbers as
/// floats and other values only by JSON type.
pub fn seconds_value(what: &str, value: &Value) -> Result<Duration> {
    let x = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => non_finite(s),
        _ => None,
    };
    match x {
        Some(x) => seconds(what, x),
        None => Err(bad_seconds(what, &shown(value))),
    }
}

fn bad_seconds(what: &str, got: &str) -> Error {
    Error::config(
        codes::INVALID_OPTION,
        format!("{what} must be a positive finite number of seconds, got {got}"),
    )
}

/// The retry budget: an integer from 0 to 10 (`2.0` and `true` are not integers).
fn retries_value(value: &Value) -> Result<u32> {
    match value.as_u64() {
        Some(n) if n <= u64::from(MAX_MAX_RETRIES) => Ok(n as u32),
        _ => Err(Error::config(
            codes::INVALID_OPTION,
            format!(
                "max_retries must be an int from 0 to {MAX_MAX_RETRIES}, got {}",
                shown(value)
            ),
        )),
    }
}

/// A memory cap: an integer of at least 4 KiB, and one this machine can address.
fn cap_bytes(what: &str, value: &Value) -> Result<usize> {
    match value.as_u64().map(|n| (n, usize::try_from(n))) {
        Some((n, Ok(bytes))) if n >= MIN_CAP_BYTES && bytes < isize::MAX as usize => Ok(bytes),
        _ => Err(Error::config(
            codes::INVALID_OPTION,
            format!(
                "{what} must be a number of bytes from {MIN_CAP_BYTES} up, got {}",
                shown(value)
            ),
        )),
    }
}

/// The effective limits as a client's description shows them (after defaults and capping).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct LimitsDescription {
    pub timeout_s: f64,
    pub connect_timeout_s: f64,
    pub max_retries: u32,
    pub max_response_bytes: u64,
    pub max_event_bytes: u64,
}

impl Limits {
    pub fn describe(&self) -> LimitsDescription {
        LimitsDescription {
            timeout_s: self.request_timeout.as_secs_f64(),
            connect_timeout_s: self.connect_timeout.as_secs_f64(),
            max_retries: self.max_retries,
            max_response_bytes: self.max_response_bytes as u64,
            max_event_bytes: self.max_event_bytes as u64,
        }
    }
}

/// A byte count as people read it: `268435456 bytes (256 MiB)`.
pub fn describe_bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    if n >= MIB && n % MIB == 0 {
        format!("{n} bytes ({} MiB)", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// A positive, finite number of seconds; there is no way to wait forever.
pub fn seconds(what: &str, value: f64) -> Result<Duration> {
    if value.is_finite() && value > 0.0 && value < 1e9 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(bad_seconds(what, &float(value)))
    }
}

/// Settings shared by both clients after resolution.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Without trailing `/`; may carry a path prefix.
    pub base_url: String,
    pub project: Option<String>,
    pub limits: Limits,
    pub user_agent: String,
    pub headers: Headers,
    pub ca_bundle_path: Option<String>,
}

/// Which token a client reads from the environment.
#[derive(Debug, Clone, Copy)]
pub enum Plane {
    Management,
    Data,
}

impl ClientConfig {
    /// Resolves everything but the token; `token()` gives the token of `plane`.
    pub fn resolve(&self) -> Result<Resolved> {
        let base_url = self
            .setting(&self.base_url, "INFERENCEKEY_BASE_URL")
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let limits = Limits::default().apply(
            &CallOptions {
                timeout_s: self.timeout_s.clone(),
                connect_timeout_s: self.connect_timeout_s.clone(),
                max_retries: self.max_retries.clone(),
                max_response_bytes: self.max_response_bytes.clone(),
                max_event_bytes: self.max_event_bytes.clone(),
                headers: None,
            },
            Null::Refused,
        )?;
        Ok(Resolved {
            base_url: normalize_base_url(&base_url)?,
            project: self.setting(&self.project, "INFERENCEKEY_PROJECT"),
            limits,
            user_agent: user_agent(
                self.binding.as_deref().unwrap_or("rust"),
                self.binding_version.as_deref().unwrap_or(crate::VERSION),
            ),
            headers: Headers::from_config(self.default_headers.as_ref())?,
            ca_bundle_path: self.ca_bundle_path.clone(),
        })
    }

    /// The configured token of `plane`, trimmed; `None` when unset or blank.
    pub fn token(&self, plane: Plane) -> Option<String> {
        match plane {
            Plane::Management => self.setting(&self.sdk_token, "INFERENCEKEY_SDK_TOKEN"),
            Plane::Data => self.setting(&self.api_key, "INFERENCEKEY_API_KEY"),
        }
    }

    fn setting(&self, explicit: &Option<String>, env: &str) -> Option<String> {
        non_blank(explicit.as_deref()).or_else(|| {
            if self.from_env {
                non_blank(std::env::var(env).ok().as_deref())
            } else {
                None
            }
        })
    }
}

/// Trimmed value, or `None` when empty or only whitespace.
pub fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Checks scheme, host, no query or fragment; strips trailing slashes.
pub fn normalize_base_url(raw: &str) -> Result<String> {
    let invalid = |why: &str| {
        Error::config(
            codes::INVALID_BASE_URL,
            format!("invalid base_url {raw:?}: {why}"),
        )
    };
    let url = reqwest::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a host is required"));
    }
    if url.query().is_some() || url.fragment().is_some() || raw.contains(['?', '#']) {
        return Err(invalid("a query string or fragment is not allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials do not belong in the URL"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `inferencekey-python/0.3.0 (core 0.3.0; linux; x86_64)` (wire §1.1).
pub fn user_agent(binding: &str, binding_version: &str) -> String {
    // `std::env::consts::OS` already uses the wire names (linux, macos, windows).
    format!(
        "inferencekey-{binding}/{binding_version} (core {}; {}; {})",
        crate::VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The project to use: explicit > fallback (spec or client); none → `missing_project`.
pub fn pick_project(candidates: &[Option<&str>]) -> Result<String> {
    candidates
        .iter()
        .find_map(|c| non_blank(*c))
        .ok_or_else(|| {
            Error::config(
                codes::MISSING_PROJECT,
                "No project configured. Set INFERENCEKEY_PROJECT, pass project=, or set spec.project.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde_json::json;

    #[test]
    fn base_url_rules() {
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8787/").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(normalize_base_url("http://h/ik//").unwrap(), "http://h/ik");
        for bad in [
            "ftp://h",
            "http://h/?a=1",
            "http://h/#f",
            "not a url",
            "http://u:p@h",
        ] {
            assert_eq!(
                normalize_base_url(bad).unwrap_err().code,
                "invalid_base_url",
                "{bad}"
            );
        }
    }

    fn config(json: Value) -> std::result::Result<ClientConfig, serde_json::Error> {
        serde_json::from_value(json)
    }

    /// The message of resolving `{key: value}`; the error must be `invalid_option`.
    fn refused(key: &str, value: Value) -> String {
        let err = config(serde_json::json!({ key: value }))
            .expect("any JSON value parses")
            .resolve()
            .unwrap_err();
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Config, "invalid_option")
        );
        err.message
    }

    fn limits(json: Value) -> Limits {
        config(json).unwrap().resolve().unwrap().limits
    }

    #[test]
    fn timeouts_are_positive_and_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert_eq!(seconds("timeout", bad).unwrap_err().code, "invalid_option");
        }
        let l = Limits::default()
            .with(&CallOptions {
                timeout_s: Some(2.0.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(l.connect_timeout, Duration::from_secs(2));
        let err = Limits::default()
            .with(&CallOptions {
                max_retries: Some(11.into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.code, "invalid_option");
    }

    #[test]
    fn any_json_value_parses_and_wrong_ones_are_configuration_errors() {
        let t = "timeout must be a positive finite number of seconds, got ";
        for (value, got) in [
            (json!(-1), "-1.0"),
            (json!(-0.5), "-0.5"),
            (json!(0), "0.0"),
            (json!(0.0), "0.0"),
            (json!("NaN"), "nan"),
            (json!("Infinity"), "inf"),
            (json!("-Infinity"), "-inf"),
            (json!(null), "null"),
            (json!(true), "true"),
            (json!(false), "false"),
            (json!("60"), "a string"),
            (json!("ik_sdk_1a2b3c4d_secret"), "a string"),
            (json!([60]), "a list"),
            (json!({"request": 60}), "an object"),
        ] {
            assert_eq!(
                refused("timeout_s", value.clone()),
                format!("{t}{got}"),
                "{value}"
            );
            let connect = refused("connect_timeout_s", value);
            assert_eq!(connect, format!("connect {t}{got}"));
        }
        let r = "max_retries must be an int from 0 to 10, got ";
        for (value, got) in [
            (json!(11), "11"),
            (json!(-1), "-1"),
            (json!(2.0), "2.0"),
            (json!(true), "true"),
            (json!(null), "null"),
            (json!("2"), "a string"),
            (json!("NaN"), "nan"),
            (json!([2]), "a list"),
        ] {
            assert_eq!(refused("max_retries", value), format!("{r}{got}"));
        }
        let c = "max_response_bytes must be a number of bytes from 4096 up, got ";
        for (value, got) in [
            (json!(4095), "4095"),
            (json!(-1), "-1"),
            (json!(65536.0), "65536.0"),
            (json!("65536"), "a string"),
            (json!(null), "null"),
            (json!(false), "false"),
        ] {
            assert_eq!(refused("max_response_bytes", value), format!("{c}{got}"));
        }
        assert!(refused("max_event_bytes", json!({})).ends_with("from 4096 up, got an object"));
    }

    #[test]
    fn good_values_and_defaults() {
        assert_eq!(limits(json!({})), Limits::default());
        let l = limits(json!({"timeout_s": 0.5, "max_retries": 0, "max_event_bytes": 4096}));
        assert_eq!(l.request_timeout, Duration::from_millis(500));
        assert_eq!(l.connect_timeout, Duration::from_millis(500)); // capped by the request's
        assert_eq!((l.max_retries, l.max_event_bytes), (0, 4096));
        let l = limits(json!({"timeout_s": 30, "connect_timeout_s": 10, "max_retries": 10}));
        assert_eq!(l.request_timeout, Duration::from_secs(30));
        assert_eq!(l.connect_timeout, Duration::from_secs(10));
        assert_eq!(l.max_retries, 10);
        assert_eq!(
            limits(json!({"timeout_s": 120})).connect_timeout,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn per_call_null_keeps_and_wrong_values_are_refused() {
        let base = limits(json!({"timeout_s": 30, "max_retries": 4}));
        let opts: CallOptions =
            serde_json::from_value(json!({"timeout_s": null, "max_retries": null})).unwrap();
        assert_eq!(base.with(&opts).unwrap(), base);
        let opts: CallOptions = serde_json::from_value(json!({"max_retries": "3"})).unwrap();
        assert_eq!(
            base.with(&opts).unwrap_err().message,
            "max_retries must be an int from 0 to 10, got a string"
        );
        let opts: CallOptions = serde_json::from_value(json!({"timeout_s": 2})).unwrap();
        assert_eq!(
            base.with(&opts).unwrap().connect_timeout,
            Duration::from_secs(2)
        );
        assert!(serde_json::from_value::<CallOptions>(json!({"timeout": 2})).is_err());
    }

    #[test]
    fn seconds_value_rules() {
        assert_eq!(
            seconds_value("timeout", &json!(600)).unwrap(),
            Duration::from_secs(600)
        );
        assert_eq!(
            seconds_value("timeout", &json!("-Infinity"))
                .unwrap_err()
                .message,
            "timeout must be a positive finite number of seconds, got -inf"
        );
        assert_eq!(
            seconds_value("timeout", &json!("nan")).unwrap_err().message,
            "timeout must be a positive finite number of seconds, got a string"
        );
    }

    #[test]
    fn explicit_beats_env_and_blank_is_unset() {
        let cfg = ClientConfig {
            project: Some("  ".into()),
            sdk_token: Some(" ik_sdk_x ".into()),
            ..Default::default()
        };
        assert_eq!(cfg.resolve().unwrap().project, None);
        assert_eq!(cfg.token(Plane::Management).as_deref(), Some("ik_sdk_x"));
        assert_eq!(cfg.token(Plane::Data), None);
    }

    #[test]
    fn default_headers_and_ca_bundle_are_checked_at_resolution() {
        let r = config(json!({"default_headers": {"X-Team": "a"}, "ca_bundle_path": "/x.pem"}))
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(r.headers.get("x-team").unwrap(), "a");
        assert_eq!(r.ca_bundle_path.as_deref(), Some("/x.pem"));
        let err = config(json!({"default_headers": {"Authorization": "Bearer x"}}))
            .unwrap()
            .resolve()
            .unwrap_err();
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Config, "invalid_header")
        );
        // Per call: merged over the defaults, `null` drops one.
        let opts: CallOptions =
            serde_json::from_value(json!({"headers": {"x-team": null, "X-B": "b"}})).unwrap();
        let merged = r.headers.with(opts.headers.as_ref(), "headers").unwrap();
        assert_eq!(merged.names(), vec!["x-b".to_owned()]);
        // A client with a bad bundle is refused when it is made.
        let err = crate::management::ManagementClient::new(
            &config(json!({
                "sdk_token": format!("ik_sdk_1a2b3c4d_{}", "0".repeat(64)),
                "ca_bundle_path": "/nonexistent/ca.pem"
            }))
            .unwrap(),
        )
        .err()
        .unwrap();
        assert_eq!(err.code, "invalid_ca_bundle", "{err}");
    }

    #[test]
    fn user_agent_shape() {
        let ua = user_agent("python", "0.3.0");
        assert!(ua.starts_with("inferencekey-python/0.3.0 (core "), "{ua}");
    }

    #[test]
    fn project_resolution() {
        assert_eq!(pick_project(&[None, Some("a"), Some("b")]).unwrap(), "a");
        assert_eq!(
            pick_project(&[Some(" "), None]).unwrap_err().code,
            "missing_project"
        );
    }
}

//! Client configuration: the JSON every binding passes, environment resolution and checks.
//!
//! Resolution is done here, once, so every binding resolves configuration identically:
//! explicit value > `INFERENCEKEY_*` variable (only with `from_env`) > default.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::codes;
use crate::error::{Error, Result};

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
    pub timeout_s: Option<f64>,
    pub connect_timeout_s: Option<f64>,
    pub max_retries: Option<u32>,
    /// Cap on one response body held in memory (default 256 MiB).
    pub max_response_bytes: Option<u64>,
    /// Cap on one server-sent-event line (default 16 MiB).
    pub max_event_bytes: Option<u64>,
    pub binding: Option<String>,
    pub binding_version: Option<String>,
}

/// Per-call overrides (`"options"` key of any request, or `with_options`).
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallOptions {
    pub timeout_s: Option<f64>,
    pub connect_timeout_s: Option<f64>,
    pub max_retries: Option<u32>,
    pub max_response_bytes: Option<u64>,
    pub max_event_bytes: Option<u64>,
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
    /// Applies overrides. A request timeout alone also caps the connect timeout (sdk §2).
    pub fn with(self, opts: &CallOptions) -> Result<Limits> {
        let mut limits = self;
        if let Some(t) = opts.timeout_s {
            limits.request_timeout = seconds("timeout", t)?;
            limits.connect_timeout = limits.connect_timeout.min(limits.request_timeout);
        }
        if let Some(t) = opts.connect_timeout_s {
            limits.connect_timeout = seconds("connect timeout", t)?;
        }
        if let Some(n) = opts.max_retries {
            if n > MAX_MAX_RETRIES {
                return Err(Error::config(
                    codes::INVALID_OPTION,
                    format!("max_retries must be between 0 and {MAX_MAX_RETRIES}, got {n}"),
                ));
            }
            limits.max_retries = n;
        }
        if let Some(n) = opts.max_response_bytes {
            limits.max_response_bytes = cap_bytes("max_response_bytes", n)?;
        }
        if let Some(n) = opts.max_event_bytes {
            limits.max_event_bytes = cap_bytes("max_event_bytes", n)?;
        }
        Ok(limits)
    }
}

/// A memory cap: at least 4 KiB, and one this machine can address.
fn cap_bytes(what: &str, value: u64) -> Result<usize> {
    match usize::try_from(value) {
        Ok(n) if value >= MIN_CAP_BYTES && n < isize::MAX as usize => Ok(n),
        _ => Err(Error::config(
            codes::INVALID_OPTION,
            format!("{what} must be a number of bytes from {MIN_CAP_BYTES} up, got {value}"),
        )),
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
        Err(Error::config(
            codes::INVALID_OPTION,
            format!("{what} must be a positive, finite number of seconds, got {value}"),
        ))
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
        let limits = Limits::default().with(&CallOptions {
            timeout_s: self.timeout_s,
            connect_timeout_s: self.connect_timeout_s,
            max_retries: self.max_retries,
            max_response_bytes: self.max_response_bytes,
            max_event_bytes: self.max_event_bytes,
        })?;
        Ok(Resolved {
            base_url: normalize_base_url(&base_url)?,
            project: self.setting(&self.project, "INFERENCEKEY_PROJECT"),
            limits,
            user_agent: user_agent(
                self.binding.as_deref().unwrap_or("rust"),
                self.binding_version.as_deref().unwrap_or(crate::VERSION),
            ),
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

    #[test]
    fn timeouts_are_positive_and_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(seconds("timeout", bad).unwrap_err().code, "invalid_option");
        }
        let l = Limits::default()
            .with(&CallOptions {
                timeout_s: Some(2.0),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(l.connect_timeout, Duration::from_secs(2));
        let err = Limits::default()
            .with(&CallOptions {
                max_retries: Some(11),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.code, "invalid_option");
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

//! `DevConfig` (what the caller gives) and `Settings` (what the platform runs with).

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::DevError;

/// Configuration of the local platform. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DevConfig {
    /// Address to bind; default `127.0.0.1`. Anything but loopback (`127.0.0.0/8`, `::1`,
    /// `localhost`) is refused unless `allow_remote` is true.
    pub host: Option<String>,
    /// Allows a non-loopback `host`. Any `ik_sdk_` token holder who can reach the platform
    /// can make it run any command (a workload's `config.command`), so this exposes the
    /// machine to them; default false.
    pub allow_remote: Option<bool>,
    /// Port to bind; default 8787; 0 picks a free port.
    pub port: Option<u16>,
    /// Where the database, logs and stand-in launchers live. `None`: a temporary folder,
    /// removed at stop.
    pub data_dir: Option<PathBuf>,
    /// Python interpreter for the stand-ins; else env `INFERENCEKEY_DEV_PYTHON`, else `python3`.
    pub python: Option<PathBuf>,
    /// Secret of the `/_dev` routes; `None`: 32 random bytes, hex.
    pub admin_secret: Option<String>,
    /// Requests per minute per credential on `/api` and `/endpoint`; `None` or 0: unlimited.
    pub rate_limit_per_minute: Option<u32>,
    /// How long a workload process may take to answer; default 300 s.
    pub upstream_timeout_s: Option<f64>,
    /// Where the platform's own log lines go; default `<data_dir>/logs/platform.log`.
    pub log_file: Option<PathBuf>,
    /// Multiplies the webhook retry delays (60 s, 300 s, 900 s, 3600 s, 21600 s); default 1.0.
    /// Tests use e.g. 0.001 to see the whole schedule in a fraction of a second.
    pub webhook_retry_scale: Option<f64>,
}

/// Whether `host` names only loopback: `localhost`, `127.0.0.0/8`, `::1` (also written as
/// an IPv4-mapped `::ffff:127.x.y.z`). Any other name may resolve beyond this machine.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

impl DevConfig {
    /// Whether the platform would listen beyond loopback (and is allowed to: see
    /// [`DevConfig::check_host`]).
    pub fn is_remote(&self) -> bool {
        self.host.as_deref().is_some_and(|h| !is_loopback_host(h))
    }

    /// Refuses a non-loopback `host` without `allow_remote` (code `remote_bind_refused`).
    /// Every entry point (the `inferencekey-dev` binary, `DevServer::start`, hence the Python
    /// `inferencekey dev`) goes through this one check.
    pub fn check_host(&self) -> Result<(), DevError> {
        match self.host.as_deref() {
            Some(host) if self.is_remote() && self.allow_remote != Some(true) => {
                Err(DevError::new(
                    "remote_bind_refused",
                    format!(
                        "refusing to listen on {host}: it is not a loopback address, and anyone \
                         who reaches the platform with an ik_sdk_ token can make it run any \
                         command on this machine; pass --allow-remote (config allow_remote) to \
                         listen there anyway"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The warning to show when the platform listens beyond loopback, else `None`.
    pub fn remote_warning(&self) -> Option<String> {
        let host = self.host.as_deref().filter(|_| self.is_remote())?;
        Some(format!(
            "warning: listening on {host}, beyond loopback (--allow-remote): anyone who can \
             reach this port with an ik_sdk_ token can run any command on this machine as this \
             user"
        ))
    }
}

/// Default port of the local platform.
pub const DEFAULT_PORT: u16 = 8787;
/// Default upstream timeout.
pub const DEFAULT_UPSTREAM_TIMEOUT_S: f64 = 300.0;
/// How long a workload process may take to become ready.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(120);

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub python: PathBuf,
    pub admin_secret: String,
    pub rate_limit_per_minute: Option<u32>,
    pub upstream_timeout: Duration,
    pub startup_deadline: Duration,
    pub webhook_retry_scale: f64,
}

impl Settings {
    /// Validates `config` (everything but the data folder, which `start` prepares).
    pub fn resolve(config: &DevConfig) -> Result<Settings, DevError> {
        let host = config
            .host
            .clone()
            .unwrap_or_else(|| "127.0.0.1".to_string());
        if host.trim().is_empty() {
            return Err(DevError::new("invalid_config", "host must not be empty"));
        }
        config.check_host()?;
        let timeout = config
            .upstream_timeout_s
            .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_S);
        if !timeout.is_finite() || timeout <= 0.0 || timeout > 86_400.0 {
            return Err(DevError::new(
                "invalid_config",
                "upstream_timeout_s must be a positive number of seconds (at most 86400)",
            ));
        }
        let webhook_retry_scale = config.webhook_retry_scale.unwrap_or(1.0);
        if !webhook_retry_scale.is_finite() || !(0.0..=1000.0).contains(&webhook_retry_scale) {
            return Err(DevError::new(
                "invalid_config",
                "webhook_retry_scale must be a number from 0 to 1000",
            ));
        }
        let admin_secret = match &config.admin_secret {
            Some(secret) => {
                let secret = secret.trim();
                if secret.len() < 16 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(DevError::new(
                        "invalid_config",
                        "admin_secret must be at least 16 printable ASCII characters",
                    ));
                }
                secret.to_string()
            }
            None => {
                crate::tokens::random_secret().map_err(|e| DevError::new("internal_error", e))?
            }
        };
        let python = config
            .python
            .clone()
            .or_else(|| {
                std::env::var_os("INFERENCEKEY_DEV_PYTHON")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("python3"));
        Ok(Settings {
            host,
            port: config.port.unwrap_or(DEFAULT_PORT),
            python,
            admin_secret,
            rate_limit_per_minute: config.rate_limit_per_minute.filter(|n| *n > 0),
            upstream_timeout: Duration::from_secs_f64(timeout),
            startup_deadline: STARTUP_DEADLINE,
            webhook_retry_scale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for host in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "localhost",
            "LocalHost",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "192.168.1.20",
            "::ffff:10.0.0.1",
            "fe80::1",
            "example.com",
            "localhost.example.com",
            "128.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_non_loopback_host_needs_allow_remote() {
        let config = |host: &str, allow_remote: Option<bool>| DevConfig {
            host: Some(host.into()),
            allow_remote,
            ..Default::default()
        };
        for allow in [None, Some(false)] {
            let err = Settings::resolve(&config("0.0.0.0", allow)).unwrap_err();
            assert_eq!(err.code, "remote_bind_refused");
            assert!(err.message.contains("--allow-remote"), "{}", err.message);
        }
        assert!(Settings::resolve(&config("0.0.0.0", Some(true))).is_ok());
        assert!(config("0.0.0.0", Some(true)).remote_warning().is_some());
        assert!(Settings::resolve(&config("127.0.0.1", None)).is_ok());
        assert!(config("::1", Some(true)).remote_warning().is_none());
        assert!(DevConfig::default().check_host().is_ok());
    }
}

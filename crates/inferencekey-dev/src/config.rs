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
    /// Address to bind; default `127.0.0.1`.
    pub host: Option<String>,
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
        let timeout = config
            .upstream_timeout_s
            .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_S);
        if !timeout.is_finite() || timeout <= 0.0 || timeout > 86_400.0 {
            return Err(DevError::new(
                "invalid_config",
                "upstream_timeout_s must be a positive number of seconds (at most 86400)",
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
        })
    }
}

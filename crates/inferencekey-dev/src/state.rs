//! The state every handler shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::db::Db;
use crate::errors::ApiError;
use crate::log::Logger;
use crate::middleware::RateLimiter;
use crate::runner::Runner;
use crate::webhooks::Deliverer;

pub struct AppState {
    pub db: Arc<Db>,
    pub runner: Runner,
    pub settings: Settings,
    pub log: Arc<Logger>,
    /// Webhook deliveries (and the destination secrets' box).
    pub deliverer: Arc<Deliverer>,
    /// Client for the workload processes (loopback only, never a proxy).
    pub upstream: reqwest::Client,
    pub limiter: Option<RateLimiter>,
    /// Cancelled when the platform stops: long-lived streams end.
    pub shutdown: CancellationToken,
}

pub type Shared = Arc<AppState>;

impl AppState {
    /// Runs a database call off the async threads.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
    }
}

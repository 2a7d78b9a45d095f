//! The workload runner: one supervised child process per workload, with readiness phases
//! `scheduling → provisioning → bootstrapping → ready | error` broadcast to readiness streams.
//!
//! Each workload has a [`Slot`] for its whole life (so readiness subscribers survive restarts);
//! each (re)start is a *rollout* run by one supervisor task, which owns the child process and
//! stops it when told to, when the rollout fails, or when the platform stops.

pub mod launch;
pub mod process;
pub mod standin;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use crate::db::Db;
use crate::log::Logger;
use crate::model::Workload;
use launch::{Backing, Choice};
use process::Proc;

/// Readiness phases (wire §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Scheduling,
    Provisioning,
    Bootstrapping,
    Ready,
    Error,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Scheduling => "scheduling",
            Phase::Provisioning => "provisioning",
            Phase::Bootstrapping => "bootstrapping",
            Phase::Ready => "ready",
            Phase::Error => "error",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Ready | Phase::Error)
    }
}

/// One readiness frame (wire §6.5).
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessEvent {
    pub phase: Phase,
    pub message: String,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<String>,
}

/// Where a ready workload answers.
#[derive(Debug, Clone)]
pub struct Serving {
    pub port: u16,
    /// The model id the process serves (what `model` is rewritten to).
    pub served_model: String,
}

/// What the data plane needs to know about a workload right now.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub phase: Phase,
    pub message: String,
    pub serving: Option<Serving>,
    pub backing: Option<Backing>,
}

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub python: PathBuf,
    pub scripts_dir: PathBuf,
    pub logs_dir: PathBuf,
    pub work_dir: PathBuf,
    pub startup_deadline: Duration,
    pub stop_grace: Duration,
}

struct Status {
    current: ReadinessEvent,
    tx: broadcast::Sender<ReadinessEvent>,
    rollout_started: Instant,
    generation: u64,
    serving: Option<Serving>,
    backing: Option<Backing>,
}

/// A workload's readiness state and its current rollout.
struct Slot {
    status: Mutex<Status>,
    rollout: tokio::sync::Mutex<Option<Rollout>>,
}

struct Rollout {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Rollout {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Slot {
    fn new() -> Slot {
        let (tx, _) = broadcast::channel(64);
        Slot {
            status: Mutex::new(Status {
                current: ReadinessEvent {
                    phase: Phase::Scheduling,
                    message: "queued on the local worker".into(),
                    elapsed_ms: 0,
                    step: None,
                    log_tail: None,
                },
                tx,
                rollout_started: Instant::now(),
                generation: 0,
                serving: None,
                backing: None,
            }),
            rollout: tokio::sync::Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new rollout: back to `scheduling`; returns its generation.
    fn begin(&self) -> u64 {
        let mut s = self.lock();
        s.generation += 1;
        s.rollout_started = Instant::now();
        s.serving = None;
        s.backing = None;
        let event = ReadinessEvent {
            phase: Phase::Scheduling,
            message: "queued on the local worker".into(),
            elapsed_ms: 0,
            step: None,
            log_tail: None,
        };
        s.current = event.clone();
        let _ = s.tx.send(event);
        s.generation
    }

    /// Publishes a frame of rollout `generation` (ignored if a newer rollout began).
    fn emit(
        &self,
        generation: u64,
        phase: Phase,
        step: Option<&'static str>,
        message: String,
        log_tail: Option<String>,
    ) -> Option<ReadinessEvent> {
        let mut s = self.lock();
        if s.generation != generation {
            return None;
        }
        let event = ReadinessEvent {
            phase,
            message,
            elapsed_ms: s.rollout_started.elapsed().as_millis() as u64,
            step,
            log_tail,
        };
        if phase != Phase::Ready {
            s.serving = None;
        }
        s.current = event.clone();
        let _ = s.tx.send(event.clone());
        Some(event)
    }
}

/// Handle to the runner; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    config: RunnerConfig,
    db: Arc<Db>,
    log: Arc<Logger>,
    http: reqwest::Client,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    shutting_down: AtomicBool,
}

impl Runner {
    pub fn new(config: RunnerConfig, db: Arc<Db>, log: Arc<Logger>) -> Runner {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client with no TLS configuration always builds");
        Runner {
            inner: Arc::new(Inner {
                config,
                db,
                log,
                http,
                slots: Mutex::new(HashMap::new()),
                shutting_down: AtomicBool::new(false),
            }),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.inner.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        self.slots().get(id).cloned()
    }

    /// (Re)starts workload `id` from its stored definition. Returns once the new rollout is in
    /// `scheduling` and any previous process has stopped.
    pub async fn launch(&self, id: &str) {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        let slot = self
            .slots()
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Slot::new()))
            .clone();
        let mut rollout = slot.rollout.lock().await;
        if let Some(previous) = rollout.take() {
            previous.stop().await;
        }
        // Read the definition under the slot lock, so concurrent patches end on the latest.
        let db = self.inner.db.clone();
        let key = id.to_string();
        let workload = tokio::task::spawn_blocking(move || db.workload(&key))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let Some(workload) = workload else {
            drop(rollout);
            let mut slots = self.slots();
            if slots.get(id).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(id);
            }
            return;
        };
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        let generation = slot.begin();
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(supervise(
            self.inner.clone(),
            slot.clone(),
            workload,
            generation,
            stop_rx,
        ));
        *rollout = Some(Rollout {
            stop: stop_tx,
            task,
        });
    }

    /// Stops workload `id`'s process and forgets it (delete).
    pub async fn remove(&self, id: &str) {
        let slot = self.slots().remove(id);
        if let Some(slot) = slot {
            if let Some(rollout) = slot.rollout.lock().await.take() {
                rollout.stop().await;
            }
        }
    }

    /// Stops every process; no launch is accepted afterwards.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let slots: Vec<Arc<Slot>> = self.slots().drain().map(|(_, s)| s).collect();
        let stops = slots.into_iter().map(|slot| async move {
            if let Some(rollout) = slot.rollout.lock().await.take() {
                rollout.stop().await;
            }
        });
        futures_util::future::join_all(stops).await;
    }

    /// The current phase (`scheduling` for a workload not seen yet).
    pub fn phase(&self, id: &str) -> Phase {
        self.slot(id)
            .map(|s| s.lock().current.phase)
            .unwrap_or(Phase::Scheduling)
    }

    pub fn snapshot(&self, id: &str) -> Option<Snapshot> {
        let slot = self.slot(id)?;
        let s = slot.lock();
        Some(Snapshot {
            phase: s.current.phase,
            message: s.current.message.clone(),
            serving: s.serving.clone(),
            backing: s.backing.clone(),
        })
    }

    /// The current frame and a receiver of every later one (subscribed atomically).
    pub fn subscribe(
        &self,
        id: &str,
    ) -> Option<(ReadinessEvent, broadcast::Receiver<ReadinessEvent>)> {
        let slot = self.slot(id)?;
        let s = slot.lock();
        Some((s.current.clone(), s.tx.subscribe()))
    }
}

/// Runs one rollout until it fails, or until told to stop; always leaves no process behind.
async fn supervise(
    inner: Arc<Inner>,
    slot: Arc<Slot>,
    workload: Workload,
    generation: u64,
    mut stop: oneshot::Receiver<()>,
) {
    let mut proc: Option<Proc> = None;
    tokio::select! {
        _ = &mut stop => {}
        _ = rollout(&inner, &slot, &workload, generation, &mut proc) => {}
    }
    if let Some(proc) = proc.take() {
        process::terminate(proc, inner.config.stop_grace).await;
    }
}

/// The phases of one rollout; returns when the rollout has failed (the process, if any, is
/// left in `proc` for the caller to terminate).
async fn rollout(
    inner: &Inner,
    slot: &Slot,
    w: &Workload,
    generation: u64,
    proc: &mut Option<Proc>,
) {
    let emit = |phase: Phase, step: Option<&'static str>, message: String, tail: Option<String>| {
        if let Some(event) = slot.emit(generation, phase, step, message, tail) {
            let line = format!(
                "workload {}/{} ({}): {} {}",
                w.project_slug,
                w.slug,
                w.id,
                event.phase.as_str(),
                event.message
            );
            if event.phase == Phase::Error {
                inner.log.warn(line);
            } else {
                inner.log.info(line);
            }
        }
    };
    let log_path = inner.config.logs_dir.join(format!("{}.log", w.id));

    let choice: Choice = match launch::choose(w) {
        Ok(choice) => choice,
        Err(message) => return emit(Phase::Error, None, message, None),
    };
    slot.lock().backing = Some(choice.backing(w));

    let port = match process::reserve_port() {
        Ok(port) => port,
        Err(e) => {
            return emit(
                Phase::Error,
                None,
                format!("no free loopback port: {e}"),
                None,
            )
        }
    };
    emit(
        Phase::Provisioning,
        None,
        format!("port {port} reserved"),
        None,
    );

    let plan = choice.plan(w, port, &inner.config.python, &inner.config.scripts_dir);
    emit(
        Phase::Bootstrapping,
        Some("process_start"),
        launch::one_line(&format!("starting {}", plan.display), 300),
        None,
    );
    match process::spawn(&plan, &inner.config.work_dir, &log_path) {
        Ok(p) => *proc = Some(p),
        Err(e) => {
            let hint = if matches!(choice, Choice::StandIn { .. }) {
                " (set `python` in the platform config or INFERENCEKEY_DEV_PYTHON)"
            } else {
                ""
            };
            return emit(
                Phase::Error,
                Some("process_start"),
                format!("could not start {}: {e}{hint}", plan.program.display()),
                process::log_tail(&log_path),
            );
        }
    }
    if let Some(message) = &plan.loading_message {
        emit(
            Phase::Bootstrapping,
            Some("model_load"),
            message.clone(),
            None,
        );
    }

    let Some(p) = proc.as_mut() else { return };
    let startup = startup_deadline(w, inner.config.startup_deadline);
    let deadline = Instant::now() + startup;
    let base = format!("http://127.0.0.1:{port}");
    let mut health_seen = false;
    let served_model = loop {
        if let Ok(Some(status)) = p.child.try_wait() {
            process::signal_group(p.pgid, libc::SIGKILL);
            return emit(
                Phase::Error,
                Some(if health_seen {
                    "health_probe"
                } else {
                    "model_load"
                }),
                process::describe_exit(status),
                process::log_tail(&log_path),
            );
        }
        if Instant::now() >= deadline {
            process::signal_group(p.pgid, libc::SIGKILL);
            let _ = p.child.wait().await;
            return emit(
                Phase::Error,
                Some("health_probe"),
                format!(
                    "not ready after {} s: no answer on /health and /v1/models",
                    startup.as_secs_f64()
                ),
                process::log_tail(&log_path),
            );
        }
        if probe_health(&inner.http, &base).await {
            if !health_seen {
                health_seen = true;
                emit(
                    Phase::Bootstrapping,
                    Some("health_probe"),
                    "health check passed; probing the model".into(),
                    None,
                );
            }
            if let Some(id) = probe_model(&inner.http, &base).await {
                break id.unwrap_or_else(|| w.model_name.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    {
        let mut s = slot.lock();
        if s.generation == generation {
            s.serving = Some(Serving {
                port,
                served_model: served_model.clone(),
            });
            if let Some(backing) = s.backing.as_mut() {
                backing.model = served_model;
            }
        }
    }
    emit(Phase::Ready, None, plan.ready_message.clone(), None);

    let status = p.child.wait().await;
    process::signal_group(p.pgid, libc::SIGKILL);
    let message = match status {
        Ok(status) => format!("{} while serving", process::describe_exit(status)),
        Err(e) => format!("lost track of the process: {e}"),
    };
    emit(Phase::Error, None, message, process::log_tail(&log_path));
}

/// The startup deadline: `config.startup_timeout_s` (seconds, > 0) if set, else the default.
fn startup_deadline(w: &Workload, default: Duration) -> Duration {
    w.config
        .get("startup_timeout_s")
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

/// `/health` answers (2xx; a 404 means the server has no such route, which is fine too).
async fn probe_health(http: &reqwest::Client, base: &str) -> bool {
    match http.get(format!("{base}/health")).send().await {
        Ok(r) => r.status().is_success() || r.status() == reqwest::StatusCode::NOT_FOUND,
        Err(_) => false,
    }
}

/// A real request: `/v1/models` answers 200 with JSON. `Some(Some(id))` names the served model.
async fn probe_model(http: &reqwest::Client, base: &str) -> Option<Option<String>> {
    let response = http.get(format!("{base}/v1/models")).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let bytes = response.bytes().await.ok()?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let id = body
        .get("data")
        .and_then(|d| d.get(0))
        .and_then(|m| m.get("id"))
        .and_then(|id| id.as_str())
        .map(model_display_name);
    Some(id)
}

/// A served model id as shown to clients: never a file path.
pub fn model_display_name(id: &str) -> String {
    if id.ends_with(".gguf") || id.starts_with('/') {
        let file = id.rsplit('/').next().unwrap_or(id);
        file.trim_end_matches(".gguf").to_string()
    } else {
        id.to_string()
    }
}

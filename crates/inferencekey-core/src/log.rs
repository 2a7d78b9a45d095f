//! Logging without stdout/stderr: records go to one process-wide sink set by the binding
//! (c-abi rule 23). Messages must already be redacted; `emit` scrubs them once more anyway.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::token::scrub_secrets;

/// Severity, ordered so that `level <= max_level` means "enabled".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Level {
    Error = 1,
    #[serde(rename = "warning")]
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn from_i32(v: i32) -> Option<Level> {
        Some(match v {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => return None,
        })
    }
}

/// One log record, as the sink receives it (JSON).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Record<'a> {
    /// Travels beside the record (the sink's `level` argument), not inside it.
    #[serde(skip)]
    pub level: Level,
    /// `inferencekey.http`, `inferencekey.reconcile` or `inferencekey.readiness`.
    pub target: &'a str,
    /// Already redacted.
    pub message: String,
    /// Structured extras (`method`, `path`, `status`, `action`, ...).
    pub fields: Map<String, Value>,
}

/// Receives one record as JSON (a [`Record`]).
pub type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Installs (or with `None` removes) the sink; records above `max_level` are not built at all.
pub fn set_sink(max_level: Option<Level>, sink: Option<Sink>) {
    let mut slot = SINK.write().unwrap_or_else(|p| p.into_inner());
    *slot = sink;
    let level = if slot.is_some() {
        max_level.map_or(0, |l| l as u8)
    } else {
        0
    };
    MAX_LEVEL.store(level, Ordering::Relaxed);
}

/// The sink's lock, held across `fork()` by [`crate::process::before_fork`].
pub(crate) fn hold_for_fork() -> Box<dyn std::any::Any> {
    Box::new(SINK.write().unwrap_or_else(|p| p.into_inner()))
}

pub fn enabled(level: Level) -> bool {
    (level as u8) <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Emits a record to `target` (`inferencekey.http`, `.reconcile`, `.readiness`).
pub fn emit(level: Level, target: &str, message: &str, fields: Map<String, Value>) {
    if !enabled(level) {
        return;
    }
    let sink = SINK.read().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(sink) = sink {
        let record = Record {
            level,
            target,
            message: scrub_secrets(message),
            fields,
        };
        if let Ok(json) = serde_json::to_string(&record) {
            sink(level, &json);
        }
    }
}

/// `log!(Level::Info, "inferencekey.reconcile", "created {}", slug; "action" => "created")`
#[macro_export]
macro_rules! log {
    ($level:expr, $target:expr, $($arg:expr),+ $(; $($k:literal => $v:expr),* )?) => {
        if $crate::log::enabled($level) {
            #[allow(unused_mut)]
            let mut fields = ::serde_json::Map::new();
            $($( fields.insert($k.to_owned(), ::serde_json::json!($v)); )*)?
            $crate::log::emit($level, $target, &format!($($arg),+), fields);
        }
    };
}

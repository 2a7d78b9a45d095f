//! The stored records (projects, tokens, workloads) and the workload's wire shape (wire §5).

use serde_json::{json, Value};

use crate::tokens::Kind;

/// The 13 task types of wire §4.
pub const TASK_TYPES: [&str; 13] = [
    "text2text",
    "embedding",
    "text2image",
    "text2video",
    "text2audio",
    "image2image",
    "image2video",
    "audio2text",
    "omni",
    "reranker",
    "classification",
    "reward",
    "forecast",
];

/// The 3 execution policies of wire §4.
pub const EXECUTION_POLICIES: [&str; 3] = ["fixed", "scheduled", "autoscaling"];

/// The control-plane scopes of wire §2.1.
pub const SCOPES: [&str; 3] = ["workload:read", "workload:write", "assignment:write"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub slug: String,
    pub name: String,
}

impl Project {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "slug": self.slug, "name": self.name})
    }

    /// Whether a path segment (slug or id) names this project.
    pub fn is_named_by(&self, key: &str) -> bool {
        key == self.slug || key == self.id
    }
}

/// A stored token: never the token itself, only its hash.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub kind: Kind,
    pub project: Project,
    pub hash: String,
    /// Control scopes (`ik_sdk_`).
    pub scopes: Vec<String>,
    /// Data grants (`ik_live_`): workload slugs of the token's project, or `*`.
    pub grants: Vec<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub id: String,
    pub project_id: String,
    pub project_slug: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub task_type: String,
    pub backend: String,
    pub model_name: String,
    /// Always a JSON object.
    pub config: Value,
    pub worker_id: Option<String>,
    pub gpu_resource_id: Option<String>,
    pub execution_policy: Option<String>,
    pub execution_policy_config: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl Workload {
    /// The wire object of §5, every key present, with the current readiness `phase`.
    pub fn to_json(&self, phase: &str) -> Value {
        json!({
            "id": self.id,
            "project_id": self.project_id,
            "project_slug": self.project_slug,
            "slug": self.slug,
            "workload_slug": self.slug,
            "name": self.name,
            "description": self.description,
            "task_type": self.task_type,
            "backend": self.backend,
            "model_name": self.model_name,
            "config": self.config,
            "worker_id": self.worker_id,
            "gpu_resource_id": self.gpu_resource_id,
            "execution_policy": self.execution_policy,
            "execution_policy_config": self.execution_policy_config,
            "phase": phase,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// `config.command`, when it is a non-blank string.
    pub fn command(&self) -> Option<&str> {
        self.config
            .get("command")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }

    /// Whether going from `self` to `other` needs a restart (wire §6.3).
    pub fn needs_restart(&self, other: &Workload) -> bool {
        self.backend != other.backend
            || self.model_name != other.model_name
            || self.config != other.config
            || self.worker_id != other.worker_id
            || self.gpu_resource_id != other.gpu_resource_id
            || self.execution_policy != other.execution_policy
            || self.execution_policy_config != other.execution_policy_config
    }

    /// Whether any stored value differs (drives `updated_at`).
    pub fn differs_from(&self, other: &Workload) -> bool {
        self.needs_restart(other)
            || self.name != other.name
            || self.description != other.description
    }
}

/// A webhook destination of a workload (its secret is stored apart, encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub workload_id: String,
    pub url: String,
    pub created_at: String,
}

impl Webhook {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "url": self.url, "created_at": self.created_at})
    }
}

/// One event to deliver to one destination, and how its attempts went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub job_id: String,
    pub workload_id: String,
    pub webhook_id: String,
    pub url: String,
    /// `job.completed`, `job.failed` or `ping`.
    pub event: String,
    /// The exact bytes delivered (signed afresh at each attempt).
    pub body: String,
    pub attempts: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Unix milliseconds of the next attempt, while pending.
    pub next_attempt_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: String,
}

impl Delivery {
    /// The shape of `GET …/webhooks/deliveries` (never the body).
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "id": self.id, "job_id": self.job_id, "webhook_id": self.webhook_id,
            "url": self.url, "event": self.event, "attempts": self.attempts,
            "status": self.status, "updated_at": self.updated_at,
        });
        if let Some(ms) = self.next_attempt_ms.filter(|_| self.status == "pending") {
            let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000) as u32);
            out["next_attempt_at"] = json!(crate::util::format_rfc3339(secs, millis));
        }
        if let Some(status) = self.last_status {
            out["last_status"] = json!(status);
        }
        if let Some(error) = &self.last_error {
            out["last_error"] = json!(error);
        }
        out
    }
}

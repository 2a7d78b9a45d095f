//! `ensure()` and `plan()` as a sans-I/O state machine (sdk-behaviour §4.1–§4.3, §4.5), plus
//! the drift rules it is built on. A binding's I/O only carries [`HttpRequest`]s out and
//! [`HttpResponse`]s back, so every rule here is testable without a network and replayed by
//! the conformance vectors.

use bytes::Bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes::{self, Code};
use crate::error::{from_response, Error, ErrorKind, Result};
use crate::log::Level;
use crate::spec::{path_segment, WorkloadSpec};
use crate::workload::{decode_list, decode_one, find_by_slug, find_in_list, Workload};

const TARGET: &str = "inferencekey.reconcile";

/// What `ensure()` does when the live workload differs from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDrift {
    #[default]
    Reconcile,
    Fail,
    DryRun,
    Warn,
    Ignore,
}

/// The outcome of an `ensure()` that did not raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnsureAction {
    Created,
    Updated,
    Unchanged,
    Planned,
    DriftIgnored,
    DriftWarned,
}

impl EnsureAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnsureAction::Created => "created",
            EnsureAction::Updated => "updated",
            EnsureAction::Unchanged => "unchanged",
            EnsureAction::Planned => "planned",
            EnsureAction::DriftIgnored => "drift_ignored",
            EnsureAction::DriftWarned => "drift_warned",
        }
    }
}

/// One drifted (or, for a create, sent) field.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FieldChange {
    /// Spec field name, or a dotted path (`config.engine.max_running_requests`).
    pub field: String,
    pub live: Value,
    pub desired: Value,
    pub patchable: bool,
}

/// The result of `ensure()` / `plan()` (sdk-behaviour §3.2).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EnsureResult {
    pub project_slug: String,
    pub workload_slug: String,
    pub action: EnsureAction,
    pub changes: Vec<FieldChange>,
    pub workload_id: Option<String>,
    pub workload: Option<Workload>,
    /// `"create"` or `"update"` when `action` is `planned`.
    pub planned_operation: Option<String>,
}

/// `slug` and `task_type` cannot be patched (wire §6.3); a change is named by its top-level
/// field or a dotted path below one.
fn is_patchable(field: &str) -> bool {
    !matches!(field.split('.').next(), Some("slug" | "task_type"))
}

fn change(field: impl Into<String>, live: Value, desired: Value) -> FieldChange {
    let field = field.into();
    FieldChange {
        patchable: is_patchable(&field),
        field,
        live,
        desired,
    }
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

/// JSON equality for drift: numbers by value (`1 == 1.0`), arrays element by element, and
/// inside objects a missing key equals `null` (sdk-behaviour §4.2, §4.5).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.iter()
                .all(|(k, v)| json_equal(v, y.get(k).unwrap_or(&Value::Null)))
                && y.iter().all(|(k, v)| x.contains_key(k) || v.is_null())
        }
        // Integers compare exactly: serde_json keeps every non-negative one as `PosInt`.
        _ => a == b,
    }
}

/// Subset comparison of a declared object against a live one: one change per declared key
/// path whose live value differs.
fn subset_map(
    path: &str,
    desired: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Vec<FieldChange> {
    desired
        .iter()
        .flat_map(|(key, d)| subset(&format!("{path}.{key}"), d, live.get(key)))
        .collect()
}

fn subset(path: &str, desired: &Value, live: Option<&Value>) -> Vec<FieldChange> {
    match (desired, live) {
        (Value::Object(d), Some(Value::Object(l))) => subset_map(path, d, l),
        // Scalars, arrays and type mismatches: one change with both values whole.
        _ => {
            let live = live.unwrap_or(&Value::Null);
            if json_equal(desired, live) {
                Vec::new()
            } else {
                vec![change(path, live.clone(), desired.clone())]
            }
        }
    }
}

/// The drifted fields, in the order of sdk-behaviour §4.2. Undeclared optional fields are
/// never compared; `task_type` is skipped when the live record has none.
pub fn diff(spec: &WorkloadSpec, live: &Workload) -> Vec<FieldChange> {
    let mut out = Vec::new();
    out.extend(exact("name", &live.name, Some(&spec.name)));
    out.extend(exact("backend", &live.backend, Some(&spec.backend)));
    out.extend(exact("model", &live.model, Some(&spec.model)));
    if live.task_type.is_some() {
        let desired = spec.effective_task_type();
        out.extend(exact("task_type", &live.task_type, Some(desired)));
    }
    // Compared with a live null read as "".
    let live_description = live.description.as_deref().unwrap_or("");
    if spec.description.as_deref() != Some(live_description) {
        let desired = spec.description.as_deref();
        out.extend(exact("description", &live.description, desired));
    }
    let config = spec.desired_config();
    if !config.is_empty() {
        out.extend(subset_map("config", &config, &live.config));
    }
    for (field, live, desired) in [
        ("worker_id", &live.worker_id, &spec.worker_id),
        (
            "gpu_resource_id",
            &live.gpu_resource_id,
            &spec.gpu_resource_id,
        ),
        (
            "execution_policy",
            &live.execution_policy,
            &spec.execution_policy,
        ),
    ] {
        out.extend(exact(field, live, desired.as_deref()));
    }
    if let Some(desired) = &spec.execution_policy_config {
        // A live null counts as `{}`, so a declared `{}` never drifts.
        let empty = Value::Object(Map::new());
        let live_value = live.execution_policy_config.as_ref().unwrap_or(&empty);
        out.extend(subset(
            "execution_policy_config",
            &Value::Object(desired.clone()),
            Some(live_value),
        ));
    }
    out
}

/// Exact comparison of a string field; an undeclared (`None`) desired value is not compared.
fn exact(field: &str, live: &Option<String>, desired: Option<&str>) -> Option<FieldChange> {
    let live = live.as_deref();
    let desired = desired.filter(|&d| live != Some(d))?;
    Some(change(field, opt_text(live), Value::from(desired)))
}

/// Deep-merges `overlay` into `base`; overlay values win, objects merge key by key, anything
/// else (arrays included) is replaced whole.
fn deep_merge(base: &mut Map<String, Value>, overlay: &Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(Value::Object(b)), Value::Object(o)) => deep_merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The PATCH body (sdk-behaviour §4.2, wire §6.3): only the changed top-level keys, never
/// `slug` or `task_type`; `config` as the live config deep-merged with the desired one, so keys
/// the server added survive the replace; `execution_policy_config` as declared, also whenever
/// `execution_policy` changes and the spec declares one.
pub fn patch_body(spec: &WorkloadSpec, live: &Workload, changes: &[FieldChange]) -> Value {
    let changed = |field: &str| {
        changes
            .iter()
            .any(|c| c.field.split('.').next() == Some(field))
    };
    let mut body = Map::new();
    for (field, key, value) in spec.create_fields() {
        let send = match field {
            _ if !is_patchable(field) => false,
            "execution_policy_config" => changed(field) || changed("execution_policy"),
            _ => changed(field),
        };
        if !send {
            continue;
        }
        let value = if field == "config" {
            let mut merged = live.config.clone();
            deep_merge(&mut merged, &spec.desired_config());
            Value::Object(merged)
        } else {
            value
        };
        body.insert(key.to_owned(), value);
    }
    Value::Object(body)
}

/// `workload "support-bot" drifted from spec: name, model`: the text of `DriftError` and of
/// the WARN record.
pub fn drift_summary(workload_slug: &str, changes: &[FieldChange]) -> String {
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    format!(
        "workload \"{workload_slug}\" drifted from spec: {}",
        fields.join(", ")
    )
}

/// `DriftError` (`drift_detected` or `immutable_field`) carrying every drifted field.
fn drift_error(workload_slug: &str, code: Code, changes: &[FieldChange]) -> Error {
    let mut message = drift_summary(workload_slug, changes);
    let immutable: Vec<&str> = changes
        .iter()
        .filter(|c| !c.patchable)
        .map(|c| c.field.as_str())
        .collect();
    if !immutable.is_empty() {
        message.push_str(&format!(
            "; {} cannot be patched: delete the workload or change the slug",
            immutable.join(", ")
        ));
    }
    let changes = serde_json::to_value(changes).unwrap_or(Value::Null);
    Error::new(ErrorKind::Drift, code, message).with_detail("changes", changes)
}

/// A request the driver must send; `path` is relative to the base URL, segments encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

/// The final response to an [`HttpRequest`] (after the transport's retries), any status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// The raw body (shared with the transport's buffer, not copied); decoded here so that
    /// the error rules stay in one place.
    pub body: Bytes,
    pub request_id: Option<String>,
    /// For a non-2xx status, the typed error as the transport built it (it sees headers such
    /// as `Retry-After`). When `None`, the body is decoded with [`from_response`].
    pub error: Option<Error>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Bytes>, request_id: Option<String>) -> HttpResponse {
        HttpResponse {
            status,
            body: body.into(),
            request_id,
            error: None,
        }
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn into_error(self) -> Error {
        self.error.unwrap_or_else(|| {
            let reason = format!("HTTP {}", self.status);
            from_response(self.status, &reason, &self.body, self.request_id)
        })
    }

    /// Decodes a 2xx body with `decode`; an undecodable one is `invalid_response`.
    fn decode<T>(&self, decode: impl FnOnce(&Value) -> Result<T>) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| {
                Error::invalid_response(format!("the server sent a body that is not JSON: {e}"))
            })
            .and_then(|v| decode(&v))
            .map_err(|e| {
                e.with_status(self.status)
                    .with_request_id(self.request_id.clone())
            })
    }
}

/// What the driver does next.
// One `Step` is handed over per request, so its size does not matter; boxing would only
// make every match noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Step {
    Send(HttpRequest),
    Done(Result<EnsureResult>),
}

#[derive(Debug)]
enum State {
    Start,
    /// Waiting for the list; after a 409 on create, holding that conflict.
    Listing {
        conflict: Option<Error>,
    },
    Creating,
    Patching {
        changes: Vec<FieldChange>,
    },
    Finished,
}

/// One `ensure()` (or, with [`OnDrift::DryRun`], one `plan()`): call [`start`](Self::start),
/// then feed the response of every [`Step::Send`] to [`on_response`](Self::on_response)
/// until a [`Step::Done`]. At most: list, create or patch, and one re-list after a 409.
#[derive(Debug)]
pub struct Ensure {
    spec: WorkloadSpec,
    on_drift: OnDrift,
    project: String,
    state: State,
}

impl Ensure {
    /// `project` is the resolved project slug (or id) used in paths.
    pub fn new(spec: WorkloadSpec, on_drift: OnDrift, project: String) -> Ensure {
        Ensure {
            spec,
            on_drift,
            project,
            state: State::Start,
        }
    }

    /// Validates the spec (a failure ends the call before any request), then lists.
    pub fn start(&mut self) -> Step {
        if !matches!(self.state, State::Start) {
            return Step::Done(Err(out_of_order()));
        }
        if let Err(err) = self.spec.validate() {
            return self.finish(Err(err));
        }
        self.list(None)
    }

    /// Advances with the response to the last [`Step::Send`].
    pub fn on_response(&mut self, resp: HttpResponse) -> Step {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Listing { conflict } => self.on_list(resp, conflict),
            State::Creating => self.on_create(resp),
            State::Patching { changes } => self.on_patch(resp, changes),
            State::Start | State::Finished => Step::Done(Err(out_of_order())),
        }
    }

    fn list_path(&self) -> String {
        format!("/api/projects/{}/workloads", path_segment(&self.project))
    }

    fn list(&mut self, conflict: Option<Error>) -> Step {
        self.state = State::Listing { conflict };
        Step::Send(HttpRequest {
            method: "GET",
            path: self.list_path(),
            body: None,
        })
    }

    fn on_list(&mut self, resp: HttpResponse, conflict: Option<Error>) -> Step {
        if !resp.is_success() {
            return self.finish(Err(resp.into_error()));
        }
        // Only the match is decoded in full: a no-op against a long list stays cheap.
        let slug = &self.spec.slug;
        let found = match find_in_list(&resp.body, slug) {
            Some(found) => Ok(found),
            None => resp
                .decode(decode_list)
                .map(|list| find_by_slug(&list, slug).cloned()),
        };
        let found = match found {
            Ok(found) => found,
            Err(err) => return self.finish(Err(err)),
        };
        match (found, conflict) {
            (Some(live), _) => self.present(live),
            // The server said the slug exists but a fresh list does not show it.
            (None, Some(conflict)) => self.finish(Err(conflict)),
            (None, None) => self.absent(),
        }
    }

    fn create_changes(&self) -> Vec<FieldChange> {
        self.spec
            .create_fields()
            .into_iter()
            .map(|(field, _, value)| change(field, Value::Null, value))
            .collect()
    }

    fn absent(&mut self) -> Step {
        if self.on_drift == OnDrift::DryRun {
            let result = self.result(EnsureAction::Planned, self.create_changes(), None);
            return self.finish(Ok(result));
        }
        self.state = State::Creating;
        Step::Send(HttpRequest {
            method: "POST",
            path: self.list_path(),
            body: Some(self.spec.create_body()),
        })
    }

    fn on_create(&mut self, resp: HttpResponse) -> Step {
        if resp.status == 409 {
            crate::log!(Level::Info, TARGET,
                "create of workload \"{}\" answered 409; listing again", self.spec.slug;
                "workload_slug" => self.spec.slug);
            return self.list(Some(resp.into_error()));
        }
        if !resp.is_success() {
            return self.finish(Err(resp.into_error()));
        }
        let created = match resp.decode(decode_one) {
            Ok(w) => w,
            Err(err) => return self.finish(Err(err)),
        };
        if created.slug != self.spec.slug {
            crate::log!(Level::Warn, TARGET,
                "workload \"{}\" was created as \"{}\": the server changed the slug",
                self.spec.slug, created.slug;
                "requested_slug" => self.spec.slug, "workload_slug" => created.slug);
        }
        let result = self.result(EnsureAction::Created, self.create_changes(), Some(created));
        self.finish(Ok(result))
    }

    fn present(&mut self, live: Workload) -> Step {
        let changes = diff(&self.spec, &live);
        if changes.is_empty() {
            let result = self.result(EnsureAction::Unchanged, changes, Some(live));
            return self.finish(Ok(result));
        }
        let action = match self.on_drift {
            OnDrift::Reconcile if changes.iter().any(|c| !c.patchable) => {
                let err = drift_error(&live.slug, codes::IMMUTABLE_FIELD, &changes);
                return self.finish(Err(err));
            }
            OnDrift::Reconcile => {
                let body = patch_body(&self.spec, &live, &changes);
                self.state = State::Patching { changes };
                return Step::Send(HttpRequest {
                    method: "PATCH",
                    path: format!("/api/workloads/{}", path_segment(live.path_id())),
                    body: Some(body),
                });
            }
            OnDrift::Fail => {
                let err = drift_error(&live.slug, codes::DRIFT_DETECTED, &changes);
                return self.finish(Err(err));
            }
            OnDrift::DryRun => EnsureAction::Planned,
            OnDrift::Warn => {
                crate::log!(Level::Warn, TARGET,
                    "{}; on_drift=warn, nothing written", drift_summary(&live.slug, &changes);
                    "workload_slug" => live.slug);
                EnsureAction::DriftWarned
            }
            OnDrift::Ignore => EnsureAction::DriftIgnored,
        };
        let result = self.result(action, changes, Some(live));
        self.finish(Ok(result))
    }

    fn on_patch(&mut self, resp: HttpResponse, changes: Vec<FieldChange>) -> Step {
        // A 404 here means the workload was deleted meanwhile: NotFoundError, never a create.
        if !resp.is_success() {
            return self.finish(Err(resp.into_error()));
        }
        let result = resp
            .decode(decode_one)
            .map(|updated| self.result(EnsureAction::Updated, changes, Some(updated)));
        self.finish(result)
    }

    fn result(
        &self,
        action: EnsureAction,
        changes: Vec<FieldChange>,
        workload: Option<Workload>,
    ) -> EnsureResult {
        let planned_operation = (action == EnsureAction::Planned).then(|| {
            if workload.is_some() {
                "update"
            } else {
                "create"
            }
            .to_owned()
        });
        EnsureResult {
            project_slug: workload
                .as_ref()
                .and_then(|w| w.project_slug.clone())
                .unwrap_or_else(|| self.project.clone()),
            workload_slug: workload
                .as_ref()
                .map_or_else(|| self.spec.slug.clone(), |w| w.slug.clone()),
            action,
            changes,
            workload_id: workload.as_ref().and_then(|w| w.id.clone()),
            workload,
            planned_operation,
        }
    }

    /// Logs the decision at INFO and ends the machine.
    fn finish(&mut self, result: Result<EnsureResult>) -> Step {
        self.state = State::Finished;
        match &result {
            Ok(r) => {
                let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
                crate::log!(Level::Info, TARGET,
                    "ensure {}/{}: {} ({})", r.project_slug, r.workload_slug, r.action.as_str(),
                    if fields.is_empty() { "no changes".to_owned() } else { fields.join(", ") };
                    "action" => r.action.as_str(), "changes" => fields,
                    "workload_slug" => r.workload_slug);
            }
            Err(err) => {
                crate::log!(Level::Info, TARGET,
                    "ensure {}/{} failed: {}", self.project, self.spec.slug, err;
                    "code" => err.code, "workload_slug" => self.spec.slug);
            }
        }
        Step::Done(result)
    }
}

fn out_of_order() -> Error {
    Error::invalid_state(
        codes::INVALID_STATE,
        "ensure: no request is in flight (start() called twice, or the call already ended)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            name: "Support Bot".into(),
            slug: "support-bot".into(),
            model: "m".into(),
            backend: "vllm".into(),
            ..Default::default()
        }
    }

    fn live(extra: Value) -> Workload {
        let mut v = json!({"id": "wl_1", "project_slug": "acme", "slug": "support-bot",
            "name": "Support Bot", "description": null, "task_type": "text2text",
            "backend": "vllm", "model_name": "m", "config": {}, "worker_id": null,
            "gpu_resource_id": null, "execution_policy": "fixed",
            "execution_policy_config": null});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        Workload::from_value(&v).unwrap()
    }

    fn fc(field: &str, live: Value, desired: Value, patchable: bool) -> FieldChange {
        FieldChange {
            field: field.into(),
            live,
            desired,
            patchable,
        }
    }

    fn obj(v: Value) -> Option<Map<String, Value>> {
        v.as_object().cloned()
    }

    fn fields(changes: &[FieldChange]) -> Vec<&str> {
        changes.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn json_equal_rules() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(json_equal(&json!(-2.0), &json!(-2)));
        assert!(!json_equal(&json!(1), &json!(2)));
        assert!(!json_equal(&json!(u64::MAX), &json!(-1)));
        assert!(!json_equal(&json!("1"), &json!(1)));
        assert!(json_equal(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(!json_equal(&json!([1]), &json!([1, 2])));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(json_equal(&json!({"a": 1, "b": null}), &json!({"a": 1})));
        assert!(!json_equal(&json!(null), &json!({})));
    }

    #[test]
    fn in_sync_is_empty() {
        assert!(diff(&spec(), &live(json!({}))).is_empty());
    }

    #[test]
    fn required_fields_compare_exactly_in_table_order() {
        let mut s = spec();
        s.name = "Support Bot v2".into();
        s.model = "m2".into();
        s.backend = "sglang".into();
        let changes = diff(&s, &live(json!({"name": null})));
        assert_eq!(fields(&changes), ["name", "backend", "model"]);
        assert_eq!(
            changes[0],
            fc("name", Value::Null, json!("Support Bot v2"), true)
        );
        assert_eq!(changes[2], fc("model", json!("m"), json!("m2"), true));
        // No trimming, case matters.
        s = spec();
        s.name = "Support Bot ".into();
        assert_eq!(fields(&diff(&s, &live(json!({})))), ["name"]);
    }

    #[test]
    fn task_type_rules() {
        let embedding = live(json!({"task_type": "embedding"}));
        let c = diff(&spec(), &embedding);
        assert_eq!(
            c,
            [fc(
                "task_type",
                json!("embedding"),
                json!("text2text"),
                false
            )]
        );
        let mut s = spec();
        s.task_type = Some("embedding".into());
        assert!(diff(&s, &embedding).is_empty());
        // Skipped when the live record has none.
        assert!(diff(&s, &live(json!({"task_type": null}))).is_empty());
    }

    #[test]
    fn description_rules() {
        let mut s = spec();
        assert!(diff(&s, &live(json!({"description": "anything"}))).is_empty());
        s.description = Some(String::new());
        assert!(diff(&s, &live(json!({}))).is_empty());
        assert_eq!(
            diff(&s, &live(json!({"description": "x"}))),
            [fc("description", json!("x"), json!(""), true)]
        );
        s.description = Some("d".into());
        assert_eq!(
            diff(&s, &live(json!({}))),
            [fc("description", Value::Null, json!("d"), true)]
        );
    }

    #[test]
    fn config_subset_rules() {
        let mut s = spec();
        s.config = obj(json!({"engine": {"tp": 1, "dp": 2.0}, "args": ["a"], "n": null}));
        let server = live(
            json!({"config": {"engine": {"tp": 1.0, "dp": 2, "extra": 1}, "args": ["a"], "port": 1}}),
        );
        assert!(diff(&s, &server).is_empty());
        // Arrays compare exactly; nested paths join with dots.
        let drifted =
            live(json!({"config": {"engine": {"tp": 2, "dp": 2}, "args": ["a", "b"], "n": 0}}));
        assert_eq!(
            diff(&s, &drifted),
            [
                fc("config.args", json!(["a", "b"]), json!(["a"]), true),
                fc("config.engine.tp", json!(2), json!(1), true),
                fc("config.n", json!(0), Value::Null, true),
            ]
        );
        // Type mismatch: one change with both values whole; a missing object is a mismatch too.
        s.config = obj(json!({"engine": {"tp": 1}}));
        assert_eq!(
            diff(&s, &live(json!({"config": {"engine": "auto"}}))),
            [fc("config.engine", json!("auto"), json!({"tp": 1}), true)]
        );
        assert_eq!(
            diff(&s, &live(json!({"config": null}))),
            [fc("config.engine", Value::Null, json!({"tp": 1}), true)]
        );
        s.config = obj(json!({"engine": 1}));
        assert_eq!(
            diff(&s, &live(json!({"config": {"engine": {"tp": 1}}}))),
            [fc("config.engine", json!({"tp": 1}), json!(1), true)]
        );
        // Empty desired config is not compared.
        s.config = Some(Map::new());
        assert!(diff(&s, &live(json!({"config": {"x": 1}}))).is_empty());
    }

    #[test]
    fn command_is_compared_as_config_command() {
        let mut s = spec();
        s.command = Some("new".into());
        assert_eq!(
            diff(&s, &live(json!({"config": {"command": "old", "port": 1}}))),
            [fc("config.command", json!("old"), json!("new"), true)]
        );
    }

    #[test]
    fn optional_scalars_compare_when_declared() {
        let mut s = spec();
        let server =
            live(json!({"worker_id": "wk_a", "gpu_resource_id": "g", "execution_policy": "fixed"}));
        assert!(diff(&s, &server).is_empty());
        s.worker_id = Some("wk_b".into());
        s.gpu_resource_id = Some("g".into());
        s.execution_policy = Some("autoscaling".into());
        assert_eq!(
            fields(&diff(&s, &server)),
            ["worker_id", "execution_policy"]
        );
        s.worker_id = Some("wk_a".into());
        s.execution_policy = Some("fixed".into());
        assert_eq!(
            diff(
                &s,
                &live(json!({"worker_id": "wk_a", "gpu_resource_id": null}))
            ),
            [fc("gpu_resource_id", Value::Null, json!("g"), true)]
        );
    }

    #[test]
    fn execution_policy_config_is_a_subset() {
        let mut s = spec();
        s.execution_policy_config = Some(Map::new());
        assert!(diff(&s, &live(json!({}))).is_empty());
        assert!(diff(&s, &live(json!({"execution_policy_config": {"a": 1}}))).is_empty());
        s.execution_policy_config = obj(json!({"max_replicas": 4}));
        assert_eq!(
            diff(
                &s,
                &live(json!({"execution_policy_config": {"max_replicas": 2, "min": 0}}))
            ),
            [fc(
                "execution_policy_config.max_replicas",
                json!(2),
                json!(4),
                true
            )]
        );
        assert_eq!(
            diff(&s, &live(json!({}))),
            [fc(
                "execution_policy_config.max_replicas",
                Value::Null,
                json!(4),
                true
            )]
        );
        assert_eq!(
            diff(&s, &live(json!({"execution_policy_config": "x"}))),
            [fc(
                "execution_policy_config",
                json!("x"),
                json!({"max_replicas": 4}),
                true
            )]
        );
    }

    #[test]
    fn full_order_of_changes() {
        let s = WorkloadSpec {
            name: "n2".into(),
            slug: "support-bot".into(),
            model: "m2".into(),
            backend: "b2".into(),
            description: Some("d".into()),
            task_type: Some("embedding".into()),
            config: obj(json!({"a": 1})),
            worker_id: Some("w".into()),
            gpu_resource_id: Some("g".into()),
            execution_policy: Some("scheduled".into()),
            execution_policy_config: obj(json!({"c": 1})),
            ..Default::default()
        };
        assert_eq!(
            fields(&diff(&s, &live(json!({})))),
            [
                "name",
                "backend",
                "model",
                "task_type",
                "description",
                "config.a",
                "worker_id",
                "gpu_resource_id",
                "execution_policy",
                "execution_policy_config.c"
            ]
        );
    }

    #[test]
    fn patch_body_sends_changed_top_level_keys() {
        let mut s = spec();
        s.name = "v2".into();
        s.model = "m2".into();
        s.task_type = Some("embedding".into());
        s.config = obj(json!({"engine": {"tp": 2, "list": [1]}, "new": null}));
        let server =
            live(json!({"config": {"engine": {"tp": 1, "mem": 0.8, "list": [1, 2]}, "port": 1}}));
        let changes = diff(&s, &server);
        assert_eq!(
            patch_body(&s, &server, &changes),
            json!({"name": "v2", "model_name": "m2",
                   "config": {"engine": {"tp": 2, "mem": 0.8, "list": [1]}, "port": 1, "new": null}})
        );
        assert_eq!(patch_body(&s, &server, &[]), json!({}));
    }

    #[test]
    fn patch_body_execution_policy_config() {
        let mut s = spec();
        s.execution_policy = Some("autoscaling".into());
        s.execution_policy_config = obj(json!({"max": 2}));
        let server = live(json!({"execution_policy_config": {"max": 2, "min": 0}}));
        let changes = diff(&s, &server);
        assert_eq!(fields(&changes), ["execution_policy"]);
        assert_eq!(
            patch_body(&s, &server, &changes),
            json!({"execution_policy": "autoscaling", "execution_policy_config": {"max": 2}})
        );
        s.execution_policy = None;
        s.execution_policy_config = obj(json!({"max": 3}));
        let changes = diff(&s, &server);
        assert_eq!(
            patch_body(&s, &server, &changes),
            json!({"execution_policy_config": {"max": 3}})
        );
        // A policy change without a declared config sends the policy alone.
        let mut s = spec();
        s.execution_policy = Some("scheduled".into());
        let changes = diff(&s, &server);
        assert_eq!(
            patch_body(&s, &server, &changes),
            json!({"execution_policy": "scheduled"})
        );
    }

    // ---- the machine ----

    fn ok(status: u16, body: Value) -> HttpResponse {
        HttpResponse::new(
            status,
            serde_json::to_vec(&body).unwrap(),
            Some("req_1".into()),
        )
    }

    fn expect_send(step: Step, method: &str, path: &str) -> Option<Value> {
        match step {
            Step::Send(r) => {
                assert_eq!((r.method, r.path.as_str()), (method, path));
                r.body
            }
            Step::Done(r) => panic!("expected {method} {path}, got {r:?}"),
        }
    }

    fn done(step: Step) -> Result<EnsureResult> {
        match step {
            Step::Done(r) => r,
            Step::Send(r) => panic!("unexpected request {r:?}"),
        }
    }

    fn raw(w: &Workload) -> Value {
        w.raw.clone()
    }

    #[test]
    fn invalid_spec_sends_nothing() {
        let mut s = spec();
        s.slug = "Support Bot".into();
        let mut m = Ensure::new(s, OnDrift::Reconcile, "acme".into());
        assert_eq!(done(m.start()).unwrap_err().code, "invalid_slug");
        assert_eq!(
            done(m.on_response(ok(200, json!([])))).unwrap_err().kind,
            ErrorKind::InvalidState
        );
    }

    #[test]
    fn project_is_percent_encoded_and_used_when_the_server_names_none() {
        let mut m = Ensure::new(spec(), OnDrift::DryRun, "my team".into());
        expect_send(m.start(), "GET", "/api/projects/my%20team/workloads");
        let r = done(m.on_response(ok(200, json!([])))).unwrap();
        assert_eq!(
            (r.project_slug.as_str(), r.action),
            ("my team", EnsureAction::Planned)
        );
        assert_eq!(r.planned_operation.as_deref(), Some("create"));
        assert!(r.workload.is_none() && r.workload_id.is_none());
        assert_eq!(
            fields(&r.changes),
            ["name", "slug", "task_type", "backend", "model"]
        );
        assert!(r.changes.iter().all(|c| c.live.is_null()));
        assert!(!r.changes[1].patchable && !r.changes[2].patchable && r.changes[0].patchable);
        assert!(matches!(m.start(), Step::Done(Err(_))));
    }

    #[test]
    fn result_serialises_the_python_shape() {
        let server = live(json!({"project_slug": "acme-prod"}));
        let mut m = Ensure::new(spec(), OnDrift::Reconcile, "acme".into());
        m.start();
        let r = done(m.on_response(ok(200, json!([raw(&server)])))).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["action"], "unchanged");
        assert_eq!(v["project_slug"], "acme-prod");
        assert_eq!(v["workload_id"], "wl_1");
        assert_eq!(v["planned_operation"], Value::Null);
        assert_eq!(v["changes"], json!([]));
        assert_eq!(v["workload"]["model"], "m");
        assert_eq!(serde_json::to_value(OnDrift::DryRun).unwrap(), "dry_run");
        assert_eq!(
            serde_json::from_value::<OnDrift>(json!("warn")).unwrap(),
            OnDrift::Warn
        );
        assert!(serde_json::from_value::<OnDrift>(json!("WARN")).is_err());
    }

    #[test]
    fn conflict_relist_found_with_drift_patches() {
        let mut s = spec();
        s.name = "v2".into();
        let mut m = Ensure::new(s, OnDrift::Reconcile, "acme".into());
        expect_send(m.start(), "GET", "/api/projects/acme/workloads");
        expect_send(
            m.on_response(ok(200, json!([]))),
            "POST",
            "/api/projects/acme/workloads",
        );
        let conflict = json!({"error": {"code": "slug_conflict", "message": "exists"}});
        expect_send(
            m.on_response(ok(409, conflict)),
            "GET",
            "/api/projects/acme/workloads",
        );
        let server = live(json!({"id": "wl/2"}));
        let body = expect_send(
            m.on_response(ok(200, json!([raw(&server)]))),
            "PATCH",
            "/api/workloads/wl%2F2",
        );
        assert_eq!(body, Some(json!({"name": "v2"})));
        let r = done(m.on_response(ok(200, json!({"slug": "support-bot", "name": "v2"})))).unwrap();
        assert_eq!(r.action, EnsureAction::Updated);
        assert_eq!(r.project_slug, "acme");
    }

    #[test]
    fn conflict_relist_missing_keeps_the_server_error() {
        let mut m = Ensure::new(spec(), OnDrift::Reconcile, "acme".into());
        m.start();
        m.on_response(ok(200, json!([])));
        let conflict = json!({"error": {"code": "slug_conflict", "message": "exists"}});
        m.on_response(ok(409, conflict));
        let e = done(m.on_response(ok(200, json!([])))).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str(), e.http_status),
            (ErrorKind::Conflict, "slug_conflict", Some(409))
        );
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
    }

    #[test]
    fn errors_from_the_transport_are_passed_through() {
        let mut m = Ensure::new(spec(), OnDrift::Reconcile, "acme".into());
        m.start();
        let mut resp = ok(429, json!({}));
        resp.error = Some(
            Error::external(ErrorKind::RateLimited, "rate_limited", "slow down")
                .with_detail("retry_after", json!(90.0)),
        );
        let e = done(m.on_response(resp)).unwrap_err();
        assert_eq!(e.details["retry_after"], 90.0);
        // Without one, the body is decoded; an empty body falls back to the status.
        let mut m = Ensure::new(spec(), OnDrift::Reconcile, "acme".into());
        m.start();
        let e = done(m.on_response(HttpResponse::new(503, Vec::new(), None))).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str(), e.message.as_str()),
            (ErrorKind::Server, "server_error", "HTTP 503")
        );
    }

    #[test]
    fn undecodable_2xx_bodies_are_invalid_response() {
        for body in [b"<html>".to_vec(), b"{\"items\":[]}".to_vec()] {
            let mut m = Ensure::new(spec(), OnDrift::Reconcile, "acme".into());
            m.start();
            let e = done(m.on_response(HttpResponse::new(200, body, Some("req_9".into()))))
                .unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.http_status),
                ("invalid_response", Some(200))
            );
            assert_eq!(e.request_id.as_deref(), Some("req_9"));
        }
        let mut m = Ensure::new(spec(), OnDrift::Reconcile, "acme".into());
        m.start();
        m.on_response(ok(200, json!([])));
        assert_eq!(
            done(m.on_response(ok(201, json!({"id": "x"}))))
                .unwrap_err()
                .code,
            "invalid_response"
        );
    }

    #[test]
    fn patch_404_is_not_found_and_nothing_is_created() {
        let mut s = spec();
        s.name = "v2".into();
        let mut m = Ensure::new(s, OnDrift::Reconcile, "acme".into());
        m.start();
        m.on_response(ok(200, json!([raw(&live(json!({})))])));
        let e = done(m.on_response(ok(
            404,
            json!({"error": {"code": "not_found", "message": "gone"}}),
        )))
        .unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::NotFound, "not_found")
        );
    }

    #[test]
    fn drift_errors_carry_every_change() {
        let mut s = spec();
        s.name = "v2".into();
        s.task_type = Some("embedding".into());
        for (on_drift, code) in [
            (OnDrift::Reconcile, "immutable_field"),
            (OnDrift::Fail, "drift_detected"),
        ] {
            let mut m = Ensure::new(s.clone(), on_drift, "acme".into());
            m.start();
            let e = done(m.on_response(ok(200, json!([raw(&live(json!({})))])))).unwrap_err();
            assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Drift, code));
            assert_eq!(
                e.message,
                "workload \"support-bot\" drifted from spec: name, task_type; task_type cannot be \
                 patched: delete the workload or change the slug"
            );
            assert_eq!(e.details["changes"].as_array().unwrap().len(), 2);
            assert_eq!(e.details["changes"][1]["patchable"], false);
        }
        let mut s = spec();
        s.model = "m2".into();
        s.name = "v2".into();
        let mut m = Ensure::new(s, OnDrift::Fail, "acme".into());
        m.start();
        let e = done(m.on_response(ok(200, json!([raw(&live(json!({})))])))).unwrap_err();
        assert_eq!(
            e.message,
            "workload \"support-bot\" drifted from spec: name, model"
        );
    }

    #[test]
    fn logs_warn_on_drift_and_on_a_changed_slug() {
        let records = Arc::new(Mutex::new(Vec::<(Level, String)>::new()));
        let sink = records.clone();
        crate::log::set_sink(
            Some(Level::Debug),
            Some(Arc::new(move |level, r: &str| {
                sink.lock().unwrap().push((level, r.to_owned()))
            })),
        );
        let mut s = spec();
        s.slug = "log-test-warn".into();
        s.name = "v2".into();
        let mut m = Ensure::new(s.clone(), OnDrift::Warn, "acme".into());
        m.start();
        let server = live(json!({"slug": "log-test-warn"}));
        let r = done(m.on_response(ok(200, json!([raw(&server)])))).unwrap();
        assert_eq!(r.action, EnsureAction::DriftWarned);
        s.slug = "log-test-suffix".into();
        let mut m = Ensure::new(s, OnDrift::Reconcile, "acme".into());
        m.start();
        m.on_response(ok(200, json!([])));
        let r = done(m.on_response(ok(201, json!({"slug": "log-test-suffix-1", "id": "wl_9"}))))
            .unwrap();
        assert_eq!(
            (r.action, r.workload_slug.as_str()),
            (EnsureAction::Created, "log-test-suffix-1")
        );
        crate::log::set_sink(None, None);

        let records: Vec<(Level, Value)> = records
            .lock()
            .unwrap()
            .iter()
            .map(|(level, r)| (*level, serde_json::from_str(r).unwrap()))
            .filter(|(_, r): &(Level, Value)| {
                r["message"].as_str().unwrap_or("").contains("log-test-")
            })
            .collect();
        let warnings: Vec<&str> = records
            .iter()
            .filter(|(level, r)| *level == Level::Warn && r["target"] == TARGET)
            .map(|(_, r)| r["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            warnings,
            [
                "workload \"log-test-warn\" drifted from spec: name; on_drift=warn, nothing written",
                "workload \"log-test-suffix\" was created as \"log-test-suffix-1\": the server changed the slug",
            ]
        );
        assert!(records.iter().any(|(level, r)| *level == Level::Info
            && r["fields"]["action"] == "drift_warned"
            && r["fields"]["changes"] == json!(["name"])));
    }
}

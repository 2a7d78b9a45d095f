//! Data plane (wire §7): OpenAI-compatible routes proxied to the workload's process.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::auth::{Caller, DataCaller};
use crate::errors::ApiError;
use crate::extract::{read_json, wrong_type, Segments};
use crate::model::Workload;
use crate::proxy;
use crate::runner::launch;
use crate::runner::{Phase, Snapshot};
use crate::state::Shared;

/// The data routes and the task types each serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    ChatCompletions,
    Completions,
    Embeddings,
    Rerank,
}

impl Route {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::ChatCompletions => "/v1/chat/completions",
            Route::Completions => "/v1/completions",
            Route::Embeddings => "/v1/embeddings",
            Route::Rerank => "/v1/rerank",
        }
    }

    pub(crate) fn serves(self, task_type: &str) -> bool {
        match self {
            Route::ChatCompletions => matches!(task_type, "text2text" | "omni"),
            Route::Completions => task_type == "text2text",
            Route::Embeddings => task_type == "embedding",
            Route::Rerank => task_type == "reranker",
        }
    }

    fn streams(self) -> bool {
        matches!(self, Route::ChatCompletions | Route::Completions)
    }

    /// Required fields and their types (400 `invalid_request`).
    pub(crate) fn validate(self, body: &Map<String, Value>) -> Result<(), ApiError> {
        let require = |field: &str, ok: fn(&Value) -> bool, what: &str| match body.get(field) {
            Some(v) if ok(v) => Ok(()),
            Some(v) => Err(wrong_type(field, what, v)),
            None => Err(ApiError::invalid_request(
                field,
                format!("{field} is required"),
            )),
        };
        // OpenAI clients send null for "default" on optional keys: null passes.
        let optional =
            |field: &str, value: Option<&Value>, ok: fn(&Value) -> bool, what: &str| match value {
                Some(v) if !v.is_null() && !ok(v) => Err(wrong_type(field, what, v)),
                _ => Ok(()),
            };
        let string_or_array = |v: &Value| v.is_string() || v.is_array();
        match self {
            Route::ChatCompletions => {
                require(
                    "messages",
                    |v| v.as_array().is_some_and(|a| !a.is_empty()),
                    "a non-empty array",
                )?;
            }
            Route::Completions => require("prompt", string_or_array, "a string or an array")?,
            Route::Embeddings => require("input", string_or_array, "a string or an array")?,
            Route::Rerank => {
                require("query", Value::is_string, "a string")?;
                require("documents", Value::is_array, "an array")?;
            }
        }
        if self.streams() {
            optional("stream", body.get("stream"), Value::is_boolean, "a boolean")?;
            optional(
                "stream_options",
                body.get("stream_options"),
                Value::is_object,
                "an object",
            )?;
            // The platform reads this one itself (it filters usage-only events on it).
            optional(
                "stream_options.include_usage",
                body.get("stream_options")
                    .and_then(|o| o.get("include_usage")),
                Value::is_boolean,
                "a boolean",
            )?;
        }
        // `model` may be anything (or absent): it is rewritten to the served model.
        Ok(())
    }
}

pub async fn chat_completions(
    state: State<Shared>,
    segments: Segments,
    caller: DataCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    call(
        state,
        segments,
        caller,
        Route::ChatCompletions,
        headers,
        body,
    )
    .await
}

pub async fn completions(
    state: State<Shared>,
    segments: Segments,
    caller: DataCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    call(state, segments, caller, Route::Completions, headers, body).await
}

pub async fn embeddings(
    state: State<Shared>,
    segments: Segments,
    caller: DataCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    call(state, segments, caller, Route::Embeddings, headers, body).await
}

pub async fn rerank(
    state: State<Shared>,
    segments: Segments,
    caller: DataCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    call(state, segments, caller, Route::Rerank, headers, body).await
}

/// `GET …/v1/models`: the workload under its slug, and what really serves it.
pub async fn models(
    State(state): State<Shared>,
    Segments(segments): Segments,
    DataCaller(caller): DataCaller,
) -> Result<Json<Value>, ApiError> {
    let workload = resolve(&state, &segments, &caller).await?;
    let snapshot = state.runner.snapshot(&workload.id);
    let backing = snapshot
        .as_ref()
        .and_then(|s| s.backing.clone())
        .or_else(|| launch::choose(&workload).ok().map(|c| c.backing(&workload)));
    let created = ulid::Ulid::from_string(&workload.id[3..].to_uppercase())
        .map(|u| (u.timestamp_ms() / 1000) as i64)
        .unwrap_or_else(|_| crate::util::unix_now());
    let phase = snapshot.map(|s| s.phase).unwrap_or(Phase::Scheduling);
    Ok(Json(json!({
        "object": "list",
        "data": [{
            "id": workload.slug,
            "object": "model",
            "created": created,
            "owned_by": "inferencekey-dev",
            "root": backing.as_ref().map(|b| b.model.clone()).unwrap_or_else(|| workload.model_name.clone()),
            "inferencekey": {
                "backend": workload.backend,
                "declared_model": workload.model_name,
                "stand_in": backing.as_ref().is_some_and(|b| b.stand_in),
                "served_by": backing.as_ref().map(|b| b.served_by.clone()),
                "task_type": workload.task_type,
                "phase": phase.as_str(),
            }
        }]
    })))
}

/// Steps 5–7 of wire §2.2 for a data route: project, grant, existence.
pub(crate) async fn resolve(
    state: &Shared,
    segments: &[String],
    caller: &Caller,
) -> Result<Workload, ApiError> {
    caller.check_project(&segments[0])?;
    let project_id = caller.project().id.clone();
    let key = segments[1].clone();
    let workload = state
        .db(move |db| Ok(db.find_workload(&project_id, &key)?))
        .await?;
    // Grants never reveal existence: check them against the slug the path names.
    let slug = workload
        .as_ref()
        .map(|w| w.slug.as_str())
        .unwrap_or(&segments[1]);
    caller.require_grant(slug)?;
    workload.ok_or_else(|| ApiError::not_found(format!("no workload \"{}\"", segments[1])))
}

/// 400 `task_type_mismatch` when `route` is not served for the workload's task type.
pub(crate) fn check_serves(route: Route, workload: &Workload) -> Result<(), ApiError> {
    if route.serves(&workload.task_type) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "task_type_mismatch",
        format!(
            "{} is not served for task type {} (workload \"{}\")",
            route.path(),
            workload.task_type,
            workload.slug
        ),
    ))
}

async fn call(
    State(state): State<Shared>,
    Segments(segments): Segments,
    DataCaller(caller): DataCaller,
    route: Route,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let workload = resolve(&state, &segments, &caller).await?;
    check_serves(route, &workload)?;
    let body = read_json(&headers, body).await?;
    route.validate(&body)?;
    dispatch(&state, &workload, route, body).await
}

/// Sends a validated body to the workload's process: the one path of the sync routes and of
/// jobs (which pass a body without `stream`).
pub(crate) async fn dispatch(
    state: &Shared,
    workload: &Workload,
    route: Route,
    mut body: Map<String, Value>,
) -> Result<Response, ApiError> {
    let snapshot = state.runner.snapshot(&workload.id);
    let serving = match snapshot {
        Some(Snapshot {
            phase: Phase::Ready,
            serving: Some(serving),
            ..
        }) => serving,
        Some(s) if s.phase == Phase::Error => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "workload_failed",
                format!("workload \"{}\" failed: {}", workload.slug, s.message),
            ))
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "workload_not_ready",
                format!("workload \"{}\" is starting", workload.slug),
            )
            .with_retry_after(2))
        }
    };

    body.insert("model".into(), Value::String(serving.served_model.clone()));
    let stream = route.streams() && body.get("stream") == Some(&Value::Bool(true));
    let include_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let url = format!("http://127.0.0.1:{}{}", serving.port, route.path());
    let payload = serde_json::to_vec(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    let timeout = state.settings.upstream_timeout;
    if stream {
        proxy::stream(&state.upstream, &url, payload, timeout, include_usage).await
    } else {
        proxy::forward(&state.upstream, &url, payload, timeout).await
    }
}

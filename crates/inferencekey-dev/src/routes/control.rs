//! Control plane (wire §6): list, create, patch, delete, readiness stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use crate::auth::ControlCaller;
use crate::db::InsertError;
use crate::errors::ApiError;
use crate::extract::{read_json, reject_secrets, Fields, Segments};
use crate::model::{Workload, EXECUTION_POLICIES, TASK_TYPES};
use crate::runner::ReadinessEvent;
use crate::state::Shared;
use crate::util::{is_canonical_slug, is_kebab, new_id, now_rfc3339, slug_from_name};

const READ: &str = "workload:read";
const WRITE: &str = "workload:write";
const ASSIGN: &str = "assignment:write";
const KEEPALIVE: Duration = Duration::from_secs(15);

fn render(state: &Shared, w: &Workload) -> Value {
    w.to_json(state.runner.phase(&w.id).as_str())
}

/// `GET /api/projects/{project}/workloads` → bare array, oldest first.
pub async fn list(
    State(state): State<Shared>,
    Segments(segments): Segments,
    ControlCaller(caller): ControlCaller,
) -> Result<Json<Value>, ApiError> {
    caller.check_project(&segments[0])?;
    caller.require_scope(READ)?;
    let project_id = caller.project().id.clone();
    let workloads = state
        .db(move |db| Ok(db.list_workloads(&project_id)?))
        .await?;
    Ok(Json(Value::Array(
        workloads.iter().map(|w| render(&state, w)).collect(),
    )))
}

/// `POST /api/projects/{project}/workloads` → 201 + `Location`.
pub async fn create(
    State(state): State<Shared>,
    Segments(segments): Segments,
    ControlCaller(caller): ControlCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.check_project(&segments[0])?;
    caller.require_scope(WRITE)?;
    let body = read_json(&headers, body).await?;
    reject_secrets(&body)?;
    let project = caller.project().clone();
    let now = now_rfc3339();
    let f = Fields(&body);

    let name = check_text("name", f.required_string("name")?)?;
    let slug = match f.string("slug")? {
        Some(slug) if is_canonical_slug(&slug) => slug,
        Some(slug) => return Err(invalid_slug(&slug)),
        None => {
            let derived = slug_from_name(&name);
            if derived.is_empty() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_slug",
                    "no slug was given and none can be derived from the name",
                )
                .with_field("slug"));
            }
            derived
        }
    };
    let task_type = match f.string("task_type")? {
        Some(t) => check_task_type(t)?,
        None => "text2text".to_string(),
    };
    let backend = check_backend(f.required_string("backend")?)?;
    let model_name = check_text("model_name", f.required_string("model_name")?)?;
    // The nullable keys of the workload object (wire §5) take null as "unset"; `config` null
    // is `{}`, as on patch (§6.3).
    let workload = Workload {
        id: new_id("wl_"),
        project_id: project.id.clone(),
        project_slug: project.slug.clone(),
        slug,
        name,
        description: f.nullable_string("description")?.flatten(),
        task_type,
        backend,
        model_name,
        config: f
            .nullable_object("config")?
            .flatten()
            .unwrap_or_default()
            .into(),
        worker_id: f.nullable_string("worker_id")?.flatten(),
        gpu_resource_id: f.nullable_string("gpu_resource_id")?.flatten(),
        execution_policy: Some(match f.nullable_string("execution_policy")?.flatten() {
            Some(p) => check_policy(p)?,
            None => "fixed".to_string(),
        }),
        execution_policy_config: f
            .nullable_object("execution_policy_config")?
            .flatten()
            .map(Value::Object),
        created_at: now.clone(),
        updated_at: now,
    };
    if workload.worker_id.is_some() || workload.gpu_resource_id.is_some() {
        caller.require_scope(ASSIGN)?;
    }

    let stored = workload.clone();
    let inserted = state
        .db(move |db| match db.insert_workload(&stored) {
            Ok(()) => Ok(true),
            Err(InsertError::SlugConflict) => Ok(false),
            Err(InsertError::Db(e)) => Err(e.into()),
        })
        .await?;
    if !inserted {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "slug_conflict",
            format!(
                "workload slug \"{}\" already exists in project \"{}\"",
                workload.slug, project.slug
            ),
        ));
    }
    state.runner.launch(&workload.id).await;
    let mut response = (StatusCode::CREATED, Json(render(&state, &workload))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/workloads/{}", workload.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `PATCH /api/workloads/{id}` → 200 with the updated workload.
pub async fn patch(
    State(state): State<Shared>,
    Segments(segments): Segments,
    ControlCaller(caller): ControlCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(WRITE)?;
    let body = read_json(&headers, body).await?;
    reject_secrets(&body)?;
    let changes = parse_patch(&body)?;
    let assigns = matches!(changes.worker_id, Some(Some(_)))
        || matches!(changes.gpu_resource_id, Some(Some(_)));
    if assigns {
        caller.require_scope(ASSIGN)?;
    }
    let project_id = caller.project().id.clone();
    let key = segments[0].clone();
    let result = state
        .db(move |db| db.modify_workload(&project_id, &key, |old| changes.apply(old)))
        .await?;
    let Some((old, new)) = result else {
        return Err(ApiError::not_found(format!(
            "no workload \"{}\"",
            segments[0]
        )));
    };
    if old.needs_restart(&new) {
        state.runner.launch(&new.id).await;
    }
    Ok(Json(render(&state, &new)))
}

/// `DELETE /api/workloads/{id}` → 204 once its process has stopped.
pub async fn delete(
    State(state): State<Shared>,
    Segments(segments): Segments,
    ControlCaller(caller): ControlCaller,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(WRITE)?;
    let project_id = caller.project().id.clone();
    let key = segments[0].clone();
    let deleted = state
        .db(move |db| {
            let Some(w) = db.find_workload(&project_id, &key)? else {
                return Ok(None);
            };
            Ok(db.delete_workload(&w.id)?.then_some(w.id))
        })
        .await?;
    let Some(id) = deleted else {
        return Err(ApiError::not_found(format!(
            "no workload \"{}\"",
            segments[0]
        )));
    };
    state.runner.remove(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/projects/{project}/workloads/{workload_slug}/readiness-events` → SSE: a snapshot
/// frame, then one frame per change, closed after a terminal frame.
pub async fn readiness(
    State(state): State<Shared>,
    Segments(segments): Segments,
    ControlCaller(caller): ControlCaller,
) -> Result<Response, ApiError> {
    caller.check_project(&segments[0])?;
    caller.require_scope(READ)?;
    let project_id = caller.project().id.clone();
    let key = segments[1].clone();
    let workload = state
        .db(move |db| Ok(db.find_workload(&project_id, &key)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no workload \"{}\"", segments[1])))?;
    let (snapshot, receiver) = state
        .runner
        .subscribe(&workload.id)
        .ok_or_else(|| ApiError::not_found(format!("no workload \"{}\"", segments[1])))?;

    let stream = ReadinessStream {
        first: Some(snapshot),
        receiver,
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let frames = futures_util::stream::unfold(stream, |mut s| async move {
        let frame = s.next_frame().await?;
        Some((Ok::<Bytes, Infallible>(frame), s))
    });
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

struct ReadinessStream {
    first: Option<ReadinessEvent>,
    receiver: broadcast::Receiver<ReadinessEvent>,
    shutdown: tokio_util::sync::CancellationToken,
    done: bool,
}

impl ReadinessStream {
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some(event) = self.first.take() {
            return Some(self.frame(event));
        }
        loop {
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(event) => return Some(self.frame(event)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep(KEEPALIVE) => return Some(Bytes::from_static(b": keepalive\n\n")),
                _ = self.shutdown.cancelled() => return None,
            }
        }
    }

    fn frame(&mut self, event: ReadinessEvent) -> Bytes {
        if event.phase.is_terminal() {
            self.done = true;
        }
        let json = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
        Bytes::from(format!("data: {json}\n\n"))
    }
}

// ---- request validation -----------------------------------------------------------------

fn invalid_slug(slug: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_slug",
        format!("slug \"{slug}\" must match ^[a-z0-9]+(-[a-z0-9]+)*$ (1-63 chars)"),
    )
    .with_field("slug")
}

fn check_task_type(t: String) -> Result<String, ApiError> {
    if TASK_TYPES.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(ApiError::invalid_field(
            "task_type",
            format!("task_type must be one of {}", TASK_TYPES.join(", ")),
        ))
    }
}

fn check_backend(b: String) -> Result<String, ApiError> {
    if is_kebab(&b) && b.len() <= 63 {
        Ok(b)
    } else {
        Err(ApiError::invalid_field(
            "backend",
            "backend must be a native backend or a custom slug matching ^[a-z0-9]+(-[a-z0-9]+)*$",
        ))
    }
}

fn check_policy(p: String) -> Result<String, ApiError> {
    if EXECUTION_POLICIES.contains(&p.as_str()) {
        Ok(p)
    } else {
        Err(ApiError::invalid_field(
            "execution_policy",
            format!(
                "execution_policy must be one of {}",
                EXECUTION_POLICIES.join(", ")
            ),
        ))
    }
}

fn check_text(field: &str, s: String) -> Result<String, ApiError> {
    if s.trim().is_empty() {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must not be blank"),
        ))
    } else {
        Ok(s)
    }
}

/// A validated PATCH body: `None` = leave as is; `Some(None)` = clear.
struct Patch {
    slug: Option<String>,
    task_type: Option<String>,
    name: Option<String>,
    description: Option<Option<String>>,
    backend: Option<String>,
    model_name: Option<String>,
    config: Option<Value>,
    worker_id: Option<Option<String>>,
    gpu_resource_id: Option<Option<String>>,
    execution_policy: Option<String>,
    execution_policy_config: Option<Option<Value>>,
}

fn parse_patch(body: &Map<String, Value>) -> Result<Patch, ApiError> {
    let f = Fields(body);
    // Wire §6.3: null for these clears nothing and is a 422 (a value error), not a 400.
    let not_null = |field: &str| -> Result<Option<String>, ApiError> {
        match f.nullable_string(field)? {
            Some(None) => Err(ApiError::invalid_field(
                field,
                format!("{field} cannot be null"),
            )),
            Some(Some(s)) => Ok(Some(s)),
            None => Ok(None),
        }
    };
    Ok(Patch {
        slug: f.string("slug")?,
        task_type: f.string("task_type")?,
        name: not_null("name")?
            .map(|s| check_text("name", s))
            .transpose()?,
        description: f.nullable_string("description")?,
        backend: not_null("backend")?.map(check_backend).transpose()?,
        model_name: not_null("model_name")?
            .map(|s| check_text("model_name", s))
            .transpose()?,
        config: f
            .nullable_object("config")?
            .map(|c| Value::Object(c.unwrap_or_default())),
        worker_id: f.nullable_string("worker_id")?,
        gpu_resource_id: f.nullable_string("gpu_resource_id")?,
        execution_policy: not_null("execution_policy")?
            .map(check_policy)
            .transpose()?,
        execution_policy_config: f
            .nullable_object("execution_policy_config")?
            .map(|c| c.map(Value::Object)),
    })
}

impl Patch {
    fn apply(self, old: &Workload) -> Result<Workload, ApiError> {
        if let Some(slug) = &self.slug {
            if *slug != old.slug {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "immutable_field",
                    "slug cannot be changed",
                )
                .with_field("slug"));
            }
        }
        if let Some(task_type) = &self.task_type {
            if *task_type != old.task_type {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "immutable_field",
                    "task_type cannot be changed",
                )
                .with_field("task_type"));
            }
        }
        let mut new = old.clone();
        if let Some(v) = self.name {
            new.name = v;
        }
        if let Some(v) = self.description {
            new.description = v;
        }
        if let Some(v) = self.backend {
            new.backend = v;
        }
        if let Some(v) = self.model_name {
            new.model_name = v;
        }
        if let Some(v) = self.config {
            new.config = v;
        }
        if let Some(v) = self.worker_id {
            new.worker_id = v;
        }
        if let Some(v) = self.gpu_resource_id {
            new.gpu_resource_id = v;
        }
        if let Some(v) = self.execution_policy {
            new.execution_policy = Some(v);
        }
        if let Some(v) = self.execution_policy_config {
            new.execution_policy_config = v;
        }
        if new.differs_from(old) {
            new.updated_at = now_rfc3339();
        }
        Ok(new)
    }
}

//! Local-platform-only routes (wire §8): health, and the admin routes that mint projects and
//! tokens and manage webhook destinations. Admin routes answer loopback peers only and take the admin secret.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Admin;
use crate::db::WebhookInsertError;
use crate::errors::ApiError;
use crate::extract::{read_json, Fields, Segments};
use crate::model::{Webhook, Workload};
use crate::ops;
use crate::state::Shared;
use crate::util::{new_id, now_rfc3339};
use crate::webhooks;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok", "version": crate::VERSION}))
}

/// `POST /_dev/projects` `{"slug","name"}` → 201 project + fresh tokens.
pub async fn create_project(
    State(state): State<Shared>,
    _: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_json(&headers, body).await?;
    let f = Fields(&body);
    let slug = f.required_string("slug")?;
    let name = f.nullable_string("name")?.flatten();
    let creds = state
        .db(move |db| ops::create_project(db, &slug, name.as_deref()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(creds))).into_response())
}

/// `POST /_dev/projects/{project}/tokens` → 201 `{"token","token_id"}`.
pub async fn mint_token(
    State(state): State<Shared>,
    Segments(segments): Segments,
    _: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = Value::Object(read_json(&headers, body).await?);
    let project = segments[0].clone();
    let (token, token_id) = state
        .db(move |db| ops::mint_token(db, &project, &body))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "token_id": token_id})),
    )
        .into_response())
}

/// `POST /_dev/tokens/{token_id}/revoke` → 204.
pub async fn revoke_token(
    State(state): State<Shared>,
    Segments(segments): Segments,
    _: Admin,
) -> Result<StatusCode, ApiError> {
    let token_id = segments[0].clone();
    state.db(move |db| ops::revoke_token(db, &token_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- webhook destinations ------------------------------------------------------------------

/// The workload `{project}/{slug}` names (project and workload by slug or id), else 404.
async fn admin_workload(state: &Shared, segments: &[String]) -> Result<Workload, ApiError> {
    let (project, key) = (segments[0].clone(), segments[1].clone());
    let found = state
        .db(move |db| {
            let Some(project) = db.find_project(&project)? else {
                return Ok(None);
            };
            Ok(db.find_workload(&project.id, &key)?)
        })
        .await?;
    found.ok_or_else(|| {
        ApiError::not_found(format!(
            "no workload \"{}\" in project \"{}\"",
            segments[1], segments[0]
        ))
    })
}

/// `POST /_dev/projects/{project}/workloads/{slug}/webhooks` `{"url"}` → 201 with the secret
/// (the only time it is shown).
pub async fn add_webhook(
    State(state): State<Shared>,
    Segments(segments): Segments,
    _: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let workload = admin_workload(&state, &segments).await?;
    let body = read_json(&headers, body).await?;
    let url = Fields(&body).required_string("url")?;
    let url = webhooks::check_url(&url).map_err(|e| ApiError::invalid_request("url", e))?;
    let secret = webhooks::new_secret().map_err(ApiError::internal)?;
    let hook = Webhook {
        id: new_id("wh_"),
        workload_id: workload.id.clone(),
        url,
        created_at: now_rfc3339(),
    };
    let sealed = state
        .deliverer
        .secrets()
        .seal(&hook.id, &secret)
        .map_err(ApiError::internal)?;
    let record = hook.clone();
    let inserted = state
        .db(move |db| Ok(db.insert_webhook(&record, &sealed, webhooks::MAX_DESTINATIONS)?))
        .await?;
    match inserted {
        Ok(()) => {}
        Err(WebhookInsertError::Limit) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "webhook_limit_reached",
                format!(
                    "workload \"{}\" already has {} webhook destinations (the limit)",
                    workload.slug,
                    webhooks::MAX_DESTINATIONS
                ),
            ))
        }
        Err(WebhookInsertError::Duplicate) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "webhook_conflict",
                format!(
                    "workload \"{}\" already delivers to {}",
                    workload.slug, hook.url
                ),
            ))
        }
    }
    // Scheme, host and port only: a query string may carry the receiver's own secret.
    let shown_url = url::Url::parse(&hook.url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    state.log.info(format!(
        "webhook {} added to workload {}: {shown_url}",
        hook.id, workload.slug
    ));
    let mut shown = hook.to_json();
    shown["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// `GET …/webhooks` → the destinations, never their secrets.
pub async fn list_webhooks(
    State(state): State<Shared>,
    Segments(segments): Segments,
    _: Admin,
) -> Result<Json<Value>, ApiError> {
    let workload = admin_workload(&state, &segments).await?;
    let hooks = state.db(move |db| Ok(db.webhooks(&workload.id)?)).await?;
    Ok(Json(Value::Array(
        hooks.iter().map(|(hook, _)| hook.to_json()).collect(),
    )))
}

/// `DELETE …/webhooks/{id}` → 204. Its pending deliveries end as failed.
pub async fn delete_webhook(
    State(state): State<Shared>,
    Segments(segments): Segments,
    _: Admin,
) -> Result<StatusCode, ApiError> {
    let workload = admin_workload(&state, &segments).await?;
    let id = segments[2].clone();
    let workload_id = workload.id.clone();
    let deleted = state
        .db(move |db| Ok(db.delete_webhook(&workload_id, &id)?))
        .await?;
    if !deleted {
        return Err(ApiError::not_found(format!(
            "no webhook \"{}\" on workload \"{}\"",
            segments[2], workload.slug
        )));
    }
    state.log.info(format!(
        "webhook {} removed from workload {}",
        segments[2], workload.slug
    ));
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/webhooks/deliveries` → every delivery of the workload, oldest first.
pub async fn list_deliveries(
    State(state): State<Shared>,
    Segments(segments): Segments,
    _: Admin,
) -> Result<Json<Value>, ApiError> {
    let workload = admin_workload(&state, &segments).await?;
    let deliveries = state.db(move |db| Ok(db.deliveries(&workload.id)?)).await?;
    Ok(Json(Value::Array(
        deliveries.iter().map(|d| d.to_json()).collect(),
    )))
}

//! Local-platform-only routes (wire §8): health, and the admin routes that mint projects and
//! tokens. Admin routes answer loopback peers only and take the admin secret.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Admin;
use crate::errors::ApiError;
use crate::extract::{read_json, Fields, Segments};
use crate::ops;
use crate::state::Shared;

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

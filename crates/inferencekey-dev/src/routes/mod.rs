//! The router: control plane (`/api`), data plane (`/endpoint`), local-only routes, and the
//! layers every response goes through.

pub mod control;
pub mod data;
pub mod dev;

use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::errors::ApiError;
use crate::middleware;
use crate::state::Shared;

pub fn router(state: Shared) -> Router {
    let limited = Router::new()
        .route(
            "/api/projects/{project}/workloads",
            get(control::list).post(control::create),
        )
        .route(
            "/api/workloads/{id}",
            axum::routing::patch(control::patch).delete(control::delete),
        )
        .route(
            "/api/projects/{project}/workloads/{workload_slug}/readiness-events",
            get(control::readiness),
        )
        .route(
            "/endpoint/{project}/{workload}/v1/chat/completions",
            post(data::chat_completions),
        )
        .route(
            "/endpoint/{project}/{workload}/v1/completions",
            post(data::completions),
        )
        .route(
            "/endpoint/{project}/{workload}/v1/embeddings",
            post(data::embeddings),
        )
        .route(
            "/endpoint/{project}/{workload}/v1/rerank",
            post(data::rerank),
        )
        .route(
            "/endpoint/{project}/{workload}/v1/models",
            get(data::models),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ));
    let local = Router::new()
        .route("/healthz", get(dev::healthz))
        .route("/_dev/projects", post(dev::create_project))
        .route("/_dev/projects/{project}/tokens", post(dev::mint_token))
        .route("/_dev/tokens/{token_id}/revoke", post(dev::revoke_token));
    Router::new()
        .merge(limited)
        .merge(local)
        .fallback(not_found)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn(middleware::reject_encoded_slash))
        .layer(axum::middleware::from_fn(middleware::normalize_errors))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state,
            middleware::request_context,
        ))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

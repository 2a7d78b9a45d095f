//! The router: control plane (`/api`), data plane (`/endpoint`), local-only routes, and the
//! layers every response goes through.

pub mod control;
pub mod data;
pub mod dev;
pub mod jobs;

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
        .route("/endpoint/{project}/{workload}/jobs", post(jobs::submit))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ));
    // `layer`, not `route_layer`: a wrong method on an admin route is refused to a remote
    // peer too, rather than a 405 that shows the route exists.
    let admin = Router::new()
        .route("/_dev/projects", post(dev::create_project))
        .route("/_dev/projects/{project}/tokens", post(dev::mint_token))
        .route("/_dev/tokens/{token_id}/revoke", post(dev::revoke_token))
        .route(
            "/_dev/projects/{project}/workloads/{slug}/webhooks",
            get(dev::list_webhooks).post(dev::add_webhook),
        )
        .route(
            "/_dev/projects/{project}/workloads/{slug}/webhooks/deliveries",
            get(dev::list_deliveries),
        )
        .route(
            "/_dev/projects/{project}/workloads/{slug}/webhooks/{id}",
            axum::routing::delete(dev::delete_webhook),
        )
        .layer(axum::middleware::from_fn(middleware::loopback_only));
    Router::new()
        .merge(limited)
        .route("/healthz", get(dev::healthz))
        .merge(admin)
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

#[cfg(test)]
mod tests {
    //! The router driven in process, with the peer address a test picks: the only way to show
    //! what a non-loopback peer gets without sending traffic beyond loopback.

    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::{router, Router};
    use crate::config::{DevConfig, Settings};
    use crate::state::AppState;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn app(dir: &std::path::Path, peer: SocketAddr) -> Router {
        let db = Arc::new(crate::db::Db::open(&dir.join("platform.db")).unwrap());
        let log = Arc::new(crate::log::Logger::open(&dir.join("platform.log")).unwrap());
        let settings = Settings::resolve(&DevConfig {
            admin_secret: Some(SECRET.into()),
            ..Default::default()
        })
        .unwrap();
        let runner = crate::runner::Runner::new(
            crate::runner::RunnerConfig {
                python: "python3".into(),
                scripts_dir: dir.join("standins"),
                logs_dir: dir.join("logs"),
                work_dir: dir.to_path_buf(),
                startup_deadline: Duration::from_secs(1),
                stop_grace: Duration::from_secs(1),
            },
            db.clone(),
            log.clone(),
        );
        let secrets = Arc::new(crate::webhooks::SecretBox::new(dir.join("webhook.key")));
        let deliverer =
            crate::webhooks::Deliverer::new(db.clone(), secrets, log.clone(), 1.0).unwrap();
        let state = Arc::new(AppState {
            db,
            runner,
            settings,
            log,
            deliverer,
            upstream: reqwest::Client::new(),
            limiter: None,
            shutdown: Default::default(),
        });
        router(state).layer(MockConnectInfo(peer))
    }

    /// Every admin route with a body it accepts (the revoke names a token minted by the
    /// second request, when that one succeeds), and two methods they do not take.
    fn admin_requests(token_id: &str) -> Vec<(Method, String, &'static str)> {
        vec![
            (Method::POST, "/_dev/projects".into(), r#"{"slug": "acme"}"#),
            (
                Method::POST,
                "/_dev/projects/acme/tokens".into(),
                r#"{"kind": "sdk"}"#,
            ),
            (Method::POST, format!("/_dev/tokens/{token_id}/revoke"), ""),
            (Method::GET, "/_dev/projects".into(), ""),
            (Method::PUT, "/_dev/projects/acme/tokens".into(), ""),
        ]
    }

    async fn call(app: &Router, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {SECRET}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn admin_routes_answer_404_to_every_peer_beyond_loopback() {
        let dir = tempfile::tempdir().unwrap();
        for peer in [
            "10.1.2.3:40000",
            "192.168.1.20:40000",
            "203.0.113.9:40000",
            "[2001:db8::7]:40000",
            "[::ffff:10.1.2.3]:40000",
        ] {
            let app = app(dir.path(), peer.parse().unwrap());
            for (method, path, body) in admin_requests("0badc0de") {
                let (status, body) = call(&app, method.clone(), &path, body).await;
                // The 404 of an unknown route, not one of a handler (unknown token, project).
                assert_eq!(
                    (status, &body["error"]["message"]),
                    (StatusCode::NOT_FOUND, &json!("no such route")),
                    "{method} {path} from {peer}: {body}"
                );
            }
            // The rest of the platform does not care where the peer is.
            assert_eq!(
                call(&app, Method::GET, "/healthz", "").await.0,
                StatusCode::OK
            );
        }
    }

    #[tokio::test]
    async fn admin_routes_serve_loopback_peers_of_either_family() {
        let dir = tempfile::tempdir().unwrap();
        for peer in ["127.0.0.1:40000", "[::1]:40000", "[::ffff:127.0.0.1]:40000"] {
            let app = app(dir.path(), peer.parse().unwrap());
            let requests = admin_requests("");
            let (method, path, body) = &requests[0];
            let (status, _) = call(&app, method.clone(), path, body).await;
            assert_eq!(status, StatusCode::CREATED, "from {peer}");
            let (method, path, body) = &requests[1];
            let (status, minted) = call(&app, method.clone(), path, body).await;
            assert_eq!(status, StatusCode::CREATED, "from {peer}");
            let token_id = minted["token_id"].as_str().unwrap();
            let requests = admin_requests(token_id);
            let mut got = Vec::new();
            for (method, path, body) in &requests[2..] {
                got.push(call(&app, method.clone(), path, body).await.0);
            }
            assert_eq!(
                got,
                [
                    StatusCode::NO_CONTENT,
                    StatusCode::METHOD_NOT_ALLOWED,
                    StatusCode::METHOD_NOT_ALLOWED,
                ],
                "from {peer}"
            );
        }
    }
}

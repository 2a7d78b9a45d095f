//! Cross-cutting layers: request ids, access log, error-body normalisation, panics, rate limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::{default_code, ApiError};
use crate::state::Shared;
use crate::tokens;

const REQUEST_ID: &str = "x-request-id";

/// An incoming `X-Request-Id` is echoed when it is 1–128 visible ASCII chars.
fn valid_request_id(value: &HeaderValue) -> Option<String> {
    let bytes = value.as_bytes();
    (!bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| (0x21..=0x7e).contains(b)))
        .then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Outermost layer: every response carries `X-Request-Id`; one access-log line per request.
pub async fn request_context(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(|| crate::util::new_id("req_"));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    state.log.info(format!(
        "{method} {path} -> {} ({} ms) {request_id}",
        response.status().as_u16(),
        started.elapsed().as_millis()
    ));
    response
}

/// A path segment that percent-decodes to something holding `/` matches no route (wire §1),
/// whatever the method: 404 before routing.
pub async fn reject_encoded_slash(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.contains("%2F") || path.contains("%2f") {
        return ApiError::not_found("no such route").into_response();
    }
    next.run(request).await
}

/// On every `/_dev` route: a peer beyond loopback gets the 404 of an unknown route, before
/// any other check, so the admin routes do not even show when the platform listens beyond
/// loopback (`--allow-remote`).
pub async fn loopback_only(
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    request: Request,
    next: Next,
) -> Response {
    let peer = peer.ok().map(|ConnectInfo(addr)| addr);
    if !crate::auth::is_loopback_peer(peer.as_ref()) {
        return ApiError::not_found("no such route").into_response();
    }
    next.run(request).await
}

/// Any error answer that is not already a JSON body (framework 404/405, …) gets the nested
/// body, keeping its status and headers (e.g. `Allow`).
pub async fn normalize_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => "no such route".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".to_string(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = response.into_parts();
    let rebuilt = ApiError::new(status, default_code(status), message).into_response();
    let (new_parts, body) = rebuilt.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in new_parts.headers.iter() {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// `CatchPanicLayer` answer: a server bug is a 500 with the nested body.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    ApiError::internal("the platform hit an internal error").into_response()
}

/// A token bucket per credential (its public token id) or per peer address.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: f64::from(per_minute),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's worth; `Err(seconds)` says how long until the next one fits.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let rate = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, seen)| now.duration_since(*seen).as_secs() < 120);
        }
        let (tokens, last) = buckets
            .entry(key.to_string())
            .or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// 429 `rate_limited` with `Retry-After` when the platform runs with a rate limit.
pub async fn rate_limit(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if let Some(limiter) = &state.limiter {
        let key = crate::auth::bearer(request.headers())
            .ok()
            .and_then(tokens::parse_exact)
            .map(|(_, id)| format!("token:{id}"))
            .or_else(|| {
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| format!("peer:{}", addr.ip()))
            })
            .unwrap_or_else(|| "anonymous".to_string());
        if let Err(seconds) = limiter.take(&key) {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry later",
            )
            .with_retry_after(seconds)
            .into_response();
        }
    }
    next.run(request).await
}

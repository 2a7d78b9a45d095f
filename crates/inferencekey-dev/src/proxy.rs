//! Forwarding data-plane calls to a workload process: JSON calls whole, SSE streams event by
//! event as they arrive (no buffering), with upstream failures mapped to the contract's codes.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::runner::model_display_name;
use crate::tokens::redact_text;

/// The event sent when the upstream breaks off mid-stream (wire §7.2).
const INTERRUPTED: &str =
    r#"{"error":{"code":"upstream_interrupted","message":"workload process closed the stream"}}"#;

fn upstream_failure(e: &reqwest::Error) -> ApiError {
    if e.is_timeout() {
        timeout_error()
    } else if e.is_connect() {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "the workload process refused the connection",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "the workload process broke off the exchange",
        )
    }
}

fn timeout_error() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
        "the workload process did not answer in time",
    )
}

/// Maps an upstream error status and body to the nested error.
fn map_upstream_status(status: reqwest::StatusCode, body: &[u8]) -> ApiError {
    let text = String::from_utf8_lossy(body);
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.trim().chars().take(300).collect());
    let detail = redact_text(&crate::runner::launch::one_line(&detail, 300));
    match status.as_u16() {
        400 | 422 => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the workload rejected the request: {detail}"),
        ),
        413 => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail),
        503 => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "workload_not_ready",
            format!("the workload process is busy or loading: {detail}"),
        )
        .with_retry_after(2),
        code => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("the workload process answered {code}: {detail}"),
        ),
    }
}

/// Rewrites a file-path `model` in an upstream answer to a model name.
fn fix_model(value: &mut Value) -> bool {
    if let Some(Value::String(model)) = value.get_mut("model") {
        let shown = model_display_name(model);
        if shown != *model {
            *model = shown;
            return true;
        }
    }
    false
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A whole JSON exchange with the workload process.
pub async fn forward(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, ApiError> {
    let exchange = async {
        let response = client
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, bytes))
    };
    let (status, bytes) = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => return Err(timeout_error()),
        Ok(Err(e)) => return Err(upstream_failure(&e)),
        Ok(Ok(answer)) => answer,
    };
    finish_json(status, bytes)
}

fn finish_json(status: reqwest::StatusCode, bytes: Bytes) -> Result<Response, ApiError> {
    if !status.is_success() {
        return Err(map_upstream_status(status, &bytes));
    }
    let mut value: Value = match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => value,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "the workload process answered something that is not a JSON object",
            ))
        }
    };
    if fix_model(&mut value) {
        return Ok(json_response(
            StatusCode::OK,
            Bytes::from(value.to_string()),
        ));
    }
    Ok(json_response(StatusCode::OK, bytes))
}

/// A streaming exchange: the answer's SSE events are relayed one by one. Events with empty
/// `choices` are dropped unless `include_usage`; an upstream break becomes one
/// `upstream_interrupted` event and the stream closes without `[DONE]`. Dropping the returned
/// body (client gone) drops the upstream request.
pub async fn stream(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    timeout: Duration,
    include_usage: bool,
) -> Result<Response, ApiError> {
    let send = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/event-stream")
        .body(body)
        .send();
    let response = match tokio::time::timeout(timeout, send).await {
        Err(_) => return Err(timeout_error()),
        Ok(Err(e)) => return Err(upstream_failure(&e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !status.is_success() || !is_sse {
        let bytes = match tokio::time::timeout(timeout, response.bytes()).await {
            Err(_) => return Err(timeout_error()),
            Ok(Err(e)) => return Err(upstream_failure(&e)),
            Ok(Ok(bytes)) => bytes,
        };
        return finish_json(status, bytes);
    }
    let relay = Relay {
        upstream: response.bytes_stream().boxed(),
        buffer: Vec::new(),
        include_usage,
        idle_timeout: timeout,
        finished: false,
        saw_finish_reason: false,
    };
    let events = futures_util::stream::unfold(relay, |mut relay| async move {
        let frame = relay.next_frame().await?;
        Some((Ok::<Bytes, std::io::Error>(frame), relay))
    });
    let mut response = Body::from_stream(events).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

struct Relay {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    buffer: Vec<u8>,
    include_usage: bool,
    idle_timeout: Duration,
    finished: bool,
    saw_finish_reason: bool,
}

enum Outcome {
    Forward(String),
    Skip,
    Done,
    Failed(String),
}

impl Relay {
    /// The next frame to send the client, or `None` when the stream is over.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(event) = self.take_event() {
                match self.classify(&event) {
                    Outcome::Skip => continue,
                    Outcome::Forward(data) => {
                        return Some(Bytes::from(format!("data: {data}\n\n")))
                    }
                    Outcome::Done => {
                        self.finished = true;
                        return Some(Bytes::from_static(b"data: [DONE]\n\n"));
                    }
                    Outcome::Failed(data) => {
                        self.finished = true;
                        return Some(Bytes::from(format!("data: {data}\n\n")));
                    }
                }
            }
            match tokio::time::timeout(self.idle_timeout, self.upstream.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(None) if !self.buffer.iter().all(u8::is_ascii_whitespace) => {
                    // A last event without its blank line: complete it.
                    self.buffer.extend_from_slice(b"\n\n");
                }
                Ok(None) if self.saw_finish_reason => {
                    // The answer was complete; only the terminator was missing.
                    self.finished = true;
                    return Some(Bytes::from_static(b"data: [DONE]\n\n"));
                }
                _ => {
                    self.finished = true;
                    return Some(Bytes::from(format!("data: {INTERRUPTED}\n\n")));
                }
            }
        }
    }

    /// Removes one complete event from the buffer; returns its joined `data:` lines.
    fn take_event(&mut self) -> Option<String> {
        loop {
            let text = &self.buffer;
            let mut line_start = 0;
            let mut data: Vec<String> = Vec::new();
            let mut end = None;
            while let Some(pos) = text[line_start..].iter().position(|b| *b == b'\n') {
                let line_end = line_start + pos;
                let mut line = &text[line_start..line_end];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                line_start = line_end + 1;
                if line.is_empty() {
                    end = Some(line_start);
                    break;
                }
                if let Some(value) = line.strip_prefix(b"data:") {
                    let value = value.strip_prefix(b" ").unwrap_or(value);
                    data.push(String::from_utf8_lossy(value).into_owned());
                }
            }
            let end = end?;
            self.buffer.drain(..end);
            if !data.is_empty() {
                return Some(data.join("\n"));
            }
        }
    }

    fn classify(&mut self, data: &str) -> Outcome {
        if data.trim() == "[DONE]" {
            return Outcome::Done;
        }
        let Ok(mut value) = serde_json::from_str::<Value>(data) else {
            return Outcome::Skip;
        };
        if let Some(error) = value.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .unwrap_or("the workload process reported an error mid-stream");
            let event =
                json!({"error": {"code": "upstream_error", "message": redact_text(message)}});
            return Outcome::Failed(event.to_string());
        }
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            if choices.is_empty() && !self.include_usage {
                return Outcome::Skip;
            }
            if choices
                .iter()
                .any(|c| c.get("finish_reason").is_some_and(|r| !r.is_null()))
            {
                self.saw_finish_reason = true;
            }
        }
        if fix_model(&mut value) {
            Outcome::Forward(value.to_string())
        } else {
            Outcome::Forward(data.to_string())
        }
    }
}

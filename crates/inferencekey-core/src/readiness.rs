//! Readiness: the SSE stream of a workload's phases (wire §6.5), with reconnects bounded by a
//! hard deadline, and `wait_until_ready` on top of it (sdk §4.4).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::codes;
use crate::error::{Error, ErrorKind, Result};
use crate::log::Level;
use crate::token::{scrub_secrets, Token};
use crate::transport::{Call, EventReader, Transport};

/// Four missed keepalives (wire §6.5).
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// One readiness frame. Every text field is redacted when the frame is decoded: a workload's
/// error message or log lines may quote a token, and the event travels on into errors
/// (`last_event`, `log_tail`), logs, progress lines and every binding's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReadinessEvent {
    pub phase: String,
    pub message: String,
    #[serde(default)]
    pub elapsed_ms: u64,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub log_tail: Option<String>,
}

impl ReadinessEvent {
    /// `ready` and `error` end a rollout.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase.as_str(), "ready" | "error")
    }

    /// Decodes a frame leniently, its text redacted; `None` for frames that must be skipped.
    fn decode(data: &str) -> Option<ReadinessEvent> {
        let Value::Object(obj) = serde_json::from_str::<Value>(data).ok()? else {
            return None;
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(scrub_secrets);
        Some(ReadinessEvent {
            phase: text("phase")?,
            message: text("message").unwrap_or_default(),
            elapsed_ms: obj
                .get("elapsed_ms")
                .and_then(Value::as_f64)
                .map_or(0, |v| v.max(0.0) as u64),
            step: text("step"),
            log_tail: text("log_tail"),
        })
    }
}

/// An open readiness stream. Yields every event including the terminal one, then ends.
pub struct ReadinessStream {
    transport: Transport,
    token: Arc<Token>,
    url: reqwest::Url,
    path: String,
    slug: String,
    deadline: Instant,
    reader: Option<EventReader>,
    reconnects: u32,
    finished: bool,
    last: Option<ReadinessEvent>,
    /// The request id of the current (or last) connection.
    request_id: Option<String>,
}

impl ReadinessStream {
    /// Connects eagerly so that auth and not-found errors raise here.
    pub(crate) async fn open(
        transport: Transport,
        token: Arc<Token>,
        url: reqwest::Url,
        path: String,
        slug: String,
        timeout: Duration,
    ) -> Result<ReadinessStream> {
        let mut stream = ReadinessStream {
            transport,
            token,
            url,
            path,
            slug,
            deadline: Instant::now() + timeout,
            reader: None,
            reconnects: 0,
            finished: false,
            last: None,
            request_id: None,
        };
        match tokio::time::timeout_at(stream.deadline, stream.connect_until_open()).await {
            Ok(result) => result.map(|()| stream),
            Err(_) => Err(stream.expired()),
        }
    }

    /// The request id of the current connection, when the server sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The last event seen, if any.
    pub fn last_event(&self) -> Option<&ReadinessEvent> {
        self.last.as_ref()
    }

    /// The next event, or `None` after the terminal one.
    pub async fn next(&mut self) -> Result<Option<ReadinessEvent>> {
        if self.finished {
            return Ok(None);
        }
        match tokio::time::timeout_at(self.deadline, self.next_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(self.expired()),
        }
    }

    /// Closes the connection; later `next` calls return `None`.
    pub fn close(&mut self) {
        self.reader = None;
        self.finished = true;
    }

    /// Expiry of the hard deadline is `ReadinessTimeoutError`, with the last event seen.
    fn expired(&self) -> Error {
        readiness_timeout(&self.slug, self.last.as_ref())
    }

    async fn next_unbounded(&mut self) -> Result<Option<ReadinessEvent>> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            match reader.next_data().await {
                Ok(Some(data)) if data.trim() == "[DONE]" => {
                    self.close();
                    return Ok(None);
                }
                Ok(Some(data)) => {
                    let Some(event) = ReadinessEvent::decode(&data) else {
                        continue;
                    };
                    if self
                        .last
                        .as_ref()
                        .is_none_or(|l| l.phase != event.phase || l.step != event.step)
                    {
                        crate::log!(Level::Info, "inferencekey.readiness",
                            "{}: {} ({})", self.slug, event.phase, event.message;
                            "workload_slug" => self.slug, "phase" => event.phase, "elapsed_ms" => event.elapsed_ms);
                    }
                    self.reconnects = 0;
                    self.last = Some(event.clone());
                    if event.is_terminal() {
                        self.close();
                    }
                    return Ok(Some(event));
                }
                // EOF before a terminal frame, a broken body or a silent server: reconnect.
                Ok(None) | Err(_) => self.reader = None,
            }
        }
    }

    async fn reconnect(&mut self) -> Result<()> {
        let delay = match self.reconnects {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 5,
        };
        self.reconnects += 1;
        crate::log!(Level::Info, "inferencekey.readiness",
            "{}: stream ended before a terminal phase; reconnecting in {}s", self.slug, delay;
            "workload_slug" => self.slug, "delay_s" => delay);
        tokio::time::sleep(Duration::from_secs(delay)).await;
        self.connect_until_open().await
    }

    /// Connects, retrying transient failures (connection errors, 502/503/504) until open.
    async fn connect_until_open(&mut self) -> Result<()> {
        loop {
            match self.connect_once().await {
                Ok((reader, request_id)) => {
                    self.reader = Some(reader);
                    self.request_id = request_id;
                    return Ok(());
                }
                Err(err) if is_transient(&err) => {
                    let delay = [1, 2, 4, 5][self.reconnects.min(3) as usize];
                    self.reconnects += 1;
                    tokio::time::sleep(Duration::from_secs(delay)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn connect_once(&self) -> Result<(EventReader, Option<String>)> {
        let remaining = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let mut limits = self.transport.limits;
        limits.max_retries = 0;
        limits.request_timeout = limits.request_timeout.min(remaining);
        let call = Call {
            method: Method::GET,
            url: self.url.clone(),
            path: &self.path,
            token: &self.token,
            body: None,
            sse: true,
            limits,
        };
        let (resp, request_id) = self.transport.open_stream(&call).await?;
        Ok((
            EventReader::new(resp, IDLE_LIMIT, limits.max_event_bytes),
            request_id,
        ))
    }
}

fn is_transient(err: &Error) -> bool {
    matches!(err.kind, ErrorKind::Connection | ErrorKind::Timeout)
        || matches!(err.http_status, Some(502..=504))
}

fn readiness_timeout(slug: &str, last: Option<&ReadinessEvent>) -> Error {
    let mut err = Error::new(
        ErrorKind::ReadinessTimeout,
        codes::READINESS_TIMEOUT,
        format!(
            "workload \"{slug}\" was not ready before the deadline (last phase: {})",
            last.map_or("none", |e| e.phase.as_str())
        ),
    );
    if let Some(event) = last {
        err = err.with_detail(
            "last_event",
            serde_json::to_value(event).unwrap_or(Value::Null),
        );
    }
    err
}

/// The error for a terminal `error` event (`ReadinessError`).
pub fn workload_failed(slug: &str, event: &ReadinessEvent) -> Error {
    let mut err = Error::new(
        ErrorKind::WorkloadFailed,
        codes::WORKLOAD_FAILED,
        format!("workload \"{slug}\" failed: {}", event.message),
    )
    .with_detail(
        "last_event",
        serde_json::to_value(event).unwrap_or(Value::Null),
    );
    if let Some(tail) = &event.log_tail {
        err = err.with_detail("log_tail", Value::String(tail.clone()));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decode_leniently() {
        let e =
            ReadinessEvent::decode(r#"{"phase":"ready","message":"ok","elapsed_ms":612,"x":1}"#)
                .unwrap();
        assert!(e.is_terminal());
        assert_eq!(e.elapsed_ms, 612);
        let e = ReadinessEvent::decode(r#"{"phase":"bootstrapping"}"#).unwrap();
        assert_eq!(
            (e.message.as_str(), e.elapsed_ms, e.is_terminal()),
            ("", 0, false)
        );
        assert!(ReadinessEvent::decode("not json").is_none());
        assert!(ReadinessEvent::decode(r#"{"message":"no phase"}"#).is_none());
    }

    #[test]
    fn frames_are_redacted() {
        let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let sdk = format!("ik_sdk_1a2b3c4d_{secret}");
        let live = format!("ik_live_9f8e7d6c_{secret}");
        let frame = serde_json::json!({
            "phase": "error",
            "message": format!("bad key {live}"),
            "step": format!("step {sdk}"),
            "log_tail": format!("using {sdk}\nINFERENCEKEY_API_KEY={live}\n"),
        });
        let e = ReadinessEvent::decode(&frame.to_string()).unwrap();
        assert!(!format!("{e:?}").contains(secret), "{e:?}");
        assert_eq!(e.message, "bad key ik_live_9f8e7d6c…");
        assert_eq!(
            e.log_tail.as_deref(),
            Some("using ik_sdk_1a2b3c4d…\nINFERENCEKEY_API_KEY=ik_live_9f8e7d6c…\n")
        );
        let err = workload_failed("bot", &e);
        let shown = format!("{err} {:?}", err.details);
        assert!(!shown.contains(secret), "{shown}");
    }

    #[test]
    fn failure_carries_tail_and_event() {
        let ev = ReadinessEvent {
            phase: "error".into(),
            message: "process exited with status 1".into(),
            elapsed_ms: 5,
            step: None,
            log_tail: Some("boom\n".into()),
        };
        let err = workload_failed("bot", &ev);
        assert_eq!(err.kind, ErrorKind::WorkloadFailed);
        assert_eq!(err.details["log_tail"], "boom\n");
        assert_eq!(err.details["last_event"]["phase"], "error");
    }
}

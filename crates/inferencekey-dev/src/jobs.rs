//! Jobs (WEBHOOKS.md): a submitted request runs in the background through the same proxy path
//! as the sync data routes; its outcome becomes one `job.completed` or `job.failed` event,
//! recorded as a delivery to each of the workload's destinations.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{json, Map, Value};

pub use inferencekey_core::jobs::JobKind;

use crate::errors::ApiError;
use crate::model::{Delivery, Workload};
use crate::routes::data::{dispatch, Route};
use crate::state::Shared;
use crate::util::{new_id, now_rfc3339, unix_now};
use crate::webhooks::{now_ms, MAX_BODY};

/// The data route that runs a kind locally; `None`: no CPU stand-in serves it.
fn route(kind: JobKind) -> Option<Route> {
    match kind {
        JobKind::Chat => Some(Route::ChatCompletions),
        JobKind::Embeddings => Some(Route::Embeddings),
        JobKind::Rerank => Some(Route::Rerank),
        _ => None,
    }
}

/// A checked submit body.
#[derive(Debug)]
pub struct Submit {
    pub kind: JobKind,
    pub route: Route,
    pub body: Map<String, Value>,
    pub context: Option<Value>,
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(field, message)
}

/// Checks a submit body (every 400 and the 501 of the contract), in this order: fields,
/// kind, body/body_b64, base64, content type, what the kind accepts, whether it runs here.
pub fn parse_submit(request: &Map<String, Value>) -> Result<Submit, ApiError> {
    if let Some(unknown) = request
        .keys()
        .find(|k| !["kind", "body", "body_b64", "content_type", "context"].contains(&k.as_str()))
    {
        return Err(bad(
            unknown,
            format!(
                "unknown field {unknown}; a job takes kind, body or body_b64 + content_type, \
                 and context"
            ),
        ));
    }
    let kind = match request.get("kind") {
        Some(Value::String(name)) => JobKind::parse(name).ok_or_else(|| {
            bad(
                "kind",
                format!(
                    "unknown job kind \"{name}\"; accepted kinds: {}",
                    JobKind::accepted()
                ),
            )
        })?,
        Some(other) => {
            return Err(crate::extract::wrong_type("kind", "a string", other));
        }
        None => {
            return Err(bad(
                "kind",
                format!("kind is required; accepted kinds: {}", JobKind::accepted()),
            ))
        }
    };
    let present = |field: &str| request.get(field).is_some_and(|v| !v.is_null());
    let body = match (present("body"), present("body_b64")) {
        (true, true) => {
            return Err(bad(
                "body",
                "send either body (JSON) or body_b64 + content_type, not both",
            ))
        }
        (false, false) => {
            return Err(bad(
                "body",
                "body (JSON) or body_b64 + content_type is required",
            ))
        }
        (true, false) => {
            if present("content_type") {
                return Err(bad("content_type", "content_type goes with body_b64 only"));
            }
            match &request["body"] {
                Value::Object(body) => body.clone(),
                other => return Err(crate::extract::wrong_type("body", "an object", other)),
            }
        }
        (false, true) => {
            let encoded = match &request["body_b64"] {
                Value::String(s) => s,
                other => return Err(crate::extract::wrong_type("body_b64", "a string", other)),
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| bad("body_b64", format!("body_b64 is not valid base64: {e}")))?;
            let content_type = match request.get("content_type") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
                Some(other) if !other.is_null() => {
                    return Err(crate::extract::wrong_type(
                        "content_type",
                        "a non-empty string",
                        other,
                    ))
                }
                _ => return Err(bad("content_type", "body_b64 needs a content_type")),
            };
            if kind == JobKind::Chat {
                return Err(bad(
                    "body_b64",
                    "body_b64 is not accepted for kind chat: send the request as JSON in body",
                ));
            }
            if route(kind).is_none() {
                return Err(not_served(kind));
            }
            // Embeddings and rerank take JSON; bytes are accepted when they are JSON.
            let essence = content_type.split(';').next().unwrap_or("").trim();
            if essence != "application/json" {
                return Err(bad(
                    "content_type",
                    format!(
                        "kind {} takes application/json, not {essence}",
                        kind.as_str()
                    ),
                ));
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(body)) => body,
                _ => return Err(bad("body_b64", "body_b64 does not decode to a JSON object")),
            }
        }
    };
    let route = route(kind).ok_or_else(|| not_served(kind))?;
    let context = request.get("context").filter(|v| !v.is_null()).cloned();
    Ok(Submit {
        kind,
        route,
        body,
        context,
    })
}

fn not_served(kind: JobKind) -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "kind_not_supported",
        format!(
            "job kind {} is not served by the local platform (its CPU stand-ins run chat, \
             embeddings and rerank)",
            kind.as_str()
        ),
    )
}

/// Runs a submitted job to its end, then records its deliveries.
pub async fn run(state: Shared, workload: Workload, submit: Submit, job_id: String) {
    let Submit {
        kind,
        route,
        mut body,
        context,
    } = submit;
    // A job never streams: the event carries the whole answer.
    body.remove("stream");
    body.remove("stream_options");
    let outcome = execute(&state, &workload, route, body).await;
    let status = if outcome.is_ok() {
        "completed"
    } else {
        "failed"
    };
    state.log.info(format!(
        "job {job_id} ({}) on workload {}: {status}",
        kind.as_str(),
        workload.slug
    ));
    let event = event_body(&job_id, context, outcome);
    if let Err(e) = record_deliveries(&state, &workload, &job_id, &event).await {
        state.log.warn(format!(
            "job {job_id}: recording its deliveries failed: {e}"
        ));
    }
}

/// Jobs an earlier run accepted and never finished (it crashed or was stopped) end as
/// `job.failed` with code `job_interrupted`: an acknowledged job is never silently lost.
pub async fn recover(state: &Shared) -> Result<(), ApiError> {
    let unfinished = state.db(|db| Ok(db.unfinished_jobs()?)).await?;
    for (job_id, workload_id, kind, context) in unfinished {
        let id = workload_id.clone();
        let workload = state.db(move |db| Ok(db.workload(&id)?)).await?;
        let context = context.and_then(|c| serde_json::from_str(&c).ok());
        let error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "job_interrupted",
            "the local platform stopped before the job finished; submit it again",
        );
        state.log.warn(format!(
            "job {job_id} ({kind}) was interrupted by a platform restart"
        ));
        match workload {
            Some(workload) => {
                let event = event_body(&job_id, context, Err(error));
                record_deliveries(state, &workload, &job_id, &event).await?;
            }
            None => {
                // Its workload is gone, and its destinations with it.
                state.db(move |db| Ok(db.finish_job(&job_id, &[])?)).await?;
            }
        }
    }
    Ok(())
}

/// The sync route's answer as JSON. A workload still starting is waited for (as long as a
/// start may take), not failed at once.
async fn execute(
    state: &Shared,
    workload: &Workload,
    route: Route,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let started = Instant::now();
    let patience = state.settings.startup_deadline + Duration::from_secs(10);
    loop {
        let response = match dispatch(state, workload, route, body.clone()).await {
            Err(e) if e.code == "workload_not_ready" && started.elapsed() < patience => {
                tokio::select! {
                    _ = state.shutdown.cancelled() => return Err(e),
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
            other => other?,
        };
        let bytes = axum::body::to_bytes(response.into_body(), 256 << 20)
            .await
            .map_err(|e| ApiError::internal(format!("reading the answer: {e}")))?;
        return serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(format!("the answer is not JSON: {e}")));
    }
}

/// `{"event","ts","job_id","context"?,"data":{…}}`, serialized: the exact bytes delivered.
fn event_body(job_id: &str, context: Option<Value>, outcome: Result<Value, ApiError>) -> String {
    let (event, data) = match outcome {
        Ok(output) => {
            let mut data = json!({"job_id": job_id, "status": "completed"});
            if let Some(usage) = output.get("usage").filter(|u| !u.is_null()) {
                data["usage"] = usage.clone();
            }
            data["output"] = output;
            ("job.completed", data)
        }
        Err(e) => {
            let kind = if e.status.is_client_error() {
                "invalid_request_error"
            } else {
                "server_error"
            };
            let data = json!({
                "job_id": job_id, "status": "failed",
                "error": {"message": e.message, "type": kind, "code": e.code},
            });
            ("job.failed", data)
        }
    };
    let mut body = json!({"event": event, "ts": unix_now(), "job_id": job_id, "data": data});
    if let Some(context) = context {
        body["context"] = context;
    }
    body.to_string()
}

/// One delivery per destination of the workload, recorded with the job's end in one
/// transaction. A body over the size cap is recorded as a failed delivery with the reason,
/// never sent.
async fn record_deliveries(
    state: &Shared,
    workload: &Workload,
    job_id: &str,
    body: &str,
) -> Result<(), ApiError> {
    let workload_id = workload.id.clone();
    let hooks = state.db(move |db| Ok(db.webhooks(&workload_id)?)).await?;
    if hooks.is_empty() {
        state.log.info(format!(
            "job {job_id}: workload {} has no webhook destination; the result is dropped",
            workload.slug
        ));
    }
    let event = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_string))
        .unwrap_or_default();
    let oversized = body.len() > MAX_BODY;
    let now = now_rfc3339();
    let deliveries: Vec<Delivery> = hooks
        .into_iter()
        .map(|(hook, _)| Delivery {
            id: new_id("dlv_"),
            job_id: job_id.to_string(),
            workload_id: workload.id.clone(),
            webhook_id: hook.id,
            url: hook.url,
            event: event.clone(),
            body: if oversized {
                String::new()
            } else {
                body.to_string()
            },
            attempts: 0,
            status: if oversized { "failed" } else { "pending" }.into(),
            next_attempt_ms: (!oversized).then(now_ms),
            last_status: None,
            last_error: oversized.then(|| {
                format!(
                    "the event is {} bytes, over the {} byte limit: not delivered",
                    body.len(),
                    MAX_BODY
                )
            }),
            updated_at: now.clone(),
        })
        .collect();
    let job_id = job_id.to_string();
    state
        .db(move |db| Ok(db.finish_job(&job_id, &deliveries)?))
        .await?;
    state.deliverer.wake();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(v: Value) -> Result<Submit, ApiError> {
        parse_submit(v.as_object().unwrap())
    }

    #[test]
    fn submit_rules() {
        let ok = submit(
            json!({"kind": "chat_completions", "body": {"messages": []}, "context": {"a": 1}}),
        )
        .unwrap();
        assert_eq!(ok.route, Route::ChatCompletions);
        assert_eq!(ok.context, Some(json!({"a": 1})));
        let b64 = base64::engine::general_purpose::STANDARD.encode(br#"{"input": "x"}"#);
        let ok = submit(
            json!({"kind": "embeddings", "body_b64": b64, "content_type": "application/json"}),
        )
        .unwrap();
        assert_eq!(ok.body["input"], "x");

        let code = |v: Value| {
            let e = submit(v).unwrap_err();
            (e.status.as_u16(), e.field.unwrap_or_default(), e.message)
        };
        let (status, field, message) = code(json!({"kind": "telepathy", "body": {}}));
        assert_eq!((status, field.as_str()), (400, "kind"));
        assert!(
            message.contains("telepathy") && message.contains("rerank (reranking)"),
            "{message}"
        );
        assert_eq!(code(json!({"body": {}})).0, 400);
        assert_eq!(code(json!({"kind": 3, "body": {}})).0, 400);
        assert_eq!(code(json!({"kind": "chat"})).0, 400);
        assert_eq!(
            code(json!({"kind": "chat", "body": null, "body_b64": null})).0,
            400
        );
        assert_eq!(
            code(json!({"kind": "embeddings", "body": {}, "body_b64": b64, "content_type": "application/json"})).0,
            400
        );
        assert_eq!(
            code(
                json!({"kind": "embeddings", "body_b64": "%%%", "content_type": "application/json"})
            )
            .1,
            "body_b64"
        );
        assert_eq!(
            code(json!({"kind": "embeddings", "body_b64": b64})).1,
            "content_type"
        );
        assert_eq!(
            code(json!({"kind": "chat", "body_b64": b64, "content_type": "application/json"})).1,
            "body_b64"
        );
        assert_eq!(
            code(json!({"kind": "embeddings", "body_b64": b64, "content_type": "text/plain"})).1,
            "content_type"
        );
        assert_eq!(code(json!({"kind": "chat", "body": [1]})).1, "body");
        assert_eq!(
            code(json!({"kind": "chat", "body": {}, "priority": 1})).1,
            "priority"
        );
        for kind in [
            "audio_speech",
            "audio_generate",
            "images",
            "images_edits",
            "images_variations",
            "forecast",
        ] {
            let (status, _, message) = code(json!({"kind": kind, "body": {}}));
            assert_eq!(status, 501, "{kind}");
            assert!(message.contains(kind), "{message}");
        }
        let (status, _, message) = code(
            json!({"kind": "audio_transcriptions", "body_b64": "AAAA", "content_type": "multipart/form-data; boundary=x"}),
        );
        assert_eq!(status, 501);
        assert!(message.contains("audio_transcriptions"));
        // Bad base64 is a 400 even for a kind that is not served here.
        assert_eq!(code(json!({"kind": "audio_transcriptions", "body_b64": "!!", "content_type": "audio/wav"})).0, 400);
    }

    #[test]
    fn events_carry_output_usage_or_error() {
        let body = event_body(
            "j1",
            Some(json!({"order": 7})),
            Ok(json!({"object": "list", "usage": {"total_tokens": 3}})),
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["event"], "job.completed");
        assert_eq!(v["context"], json!({"order": 7}));
        assert_eq!(v["data"]["usage"], json!({"total_tokens": 3}));
        assert_eq!(v["data"]["output"]["object"], "list");
        let failed = event_body(
            "j2",
            None,
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "boom",
            )),
        );
        let v: Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(v["event"], "job.failed");
        assert!(v.get("context").is_none());
        assert_eq!(
            v["data"]["error"],
            json!({"message": "boom", "type": "server_error", "code": "upstream_error"})
        );
        assert!(v["data"].get("output").is_none());
    }
}

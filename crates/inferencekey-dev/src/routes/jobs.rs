//! `POST /endpoint/{project}/{workload}/jobs` (WEBHOOKS.md): checks the job at once, answers
//! 202 with its id, and runs it in the background.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::auth::DataCaller;
use crate::errors::ApiError;
use crate::extract::{read_json, Segments};
use crate::jobs;
use crate::routes::data::{check_serves, resolve};
use crate::state::Shared;
use crate::util::now_rfc3339;

pub async fn submit(
    State(state): State<Shared>,
    Segments(segments): Segments,
    DataCaller(caller): DataCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let workload = resolve(&state, &segments, &caller).await?;
    let request = read_json(&headers, body).await?;
    let submit = jobs::parse_submit(&request)?;
    check_serves(submit.route, &workload)?;
    submit.route.validate(&submit.body)?;
    let job_id = uuid::Uuid::new_v4().to_string();
    // Recorded before the 202: a crash from here on ends the job as job.failed at restart.
    let (id, workload_id, kind) = (job_id.clone(), workload.id.clone(), submit.kind.as_str());
    let context = submit.context.as_ref().map(|c| c.to_string());
    state
        .db(move |db| {
            Ok(db.insert_job(&id, &workload_id, kind, context.as_deref(), &now_rfc3339())?)
        })
        .await?;
    tokio::spawn(jobs::run(state.clone(), workload, submit, job_id.clone()));
    Ok((StatusCode::ACCEPTED, Json(json!({"job_id": job_id}))).into_response())
}

//! The control-plane client (`ik_sdk_` token): list, get, ensure/plan, delete, readiness.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::codes;
use crate::config::{pick_project, CallOptions, ClientConfig, LimitsDescription, Plane};
use crate::error::{Error, ErrorKind, Result};
use crate::readiness::{workload_failed, ReadinessEvent, ReadinessStream};
use crate::reconcile::{Ensure, EnsureResult, HttpResponse, OnDrift, Step};
use crate::spec::{path_segment, validate_slug, WorkloadSpec};
use crate::token::{Token, TokenKind};
use crate::transport::{join_url, Call, Reply, Transport};
use crate::workload::{decode_list, find_in_list, Workload};

/// What a management client's `repr` may show: the token only redacted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ManagementDescription<'a> {
    pub base_url: &'a str,
    pub project: Option<&'a str>,
    pub token: String,
    /// Timeouts, retries and caps in effect.
    #[serde(flatten)]
    pub limits: LimitsDescription,
}

/// A control-plane client scoped to one project. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct ManagementClient {
    transport: Transport,
    token: Arc<Token>,
    base_url: String,
    project: Option<String>,
}

impl ManagementClient {
    /// Resolves the configuration and checks the token before any request.
    pub fn new(config: &ClientConfig) -> Result<ManagementClient> {
        if config.api_key.is_some() {
            return Err(Error::invalid_json(
                "unknown key \"api_key\" for a management client",
            ));
        }
        let resolved = config.resolve()?;
        let raw = config.token(Plane::Management).ok_or_else(|| {
            Error::config(
                codes::MISSING_TOKEN,
                "No ik_sdk_ token configured. Pass sdk_token= or set INFERENCEKEY_SDK_TOKEN.",
            )
        })?;
        let token = Token::parse(&raw, TokenKind::Sdk)?;
        Ok(ManagementClient {
            transport: Transport::new(&resolved)?,
            token: Arc::new(token),
            base_url: resolved.base_url,
            project: resolved.project,
        })
    }

    /// A copy with other timeouts or retries, sharing credentials and pool.
    pub fn with_options(&self, options: &CallOptions) -> Result<ManagementClient> {
        Ok(ManagementClient {
            transport: self.transport.with_options(options)?,
            ..self.clone()
        })
    }

    /// What a `repr` may show: base URL, project and the redacted token.
    pub fn describe(&self) -> ManagementDescription<'_> {
        ManagementDescription {
            base_url: &self.base_url,
            project: self.project.as_deref(),
            token: self.token.redacted(),
            limits: self.transport.limits.describe(),
        }
    }

    /// Every workload of the project (lenient decoding, wire §6.1).
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<Workload>> {
        let project = self.project(project, None)?;
        let reply = self
            .send(Method::GET, &list_path(&project), None)
            .await?
            .ok()?;
        decode_list(&reply.json()?).map_err(|e| e.with_request_id(reply.request_id))
    }

    /// The workload with exactly this slug; absent → `NotFoundError`.
    pub async fn get(&self, workload_slug: &str, project: Option<&str>) -> Result<Workload> {
        validate_slug(workload_slug, "workload_slug")?;
        let project = self.project(project, None)?;
        let (found, request_id) = self.find(&project, workload_slug).await?;
        found.ok_or_else(|| not_found(&project, workload_slug).with_request_id(request_id))
    }

    /// Reconciles `spec` with what exists (sdk §4.1), driving the sans-I/O [`Ensure`] machine.
    pub async fn ensure(
        &self,
        spec: WorkloadSpec,
        on_drift: OnDrift,
        project: Option<&str>,
    ) -> Result<EnsureResult> {
        spec.validate()?;
        let project = self.project(project, spec.project.as_deref())?;
        let mut machine = Ensure::new(spec, on_drift, project);
        let mut step = machine.start();
        loop {
            match step {
                Step::Done(result) => return result,
                Step::Send(request) => {
                    let method = Method::from_bytes(request.method.as_bytes()).map_err(|_| {
                        Error::invalid_state(codes::INTERNAL, "bad method from reconcile")
                    })?;
                    let reply = self
                        .send(method, &request.path, request.body.as_ref())
                        .await?;
                    let error = (!(200..300).contains(&reply.status)).then(|| reply.error());
                    step = machine.on_response(HttpResponse {
                        status: reply.status,
                        body: reply.body,
                        request_id: reply.request_id,
                        error,
                    });
                }
            }
        }
    }

    /// `ensure` with `DRY_RUN`: never writes.
    pub async fn plan(&self, spec: WorkloadSpec, project: Option<&str>) -> Result<EnsureResult> {
        self.ensure(spec, OnDrift::DryRun, project).await
    }

    /// Deletes by slug: `true` when removed, `false` when absent or lost a race (wire §6.4).
    pub async fn delete(&self, workload_slug: &str, project: Option<&str>) -> Result<bool> {
        validate_slug(workload_slug, "workload_slug")?;
        let project = self.project(project, None)?;
        let (Some(workload), _) = self.find(&project, workload_slug).await? else {
            return Ok(false);
        };
        let path = format!("/api/workloads/{}", path_segment(workload.path_id()));
        let reply = self.send(Method::DELETE, &path, None).await?;
        match reply.status {
            404 => Ok(false),
            _ => reply.ok().map(|_| true),
        }
    }

    /// Opens the readiness stream eagerly; `timeout` bounds it all, reconnects included.
    pub async fn readiness_events(
        &self,
        workload_slug: &str,
        project: Option<&str>,
        timeout: Duration,
    ) -> Result<ReadinessStream> {
        validate_slug(workload_slug, "workload_slug")?;
        let project = self.project(project, None)?;
        let path = format!(
            "/api/projects/{}/workloads/{}/readiness-events",
            path_segment(&project),
            path_segment(workload_slug)
        );
        ReadinessStream::open(
            self.transport.clone(),
            self.token.clone(),
            join_url(&self.base_url, &path)?,
            path,
            workload_slug.to_owned(),
            timeout,
        )
        .await
    }

    /// Waits for `ready`; `error` raises `ReadinessError`, the deadline `ReadinessTimeoutError`.
    /// `on_event` sees every event and may abort the wait by returning an error.
    pub async fn wait_until_ready(
        &self,
        workload_slug: &str,
        project: Option<&str>,
        timeout: Duration,
        mut on_event: impl FnMut(&ReadinessEvent) -> Result<()>,
    ) -> Result<ReadinessEvent> {
        let mut stream = self
            .readiness_events(workload_slug, project, timeout)
            .await?;
        while let Some(event) = stream.next().await? {
            on_event(&event)?;
            match event.phase.as_str() {
                "ready" => return Ok(event),
                "error" => return Err(workload_failed(workload_slug, &event)),
                _ => {}
            }
        }
        Err(Error::new(
            ErrorKind::Api,
            codes::STREAM_ENDED,
            format!("the readiness stream of \"{workload_slug}\" ended without a terminal phase"),
        ))
    }

    fn project(&self, explicit: Option<&str>, spec: Option<&str>) -> Result<String> {
        pick_project(&[explicit, spec, self.project.as_deref()])
    }

    /// The workload with this slug, if listed, and the list's request id.
    async fn find(&self, project: &str, slug: &str) -> Result<(Option<Workload>, Option<String>)> {
        let reply = self
            .send(Method::GET, &list_path(project), None)
            .await?
            .ok()?;
        let found = match find_in_list(&reply.body, slug) {
            Some(found) => found,
            None => decode_list(&reply.json()?)
                .map_err(|e| e.with_request_id(reply.request_id.clone()))?
                .into_iter()
                .find(|w| w.slug == slug),
        };
        Ok((found, reply.request_id))
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply> {
        let call = Call {
            method,
            url: join_url(&self.base_url, path)?,
            path,
            token: &self.token,
            body: body.map(|b| Bytes::from(b.to_string())),
            sse: false,
            limits: self.transport.limits,
        };
        self.transport.send(&call).await
    }
}

fn list_path(project: &str) -> String {
    format!("/api/projects/{}/workloads", path_segment(project))
}

/// A workload missing from its project's list. The wire has no route for one workload, so
/// the list answered (200); the error carries 404, the status of what was asked for, as a
/// route for it would, and the list's request id.
fn not_found(project: &str, slug: &str) -> Error {
    let mut err = Error::new(
        ErrorKind::NotFound,
        codes::NOT_FOUND,
        format!("workload \"{slug}\" does not exist in project \"{project}\""),
    );
    err.http_status = Some(404);
    err
}

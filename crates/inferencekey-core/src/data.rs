//! The data-plane client (`ik_live_` keys): per-workload endpoints for chat completions
//! (plain and streamed), embeddings and rerank (wire §7, sdk §5).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::body::{Body, Field};
use crate::codes;
use crate::config::{CallOptions, ClientConfig, LimitsDescription, Plane};
use crate::embeddings;
use crate::error::{self, Error, ErrorKind, Result};
use crate::jobs::{self, JobRef, JobRequest};
use crate::schema;
use crate::spec::{path_segment, validate_slug};
use crate::token::{Token, TokenKind};
use crate::transport::{join_url, Call, EventReader, Reply, Transport};

/// A data-plane client for one project; hands out cheap [`Endpoint`]s sharing its pool.
#[derive(Clone)]
pub struct DataClient {
    transport: Transport,
    base_url: String,
    project: String,
    /// The raw default key; checked (and wrapped) only in `endpoint()`, as the spec says.
    default_key: Option<Arc<zeroize::Zeroizing<String>>>,
}

impl DataClient {
    pub fn new(config: &ClientConfig) -> Result<DataClient> {
        if config.sdk_token.is_some() {
            return Err(Error::invalid_json(
                "unknown key \"sdk_token\" for a data client",
            ));
        }
        let resolved = config.resolve()?;
        let project = resolved.project.clone().ok_or_else(|| {
            Error::config(
                codes::MISSING_PROJECT,
                "No project configured. Set INFERENCEKEY_PROJECT or pass project=.",
            )
        })?;
        Ok(DataClient {
            transport: Transport::new(&resolved)?,
            base_url: resolved.base_url,
            project,
            default_key: config
                .token(Plane::Data)
                .map(|k| Arc::new(zeroize::Zeroizing::new(k))),
        })
    }

    pub fn with_options(&self, options: &CallOptions) -> Result<DataClient> {
        Ok(DataClient {
            transport: self.transport.with_options(options)?,
            ..self.clone()
        })
    }

    pub fn describe(&self) -> DataClientDescription<'_> {
        DataClientDescription {
            base_url: &self.base_url,
            project: &self.project,
            limits: self.transport.limits.describe(),
        }
    }

    /// An endpoint for one workload. No network; the slug and key are checked here.
    pub fn endpoint(&self, workload_slug: &str, api_key: Option<&str>) -> Result<Endpoint> {
        validate_slug(workload_slug, "workload_slug")?;
        let raw = crate::config::non_blank(api_key)
            .map(zeroize::Zeroizing::new)
            .or_else(|| self.default_key.as_deref().cloned())
            .ok_or_else(|| {
                Error::config(
                    codes::MISSING_API_KEY,
                    format!(
                        "No ik_live_ key for workload \"{workload_slug}\". Pass api_key= or set INFERENCEKEY_API_KEY."
                    ),
                )
            })?;
        let key = Token::parse(&raw, TokenKind::Live)?;
        let workload = format!(
            "/endpoint/{}/{}",
            path_segment(&self.project),
            path_segment(workload_slug)
        );
        let prefix = format!("{workload}/v1");
        Ok(Endpoint {
            transport: self.transport.clone(),
            key: Arc::new(key),
            urls: Arc::new(RouteUrls {
                chat: join_url(&self.base_url, &format!("{prefix}/chat/completions"))?,
                embeddings: join_url(&self.base_url, &format!("{prefix}/embeddings"))?,
                rerank: join_url(&self.base_url, &format!("{prefix}/rerank"))?,
                // Jobs live beside `/v1` (wire §8), not under it.
                jobs: join_url(&self.base_url, &format!("{workload}/jobs"))?,
            }),
            base_url: format!("{}{}", self.base_url, prefix).into(),
            project: self.project.as_str().into(),
            slug: workload_slug.into(),
        })
    }
}

/// What a data client's `repr` may show.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DataClientDescription<'a> {
    pub base_url: &'a str,
    pub project: &'a str,
    /// Timeouts, retries and caps in effect.
    #[serde(flatten)]
    pub limits: LimitsDescription,
}

/// What an endpoint's `repr` may show: the key only redacted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EndpointDescription<'a> {
    pub project_slug: &'a str,
    pub workload_slug: &'a str,
    /// The workload's OpenAI-compatible base URL.
    pub base_url: &'a str,
    pub api_key: String,
}

/// One workload's OpenAI-compatible endpoint. Cheap to clone and thread-safe.
#[derive(Clone)]
pub struct Endpoint {
    transport: Transport,
    key: Arc<Token>,
    /// The routes, parsed once when the endpoint is made.
    urls: Arc<RouteUrls>,
    /// `…/endpoint/{project}/{workload}/v1`, for any OpenAI client. Shared, like the rest:
    /// every call clones the endpoint, which then costs no allocation.
    base_url: Arc<str>,
    project: Arc<str>,
    slug: Arc<str>,
}

struct RouteUrls {
    chat: reqwest::Url,
    embeddings: reqwest::Url,
    rerank: reqwest::Url,
    jobs: reqwest::Url,
}

/// Arguments of `generate_text` / `generate_text_stream`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// Either `prompt` or `messages`.
    #[schemars(length(min = 1))]
    pub prompt: Option<String>,
    #[schemars(with = "Option<Vec<schema::Message>>", length(min = 1))]
    pub messages: Option<Value>,
    #[schemars(with = "Option<f64>")]
    pub temperature: Option<Value>,
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub max_tokens: Option<Value>,
    #[schemars(with = "Option<f64>")]
    pub top_p: Option<Value>,
    #[schemars(with = "Option<schema::TextOrTexts>")]
    pub stop: Option<Value>,
    #[schemars(with = "Option<i64>")]
    pub seed: Option<Value>,
    pub extra_body: Option<Map<String, Value>>,
    /// Per-call timeout and retry overrides (applied by the binding layer).
    pub options: Option<CallOptions>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    #[schemars(with = "schema::Inputs")]
    pub input: Value,
    pub extra_body: Option<Map<String, Value>>,
    /// Per-call timeout and retry overrides (applied by the binding layer).
    pub options: Option<CallOptions>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RerankRequest {
    #[schemars(with = "String", length(min = 1))]
    pub query: Value,
    #[schemars(with = "Vec<String>", length(min = 1))]
    pub documents: Value,
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub top_n: Option<Value>,
    pub extra_body: Option<Map<String, Value>>,
    /// Per-call timeout and retry overrides (applied by the binding layer).
    pub options: Option<CallOptions>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// A chat completion. `raw` is kept as the response body (a JSON object) and decoded only on
/// request: bindings receive the body as it came, with nothing encoded twice.
#[derive(Debug, Clone, Serialize)]
pub struct TextResult {
    pub text: String,
    pub model: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub request_id: Option<String>,
    /// The response body.
    #[serde(skip)]
    pub body: Bytes,
}

impl TextResult {
    /// The decoded response body.
    pub fn raw(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One streamed piece. Like [`TextResult`], `raw` is kept as the event's JSON text and decoded
/// only on request.
#[derive(Debug, Clone)]
pub struct TextChunk {
    pub text: String,
    pub finish_reason: Option<String>,
    /// The event's data (a JSON object).
    pub body: String,
}

impl TextChunk {
    /// The decoded event.
    pub fn raw(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EmbedResult {
    pub embeddings: Vec<Vec<f64>>,
    pub model: String,
    pub usage: Option<Usage>,
    pub request_id: Option<String>,
    /// The response body without `data[].embedding`: those are `embeddings`, in input order.
    pub raw: Value,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RerankItem {
    pub index: u64,
    pub relevance_score: f64,
    pub document: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RerankResult {
    pub results: Vec<RerankItem>,
    pub model: String,
    pub usage: Option<Usage>,
    pub request_id: Option<String>,
    pub raw: Value,
}

impl Endpoint {
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn project_slug(&self) -> &str {
        &self.project
    }

    pub fn workload_slug(&self) -> &str {
        &self.slug
    }

    /// Whether streams of this endpoint opened by a blocking caller run on its thread (no
    /// proxy is configured).
    pub fn streams_directly(&self) -> bool {
        self.transport.streams_directly()
    }

    /// What a `repr` may show.
    pub fn describe(&self) -> EndpointDescription<'_> {
        EndpointDescription {
            project_slug: &self.project,
            workload_slug: &self.slug,
            base_url: &self.base_url,
            api_key: self.key.redacted(),
        }
    }

    pub fn with_options(&self, options: &CallOptions) -> Result<Endpoint> {
        Ok(Endpoint {
            transport: self.transport.with_options(options)?,
            ..self.clone()
        })
    }

    /// Chat completion, `stream: false` (wire §7.1).
    pub async fn generate_text(&self, request: &GenerateRequest) -> Result<TextResult> {
        let body = chat_body(&self.slug, request, false)?;
        let reply = self.post(&self.urls.chat, &body).await?;
        let (text, model, finish_reason, usage) = match Completion::decode(&reply.body) {
            Some(c) => c.into_parts(&self.slug),
            None => lenient_parts(&reply.json()?, &self.slug)
                .map_err(|e| e.with_request_id(reply.request_id.clone()))?,
        };
        Ok(TextResult {
            text,
            model,
            finish_reason,
            usage,
            request_id: reply.request_id,
            body: reply.body,
        })
    }

    /// Chat completion as SSE (wire §7.2). Status errors raise here, before any chunk.
    pub async fn generate_text_stream(&self, request: &GenerateRequest) -> Result<TextStream> {
        let body = chat_body(&self.slug, request, true)?;
        let call = self.call(&self.urls.chat, Bytes::from(body.to_vec()), true);
        let hint = |e| error::with_not_ready_hint(e, &self.slug);
        let (idle, max_event) = (call.limits.request_timeout, call.limits.max_event_bytes);
        let (reader, request_id) = if self.transport.streams_on_caller() {
            let (body, request_id) = self
                .transport
                .open_stream_blocking(&call)
                .await
                .map_err(hint)?;
            (EventReader::blocking(body, idle, max_event), request_id)
        } else {
            let (resp, request_id) = self.transport.open_stream(&call).await.map_err(hint)?;
            (EventReader::new(resp, idle, max_event), request_id)
        };
        Ok(TextStream {
            reader,
            request_id,
            usage: None,
            saw_finish: false,
            done: false,
        })
    }

    /// Embeddings, in input order (wire §7.3).
    pub async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResult> {
        let (input, count) = match (&request.input, text_list_len(&request.input)) {
            (Value::String(s), _) => (Field::OneText(s), 1),
            (list, Some(count)) => (Field::Json(list), count),
            _ => {
                return Err(Error::invalid_argument(
                    "input must be a string or a non-empty list of strings",
                ))
            }
        };
        let body = Body::new([("model", Field::Text(&self.slug)), ("input", input)])
            .extra(request.extra_body.as_ref())?;
        let reply = self.post(&self.urls.embeddings, &body).await?;
        let (embeddings, raw) = match embeddings::typed(&reply.body) {
            Some(parts) => parts,
            None => embeddings::lenient(reply.json()?),
        };
        let embeddings = embeddings
            .and_then(|vectors| expect_count(vectors, count))
            .map_err(|e| e.with_request_id(reply.request_id.clone()))?;
        Ok(EmbedResult {
            embeddings,
            model: self.model_of(&raw),
            usage: usage_of(&raw),
            request_id: reply.request_id,
            raw,
        })
    }

    /// Rerank, best first (wire §7.4).
    pub async fn rerank(&self, request: &RerankRequest) -> Result<RerankResult> {
        let query = request.query.as_str().filter(|q| !q.trim().is_empty());
        let query =
            query.ok_or_else(|| Error::invalid_argument("query must be a non-blank string"))?;
        let documents = &request.documents;
        if text_list_len(documents).is_none() {
            return Err(Error::invalid_argument(
                "documents must be a non-empty list of strings",
            ));
        }
        let mut body = Body::new([
            ("model", Field::Text(&self.slug)),
            ("query", Field::Text(query)),
            ("documents", Field::Json(documents)),
        ]);
        if let Some(top_n) = &request.top_n {
            body.set("top_n", Field::Count(positive_int("top_n", top_n)?));
        }
        let body = body.extra(request.extra_body.as_ref())?;
        let reply = self.post(&self.urls.rerank, &body).await?;
        let raw = reply.json()?;
        let results =
            rerank_items_of(&raw).map_err(|e| e.with_request_id(reply.request_id.clone()))?;
        Ok(RerankResult {
            results,
            model: self.model_of(&raw),
            usage: usage_of(&raw),
            request_id: reply.request_id,
            raw,
        })
    }

    /// Submits a job (wire §8); its result goes to the workload's webhooks. Like every POST,
    /// it is retried only when the request cannot have reached the server (wire §3.3), so a
    /// retry never submits a second job.
    pub async fn submit_job(&self, request: &JobRequest) -> Result<JobRef> {
        let (kind, body) = request.wire_body(&self.slug)?;
        let reply = self.post_bytes(&self.urls.jobs, Bytes::from(body)).await?;
        let job_id = jobs::job_id_of(&reply.body)
            .map_err(|e| e.with_request_id(reply.request_id.clone()))?;
        Ok(JobRef {
            job_id,
            kind: kind.as_str(),
            request_id: reply.request_id,
        })
    }

    fn model_of(&self, raw: &Value) -> String {
        model_or(raw, &self.slug)
    }

    fn call<'a>(&'a self, url: &'a reqwest::Url, body: Bytes, sse: bool) -> Call<'a> {
        Call {
            method: Method::POST,
            url: url.clone(),
            path: url.path(),
            token: &self.key,
            body: Some(body),
            sse,
            limits: self.transport.limits,
        }
    }

    async fn post(&self, url: &reqwest::Url, body: &Body<'_>) -> Result<Reply> {
        self.post_bytes(url, Bytes::from(body.to_vec())).await
    }

    async fn post_bytes(&self, url: &reqwest::Url, body: Bytes) -> Result<Reply> {
        self.transport
            .send(&self.call(url, body, false))
            .await?
            .ok()
            .map_err(|e| error::with_not_ready_hint(e, &self.slug))
    }
}

/// A streamed chat completion: pull one chunk at a time; single consumer.
pub struct TextStream {
    reader: EventReader,
    request_id: Option<String>,
    usage: Option<Usage>,
    saw_finish: bool,
    done: bool,
}

impl TextStream {
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Usage, once the server has sent it (usually with the last events).
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// What wakes a blocked read from another thread, for a stream read on its caller's
    /// thread (see [`Transport::streams_on_caller`]).
    pub fn closer(&self) -> Option<crate::http1::Closer> {
        self.reader.closer()
    }

    /// Whether reads block the thread that pulls: the stream was opened on its caller's thread.
    pub fn is_blocking(&self) -> bool {
        self.reader.is_blocking()
    }

    /// The next chunk, or `None` at the end (`[DONE]`, or EOF after a finish reason).
    pub async fn next(&mut self) -> Result<Option<TextChunk>> {
        while !self.done {
            let Some(data) = self.reader.next_data().await.map_err(|e| self.attach(e))? else {
                self.done = true;
                if self.saw_finish {
                    return Ok(None);
                }
                let err = Error::connection(
                    codes::STREAM_TRUNCATED,
                    "the stream ended before it was complete",
                );
                return Err(self.attach(err));
            };
            if data.trim() == "[DONE]" {
                self.done = true;
                self.reader.done();
                return Ok(None);
            }
            if let Some((text, finish_reason)) = plain_chunk(&data) {
                self.saw_finish |= finish_reason.is_some();
                return Ok(Some(TextChunk {
                    text,
                    finish_reason,
                    body: data,
                }));
            }
            let Ok(event) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            if let Some(error) = event.get("error") {
                self.done = true;
                return Err(self.attach(stream_error(error)));
            }
            if let Some(usage) = usage_of(&event) {
                self.usage = Some(usage);
            }
            let Some(choice) = event
                .get("choices")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
            else {
                continue;
            };
            let finish_reason = choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.saw_finish |= finish_reason.is_some();
            let text = text_of(choice.get("delta").and_then(|d| d.get("content")));
            return Ok(Some(TextChunk {
                text,
                finish_reason,
                body: data,
            }));
        }
        Ok(None)
    }

    fn attach(&self, err: Error) -> Error {
        err.with_request_id(self.request_id.clone())
    }
}

/// Whether a key was present at all (whatever its value, `null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Present(true))
    }
}

/// The common stream event, read in one typed pass that borrows its strings.
#[derive(Deserialize)]
struct PlainEvent<'a> {
    #[serde(borrow, default)]
    choices: Vec<PlainChoice<'a>>,
    #[serde(default)]
    error: Present,
    #[serde(default)]
    usage: Present,
}

#[derive(Deserialize)]
struct PlainChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<PlainDelta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PlainDelta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

/// The text and finish reason of an event that is a plain chunk: an object with `choices`,
/// no `error` and no `usage`, of the usual types. Anything else (`None`) takes the lenient
/// path, which decides the same way on every event this accepts.
fn plain_chunk(data: &str) -> Option<(String, Option<String>)> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    let event: PlainEvent<'_> = serde_json::from_str(data).ok()?;
    if event.error.0 || event.usage.0 {
        return None;
    }
    let choice = event.choices.into_iter().next()?;
    let text = choice
        .delta
        .and_then(|d| d.content)
        .map(Cow::into_owned)
        .unwrap_or_default();
    Some((text, choice.finish_reason.map(Cow::into_owned)))
}

/// An `error` event inside a stream: status unknown, code from the event.
fn stream_error(error: &Value) -> Error {
    let code = error
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or(codes::STREAM_ERROR.as_str());
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the server reported an error mid-stream");
    Error::external(ErrorKind::Api, code, message)
}

/// The chat completion body for workload `slug` (wire §7.1), after the checks of sdk §5: what
/// `generate_text` sends. Pure, so that it can be tested and fuzzed on its own.
pub fn chat_body<'a>(slug: &'a str, r: &'a GenerateRequest, stream: bool) -> Result<Body<'a>> {
    let messages = match (&r.prompt, &r.messages) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_argument(
                "provide either prompt or messages, not both",
            ))
        }
        (None, None) => return Err(Error::invalid_argument("provide a prompt or messages")),
        (Some(p), None) if p.trim().is_empty() => {
            return Err(Error::invalid_argument("prompt must not be blank"))
        }
        (Some(p), None) => Field::Prompt(p),
        (None, Some(m)) => Field::Json(validate_messages(m)?),
    };
    let mut body = Body::new([
        ("model", Field::Text(slug)),
        ("messages", messages),
        ("stream", Field::Flag(stream)),
    ]);
    if let Some(t) = &r.temperature {
        body.set("temperature", finite("temperature", t)?);
    }
    if let Some(t) = &r.top_p {
        body.set("top_p", finite("top_p", t)?);
    }
    if let Some(n) = &r.max_tokens {
        body.set("max_tokens", Field::Count(positive_int("max_tokens", n)?));
    }
    if let Some(s) = &r.seed {
        if !(s.is_i64() || s.is_u64()) {
            return Err(Error::invalid_argument("seed must be an integer"));
        }
        body.set("seed", Field::Json(s));
    }
    if let Some(stop) = &r.stop {
        let ok = stop.is_string()
            || stop
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(Error::invalid_argument(
                "stop must be a string or a list of strings",
            ));
        }
        body.set("stop", Field::Json(stop));
    }
    body.extra(r.extra_body.as_ref())
}

fn validate_messages(messages: &Value) -> Result<&Value> {
    let list = messages
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| Error::invalid_argument("messages must be a non-empty list"))?;
    for (i, m) in list.iter().enumerate() {
        let obj = m
            .as_object()
            .ok_or_else(|| Error::invalid_argument(format!("messages[{i}] must be a mapping")))?;
        if obj
            .get("role")
            .and_then(Value::as_str)
            .is_none_or(|r| r.trim().is_empty())
        {
            return Err(Error::invalid_argument(format!(
                "messages[{i}].role must be a non-blank string"
            )));
        }
        if !matches!(
            obj.get("content"),
            Some(Value::String(_)) | Some(Value::Array(_))
        ) {
            return Err(Error::invalid_argument(format!(
                "messages[{i}].content must be a string or a list of content parts"
            )));
        }
    }
    Ok(messages)
}

/// The length of `v` if it is a non-empty list of strings.
fn text_list_len(v: &Value) -> Option<usize> {
    v.as_array()
        .filter(|items| !items.is_empty() && items.iter().all(Value::is_string))
        .map(Vec::len)
}

fn finite<'a>(name: &str, v: &'a Value) -> Result<Field<'a>> {
    match v.as_f64() {
        Some(f) if f.is_finite() => Ok(Field::Json(v)),
        _ => Err(Error::invalid_argument(format!(
            "{name} must be a finite number"
        ))),
    }
}

fn positive_int(name: &str, v: &Value) -> Result<u64> {
    v.as_u64()
        .filter(|n| *n >= 1)
        .ok_or_else(|| Error::invalid_argument(format!("{name} must be an integer >= 1")))
}

/// The usual shape of a chat completion, decoded without building a `Value` tree. Any other
/// shape (a missing choice, a number where text belongs) fails here and goes through the
/// lenient `Value` path, which decides what it means.
#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(borrow)]
    choices: Vec<CompletionChoice<'a>>,
    #[serde(borrow)]
    model: Option<std::borrow::Cow<'a, str>>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct CompletionChoice<'a> {
    #[serde(borrow)]
    message: CompletionMessage<'a>,
    #[serde(borrow)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CompletionMessage<'a> {
    #[serde(borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    total_tokens: Option<u64>,
}

/// A body as text, for `serde_json::from_str`: validating UTF-8 once for the whole body
/// is cheaper than `from_slice`'s check of every string in it, keys included.
fn utf8(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body).ok()
}

type CompletionParts = (String, String, Option<String>, Option<Usage>);

impl<'a> Completion<'a> {
    fn decode(body: &'a [u8]) -> Option<Completion<'a>> {
        serde_json::from_str::<Completion<'a>>(utf8(body)?)
            .ok()
            .filter(|c| !c.choices.is_empty())
    }

    /// What `generate_text` returns, as the `Value` path would compute it.
    fn into_parts(self, slug: &str) -> CompletionParts {
        let choice = self.choices.into_iter().next().expect("checked non-empty");
        let usage = self.usage.map(|u| {
            let (prompt, completion) = (
                u.prompt_tokens.unwrap_or(0),
                u.completion_tokens.unwrap_or(0),
            );
            Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: u.total_tokens.unwrap_or(prompt + completion),
            }
        });
        (
            choice.message.content.map(String::from).unwrap_or_default(),
            self.model.map_or_else(|| slug.to_owned(), String::from),
            choice.finish_reason.map(String::from),
            usage,
        )
    }
}

/// A chat completion's parts from any decoded body (the fallback of [`Completion`]).
fn lenient_parts(raw: &Value, slug: &str) -> Result<CompletionParts> {
    let choice = first_choice(raw)?;
    Ok((
        text_of(choice.get("message").and_then(|m| m.get("content"))),
        model_or(raw, slug),
        choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        usage_of(raw),
    ))
}

/// `model` when it is text, else the workload's slug.
fn model_or(raw: &Value, slug: &str) -> String {
    raw.get("model")
        .and_then(Value::as_str)
        .map_or_else(|| slug.to_owned(), str::to_owned)
}

fn first_choice(raw: &Value) -> Result<&Value> {
    raw.get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| Error::invalid_response("the response has no choices"))
}

/// A message or delta `content`: `null` or missing is empty text.
fn text_of(content: Option<&Value>) -> String {
    content
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn usage_of(raw: &Value) -> Option<Usage> {
    let u = raw.get("usage")?.as_object()?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (prompt, completion) = (n("prompt_tokens"), n("completion_tokens"));
    let total = u
        .get("total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(prompt + completion);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
    })
}

/// One vector per input at least (servers may not send fewer).
fn expect_count(vectors: Vec<Vec<f64>>, expected: usize) -> Result<Vec<Vec<f64>>> {
    if vectors.len() < expected {
        return Err(Error::invalid_response(format!(
            "expected {expected} embeddings, the server sent {}",
            vectors.len()
        )));
    }
    Ok(vectors)
}

fn rerank_items_of(raw: &Value) -> Result<Vec<RerankItem>> {
    let results = raw
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid_response("the rerank response has no results list"))?;
    let mut items = results
        .iter()
        .map(|r| {
            let index = r.get("index").and_then(Value::as_u64);
            let score = r
                .get("relevance_score")
                .or_else(|| r.get("score"))
                .and_then(Value::as_f64);
            let document = match r.get("document") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(d) => d.get("text").and_then(Value::as_str).map(str::to_owned),
                None => None,
            };
            match (index, score) {
                (Some(index), Some(relevance_score)) => Ok(RerankItem {
                    index,
                    relevance_score,
                    document,
                }),
                _ => Err(Error::invalid_response(
                    "a rerank result lacks index or relevance_score",
                )),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    items.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_completion_decoding_agrees_with_the_lenient_path() {
        let bodies = [
            r#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"model":"m","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
            r#"{"choices":[{"message":{"content":null},"finish_reason":null}],"model":null,"usage":null}"#,
            r#"{"choices":[{"message":{"content":"a\"b\u00e9"},"finish_reason":"length"}],"usage":{"prompt_tokens":1}}"#,
            r#"{"choices":[{"message":{"content":"t"}},{"message":{"content":"second"}}],"model":"m"}"#,
            // Shapes only the lenient path accepts: each must still give its answer.
            r#"{"choices":[{"message":{"content":7},"finish_reason":3}],"model":5}"#,
            r#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":-1,"completion_tokens":2.5}}"#,
            r#"{"choices":[{"message":{"content":"x"}}],"usage":"lots"}"#,
        ];
        for (i, body) in bodies.iter().enumerate() {
            let raw: Value = serde_json::from_str(body).unwrap();
            let lenient = lenient_parts(&raw, "slug").unwrap();
            match Completion::decode(body.as_bytes()) {
                Some(c) => {
                    assert!(i < 4, "case {i} should need the lenient path");
                    assert_eq!(c.into_parts("slug"), lenient, "case {i}");
                }
                None => assert!(i >= 4, "case {i} should decode typed"),
            }
        }
        for body in [r#"{"choices":[]}"#, r#"{"model":"m"}"#, r#"{"choices":{}}"#] {
            assert!(Completion::decode(body.as_bytes()).is_none());
            let raw: Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                lenient_parts(&raw, "s").unwrap_err().code,
                "invalid_response"
            );
        }
    }

    #[test]
    fn fewer_vectors_than_inputs_is_an_invalid_response() {
        let vectors = vec![vec![2.0], vec![1.0]];
        assert_eq!(expect_count(vectors.clone(), 2).unwrap(), vectors);
        assert_eq!(
            expect_count(vectors, 3).unwrap_err().code,
            "invalid_response"
        );
    }

    #[test]
    fn rerank_accepts_score_fallback_and_sorts() {
        let raw = json!({"results": [{"index": 0, "score": 0.1}, {"index": 1, "relevance_score": 0.9, "document": {"text": "d"}}]});
        let items = rerank_items_of(&raw).unwrap();
        assert_eq!(
            (items[0].index, items[0].document.as_deref()),
            (1, Some("d"))
        );
    }

    #[test]
    fn plain_chunks_agree_with_the_lenient_path() {
        let lenient = |data: &str| -> Option<(String, Option<String>)> {
            let event: Value = serde_json::from_str(data).ok()?;
            if event.get("error").is_some() || usage_of(&event).is_some() {
                return None;
            }
            let choice = event.get("choices")?.as_array()?.first()?;
            let finish = choice.get("finish_reason").and_then(Value::as_str);
            Some((
                text_of(choice.get("delta").and_then(|d| d.get("content"))),
                finish.map(str::to_owned),
            ))
        };
        for data in [
            r#"{"choices":[{"delta":{"content":"hi"},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{"content":"a\nb\u00e9"},"finish_reason":"stop"}]}"#,
            r#"{"id":"x","choices":[{"delta":{},"finish_reason":"length"}],"model":"m"}"#,
            r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
        ] {
            assert_eq!(plain_chunk(data), lenient(data), "{data}");
            assert!(plain_chunk(data).is_some(), "{data}");
        }
        // Left to the lenient path: errors (even null), usage, odd types, no choices.
        for data in [
            r#"{"error":null,"choices":[{"delta":{"content":"x"}}]}"#,
            r#"{"usage":{"prompt_tokens":1},"choices":[{"delta":{"content":"x"}}]}"#,
            r#"{"choices":[{"delta":{"content":5}}]}"#,
            r#"{"choices":[{"delta":"x"}]}"#,
            r#"{"choices":[{"finish_reason":3}]}"#,
            r#"{"choices":[]}"#,
            r#"{"choices":{}}"#,
            r#"[[{"delta":{"content":"x"}}]]"#,
            r#"{"choices":[{"delta":{"content":"x","content":"y"}}]}"#,
        ] {
            assert_eq!(plain_chunk(data), None, "{data}");
        }
    }

    #[test]
    fn usage_defaults() {
        let u = usage_of(&json!({"usage": {"prompt_tokens": 3, "total_tokens": 3}})).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 3,
                completion_tokens: 0,
                total_tokens: 3
            }
        );
        assert!(usage_of(&json!({"usage": null})).is_none());
    }

    #[test]
    fn message_validation() {
        assert!(
            validate_messages(&json!([{"role": "user", "content": "hi", "name": "x"}])).is_ok()
        );
        for bad in [
            json!([]),
            json!([1]),
            json!([{"role": " ", "content": "x"}]),
            json!([{"role": "user"}]),
        ] {
            assert_eq!(
                validate_messages(&bad).unwrap_err().code,
                "invalid_argument",
                "{bad}"
            );
        }
    }
}

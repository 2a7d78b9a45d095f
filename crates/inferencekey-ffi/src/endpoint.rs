//! `ik_data_client` and `ik_endpoint`: the data plane (chat, streaming chat, embed, rerank).

use std::ffi::{c_char, c_void};

use inferencekey_core::config::{CallOptions, ClientConfig};
use inferencekey_core::data::{
    DataClient, EmbedRequest, EmbedResult, Endpoint, GenerateRequest, RerankRequest, TextResult,
    Usage,
};
use inferencekey_core::jobs::JobRequest;
use inferencekey_core::Error;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::boundary::{
    arg_handle, arg_json, core_error, guard, guard_or, out_ptr, write_json, FfiResult,
};
use crate::cancel::ik_cancel;
use crate::error::ik_error;
use crate::handles::{self, Handle, Kind};
use crate::ops::{export_async, export_blocking, ik_callback, to_json, Op};
use crate::payload::{Dtype, PartRef, Payload};
use crate::status::ik_status;
use crate::stream::{ik_stream, open_stream, open_stream_async, Source, StreamSource};

/// Opaque data-plane client for one project; hands out endpoints sharing its pool.
pub struct ik_data_client {
    inner: DataClient,
}

/// Opaque per-workload endpoint; holds its `ik_live_` key (zeroed when freed).
pub struct ik_endpoint {
    inner: Endpoint,
}

impl Handle for ik_data_client {
    const KIND: Kind = Kind::DataClient;
}

impl Handle for ik_endpoint {
    const KIND: Kind = Kind::Endpoint;
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointRequest {
    workload_slug: String,
    /// An `ik_live_` key; absent or null: the client's default key.
    api_key: Option<String>,
}

// Both are cheap to clone (shared state behind `Arc`s); a clone outlives a concurrent free.
fn data_client(c: *const ik_data_client) -> FfiResult<DataClient> {
    arg_handle(c, "client").map(|c| c.inner.clone())
}

fn endpoint(e: *const ik_endpoint) -> FfiResult<Endpoint> {
    arg_handle(e, "endpoint").map(|e| e.inner.clone())
}

/// Splits the optional `"options"` key off a request and decodes the rest strictly.
/// A data-plane request that may carry per-call `"options"`.
trait WithOptions: DeserializeOwned {
    fn options(&self) -> Option<&CallOptions>;
}

impl WithOptions for GenerateRequest {
    fn options(&self) -> Option<&CallOptions> {
        self.options.as_ref()
    }
}

impl WithOptions for EmbedRequest {
    fn options(&self) -> Option<&CallOptions> {
        self.options.as_ref()
    }
}

impl WithOptions for RerankRequest {
    fn options(&self) -> Option<&CallOptions> {
        self.options.as_ref()
    }
}

impl WithOptions for JobRequest {
    fn options(&self) -> Option<&CallOptions> {
        self.options.as_ref()
    }
}

/// Decodes a request strictly and picks the endpoint to run it with (per-call options).
fn request<T: WithOptions>(
    e: *const ik_endpoint,
    req: *const c_char,
    len: usize,
) -> FfiResult<(Endpoint, T)> {
    let request: T = arg_json(req, len, "req")?;
    let base = endpoint(e)?;
    let endpoint = match request.options() {
        Some(opts) => base.with_options(opts).map_err(core_error)?,
        None => base,
    };
    Ok((endpoint, request))
}

/// Creates a data client from config JSON (c-abi §4); needs a project.
#[no_mangle]
pub extern "C" fn ik_data_client_new(
    cfg: *const c_char,
    cfg_len: usize,
    out: *mut *mut ik_data_client,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let config: ClientConfig = arg_json(cfg, cfg_len, "cfg")?;
        let inner = DataClient::new(&config).map_err(core_error)?;
        crate::lifecycle::track_forks();
        unsafe { *out = handles::register(ik_data_client { inner }) };
        Ok(())
    })
}

/// A new client sharing the pool, with other `timeout_s`/`connect_timeout_s`/`max_retries`.
#[no_mangle]
pub extern "C" fn ik_data_client_with_options(
    c: *const ik_data_client,
    opts: *const c_char,
    opts_len: usize,
    out: *mut *mut ik_data_client,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let opts: CallOptions = arg_json(opts, opts_len, "opts")?;
        let inner = data_client(c)?.with_options(&opts).map_err(core_error)?;
        unsafe { *out = handles::register(ik_data_client { inner }) };
        Ok(())
    })
}

/// `{"base_url","project"}`, for `repr`.
#[no_mangle]
pub extern "C" fn ik_data_client_describe(
    c: *const ik_data_client,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        write_json(out, out_len, &data_client(c)?.describe())
    })
}

#[no_mangle]
pub extern "C" fn ik_data_client_free(c: *mut ik_data_client) {
    guard_or((), || handles::release(c));
}

/// `{"workload_slug":"…","api_key":"ik_live_…"|null}` → an endpoint. No network; the slug
/// and the key (explicit, else the client's default) are checked here.
#[no_mangle]
pub extern "C" fn ik_endpoint_new(
    c: *const ik_data_client,
    req: *const c_char,
    req_len: usize,
    out: *mut *mut ik_endpoint,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let r: EndpointRequest = arg_json(req, req_len, "req")?;
        let inner = data_client(c)?
            .endpoint(&r.workload_slug, r.api_key.as_deref())
            .map_err(core_error)?;
        unsafe { *out = handles::register(ik_endpoint { inner }) };
        Ok(())
    })
}

/// `{"project_slug","workload_slug","base_url","api_key"}` with the key redacted.
#[no_mangle]
pub extern "C" fn ik_endpoint_describe(
    e: *const ik_endpoint,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        write_json(out, out_len, &endpoint(e)?.describe())
    })
}

#[no_mangle]
pub extern "C" fn ik_endpoint_free(e: *mut ik_endpoint) {
    guard_or((), || handles::release(e));
}

fn generate_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let (ep, r) = request::<GenerateRequest>(e, req, len)?;
    Ok(async move { text_result_payload(&ep.generate_text(&r).await?).map(Some) })
}

/// The `TextResult` JSON, with the response body as a binary part named by `raw_part`: a
/// binding decodes the body only if `raw` is read, and never scans past it.
// Fields spelled out rather than a flattened `TextResult`: flattening goes through serde's
// map path, which costs more than the rest of the encoding.
#[derive(Serialize, JsonSchema)]
pub(crate) struct TextResultOut<'a> {
    text: &'a str,
    model: &'a str,
    finish_reason: &'a Option<String>,
    usage: &'a Option<Usage>,
    request_id: &'a Option<String>,
    /// The response body (JSON), as a binary part.
    raw_part: PartRef,
}

fn text_result_payload(result: &TextResult) -> Result<Payload, Error> {
    let body = &result.body;
    let head = |raw_part| TextResultOut {
        text: &result.text,
        model: &result.model,
        finish_reason: &result.finish_reason,
        usage: &result.usage,
        request_id: &result.request_id,
        raw_part,
    };
    Payload::with_part(head, Dtype::Utf8, body.len(), |part| {
        part.copy_from_slice(body)
    })
}

fn embed_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let (ep, r) = request::<EmbedRequest>(e, req, len)?;
    Ok(async move { embed_result_payload(&ep.embed(&r).await?).map(Some) })
}

/// The `EmbedResult` JSON. Vectors of one length travel as a binary part, row-major float64
/// little-endian, named by `embeddings: {"offset","length","dtype","rows","cols"}`: decoding
/// numbers from JSON text dominated the cost of large embeddings, and this is exact. Ragged
/// vectors stay plain lists. `raw` comes without the vectors (bindings put them back).
#[derive(Serialize, JsonSchema)]
pub(crate) struct EmbedResultOut<'a> {
    embeddings: Embeddings<'a>,
    model: &'a str,
    usage: &'a Option<Usage>,
    request_id: &'a Option<String>,
    /// The response body without `data[].embedding`.
    raw: &'a Value,
}

/// The vectors: one binary part of `rows` x `cols` float64 (row-major, little-endian), or
/// lists when their lengths differ.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum Embeddings<'a> {
    Packed {
        #[serde(flatten)]
        part: PartRef,
        rows: usize,
        cols: usize,
    },
    Lists(&'a [Vec<f64>]),
}

fn embed_result_payload(result: &EmbedResult) -> Result<Payload, Error> {
    let vectors = &result.embeddings;
    let cols = vectors.first().map_or(0, Vec::len);
    let ragged = vectors.iter().any(|v| v.len() != cols);
    let length = vectors.len() * cols * 8;
    let head = |embeddings| EmbedResultOut {
        embeddings,
        model: &result.model,
        usage: &result.usage,
        request_id: &result.request_id,
        raw: &result.raw,
    };
    if ragged {
        return Payload::json(&head(Embeddings::Lists(vectors)));
    }
    let packed = |part| Embeddings::Packed {
        part,
        rows: vectors.len(),
        cols,
    };
    Payload::with_part(
        |part| head(packed(part)),
        Dtype::F64le,
        length,
        |part| {
            for (value, slot) in vectors.iter().flatten().zip(part.chunks_exact_mut(8)) {
                slot.copy_from_slice(&value.to_le_bytes());
            }
        },
    )
}

fn rerank_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let (ep, r) = request::<RerankRequest>(e, req, len)?;
    Ok(async move { to_json(&ep.rerank(&r).await?) })
}

fn submit_job_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let (ep, r) = request::<JobRequest>(e, req, len)?;
    Ok(async move { to_json(&ep.submit_job(&r).await?) })
}

/// The opening of a text stream, and whether a blocking open may run it on the caller's
/// thread.
fn text_stream_source(
    e: *const ik_endpoint,
    req: *const c_char,
    len: usize,
) -> FfiResult<(StreamSource, bool)> {
    let (ep, r) = request::<GenerateRequest>(e, req, len)?;
    let on_caller = ep.streams_directly();
    let source: StreamSource =
        Box::pin(async move { Ok(Source::Text(ep.generate_text_stream(&r).await?)) });
    Ok((source, on_caller))
}

/// `{"prompt"|"messages", "temperature", "max_tokens", "top_p", "stop", "seed", "extra_body"}`
/// → `TextResult` JSON without `raw`; the response body's JSON text follows as a binary part
/// named by `"raw_part": {"offset","length","dtype":"utf8"}` (see "Result buffers"), so a binding
/// decodes it only when it is read.
#[no_mangle]
pub extern "C" fn ik_endpoint_generate_text(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || generate_op(e, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_endpoint_generate_text_async(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || generate_op(e, req, req_len))
}

/// Opens a streamed chat completion (status errors fail here); items are `TextChunk` JSON
/// without `raw`: the event's JSON text follows as a binary part named by
/// `"raw_part": {"offset","length","dtype":"utf8"}`. Opened by a blocking call with no
/// `cancel` (and no proxy configured), the exchange and every `ik_stream_next` run on the
/// calling thread.
#[no_mangle]
pub extern "C" fn ik_endpoint_generate_text_stream(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    err: *mut *mut ik_error,
) -> ik_status {
    open_stream(err, cancel, out, || text_stream_source(e, req, req_len))
}

/// Async twin: `*out` is written at once; `cb` runs once the exchange is open (`json` = the
/// stream's metadata, as `ik_stream_metadata` gives it) or failed. Pull items only after it.
#[no_mangle]
pub extern "C" fn ik_endpoint_generate_text_stream_async(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    open_stream_async(err, cancel, out, cb, user_data, || {
        text_stream_source(e, req, req_len).map(|(source, _)| source)
    })
}

/// `{"input": "…" | ["…"], "extra_body"}` → `EmbedResult` JSON (vectors in input order).
/// Vectors of one length follow as a binary part, row-major float64 little-endian, named by
/// `"embeddings": {"offset","length","dtype":"f64le","rows","cols"}`; ragged ones are JSON
/// lists.
/// `raw` comes without `data[].embedding` (the same vectors).
#[no_mangle]
pub extern "C" fn ik_endpoint_embed(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || embed_op(e, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_endpoint_embed_async(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || embed_op(e, req, req_len))
}

/// `{"query","documents","top_n","extra_body"}` → `RerankResult` JSON (best first).
#[no_mangle]
pub extern "C" fn ik_endpoint_rerank(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || rerank_op(e, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_endpoint_rerank_async(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || rerank_op(e, req, req_len))
}

/// `{"kind", "body" | ("body_b64" + "content_type"), "context"}` → `{"job_id","kind",
/// "request_id"}`: a fire-and-forget job whose result goes to the workload's webhooks. The
/// kind (wire name or alias) and the body rules are checked before anything is sent.
#[no_mangle]
pub extern "C" fn ik_endpoint_submit_job(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || submit_job_op(e, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_endpoint_submit_job_async(
    e: *const ik_endpoint,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || {
        submit_job_op(e, req, req_len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embed_result(embeddings: Vec<Vec<f64>>) -> EmbedResult {
        EmbedResult {
            embeddings,
            model: "e5".into(),
            usage: None,
            request_id: None,
            raw: serde_json::json!({}),
        }
    }

    #[test]
    fn vectors_of_one_length_follow_the_json_as_one_aligned_part() {
        let mut payload = embed_result_payload(&embed_result(vec![vec![1.5, -2.0]; 3])).unwrap();
        let (bytes, len) = payload.bytes();
        let head: Value = serde_json::from_slice(&bytes[..len]).unwrap();
        let offset = head["embeddings"]["offset"].as_u64().unwrap() as usize;
        assert_eq!(offset % 16, 0);
        assert_eq!(
            head["embeddings"],
            serde_json::json!({"offset": offset, "length": 48, "dtype": "f64le", "rows": 3, "cols": 2})
        );
        assert_eq!(bytes[offset + 8..offset + 16], (-2.0f64).to_le_bytes());
    }

    #[test]
    fn ragged_vectors_make_a_json_only_result() {
        let mut payload = embed_result_payload(&embed_result(vec![vec![1.0], vec![]])).unwrap();
        let (bytes, len) = payload.bytes();
        let head: Value = serde_json::from_slice(&bytes[..len]).unwrap();
        assert_eq!(head["embeddings"], serde_json::json!([[1.0], []]));
    }
}

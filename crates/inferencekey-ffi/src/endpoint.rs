//! `ik_data_client` and `ik_endpoint`: the data plane (chat, streaming chat, embed, rerank).

use std::ffi::{c_char, c_void};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use inferencekey_core::config::{CallOptions, ClientConfig};
use inferencekey_core::data::{
    DataClient, EmbedRequest, EmbedResult, Endpoint, GenerateRequest, RerankRequest, TextResult,
};
use inferencekey_core::Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::boundary::{
    arg_json, core_error, guard, guard_or, null_arg, out_ptr, write_string, FfiResult,
};
use crate::cancel::ik_cancel;
use crate::error::ik_error;
use crate::handles::{self, Kind};
use crate::ops::{export_async, export_blocking, ik_callback, to_json, OpFuture};
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointRequest {
    workload_slug: String,
    api_key: Option<String>,
}

fn data_client<'a>(c: *const ik_data_client) -> FfiResult<&'a DataClient> {
    unsafe { handles::borrow(c, Kind::DataClient) }
        .map(|c| &c.inner)
        .ok_or_else(|| null_arg("client (not a live ik_data_client)"))
}

fn endpoint<'a>(e: *const ik_endpoint) -> FfiResult<&'a Endpoint> {
    unsafe { handles::borrow(e, Kind::Endpoint) }
        .map(|e| &e.inner)
        .ok_or_else(|| null_arg("endpoint (not a live ik_endpoint)"))
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
        None => base.clone(),
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
        unsafe { *out = handles::register(Box::new(ik_data_client { inner }), Kind::DataClient) };
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
        unsafe { *out = handles::register(Box::new(ik_data_client { inner }), Kind::DataClient) };
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
        write_string(out, out_len, &data_client(c)?.describe().to_string());
        Ok(())
    })
}

#[no_mangle]
pub extern "C" fn ik_data_client_free(c: *mut ik_data_client) {
    guard_or((), || unsafe { handles::release(c, Kind::DataClient) });
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
        unsafe { *out = handles::register(Box::new(ik_endpoint { inner }), Kind::Endpoint) };
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
        write_string(out, out_len, &endpoint(e)?.describe().to_string());
        Ok(())
    })
}

#[no_mangle]
pub extern "C" fn ik_endpoint_free(e: *mut ik_endpoint) {
    guard_or((), || unsafe { handles::release(e, Kind::Endpoint) });
}

fn generate_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<OpFuture> {
    let (ep, r) = request::<GenerateRequest>(e, req, len)?;
    Ok(Box::pin(async move {
        text_result_json(&ep.generate_text(&r).await?)
    }))
}

/// The `TextResult` JSON with the response body (a JSON object) as `raw_b64`: base64 needs no
/// escaping on either side, so bindings decode the body only if `raw` is read, and scanning
/// past it costs them a fraction of parsing it.
fn text_result_json(result: &TextResult) -> Result<Option<String>, Error> {
    let mut json = to_json(result)?.unwrap_or_default();
    if json.ends_with('}') {
        json.pop();
        json.push_str(",\"raw_b64\":\"");
        json.push_str(&BASE64.encode(&result.body));
        json.push_str("\"}");
    }
    Ok(Some(json))
}

fn embed_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<OpFuture> {
    let (ep, r) = request::<EmbedRequest>(e, req, len)?;
    Ok(Box::pin(async move {
        to_json(&packed_embeddings(ep.embed(&r).await?))
    }))
}

/// The `EmbedResult` JSON with the vectors packed (`{"b64","rows","cols"}`: row-major
/// little-endian float64, base64) and left out of `raw.data[]`, where bindings put them back
/// on demand. Decoding numbers from JSON text dominated the cost of large embeddings; this is
/// exact and about ten times cheaper for every binding. Ragged vectors stay plain lists.
fn packed_embeddings(mut result: EmbedResult) -> Value {
    let cols = result.embeddings.first().map_or(0, Vec::len);
    if result.embeddings.iter().any(|v| v.len() != cols) {
        return serde_json::to_value(&result).unwrap_or(Value::Null);
    }
    let mut bytes = Vec::with_capacity(result.embeddings.len() * cols * 8);
    for value in result.embeddings.iter().flatten() {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    if let Some(items) = result.raw.get_mut("data").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.remove("embedding");
        }
    }
    json!({
        "embeddings": {"b64": BASE64.encode(&bytes), "rows": result.embeddings.len(), "cols": cols},
        "model": result.model,
        "usage": result.usage,
        "request_id": result.request_id,
        "raw": result.raw,
    })
}

fn rerank_op(e: *const ik_endpoint, req: *const c_char, len: usize) -> FfiResult<OpFuture> {
    let (ep, r) = request::<RerankRequest>(e, req, len)?;
    Ok(Box::pin(async move { to_json(&ep.rerank(&r).await?) }))
}

fn text_stream_source(
    e: *const ik_endpoint,
    req: *const c_char,
    len: usize,
) -> FfiResult<StreamSource> {
    let (ep, r) = request::<GenerateRequest>(e, req, len)?;
    Ok(Box::pin(async move {
        Ok(Source::Text(ep.generate_text_stream(&r).await?))
    }))
}

/// `{"prompt"|"messages", "temperature", "max_tokens", "top_p", "stop", "seed", "extra_body"}`
/// → `TextResult` JSON, with the response body as `raw_b64` (base64 of its JSON text) in
/// place of `raw`, so that a binding decodes it only when it is read.
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

/// Opens a streamed chat completion (status errors fail here); items are `TextChunk` JSON.
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

/// Async twin: `*out` is written at once; `cb` runs once the exchange is open or failed.
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
        text_stream_source(e, req, req_len)
    })
}

/// `{"input": "…" | ["…"], "extra_body"}` → `EmbedResult` JSON (vectors in input order).
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

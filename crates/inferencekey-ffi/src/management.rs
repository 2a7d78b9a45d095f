//! `ik_management_client`: the control plane (ensure, plan, get, list, delete, readiness).

use std::ffi::{c_char, c_void};
use std::time::Duration;

use inferencekey_core::config::{
    no_default, present, seconds, seconds_value, CallOptions, ClientConfig,
};
use inferencekey_core::management::ManagementClient;
use inferencekey_core::readiness::ReadinessEvent;
use inferencekey_core::reconcile::OnDrift;
use inferencekey_core::spec::WorkloadSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::boundary::{
    arg_handle, arg_json, core_error, guard, guard_or, out_ptr, write_json, FfiResult,
};
use crate::cancel::ik_cancel;
use crate::error::ik_error;
use crate::handles::{self, Handle, Kind};
use crate::ops::{
    complete, export_async, export_blocking, export_blocking_shared, ik_callback, to_json, Op,
    RawCallback, UserData,
};
use crate::payload::Payload;
use crate::status::{ik_status, IK_OK};
use crate::stream::{ik_stream, open_stream, StreamSource};

/// Opaque control-plane client; thread-safe; holds the `ik_sdk_` token (zeroed when freed).
pub struct ik_management_client {
    inner: ManagementClient,
}

impl Handle for ik_management_client {
    const KIND: Kind = Kind::ManagementClient;
}

const DEFAULT_READINESS_TIMEOUT_S: f64 = 600.0;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnsureRequest {
    spec: WorkloadSpec,
    #[serde(default)]
    on_drift: OnDrift,
    project: Option<String>,
    options: Option<CallOptions>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectRequest {
    project: Option<String>,
    options: Option<CallOptions>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlugRequest {
    workload_slug: String,
    project: Option<String>,
    /// Readiness only: the hard deadline in seconds, positive and finite (default 600). Any
    /// JSON value is read and checked like `ClientConfig.timeout_s`: `null` is refused.
    #[serde(default, deserialize_with = "present")]
    #[schemars(transform = no_default, with = "f64", extend("exclusiveMinimum" = 0))]
    timeout_s: Option<serde_json::Value>,
    options: Option<CallOptions>,
}

/// The result of `ik_management_client_delete`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Deleted {
    /// False when the workload was absent (or another caller deleted it first).
    deleted: bool,
}

// Cheap to clone (shared state behind `Arc`s); a clone outlives a concurrent free.
fn client(c: *const ik_management_client) -> FfiResult<ManagementClient> {
    arg_handle(c, "client").map(|c| c.inner.clone())
}

/// The client to use for one call: the handle's, or a copy with per-call options.
fn with_options(
    c: *const ik_management_client,
    options: Option<CallOptions>,
) -> FfiResult<ManagementClient> {
    let base = client(c)?;
    match options {
        Some(opts) => base.with_options(&opts).map_err(core_error),
        None => Ok(base),
    }
}

fn readiness_timeout(req: &SlugRequest) -> FfiResult<Duration> {
    match &req.timeout_s {
        Some(t) => seconds_value("timeout", t),
        None => seconds("timeout", DEFAULT_READINESS_TIMEOUT_S),
    }
    .map_err(core_error)
}

/// Creates a client from config JSON (c-abi §4). The token is checked here, before any request.
#[no_mangle]
pub extern "C" fn ik_management_client_new(
    cfg: *const c_char,
    cfg_len: usize,
    out: *mut *mut ik_management_client,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let config: ClientConfig = arg_json(cfg, cfg_len, "cfg")?;
        let inner = ManagementClient::new(&config).map_err(core_error)?;
        crate::lifecycle::track_forks();
        // SAFETY: checked non-NULL above.
        unsafe { *out = handles::register(ik_management_client { inner }) };
        Ok(())
    })
}

/// A new client sharing credentials and pool, with other `timeout_s`/`connect_timeout_s`/`max_retries`.
#[no_mangle]
pub extern "C" fn ik_management_client_with_options(
    c: *const ik_management_client,
    opts: *const c_char,
    opts_len: usize,
    out: *mut *mut ik_management_client,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let opts: CallOptions = arg_json(opts, opts_len, "opts")?;
        let inner = with_options(c, Some(opts))?;
        unsafe { *out = handles::register(ik_management_client { inner }) };
        Ok(())
    })
}

/// `{"base_url","project","token"}` with the token redacted, for `repr`.
#[no_mangle]
pub extern "C" fn ik_management_client_describe(
    c: *const ik_management_client,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        write_json(out, out_len, &client(c)?.describe())
    })
}

/// Frees the client; operations in flight keep their own reference. NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_management_client_free(c: *mut ik_management_client) {
    guard_or((), || handles::release(c));
}

fn ensure_op(c: *const ik_management_client, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let r: EnsureRequest = arg_json(req, len, "req")?;
    let client = with_options(c, r.options)?;
    Ok(async move {
        to_json(
            &client
                .ensure(r.spec, r.on_drift, r.project.as_deref())
                .await?,
        )
    })
}

fn plan_op(c: *const ik_management_client, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let r: EnsureRequest = arg_json(req, len, "req")?;
    let client = with_options(c, r.options)?;
    Ok(async move { to_json(&client.plan(r.spec, r.project.as_deref()).await?) })
}

fn list_op(c: *const ik_management_client, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let r: ProjectRequest = arg_json(req, len, "req")?;
    let client = with_options(c, r.options)?;
    Ok(async move { to_json(&client.list(r.project.as_deref()).await?) })
}

fn get_op(c: *const ik_management_client, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let r: SlugRequest = arg_json(req, len, "req")?;
    let client = with_options(c, r.options)?;
    Ok(async move { to_json(&client.get(&r.workload_slug, r.project.as_deref()).await?) })
}

fn delete_op(c: *const ik_management_client, req: *const c_char, len: usize) -> FfiResult<impl Op> {
    let r: SlugRequest = arg_json(req, len, "req")?;
    let client = with_options(c, r.options)?;
    Ok(async move {
        let removed = client
            .delete(&r.workload_slug, r.project.as_deref())
            .await?;
        to_json(&Deleted { deleted: removed })
    })
}

/// How a wait hands each readiness event to its `on_event` callback (ownership passes, as
/// for completions): inline on the caller's thread for the blocking form, through the
/// delivery thread, ahead of the completion, for the `_async` one.
#[derive(Clone, Copy)]
enum EventRoute {
    Inline,
    Delivered,
}

fn wait_op(
    c: *const ik_management_client,
    req: *const c_char,
    len: usize,
    on_event: ik_callback,
    event_user_data: *mut c_void,
    route: EventRoute,
) -> FfiResult<impl Op> {
    let r: SlugRequest = arg_json(req, len, "req")?;
    let timeout = readiness_timeout(&r)?;
    let client = with_options(c, r.options)?;
    let event_user_data = UserData(event_user_data);
    Ok(async move {
        let report = |event: &ReadinessEvent| {
            if let Some(cb) = on_event {
                let payload = Payload::json(event)?;
                match route {
                    EventRoute::Inline => report_inline(cb, event_user_data.get(), payload),
                    EventRoute::Delivered => complete(cb, event_user_data.get(), Ok(Some(payload))),
                }
            }
            Ok(())
        };
        let ready = client
            .wait_until_ready(&r.workload_slug, r.project.as_deref(), timeout, report)
            .await?;
        to_json(&ready)
    })
}

/// Calls `cb` with one event on this thread, handing over the buffer.
fn report_inline(cb: RawCallback, user_data: *mut c_void, payload: Payload) {
    if let Some(_call) = crate::lifecycle::HostCall::enter() {
        let (json, len) = payload.into_raw();
        // SAFETY: the binding's function and pointer; it now owns `json`.
        unsafe { cb(user_data, IK_OK, json, len, std::ptr::null_mut()) };
    }
}

/// `{"spec":{…},"on_drift":"reconcile","project":null}` → the `EnsureResult` JSON.
#[no_mangle]
pub extern "C" fn ik_management_client_ensure(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || ensure_op(c, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_management_client_ensure_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || ensure_op(c, req, req_len))
}

/// As `ensure` with `on_drift` = `dry_run` (an `on_drift` key is ignored): never writes.
#[no_mangle]
pub extern "C" fn ik_management_client_plan(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || plan_op(c, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_management_client_plan_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || plan_op(c, req, req_len))
}

/// `{"project":null}` → a JSON array of `Workload`.
#[no_mangle]
pub extern "C" fn ik_management_client_list(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || list_op(c, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_management_client_list_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || list_op(c, req, req_len))
}

/// `{"workload_slug":"…","project":null}` → one `Workload`; absent → `IK_ERR_NOT_FOUND`.
#[no_mangle]
pub extern "C" fn ik_management_client_get(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || get_op(c, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_management_client_get_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || get_op(c, req, req_len))
}

/// `{"workload_slug":"…"}` → `{"deleted":true|false}` (false: absent or lost a race).
#[no_mangle]
pub extern "C" fn ik_management_client_delete(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking(err, cancel, out, out_len, || delete_op(c, req, req_len))
}

#[no_mangle]
pub extern "C" fn ik_management_client_delete_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || delete_op(c, req, req_len))
}

/// `{"workload_slug":"…","timeout_s":600}` → the `ready` `ReadinessEvent`; phase `error` →
/// `IK_ERR_WORKLOAD_FAILED`; the deadline → `IK_ERR_READINESS_TIMEOUT`; a stream that ends
/// without a terminal phase → `IK_ERR_API` (code `stream_ended`). Dropped connections are
/// reopened until the deadline. `on_event` (nullable) gets every event, the terminal one
/// included, before the call returns: on the caller's thread, with ownership of `json` as
/// for a completion. To stop waiting from it, cancel the call's token.
#[no_mangle]
pub extern "C" fn ik_management_client_wait_until_ready(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    on_event: ik_callback,
    event_user_data: *mut c_void,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    // On the shared runtime, like a stream read: when the wait ends early, its readiness
    // connection is closed by the workers that drive it, not at this thread's next call.
    export_blocking_shared(err, cancel, out, out_len, || {
        wait_op(
            c,
            req,
            req_len,
            on_event,
            event_user_data,
            EventRoute::Inline,
        )
    })
}

/// Async twin: `on_event` runs on the delivery thread, like `cb`, for each event and always
/// before `cb`.
#[no_mangle]
pub extern "C" fn ik_management_client_wait_until_ready_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    on_event: ik_callback,
    event_user_data: *mut c_void,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || {
        wait_op(
            c,
            req,
            req_len,
            on_event,
            event_user_data,
            EventRoute::Delivered,
        )
    })
}

fn readiness_source(
    c: *const ik_management_client,
    req: *const c_char,
    len: usize,
) -> FfiResult<StreamSource> {
    let r: SlugRequest = arg_json(req, len, "req")?;
    let timeout = readiness_timeout(&r)?;
    let client = with_options(c, r.options)?;
    Ok(Box::pin(async move {
        let stream = client
            .readiness_events(&r.workload_slug, r.project.as_deref(), timeout)
            .await?;
        Ok(crate::stream::Source::Readiness(stream))
    }))
}

/// Opens the readiness SSE stream eagerly (auth and 404 errors fail here); items are
/// `ReadinessEvent` JSON, the terminal one included.
#[no_mangle]
pub extern "C" fn ik_management_client_readiness_events(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    err: *mut *mut ik_error,
) -> ik_status {
    // Readiness streams reconnect on the shared runtime (a blocking open never runs them
    // on the caller's thread).
    open_stream(err, cancel, out, || {
        readiness_source(c, req, req_len).map(|source| (source, false))
    })
}

/// Async twin: `*out` is written at once; `cb` runs once the stream is open (`json` = the
/// stream's metadata, as `ik_stream_metadata` gives it) or failed. Pull items only after it.
#[no_mangle]
pub extern "C" fn ik_management_client_readiness_events_async(
    c: *const ik_management_client,
    req: *const c_char,
    req_len: usize,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    crate::stream::open_stream_async(err, cancel, out, cb, user_data, || {
        readiness_source(c, req, req_len)
    })
}

/// Checks a `WorkloadSpec` JSON with the same rules `ensure` applies before any request
/// (sdk §3.1), without a client or a network: lets tools validate a whole file first.
#[no_mangle]
pub extern "C" fn ik_workload_spec_validate(
    spec: *const c_char,
    spec_len: usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let spec: WorkloadSpec = arg_json(spec, spec_len, "spec")?;
        spec.validate().map_err(core_error)
    })
}

//! `ik_dev_server`: the local platform, linked in behind the default `dev-server` feature so
//! every binding can start one (for `inferencekey dev` and for tests).

use std::ffi::c_char;

use inferencekey_dev::{DevConfig, DevError, DevServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::boundary::{
    arg_handle, arg_json, ffi_error, guard, guard_or, out_ptr, write_json, FfiResult,
};
use crate::error::ik_error;
use crate::handles::{self, Handle, Kind};
use crate::status::{ik_status, IK_ERR_CONFIG, IK_ERR_INVALID_ARG, IK_ERR_NOT_FOUND};

/// Opaque running local platform.
pub struct ik_dev_server {
    inner: DevServer,
}

impl Handle for ik_dev_server {
    const KIND: Kind = Kind::DevServer;
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateProjectRequest {
    slug: String,
    name: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MintTokenRequest {
    project: String,
    /// `live` (a data-plane key) or `sdk` (a management token).
    #[schemars(extend("enum" = ["live", "sdk"]))]
    kind: String,
    /// `sdk` tokens: e.g. `["workload:read"]`; default every scope.
    #[schemars(with = "Option<Vec<String>>")]
    scopes: Option<Value>,
    /// `live` keys: `project/workload` slugs or `project/*`; default the whole project.
    #[schemars(with = "Option<Vec<String>>")]
    grants: Option<Value>,
}

/// A token minted by `ik_dev_server_mint_token`, shown this once.
#[derive(Serialize, JsonSchema)]
pub(crate) struct MintedToken {
    token: String,
    token_id: String,
}

fn server<'a>(s: *const ik_dev_server) -> FfiResult<&'a DevServer> {
    arg_handle(s, "server").map(|s| &s.inner)
}

fn dev_error(e: DevError) -> ik_error {
    let status = match e.code.as_str() {
        "not_found" => IK_ERR_NOT_FOUND,
        code if code.starts_with("invalid_") && code != "invalid_config" => IK_ERR_INVALID_ARG,
        _ => IK_ERR_CONFIG,
    };
    ffi_error(status, &e.code, &e.message)
}

/// Starts a local platform from config JSON (`host`, `port` (0 = free), `data_dir`, `python`,
/// `rate_limit_per_minute`, …); returns once it listens. `*info` gets
/// `{"base_url","admin_secret","data_dir","version"}`.
#[no_mangle]
pub extern "C" fn ik_dev_server_start(
    cfg: *const c_char,
    cfg_len: usize,
    out: *mut *mut ik_dev_server,
    info: *mut *mut c_char,
    info_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        out_ptr(info, "info")?;
        let config: DevConfig = arg_json(cfg, cfg_len, "cfg")?;
        let inner = DevServer::start(config).map_err(dev_error)?;
        write_json(info, info_len, inner.info())?;
        unsafe { *out = handles::register(Box::new(ik_dev_server { inner })) };
        Ok(())
    })
}

/// `{"slug":"acme","name":"Acme"}` → `{"project":{…},"sdk_token":"ik_sdk_…","api_key":"ik_live_…"}`.
/// Tokens are shown this once; the platform keeps only their hashes.
#[no_mangle]
pub extern "C" fn ik_dev_server_create_project(
    s: *const ik_dev_server,
    req: *const c_char,
    req_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        let r: CreateProjectRequest = arg_json(req, req_len, "req")?;
        let creds = server(s)?
            .create_project(&r.slug, r.name.as_deref())
            .map_err(dev_error)?;
        write_json(out, out_len, &creds)
    })
}

/// `{"project":"acme","kind":"live","grants":["acme/bot"]}` or `{"project":"acme","kind":"sdk",
/// "scopes":["workload:read"]}` → `{"token","token_id"}`.
#[no_mangle]
pub extern "C" fn ik_dev_server_mint_token(
    s: *const ik_dev_server,
    req: *const c_char,
    req_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        let r: MintTokenRequest = arg_json(req, req_len, "req")?;
        let mut body = json!({"kind": r.kind});
        if let Some(scopes) = r.scopes {
            body["scopes"] = scopes;
        }
        if let Some(grants) = r.grants {
            body["grants"] = grants;
        }
        let (token, token_id) = server(s)?
            .mint_token(&r.project, &body)
            .map_err(dev_error)?;
        write_json(out, out_len, &MintedToken { token, token_id })
    })
}

/// Stops the platform and every workload process it runs. Idempotent.
#[no_mangle]
pub extern "C" fn ik_dev_server_stop(s: *const ik_dev_server) {
    guard_or((), || {
        if let Ok(server) = server(s) {
            server.stop();
        }
    });
}

/// Stops (if needed) and frees; NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_dev_server_free(s: *mut ik_dev_server) {
    guard_or((), || unsafe { handles::release(s) });
}

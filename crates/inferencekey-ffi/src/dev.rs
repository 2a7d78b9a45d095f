//! `ik_dev_server`: the local platform, linked in behind the default `dev-server` feature so
//! every binding can start one (for `inferencekey dev` and for tests).

use std::ffi::c_char;

use inferencekey_dev::{DevConfig, DevError, DevServer};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::boundary::{
    arg_json, ffi_error, guard, guard_or, null_arg, out_ptr, write_string, FfiResult,
};
use crate::error::ik_error;
use crate::handles::{self, Kind};
use crate::status::{ik_status, IK_ERR_CONFIG, IK_ERR_INVALID_ARG, IK_ERR_NOT_FOUND};

/// Opaque running local platform.
pub struct ik_dev_server {
    inner: DevServer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectRequest {
    slug: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    project: String,
    kind: String,
    scopes: Option<Value>,
    grants: Option<Value>,
}

fn server<'a>(s: *const ik_dev_server) -> FfiResult<&'a DevServer> {
    unsafe { handles::borrow(s, Kind::DevServer) }
        .map(|s| &s.inner)
        .ok_or_else(|| null_arg("server (not a live ik_dev_server)"))
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
        let text = serde_json::to_string(inner.info()).unwrap_or_default();
        write_string(info, info_len, &text);
        unsafe { *out = handles::register(Box::new(ik_dev_server { inner }), Kind::DevServer) };
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
        let r: ProjectRequest = arg_json(req, req_len, "req")?;
        let creds = server(s)?
            .create_project(&r.slug, r.name.as_deref())
            .map_err(dev_error)?;
        let text = serde_json::to_string(&creds)
            .map_err(|e| ffi_error(IK_ERR_CONFIG, "internal", &e.to_string()))?;
        write_string(out, out_len, &text);
        Ok(())
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
        let r: TokenRequest = arg_json(req, req_len, "req")?;
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
        write_string(
            out,
            out_len,
            &json!({"token": token, "token_id": token_id}).to_string(),
        );
        Ok(())
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
    guard_or((), || unsafe { handles::release(s, Kind::DevServer) });
}

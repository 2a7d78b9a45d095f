//! `ik_dev_server`: the local platform, linked in behind the default `dev-server` feature so
//! every binding can start one (for `inferencekey dev` and for tests).

use std::ffi::c_char;

use inferencekey_dev::{DevConfig, DevError, DevServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::boundary::{
    arg_handle, arg_json, coded_error, guard, guard_or, out_ptr, write_json, FfiResult,
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

fn server(s: *const ik_dev_server) -> FfiResult<std::sync::Arc<ik_dev_server>> {
    arg_handle(s, "server")
}

// Read by the schema (a test-only module).
#[cfg_attr(not(test), allow(dead_code))]
/// The codes `ik_dev_server_*` report (c-abi rule 5a), with descriptions; `dev_status` gives
/// each its status. The first are the platform's own (`DevError`); the rest are the wire codes
/// (§3.2) that creating a project or minting a token can answer with.
pub(crate) const DEV_CODES: &[(&str, &str)] = &[
    (
        "invalid_config",
        "A config value is unusable (data_dir, log_file, host, upstream_timeout_s, admin_secret).",
    ),
    (
        "remote_bind_refused",
        "A non-loopback host was given without allow_remote.",
    ),
    (
        "data_dir_in_use",
        "Another local platform is using the data folder.",
    ),
    ("bind_failed", "The platform cannot listen on host:port."),
    ("storage_error", "The platform's database cannot be opened."),
    (
        "internal_error",
        "The platform failed to start or to serve the call.",
    ),
    ("stopped", "The local platform has been stopped."),
    ("invalid_slug", "The project slug is not canonical."),
    ("invalid_json", "The request is not a JSON object."),
    (
        "invalid_request",
        "A request field is missing or has the wrong type.",
    ),
    ("invalid_field", "A request field has an invalid value."),
    ("not_found", "The project or token does not exist."),
];

/// The status of a dev-platform error code.
pub(crate) fn dev_status(code: &str) -> ik_status {
    match code {
        "not_found" => IK_ERR_NOT_FOUND,
        code if code.starts_with("invalid_") && code != "invalid_config" => IK_ERR_INVALID_ARG,
        _ => IK_ERR_CONFIG,
    }
}

fn dev_error(e: DevError) -> ik_error {
    coded_error(dev_status(&e.code), &e.code, &e.message)
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
        unsafe { *out = handles::register(ik_dev_server { inner }) };
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
            .inner
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
            .inner
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
            server.inner.stop();
        }
    });
}

/// Stops (if needed) and frees; NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_dev_server_free(s: *mut ik_dev_server) {
    guard_or((), || handles::release(s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dev_error_code_is_listed() {
        // `DevError::new("<code>", …)` in the platform crate: each literal code is in the table.
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../inferencekey-dev/src");
        for entry in std::fs::read_dir(src).expect("the platform's sources") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text: String = std::fs::read_to_string(&path)
                .expect("read")
                .split_whitespace()
                .collect();
            for (_, rest) in text.match_indices("DevError::new(\"").map(|(at, m)| {
                let rest = &text[at + m.len()..];
                (at, rest)
            }) {
                let code = &rest[..rest.find('"').expect("a closed literal")];
                assert!(
                    DEV_CODES.iter().any(|(listed, _)| *listed == code),
                    "{}: {code} is not in DEV_CODES",
                    path.display()
                );
            }
        }
    }
}

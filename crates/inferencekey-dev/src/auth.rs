//! Credentials, checked in the order of wire §2.2:
//! 1 missing → 401 `missing_credential`; 2 not the exact format → 401 `invalid_credential`;
//! 3 wrong plane → 403 `wrong_credential_type`; 4 unknown or revoked → 401 `invalid_credential`;
//! 5 another project → 403 `project_scope_mismatch`; 6 scope or grant → 403
//! `scope_insufficient`; 7 (in handlers) missing resource → 404.
//!
//! Steps 1–4 are the extractors [`ControlCaller`] and [`DataCaller`]; steps 5–6 are methods of
//! [`Caller`] that handlers call with what the path names.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, StatusCode};

use crate::errors::ApiError;
use crate::model::{Project, TokenRecord};
use crate::state::Shared;
use crate::tokens::{self, Kind};

/// An authenticated token (steps 1–4 passed).
pub struct Caller(pub TokenRecord);

/// A caller of the control plane (`ik_sdk_`).
pub struct ControlCaller(pub Caller);

/// A caller of the data plane (`ik_live_`).
pub struct DataCaller(pub Caller);

/// The admin of the `/_dev` routes.
pub struct Admin;

/// Step 1: `Authorization: Bearer <token>` (scheme case-insensitive). Several `Authorization`
/// headers are refused (400) rather than picking one: a proxy or client that adds its own
/// header must not decide which credential the platform honours.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next().ok_or_else(ApiError::missing_credential)?;
    if values.next().is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request has several Authorization headers; send exactly one",
        ));
    }
    let value = first
        .to_str()
        .map_err(|_| ApiError::missing_credential())?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::missing_credential());
    }
    Ok(token)
}

/// Steps 1–4 for `plane`.
async fn authenticate(parts: &Parts, state: &Shared, plane: Kind) -> Result<Caller, ApiError> {
    let token = bearer(&parts.headers)?.to_string();
    let Some((kind, token_id)) = tokens::parse_exact(&token) else {
        return Err(ApiError::invalid_credential(
            "the token is not a well-formed InferenceKey token",
        ));
    };
    if kind != plane {
        let (expected, route) = match plane {
            Kind::Sdk => ("ik_sdk_", "/api"),
            Kind::Live => ("ik_live_", "/endpoint"),
        };
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_credential_type",
            format!("{route} routes take an {expected} token"),
        ));
    }
    let token_id = token_id.to_string();
    let record = state.db(move |db| Ok(db.token(&token_id)?)).await?;
    match record {
        Some(record)
            if record.kind == plane && !record.revoked && tokens::verify(&token, &record.hash) =>
        {
            Ok(Caller(record))
        }
        Some(record) if record.revoked && tokens::verify(&token, &record.hash) => {
            Err(ApiError::invalid_credential("this token has been revoked"))
        }
        _ => Err(ApiError::invalid_credential("unknown token")),
    }
}

impl FromRequestParts<Shared> for ControlCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        authenticate(parts, state, Kind::Sdk)
            .await
            .map(ControlCaller)
    }
}

impl FromRequestParts<Shared> for DataCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        authenticate(parts, state, Kind::Live).await.map(DataCaller)
    }
}

impl Caller {
    pub fn project(&self) -> &Project {
        &self.0.project
    }

    /// Step 5: the path's project (slug or id) is the token's project.
    pub fn check_project(&self, key: &str) -> Result<(), ApiError> {
        if self.0.project.is_named_by(key) {
            Ok(())
        } else {
            // The caller holds the token, so naming its project reveals nothing to them.
            let token_project = &self.0.project.slug;
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "project_scope_mismatch",
                format!("this token belongs to project \"{token_project}\", not \"{key}\""),
            )
            .with_details(serde_json::json!({ "token_project": token_project })))
        }
    }

    /// Step 6 (control): the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.0.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::scope_insufficient(format!(
                "this token lacks the {scope} scope"
            )))
        }
    }

    /// Step 6 (data): a grant covers the workload `slug` of the token's project.
    pub fn require_grant(&self, slug: &str) -> Result<(), ApiError> {
        if self.0.grants.iter().any(|g| g == "*" || g == slug) {
            Ok(())
        } else {
            Err(ApiError::scope_insufficient(format!(
                "this key is not granted {}/{slug}",
                self.0.project.slug
            )))
        }
    }
}

/// Whether a `/_dev` request may come from `peer`: loopback only (wire §8), whatever address
/// the platform listens on. An IPv4 peer of a dual-stack (`::`) listener shows as
/// `::ffff:127.0.0.1`, hence the canonical form. No peer known: refused.
pub fn is_loopback_peer(peer: Option<&SocketAddr>) -> bool {
    peer.is_some_and(|addr| addr.ip().to_canonical().is_loopback())
}

impl FromRequestParts<Shared> for Admin {
    type Rejection = ApiError;

    /// The admin secret. The loopback check is the layer on every `/_dev` route
    /// (`middleware::loopback_only`), so that it runs before anything else there.
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let secret = bearer(&parts.headers)?;
        if tokens::secure_eq(secret, &state.settings.admin_secret) {
            Ok(Admin)
        } else {
            Err(ApiError::invalid_credential("wrong admin secret"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_may_use_the_admin_routes() {
        for peer in [
            "127.0.0.1:5000",
            "127.3.2.1:5000",
            "[::1]:5000",
            "[::ffff:127.0.0.1]:5000",
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert!(is_loopback_peer(Some(&peer)), "{peer}");
        }
        for peer in [
            "0.0.0.0:5000",
            "10.1.2.3:5000",
            "192.168.0.7:5000",
            "203.0.113.9:5000",
            "[2001:db8::1]:5000",
            "[fe80::1]:5000",
            "[::ffff:10.1.2.3]:5000",
            "[::]:5000",
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert!(!is_loopback_peer(Some(&peer)), "{peer}");
        }
        assert!(!is_loopback_peer(None));
    }
}

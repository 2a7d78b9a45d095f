//! Projects and tokens: the logic behind the `/_dev` routes and `DevServer`'s methods.

use serde_json::Value;

use crate::db::Db;
use crate::errors::ApiError;
use crate::extract::{wrong_type, Fields};
use crate::model::{Project, SCOPES};
use crate::tokens::{self, Kind};
use crate::util::{is_canonical_slug, new_id, now_rfc3339};
use crate::ProjectCredentials;

/// Creates project `slug` (or finds it) and mints a fresh control token with every scope and a
/// data key granted `<slug>/*`.
pub fn create_project(
    db: &Db,
    slug: &str,
    name: Option<&str>,
) -> Result<ProjectCredentials, ApiError> {
    if !is_canonical_slug(slug) {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_slug",
            format!("project slug \"{slug}\" must match ^[a-z0-9]+(-[a-z0-9]+)*$ (1-63 chars)"),
        )
        .with_field("slug"));
    }
    let name = match name.map(str::trim) {
        Some("") => return Err(ApiError::invalid_field("name", "name must not be blank")),
        Some(name) => name.to_string(),
        None => slug.to_string(),
    };
    let project = db.create_or_get_project(&new_id("proj_"), slug, &name, &now_rfc3339())?;
    let scopes: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
    let (sdk_token, _) = store_new_token(db, Kind::Sdk, &project, &scopes, &[])?;
    let (api_key, _) = store_new_token(db, Kind::Live, &project, &[], &["*".to_string()])?;
    Ok(ProjectCredentials {
        project: project.to_json(),
        sdk_token,
        api_key,
    })
}

/// Mints a token for `project_key` (slug or id) from `{"kind":"sdk","scopes":[…]}` or
/// `{"kind":"live","grants":["acme/support-bot", "acme/*"]}`. Returns (token, token_id).
pub fn mint_token(
    db: &Db,
    project_key: &str,
    request: &Value,
) -> Result<(String, String), ApiError> {
    let project = db
        .find_project(project_key)?
        .ok_or_else(|| ApiError::not_found(format!("no project \"{project_key}\"")))?;
    let Some(request) = request.as_object() else {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    let kind = match Fields(request).string("kind")? {
        None => {
            return Err(ApiError::invalid_request(
                "kind",
                "kind is required (\"sdk\" or \"live\")",
            ))
        }
        Some(kind) => Kind::parse(&kind)
            .ok_or_else(|| ApiError::invalid_field("kind", "kind must be \"sdk\" or \"live\""))?,
    };
    let list = |field: &str| -> Result<Option<Vec<String>>, ApiError> {
        match request.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| wrong_type(field, "an array of strings", item))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(wrong_type(field, "an array of strings", other)),
        }
    };
    let (scopes, grants) = match kind {
        Kind::Sdk => {
            let scopes =
                list("scopes")?.unwrap_or_else(|| SCOPES.iter().map(|s| s.to_string()).collect());
            if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return Err(ApiError::invalid_field(
                    "scopes",
                    format!("unknown scope \"{bad}\"; scopes are {}", SCOPES.join(", ")),
                ));
            }
            (scopes, Vec::new())
        }
        Kind::Live => {
            let grants = list("grants")?.unwrap_or_else(|| vec![format!("{}/*", project.slug)]);
            let mut workloads = Vec::new();
            for grant in &grants {
                let (p, w) = grant.split_once('/').unwrap_or(("", ""));
                if !project.is_named_by(p) {
                    return Err(ApiError::invalid_field(
                        "grants",
                        format!(
                            "grant \"{grant}\" must be \"{}/<workload>\" or \"{}/*\"",
                            project.slug, project.slug
                        ),
                    ));
                }
                if w != "*" && !is_canonical_slug(w) {
                    return Err(ApiError::invalid_field(
                        "grants",
                        format!("grant \"{grant}\" does not name a workload slug"),
                    ));
                }
                workloads.push(w.to_string());
            }
            (Vec::new(), workloads)
        }
    };
    store_new_token(db, kind, &project, &scopes, &grants)
}

/// Revokes a token by its public id; `not_found` if unknown.
pub fn revoke_token(db: &Db, token_id: &str) -> Result<(), ApiError> {
    if db.revoke_token(token_id, &now_rfc3339())? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no token {token_id}")))
    }
}

/// Mints until the public id is free, stores the hash; returns (token, token_id).
fn store_new_token(
    db: &Db,
    kind: Kind,
    project: &Project,
    scopes: &[String],
    grants: &[String],
) -> Result<(String, String), ApiError> {
    for _ in 0..16 {
        let minted = tokens::mint(kind).map_err(ApiError::internal)?;
        if db.insert_token(
            &minted.token_id,
            kind,
            &project.id,
            &minted.hash,
            scopes,
            grants,
            &now_rfc3339(),
        )? {
            return Ok((minted.token, minted.token_id));
        }
    }
    Err(ApiError::internal("could not find a free token id"))
}

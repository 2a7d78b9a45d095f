//! `WorkloadSpec`: the declared state of a workload, its local validation (sdk-behaviour
//! §3.1), the desired config (§4.2) and the create body (wire §6.2). Also the slug and
//! path-segment helpers every route uses.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::codes::{self, Code};
use crate::error::{Error, Result};
use crate::token::contains_token_prefix;

/// The 13 task types of wire §4; the first is the default.
pub const TASK_TYPES: [&str; 13] = [
    "text2text",
    "embedding",
    "text2image",
    "text2video",
    "text2audio",
    "image2image",
    "image2video",
    "audio2text",
    "omni",
    "reranker",
    "classification",
    "reward",
    "forecast",
];
/// Native backends; any other canonical slug is a custom backend.
pub const BACKENDS: [&str; 6] = [
    "ollama",
    "vllm",
    "vllm-omni",
    "sglang",
    "llamacpp",
    "stablediffusioncpp",
];
pub const EXECUTION_POLICIES: [&str; 3] = ["fixed", "scheduled", "autoscaling"];
pub const DEFAULT_TASK_TYPE: &str = TASK_TYPES[0];
pub const MAX_SLUG_LEN: usize = 63;
/// What `is_slug_pattern` accepts, for the JSON Schema.
const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// The declared state of a workload, keyed by the Python keyword names.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
// Missing or null required strings become "" so that validation reports `empty_field`; the
// schema states what a valid spec holds.
#[schemars(extend("required" = ["name", "slug", "model", "backend"]))]
pub struct WorkloadSpec {
    #[serde(deserialize_with = "null_as_empty")]
    #[schemars(length(min = 1))]
    pub name: String,
    /// Canonical: 1-63 lower-case letters, digits and single hyphens.
    #[serde(deserialize_with = "null_as_empty")]
    #[schemars(length(min = 1, max = MAX_SLUG_LEN), pattern(SLUG_PATTERN))]
    pub slug: String,
    #[serde(deserialize_with = "null_as_empty")]
    #[schemars(length(min = 1))]
    pub model: String,
    /// A native backend (`vllm`, `sglang`, `ollama`, `llamacpp`, ...) or a custom backend slug.
    #[serde(deserialize_with = "null_as_empty")]
    #[schemars(pattern(SLUG_PATTERN))]
    pub backend: String,
    pub project: Option<String>,
    pub description: Option<String>,
    pub command: Option<String>,
    pub vllm_version: Option<String>,
    /// One of the 13 task types; default `text2text`.
    #[schemars(extend("enum" = crate::schema::null_or(&TASK_TYPES)))]
    pub task_type: Option<String>,
    pub config: Option<Map<String, Value>>,
    #[schemars(extend("enum" = crate::schema::null_or(&EXECUTION_POLICIES)))]
    pub execution_policy: Option<String>,
    pub execution_policy_config: Option<Map<String, Value>>,
    pub worker_id: Option<String>,
    pub gpu_resource_id: Option<String>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// A `ValidationError` naming the offending field.
fn invalid(code: Code, field: &str, message: impl AsRef<str>) -> Error {
    Error::validation(code, message).with_detail("field", Value::from(field))
}

impl WorkloadSpec {
    /// Local validation (sdk-behaviour §3.1): the checks run in table order and the first
    /// failure is returned. Two checks of ours run after the table, so that they never change
    /// which documented error a spec gets: `task_type` must be one of the 13 and
    /// `execution_policy` one of the 3 (`invalid_field`; the server would answer 422 anyway).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("name", &self.name),
            ("slug", &self.slug),
            ("model", &self.model),
            ("backend", &self.backend),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(
                    codes::EMPTY_FIELD,
                    field,
                    format!("{field} must not be empty"),
                ));
            }
        }
        validate_slug(&self.slug, "slug")?;
        if !is_slug_pattern(&self.backend) {
            return Err(invalid(
                codes::INVALID_FIELD,
                "backend",
                format!(
                    "backend \"{}\" is neither a native backend ({}) nor a custom backend slug \
                     matching ^[a-z0-9]+(-[a-z0-9]+)*$",
                    self.backend,
                    BACKENDS.join(", ")
                ),
            ));
        }
        if let Some(field) = self.secret_field() {
            return Err(Error::config(
                codes::SECRET_IN_SPEC,
                format!("secrets must never go in specs (field \"{field}\")"),
            )
            .with_detail("field", Value::from(field)));
        }
        for (key, declared) in [
            ("command", &self.command),
            ("vllm_version", &self.vllm_version),
        ] {
            let in_config = self.config.as_ref().and_then(|c| c.get(key));
            if let (Some(declared), Some(in_config)) = (declared, in_config) {
                if !in_config.is_null() && in_config.as_str() != Some(declared) {
                    return Err(invalid(
                        codes::CONFLICTING_FIELD,
                        key,
                        format!("{key} and config[\"{key}\"] disagree; set it in one place"),
                    ));
                }
            }
        }
        check_enum("task_type", self.task_type.as_deref(), &TASK_TYPES)?;
        check_enum(
            "execution_policy",
            self.execution_policy.as_deref(),
            &EXECUTION_POLICIES,
        )
    }

    /// The path of the first string (or object key) holding a token prefix, if any. A key
    /// that holds one is reported by its parent's path, so the path itself never leaks it.
    fn secret_field(&self) -> Option<String> {
        let strings = [
            ("name", Some(&self.name)),
            ("slug", Some(&self.slug)),
            ("model", Some(&self.model)),
            ("backend", Some(&self.backend)),
            ("project", self.project.as_ref()),
            ("description", self.description.as_ref()),
            ("command", self.command.as_ref()),
            ("vllm_version", self.vllm_version.as_ref()),
            ("task_type", self.task_type.as_ref()),
            ("execution_policy", self.execution_policy.as_ref()),
            ("worker_id", self.worker_id.as_ref()),
            ("gpu_resource_id", self.gpu_resource_id.as_ref()),
        ];
        if let Some((field, _)) = strings
            .iter()
            .find(|(_, v)| v.is_some_and(|s| contains_token_prefix(s)))
        {
            return Some((*field).to_owned());
        }
        [
            ("config", &self.config),
            ("execution_policy_config", &self.execution_policy_config),
        ]
        .into_iter()
        .find_map(|(field, map)| secret_in_map(field, map.as_ref()?))
    }

    /// `config` with `command` and `vllm_version` set on top when declared (§4.2).
    pub fn desired_config(&self) -> Map<String, Value> {
        let mut config = self.config.clone().unwrap_or_default();
        for (key, value) in [
            ("command", &self.command),
            ("vllm_version", &self.vllm_version),
        ] {
            if let Some(value) = value {
                config.insert(key.to_owned(), Value::from(value.as_str()));
            }
        }
        config
    }

    /// The `task_type` that is sent and compared: `text2text` when undeclared.
    pub fn effective_task_type(&self) -> &str {
        self.task_type.as_deref().unwrap_or(DEFAULT_TASK_TYPE)
    }

    /// Every field a create sends, in wire §6.2 order, as `(spec field, wire key, value)`.
    /// Unset optionals are left out (never `null`); an empty merged config is not sent.
    pub fn create_fields(&self) -> Vec<(&'static str, &'static str, Value)> {
        let text = |s: &str| Value::from(s);
        let config = self.desired_config();
        let optional = [
            ("description", self.description.as_deref().map(text)),
            (
                "config",
                (!config.is_empty()).then_some(Value::Object(config)),
            ),
            ("worker_id", self.worker_id.as_deref().map(text)),
            ("gpu_resource_id", self.gpu_resource_id.as_deref().map(text)),
            (
                "execution_policy",
                self.execution_policy.as_deref().map(text),
            ),
            (
                "execution_policy_config",
                self.execution_policy_config.clone().map(Value::Object),
            ),
        ];
        let mut fields = vec![
            ("name", "name", text(&self.name)),
            ("slug", "slug", text(&self.slug)),
            ("task_type", "task_type", text(self.effective_task_type())),
            ("backend", "backend", text(&self.backend)),
            ("model", "model_name", text(&self.model)),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(key, value)| Some((key, key, value?))),
        );
        fields
    }

    /// The create body (wire §6.2).
    pub fn create_body(&self) -> Value {
        Value::Object(
            self.create_fields()
                .into_iter()
                .map(|(_, key, value)| (key.to_owned(), value))
                .collect(),
        )
    }
}

fn secret_in_map(path: &str, map: &Map<String, Value>) -> Option<String> {
    map.iter().find_map(|(key, value)| {
        if contains_token_prefix(key) {
            Some(path.to_owned())
        } else {
            secret_in_value(&format!("{path}.{key}"), value)
        }
    })
}

fn secret_in_value(path: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(s) => contains_token_prefix(s).then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| secret_in_value(&format!("{path}[{i}]"), v)),
        Value::Object(map) => secret_in_map(path, map),
        _ => None,
    }
}

fn check_enum(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<()> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(invalid(
            codes::INVALID_FIELD,
            field,
            format!("{field} \"{v}\" must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Whether `s` matches `^[a-z0-9]+(-[a-z0-9]+)*$` (no length limit).
fn is_slug_pattern(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The canonical form of `s` (§3.1): ASCII letters and digits kept and lower-cased, every
/// other run replaced by one `-`, ends trimmed, cut to 63 chars (and trimmed again, so the
/// result is itself a valid slug unless empty).
pub fn canonical_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SLUG_LEN));
    let mut gap = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    out.truncate(MAX_SLUG_LEN);
    out.truncate(out.trim_end_matches('-').len());
    out
}

/// Checks a slug argument (`what` names it: `slug`, `workload_slug`, …): blank →
/// `empty_field`; outside the pattern or over 63 chars → `invalid_slug`, naming the canonical
/// form. A slug is never rewritten silently; surrounding whitespace is not trimmed.
pub fn validate_slug(slug: &str, what: &str) -> Result<()> {
    if slug.trim().is_empty() {
        return Err(invalid(
            codes::EMPTY_FIELD,
            what,
            format!("{what} must not be empty"),
        ));
    }
    if slug.len() <= MAX_SLUG_LEN && is_slug_pattern(slug) {
        return Ok(());
    }
    let canonical = canonical_slug(slug);
    // Hyphenating a token would hide it from scrubbing, so no suggestion is offered then.
    let hint = if canonical.is_empty() || contains_token_prefix(slug) {
        "use 1-63 lower-case letters, digits and single hyphens".to_owned()
    } else {
        format!("use \"{canonical}\"")
    };
    Err(invalid(
        codes::INVALID_SLUG,
        what,
        format!("{what} \"{slug}\" is not canonical; {hint}"),
    ))
}

/// Percent-encodes one path segment (wire §1): every byte outside `A-Z a-z 0-9 - . _ ~`
/// becomes upper-case `%XX`.
pub fn path_segment(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.extend([
                '%',
                char::from(HEX[usize::from(b >> 4)]),
                char::from(HEX[usize::from(b & 15)]),
            ]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            name: "Support Bot".into(),
            slug: "support-bot".into(),
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            backend: "vllm".into(),
            ..Default::default()
        }
    }

    fn err(s: &WorkloadSpec) -> Error {
        s.validate().unwrap_err()
    }

    #[test]
    fn deserializes_python_keywords() {
        let s: WorkloadSpec = serde_json::from_value(json!({
            "name": "n", "slug": "s", "model": "m", "backend": "vllm",
            "description": null, "config": {"a": 1}, "task_type": "embedding"
        }))
        .unwrap();
        assert_eq!(s.description, None);
        assert_eq!(s.config.unwrap()["a"], 1);
        let s: WorkloadSpec = serde_json::from_value(json!({"name": null})).unwrap();
        assert_eq!(s.name, "");
        assert!(serde_json::from_value::<WorkloadSpec>(json!({"nmae": "x"})).is_err());
        assert!(serde_json::from_value::<WorkloadSpec>(json!({"config": [1]})).is_err());
    }

    #[test]
    fn valid_spec_passes() {
        spec().validate().unwrap();
        let mut s = spec();
        s.backend = "acme-triton".into();
        s.task_type = Some("reranker".into());
        s.execution_policy = Some("autoscaling".into());
        s.command = Some("vllm serve x".into());
        s.config = Some(
            json!({"command": "vllm serve x", "vllm_version": null})
                .as_object()
                .unwrap()
                .clone(),
        );
        s.vllm_version = Some("0.6.3".into());
        s.validate().unwrap();
    }

    #[test]
    fn empty_fields_in_table_order() {
        let mut s = WorkloadSpec::default();
        for (field, fill) in [
            ("name", "N"),
            ("slug", "n"),
            ("model", "m"),
            ("backend", "b"),
        ] {
            let e = err(&s);
            assert_eq!(
                (e.kind, e.code.as_str()),
                (ErrorKind::Validation, "empty_field")
            );
            assert_eq!(e.message, format!("{field} must not be empty"));
            assert_eq!(e.field(), Some(field));
            match field {
                "name" => s.name = fill.into(),
                "slug" => s.slug = fill.into(),
                "model" => s.model = fill.into(),
                _ => s.backend = fill.into(),
            }
        }
        s.validate().unwrap();
        let mut s = spec();
        s.model = " \t".into();
        assert_eq!(err(&s).field(), Some("model"));
    }

    #[test]
    fn slug_must_be_canonical() {
        let mut s = spec();
        s.slug = "Support Bot".into();
        let e = err(&s);
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Validation, "invalid_slug")
        );
        assert_eq!(
            e.message,
            r#"slug "Support Bot" is not canonical; use "support-bot""#
        );
        assert_eq!(e.field(), Some("slug"));
        for bad in [" support-bot", "a--b", "-a", "a-", "a_b", "ABC", "é"] {
            assert!(validate_slug(bad, "slug").is_err(), "{bad}");
        }
        let long = "a".repeat(64);
        let e = validate_slug(&long, "workload_slug").unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "workload_slug \"{long}\" is not canonical; use \"{}\"",
                &long[..63]
            )
        );
        validate_slug(&long[..63], "slug").unwrap();
        let e = validate_slug("日本", "slug").unwrap_err();
        assert!(e
            .message
            .ends_with("use 1-63 lower-case letters, digits and single hyphens"));
        assert_eq!(
            validate_slug(" ", "workload_slug").unwrap_err().code,
            "empty_field"
        );
    }

    #[test]
    fn slug_error_never_shows_a_secret() {
        let e = validate_slug("ik_sdk_1a2b3c4d_deadbeefcafe", "slug").unwrap_err();
        assert_eq!(e.code, "invalid_slug");
        assert!(!e.message.contains("deadbeef"), "{}", e.message);
    }

    #[test]
    fn canonical_slug_rules() {
        assert_eq!(canonical_slug("Support Bot"), "support-bot");
        assert_eq!(
            canonical_slug("  --Billing__Embeddings v2!! "),
            "billing-embeddings-v2"
        );
        assert_eq!(canonical_slug("Crème brûlée"), "cr-me-br-l-e");
        assert_eq!(canonical_slug("***"), "");
        assert_eq!(
            canonical_slug(&format!("{}-b", "a".repeat(62))),
            "a".repeat(62)
        );
        assert_eq!(canonical_slug(&"A".repeat(100)).len(), 63);
    }

    #[test]
    fn custom_backend_must_be_a_slug() {
        let mut s = spec();
        s.backend = "acme_triton".into();
        let e = err(&s);
        assert_eq!(
            (e.code.as_str(), e.field()),
            ("invalid_field", Some("backend"))
        );
        for native in BACKENDS {
            s.backend = native.into();
            s.validate().unwrap();
        }
    }

    #[test]
    fn secrets_are_refused_anywhere() {
        let token = "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100";
        let mut s = spec();
        s.command = Some(format!("vllm serve x --api-key {token}"));
        let e = err(&s);
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Config, "secret_in_spec")
        );
        assert_eq!(
            e.message,
            r#"secrets must never go in specs (field "command")"#
        );
        let mut s = spec();
        s.config = json!({"env": {"UPSTREAM_TOKEN": "ik_sdk_x"}})
            .as_object()
            .cloned();
        assert_eq!(err(&s).field(), Some("config.env.UPSTREAM_TOKEN"));
        s.config = json!({"args": ["a", {"k": "ik_sdk_x"}]})
            .as_object()
            .cloned();
        assert_eq!(err(&s).field(), Some("config.args[1].k"));
        s.config = json!({"env": {"ik_live_key": 1}}).as_object().cloned();
        assert_eq!(err(&s).field(), Some("config.env"));
        let mut s = spec();
        s.execution_policy_config = json!({"x": "ik_sdk_"}).as_object().cloned();
        assert_eq!(err(&s).field(), Some("execution_policy_config.x"));
        let mut s = spec();
        s.project = Some("ik_sdk_p".into());
        assert_eq!(err(&s).field(), Some("project"));
    }

    #[test]
    fn conflicting_command() {
        let mut s = spec();
        s.command = Some("a".into());
        s.config = json!({"command": "b"}).as_object().cloned();
        let e = err(&s);
        assert_eq!(
            (e.kind, e.code.as_str(), e.field()),
            (ErrorKind::Validation, "conflicting_field", Some("command"))
        );
        let mut s = spec();
        s.vllm_version = Some("0.6.3".into());
        s.config = json!({"vllm_version": 6.3}).as_object().cloned();
        assert_eq!(err(&s).field(), Some("vllm_version"));
    }

    #[test]
    fn enums_are_checked_after_the_table() {
        let mut s = spec();
        s.task_type = Some("text2sql".into());
        let e = err(&s);
        assert_eq!(
            (e.code.as_str(), e.field()),
            ("invalid_field", Some("task_type"))
        );
        s.task_type = None;
        s.execution_policy = Some("always".into());
        assert_eq!(err(&s).field(), Some("execution_policy"));
        // A documented check wins over ours.
        s.command = Some("ik_sdk_x".into());
        assert_eq!(err(&s).code, "secret_in_spec");
    }

    #[test]
    fn validation_order_first_failure_wins() {
        let mut s = spec();
        s.slug = "Bad Slug".into();
        s.backend = "Bad_Backend".into();
        s.command = Some("ik_sdk_x".into());
        assert_eq!(err(&s).code, "invalid_slug");
        s.slug = "ok".into();
        assert_eq!(err(&s).code, "invalid_field");
        s.backend = "ok".into();
        assert_eq!(err(&s).code, "secret_in_spec");
        s.name = String::new();
        assert_eq!(err(&s).code, "empty_field");
    }

    #[test]
    fn create_body_holds_every_set_key() {
        let minimal = WorkloadSpec {
            name: "Billing Embeddings".into(),
            slug: "billing".into(),
            model: "nomic-embed-text".into(),
            backend: "ollama".into(),
            task_type: Some("embedding".into()),
            config: Some(Map::new()),
            ..Default::default()
        };
        assert_eq!(
            minimal.create_body(),
            json!({"name":"Billing Embeddings","slug":"billing","task_type":"embedding","backend":"ollama","model_name":"nomic-embed-text"})
        );
        let mut s = spec();
        s.description = Some(String::new());
        s.command = Some("vllm serve".into());
        s.config = json!({"command": null, "nested": {"n": null}})
            .as_object()
            .cloned();
        s.execution_policy_config = Some(Map::new());
        assert_eq!(
            s.create_body(),
            json!({"name": "Support Bot", "slug": "support-bot", "task_type": "text2text",
                   "backend": "vllm", "model_name": "meta-llama/Llama-3.1-8B-Instruct",
                   "description": "", "config": {"command": "vllm serve", "nested": {"n": null}},
                   "execution_policy_config": {}})
        );
        let order: Vec<_> = s.create_fields().into_iter().map(|(f, _, _)| f).collect();
        assert_eq!(
            order,
            [
                "name",
                "slug",
                "task_type",
                "backend",
                "model",
                "description",
                "config",
                "execution_policy_config"
            ]
        );
    }

    #[test]
    fn desired_config_overlays_command() {
        let mut s = spec();
        assert!(s.desired_config().is_empty());
        s.config = json!({"env": {"A": "1"}, "command": "old"})
            .as_object()
            .cloned();
        s.command = Some("new".into());
        s.vllm_version = Some("0.6.3".into());
        assert_eq!(
            Value::Object(s.desired_config()),
            json!({"env": {"A": "1"}, "command": "new", "vllm_version": "0.6.3"})
        );
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("support-bot"), "support-bot");
        assert_eq!(path_segment("A-Za-z0-9-._~"), "A-Za-z0-9-._~");
        assert_eq!(path_segment("a/b c?d#e%"), "a%2Fb%20c%3Fd%23e%25");
        assert_eq!(path_segment("é+"), "%C3%A9%2B");
        assert_eq!(path_segment(""), "");
    }
}

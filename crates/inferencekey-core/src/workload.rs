//! The workload record (wire §5) and lenient decoding of lists (wire §6.1, sdk-behaviour §4.5).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::log::Level;

/// A workload as the server described it; serialises to the Python `Workload` shape
/// (sdk-behaviour §3.2). Everything except `slug` may be absent.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Workload {
    pub id: Option<String>,
    pub project_id: Option<String>,
    pub project_slug: Option<String>,
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub task_type: Option<String>,
    pub backend: Option<String>,
    /// Wire `model_name`.
    pub model: Option<String>,
    pub config: Map<String, Value>,
    pub worker_id: Option<String>,
    pub gpu_resource_id: Option<String>,
    pub execution_policy: Option<String>,
    /// Any non-null value, kept as sent (an object on conforming servers).
    pub execution_policy_config: Option<Value>,
    pub phase: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// The element exactly as received.
    pub raw: Value,
}

/// A string, or a number converted to its decimal form (wire §1 ids, §6.1); else `None`.
fn lenient_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Workload {
    /// Decodes one element leniently: unknown keys are ignored, numbers become strings,
    /// `config` null or missing (or not an object) is `{}`. `None` when `v` is not an object
    /// or has no string or number `slug` (`workload_slug` is no substitute).
    pub fn from_value(v: &Value) -> Option<Workload> {
        let obj = v.as_object()?;
        let text = |key: &str| lenient_string(obj.get(key));
        Some(Workload {
            slug: text("slug")?,
            id: text("id"),
            project_id: text("project_id"),
            project_slug: text("project_slug"),
            name: text("name"),
            description: text("description"),
            task_type: text("task_type"),
            backend: text("backend"),
            model: text("model_name"),
            config: obj
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            worker_id: text("worker_id"),
            gpu_resource_id: text("gpu_resource_id"),
            execution_policy: text("execution_policy"),
            execution_policy_config: obj
                .get("execution_policy_config")
                .filter(|v| !v.is_null())
                .cloned(),
            phase: text("phase"),
            created_at: text("created_at"),
            updated_at: text("updated_at"),
            raw: v.clone(),
        })
    }

    /// The `{id}` of `/api/workloads/{id}`: the id, else the slug (wire §5).
    pub fn path_id(&self) -> &str {
        self.id
            .as_deref()
            .filter(|id| !id.is_empty())
            .unwrap_or(&self.slug)
    }
}

/// Decodes a list answer: a bare array, `{"workloads": [...]}`, or `null` /
/// `{"workloads": null}` (empty). Odd elements are skipped and logged at debug level; any
/// other shape is `invalid_response`.
pub fn decode_list(body: &Value) -> Result<Vec<Workload>> {
    let items = match body {
        Value::Array(items) => items,
        Value::Null => return Ok(Vec::new()),
        Value::Object(obj) => match obj.get("workloads") {
            Some(Value::Array(items)) => items,
            Some(Value::Null) => return Ok(Vec::new()),
            _ => return Err(list_shape_error()),
        },
        _ => return Err(list_shape_error()),
    };
    Ok(items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let workload = Workload::from_value(item);
            if workload.is_none() {
                crate::log!(Level::Debug, "inferencekey.reconcile",
                    "skipped workload list element {} (not an object with a string slug)", index;
                    "index" => index);
            }
            workload
        })
        .collect())
}

fn list_shape_error() -> Error {
    Error::invalid_response(
        "the workload list is neither a JSON array nor an object with a \"workloads\" array",
    )
}

/// Decodes the single workload a create or patch answers with; `invalid_response` when it
/// is not an object with a slug.
pub fn decode_one(body: &Value) -> Result<Workload> {
    Workload::from_value(body).ok_or_else(|| {
        Error::invalid_response("the server answered with a workload that has no slug")
    })
}

/// The first workload whose slug equals `slug` exactly (sdk-behaviour §4.1).
pub fn find_by_slug<'a>(workloads: &'a [Workload], slug: &str) -> Option<&'a Workload> {
    workloads.iter().find(|w| w.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn full() -> Value {
        json!({"id": "wl_1", "project_id": "proj_1", "project_slug": "acme", "slug": "support-bot",
               "workload_slug": "support-bot", "name": "Support Bot", "description": null,
               "task_type": "text2text", "backend": "vllm", "model_name": "m",
               "config": {"command": "c"}, "worker_id": null, "gpu_resource_id": null,
               "execution_policy": "fixed", "execution_policy_config": null, "phase": "ready",
               "created_at": "2026-07-25T10:15:03.412Z", "updated_at": "2026-07-25T10:15:03.412Z",
               "future_key": [1, 2]})
    }

    #[test]
    fn decodes_a_full_record_and_serialises_the_python_shape() {
        let w = Workload::from_value(&full()).unwrap();
        assert_eq!(w.model.as_deref(), Some("m"));
        assert_eq!(w.path_id(), "wl_1");
        let out = serde_json::to_value(&w).unwrap();
        let mut keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "backend",
                "config",
                "created_at",
                "description",
                "execution_policy",
                "execution_policy_config",
                "gpu_resource_id",
                "id",
                "model",
                "name",
                "phase",
                "project_id",
                "project_slug",
                "raw",
                "slug",
                "task_type",
                "updated_at",
                "worker_id"
            ]
        );
        assert_eq!(out["raw"], full());
        assert_eq!(out["config"], json!({"command": "c"}));
        assert_eq!(out["execution_policy_config"], Value::Null);
    }

    #[test]
    fn lenient_fields() {
        let w = Workload::from_value(&json!({"slug": 7, "id": 12, "name": true, "config": null,
            "execution_policy_config": {"a": 1}, "task_type": "text2sql"}))
        .unwrap();
        assert_eq!(
            (w.slug.as_str(), w.id.as_deref(), w.name.as_deref()),
            ("7", Some("12"), None)
        );
        assert!(w.config.is_empty());
        assert_eq!(w.execution_policy_config, Some(json!({"a": 1})));
        assert_eq!(w.task_type.as_deref(), Some("text2sql"));
        let w = Workload::from_value(&json!({"slug": "s", "id": ""})).unwrap();
        assert_eq!(w.path_id(), "s");
        assert_eq!(
            Workload::from_value(&json!({"slug": "s", "config": "x"}))
                .unwrap()
                .config,
            Map::new()
        );
    }

    #[test]
    fn list_shapes() {
        let one = json!([{"slug": "a"}]);
        assert_eq!(decode_list(&one).unwrap().len(), 1);
        assert_eq!(
            decode_list(&json!({"workloads": [{"slug": "a"}], "next": null}))
                .unwrap()
                .len(),
            1
        );
        assert!(decode_list(&json!({"workloads": null})).unwrap().is_empty());
        assert!(decode_list(&Value::Null).unwrap().is_empty());
        assert!(decode_list(&json!([])).unwrap().is_empty());
        for bad in [
            json!({}),
            json!({"items": []}),
            json!({"workloads": {}}),
            json!("x"),
            json!(3),
        ] {
            let e = decode_list(&bad).unwrap_err();
            assert_eq!(
                (e.kind, e.code.as_str()),
                (ErrorKind::Api, "invalid_response"),
                "{bad}"
            );
        }
    }

    #[test]
    fn odd_elements_are_skipped() {
        let body = json!(["support-bot", 42, null, [], {"workload_slug": "x"}, {"slug": null},
                          {"slug": {"a": 1}}, {"slug": "b"}, {"slug": 7}]);
        let slugs: Vec<_> = decode_list(&body)
            .unwrap()
            .into_iter()
            .map(|w| w.slug)
            .collect();
        assert_eq!(slugs, ["b", "7"]);
    }

    #[test]
    fn find_takes_the_first_exact_match() {
        let list = decode_list(
            &json!([{"slug": "a", "id": "1"}, {"slug": "A"}, {"slug": "a", "id": "2"}]),
        )
        .unwrap();
        assert_eq!(find_by_slug(&list, "a").unwrap().path_id(), "1");
        assert!(find_by_slug(&list, "a ").is_none());
    }

    #[test]
    fn decode_one_needs_a_slug() {
        assert_eq!(decode_one(&full()).unwrap().slug, "support-bot");
        assert_eq!(
            decode_one(&json!({"id": "x"})).unwrap_err().code,
            "invalid_response"
        );
    }
}

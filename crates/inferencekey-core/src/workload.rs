//! The workload record (wire §5) and lenient decoding of lists (wire §6.1, sdk-behaviour §4.5).

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

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
                log_skipped(index);
            }
            workload
        })
        .collect())
}

fn log_skipped(index: usize) {
    crate::log!(Level::Debug, "inferencekey.reconcile",
        "skipped workload list element {} (not an object with a string slug)", index;
        "index" => index);
}

/// The first workload of a list answer whose slug equals `slug` exactly, with the same
/// result and debug records as [`decode_list`] of the parsed body then [`find_by_slug`]; but
/// only the match is decoded into a [`Workload`]. The other elements are read for their slug
/// alone, borrowed from `body`, so a no-op `ensure()` against a long list allocates almost
/// nothing. `None` for a body this path does not cover (not a bare array, not JSON, or nesting
/// deeper than [`PROBE_MAX_DEPTH`]): the caller then decodes it in full, which gives the
/// exact result or error.
pub fn find_in_list(body: &[u8], slug: &str) -> Option<Option<Workload>> {
    // One pass: the brackets and commas are read here, each element is parsed by `serde_json`
    // as strictly as `Value` would (numbers in range, escapes and surrogates checked) but
    // keeping only its slug, and its byte range is where the parser stopped.
    let mut pos = skip_whitespace(body, 0);
    if body.get(pos) != Some(&b'[') {
        return None;
    }
    pos = skip_whitespace(body, pos + 1);
    let mut found = None;
    // Logged only once the whole list is read: a body handed to the full decoder is logged
    // there, and only there.
    let mut skipped = Vec::new();
    if body.get(pos) == Some(&b']') {
        pos += 1;
    } else {
        for index in 0.. {
            let mut elements = serde_json::Deserializer::from_slice(&body[pos..]).into_iter();
            let probe: Probe = elements.next()?.ok()?;
            let end = pos + elements.byte_offset();
            match probe {
                Probe::Slug(Some(s)) => {
                    if found.is_none() && s == slug {
                        found = Some(&body[pos..end]);
                    }
                }
                Probe::Slug(None) | Probe::NotObject => skipped.push(index),
            }
            pos = skip_whitespace(body, end);
            match body.get(pos) {
                Some(b',') => pos = skip_whitespace(body, pos + 1),
                Some(b']') => {
                    pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if skip_whitespace(body, pos) != body.len() {
        return None;
    }
    let found = match found {
        None => None,
        Some(item) => {
            let value: Value = serde_json::from_slice(item).ok()?;
            Some(Workload::from_value(&value)?)
        }
    };
    skipped.into_iter().for_each(log_skipped);
    Some(found)
}

/// The index of the first byte at or after `pos` that is not JSON whitespace.
fn skip_whitespace(body: &[u8], pos: usize) -> usize {
    body.get(pos..).map_or(body.len(), |rest| {
        pos + rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count()
    })
}

/// Deeper elements take the full decoder, so that `serde_json`'s own nesting limit (which
/// counts from the top of the body) decides exactly as before.
const PROBE_MAX_DEPTH: usize = 64;

/// One list element as the match needs it: an object's slug, read like `lenient_string`
/// (the last `slug` key wins, as in a `Value` map).
enum Probe<'a> {
    NotObject,
    Slug(Option<Cow<'a, str>>),
}

impl<'de> Deserialize<'de> for Probe<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> std::result::Result<Self, D::Error> {
        de.deserialize_any(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Probe<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(Probe::NotObject)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(Probe::NotObject)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(Probe::NotObject)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(Probe::NotObject)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok(Probe::NotObject)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(Probe::NotObject)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        Checked(1).visit_seq(seq)?;
        Ok(Probe::NotObject)
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut slug = None;
        while let Some(is_slug) = map.next_key_seed(IsSlug)? {
            if is_slug {
                slug = map.next_value_seed(SlugValue)?;
            } else {
                map.next_value_seed(Checked(2))?;
            }
        }
        Ok(Probe::Slug(slug))
    }
}

/// A key, compared with `slug` without keeping it.
struct IsSlug;

impl<'de> DeserializeSeed<'de> for IsSlug {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for IsSlug {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> std::result::Result<bool, E> {
        Ok(key == "slug")
    }
}

/// A `slug` value: a string (borrowed unless it has escapes) or a number in the decimal form
/// `Value` prints; anything else is `None`.
struct SlugValue;

impl<'de> DeserializeSeed<'de> for SlugValue {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        de: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SlugValue {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(Some(Cow::Owned(Number::from(v).to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(Some(Cow::Owned(Number::from(v).to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok(Number::from_f64(v).map(|n| Cow::Owned(n.to_string())))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        Checked(2).visit_seq(seq)?;
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
        Checked(2).visit_map(map)?;
        Ok(None)
    }
}

/// Any value, parsed as `Value` would parse it (so the same inputs fail) but kept nowhere;
/// the number is its nesting depth within the element.
struct Checked(usize);

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        if self.0 > PROBE_MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply for the fast path"));
        }
        while seq.next_element_seed(Checked(self.0 + 1))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        if self.0 > PROBE_MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply for the fast path"));
        }
        while map.next_key_seed(IsSlug)?.is_some() {
            map.next_value_seed(Checked(self.0 + 1))?;
        }
        Ok(())
    }
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

    /// What the callers did before [`find_in_list`]: parse it all, decode it all, then find.
    fn full_decode(body: &[u8], slug: &str) -> std::result::Result<Option<Workload>, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let list = decode_list(&value).map_err(|e| e.message)?;
        Ok(find_by_slug(&list, slug).cloned())
    }

    /// `find_in_list` then, when it declines, the full decoder: what the callers do now.
    fn fast_then_full(body: &[u8], slug: &str) -> std::result::Result<Option<Workload>, String> {
        find_in_list(body, slug).map_or_else(|| full_decode(body, slug), Ok)
    }

    #[test]
    fn find_in_list_takes_the_fast_path_and_agrees_with_the_full_decoder() {
        let mut long: Vec<Value> = (0..50)
            .map(|i| json!({"slug": format!("w{i}"), "config": {"n": i, "a": [1.5, null]}}))
            .collect();
        long.push(full());
        let long = serde_json::to_vec(&long).unwrap();
        let cases: [(&[u8], &str); 11] = [
            (&long, "support-bot"),
            (&long, "w7"),
            (&long, "absent"),
            (br#"[{"slug": "a", "id": "1"}, {"slug": "A"}, {"slug": "a", "id": "2"}]"#, "a"),
            // Odd elements are skipped, numbers are slugs in `Value`'s decimal form.
            (br#"["a", 42, null, [], {"workload_slug": "a"}, {"slug": null}, {"slug": {"a": 1}}, {"slug": 7}, {"slug": 7.5e0}]"#, "7"),
            (br#"[{"slug": 7.5e0, "id": "x"}]"#, "7.5"),
            (br#"[{"slug": -3}]"#, "-3"),
            // Escapes in keys and values; the last of duplicate keys wins, as in a `Value` map.
            (br#"[{"sl\u0075g": "caf\u00e9", "name": "\"q\""}]"#, "caf\u{e9}"),
            (br#"[{"slug": "a", "slug": "b"}]"#, "b"),
            (br#"[{"slug": "a", "slug": null}]"#, "a"),
            (b" [ ] ", "a"),
        ];
        for (body, slug) in cases {
            let text = String::from_utf8_lossy(body);
            assert!(
                find_in_list(body, slug).is_some(),
                "fast path declined {text}"
            );
            assert_eq!(
                fast_then_full(body, slug),
                full_decode(body, slug),
                "{text} / {slug}"
            );
        }
        assert_eq!(
            fast_then_full(&long, "support-bot").unwrap().unwrap(),
            Workload::from_value(&full()).unwrap()
        );
        assert_eq!(fast_then_full(&long, "absent"), Ok(None));
        let found = fast_then_full(br#"[{"slug": 7.5e0, "id": "x"}]"#, "7.5").unwrap();
        assert_eq!(found.unwrap().path_id(), "x");
    }

    #[test]
    fn find_in_list_leaves_other_bodies_to_the_full_decoder() {
        let nested = "[".repeat(70) + &"]".repeat(70);
        let deep = format!(r#"[{{"slug": "a", "x": {nested}}}]"#);
        let too_deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
        let cases: [&[u8]; 11] = [
            // Not a bare array: null, the `workloads` object, other shapes.
            b"null",
            br#"{"workloads": [{"slug": "a"}]}"#,
            br#"{"workloads": null}"#,
            br#"{"items": []}"#,
            // Not JSON, or JSON that `Value` refuses after the match: out-of-range numbers,
            // lone surrogates, trailing garbage.
            br#"[{"slug": "a"}, {"slug": "b", "n": 1e400}]"#,
            br#"[{"slug": "a"}, {"slug": "\ud800"}]"#,
            br#"[{"slug": "a"}] x"#,
            br#"[{"slug": "a"},]"#,
            b"",
            deep.as_bytes(),
            too_deep.as_bytes(),
        ];
        for body in cases {
            let text = String::from_utf8_lossy(body);
            assert!(find_in_list(body, "a").is_none(), "fast path took {text}");
            assert_eq!(fast_then_full(body, "a"), full_decode(body, "a"), "{text}");
        }
        // Still decoded, by the full decoder.
        let found = fast_then_full(br#"{"workloads": [{"slug": "a"}]}"#, "a").unwrap();
        assert_eq!(found.unwrap().slug, "a");
        assert!(fast_then_full(br#"[{"slug": "a"}, {"n": 1e400}]"#, "a").is_err());
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

//! Request bodies of the data plane, written straight to JSON from the caller's arguments.
//!
//! A body is the SDK's own keys, borrowed, then the caller's `extra_body`. No `Value` tree is
//! built per call: building and then encoding one cost more than the rest of a call's request
//! work together.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One value of a body.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    Text(&'a str),
    Flag(bool),
    Count(u64),
    /// Caller-given JSON, already checked.
    Json(&'a Value),
    /// A prompt, sent as the one user message `[{"role": "user", "content": …}]`.
    Prompt(&'a str),
    /// One string, sent as a one-item list.
    OneText(&'a str),
}

/// A JSON object body. Reserved keys come first and `extra_body` may not set them; it may
/// override the optional keys, and its own keys follow (sdk §5: merged last).
#[derive(Debug, Clone)]
pub struct Body<'a> {
    fields: Vec<(&'static str, Field<'a>)>,
    reserved: usize,
    extra: Option<&'a Map<String, Value>>,
}

impl<'a> Body<'a> {
    /// A body of `reserved` keys only.
    pub fn new<const N: usize>(reserved: [(&'static str, Field<'a>); N]) -> Body<'a> {
        let mut fields = Vec::with_capacity(N + 4);
        fields.extend(reserved);
        Body {
            fields,
            reserved: N,
            extra: None,
        }
    }

    /// Adds an optional key (one `extra_body` may override).
    pub fn set(&mut self, key: &'static str, value: Field<'a>) {
        self.fields.push((key, value));
    }

    /// Adds the caller's `extra_body`, refusing any key of the reserved ones.
    pub fn extra(mut self, extra: Option<&'a Map<String, Value>>) -> Result<Body<'a>> {
        if let Some(extra) = extra {
            let reserved = &self.fields[..self.reserved];
            if let Some((key, _)) = reserved.iter().find(|(k, _)| extra.contains_key(*k)) {
                return Err(Error::invalid_argument(format!(
                    "extra_body may not set \"{key}\""
                )));
            }
        }
        self.extra = extra;
        Ok(self)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        // Cannot fail: every key is a string and every number came from JSON or a u64.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, value) in &self.fields {
            if !self.extra.is_some_and(|e| e.contains_key(*key)) {
                map.serialize_entry(key, value)?;
            }
        }
        for (key, value) in self.extra.into_iter().flatten() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct UserMessage<'a> {
    role: &'static str,
    content: &'a str,
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match *self {
            Field::Text(t) => s.serialize_str(t),
            Field::Flag(b) => s.serialize_bool(b),
            Field::Count(n) => s.serialize_u64(n),
            Field::Json(v) => v.serialize(s),
            Field::Prompt(content) => [UserMessage {
                role: "user",
                content,
            }]
            .serialize(s),
            Field::OneText(t) => [t].serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn extra(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn writes_reserved_then_optional_then_extra() {
        let stop = json!(["\n"]);
        let mut body = Body::new([
            ("model", Field::Text("m")),
            ("messages", Field::Prompt("hi \"there\"")),
            ("stream", Field::Flag(false)),
        ]);
        body.set("max_tokens", Field::Count(7));
        body.set("stop", Field::Json(&stop));
        let extra = extra(json!({"top_k": 5}));
        let body = body.extra(Some(&extra)).unwrap();
        assert_eq!(
            String::from_utf8(body.to_vec()).unwrap(),
            r#"{"model":"m","messages":[{"role":"user","content":"hi \"there\""}],"stream":false,"max_tokens":7,"stop":["\n"],"top_k":5}"#
        );
    }

    #[test]
    fn extra_body_overrides_optional_keys_once() {
        let mut body = Body::new([("model", Field::Text("m")), ("input", Field::OneText("a"))]);
        body.set("max_tokens", Field::Count(7));
        let extra = extra(json!({"max_tokens": 9}));
        let body = body.extra(Some(&extra)).unwrap();
        let sent: Value = serde_json::from_slice(&body.to_vec()).unwrap();
        assert_eq!(sent, json!({"model": "m", "input": ["a"], "max_tokens": 9}));
        assert_eq!(
            String::from_utf8(body.to_vec())
                .unwrap()
                .matches("max_tokens")
                .count(),
            1
        );
    }

    #[test]
    fn extra_body_cannot_replace_reserved_keys() {
        for key in ["model", "input"] {
            let extra = extra(json!({ key: "x" }));
            let body = Body::new([("model", Field::Text("m")), ("input", Field::OneText("a"))]);
            let err = body.extra(Some(&extra)).unwrap_err();
            assert_eq!(err.code, "invalid_argument");
            assert!(err.message.contains(key), "{}", err.message);
        }
    }
}

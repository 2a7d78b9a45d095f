//! Fire-and-forget jobs (wire §8): `POST /endpoint/{project}/{workload}/jobs` answers `202`
//! with a job id; the result reaches the workload's webhooks. Everything a server would refuse
//! with a 400 is refused here first, with the rule named.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::CallOptions;
use crate::error::{Error, Result};

macro_rules! job_kinds {
    ($( $variant:ident = $wire:literal $(| $alias:literal)* ; )*) => {
        /// What a job runs. Parsed from its wire name or an alias (`chat_completions` is
        /// `chat`); sent as the wire name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum JobKind { $( $variant, )* }

        impl JobKind {
            pub const ALL: &'static [JobKind] = &[$( JobKind::$variant, )*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $( JobKind::$variant => $wire, )* }
            }

            /// Names accepted besides the wire name.
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $( JobKind::$variant => &[$($alias),*], )* }
            }

            /// A kind from its wire name or an alias (exact, case-sensitive).
            pub fn parse(name: &str) -> Option<JobKind> {
                match name {
                    $( $wire $(| $alias)* => Some(JobKind::$variant), )*
                    _ => None,
                }
            }

            /// Every accepted name, for messages: `chat (chat_completions), embeddings, …`.
            pub fn accepted() -> String {
                let names: Vec<String> = JobKind::ALL
                    .iter()
                    .map(|k| match k.aliases() {
                        [] => k.as_str().to_owned(),
                        aliases => format!("{} ({})", k.as_str(), aliases.join(", ")),
                    })
                    .collect();
                names.join(", ")
            }
        }
    };
}

job_kinds! {
    Chat = "chat" | "chat_completions";
    Embeddings = "embeddings";
    Rerank = "rerank" | "reranking";
    AudioSpeech = "audio_speech";
    AudioGenerate = "audio_generate";
    AudioTranscriptions = "audio_transcriptions";
    Images = "images" | "images_generations";
    ImagesEdits = "images_edits";
    ImagesVariations = "images_variations";
    Forecast = "forecast";
}

impl FromStr for JobKind {
    type Err = Error;

    fn from_str(name: &str) -> Result<JobKind> {
        JobKind::parse(name).ok_or_else(|| {
            Error::invalid_argument(format!(
                "unknown job kind {name:?}; expected one of {}",
                JobKind::accepted()
            ))
        })
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Arguments of `submit_job`: a JSON `body`, or bytes as `body_b64` with their
/// `content_type` (multipart audio, for instance).
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// A kind's wire name or alias: `chat` (`chat_completions`), `embeddings`, `rerank`
    /// (`reranking`), `audio_speech`, `audio_generate`, `audio_transcriptions`, `images`
    /// (`images_generations`), `images_edits`, `images_variations`, `forecast`.
    pub kind: String,
    /// The route's JSON request; `model` defaults to the workload's slug.
    pub body: Option<Map<String, Value>>,
    /// Standard base64 of a non-JSON body; not for `chat`.
    pub body_b64: Option<String>,
    /// The media type of `body_b64`, e.g. `multipart/form-data; boundary=…`.
    pub content_type: Option<String>,
    /// Any JSON, echoed back in the job's webhook deliveries.
    pub context: Option<Value>,
    pub options: Option<CallOptions>,
}

/// A submitted job.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct JobRef {
    pub job_id: String,
    /// The kind's wire name.
    pub kind: &'static str,
    pub request_id: Option<String>,
}

impl JobRequest {
    /// The wire body, after the local checks.
    pub(crate) fn wire_body(&self, slug: &str) -> Result<(JobKind, Vec<u8>)> {
        let kind: JobKind = self.kind.parse()?;
        let mut wire = Map::with_capacity(4);
        wire.insert("kind".into(), kind.as_str().into());
        match (&self.body, &self.body_b64) {
            (Some(body), None) => {
                if self.content_type.is_some() {
                    return Err(Error::invalid_argument(
                        "content_type goes with a bytes body (body_b64), not a JSON body",
                    ));
                }
                let mut body = body.clone();
                body.entry("model").or_insert_with(|| slug.into());
                wire.insert("body".into(), Value::Object(body));
            }
            (None, Some(b64)) => {
                if kind == JobKind::Chat {
                    return Err(Error::invalid_argument(
                        "a chat job takes a JSON body, not bytes (body_b64)",
                    ));
                }
                if let Err(e) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    return Err(Error::invalid_argument(format!(
                        "body_b64 is not standard base64: {e}"
                    )));
                }
                let content_type = self.content_type.as_deref().unwrap_or("");
                if content_type.trim().is_empty() || content_type.contains(['\r', '\n']) {
                    return Err(Error::invalid_argument(
                        "a bytes body needs a content_type (one line, e.g. audio/wav)",
                    ));
                }
                wire.insert("body_b64".into(), b64.as_str().into());
                wire.insert("content_type".into(), content_type.into());
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid_argument(
                    "give a job either a JSON body or bytes (body_b64), not both",
                ))
            }
            (None, None) => {
                return Err(Error::invalid_argument(
                    "a job needs a body: JSON, or bytes (body_b64) with a content_type",
                ))
            }
        }
        if let Some(context) = self.context.as_ref().filter(|c| !c.is_null()) {
            wire.insert("context".into(), context.clone());
        }
        Ok((
            kind,
            serde_json::to_vec(&Value::Object(wire)).expect("JSON"),
        ))
    }
}

/// The job id of a `202` body.
pub(crate) fn job_id_of(body: &[u8]) -> Result<String> {
    #[derive(Deserialize)]
    struct Accepted {
        job_id: String,
    }
    serde_json::from_slice::<Accepted>(body)
        .ok()
        .map(|a| a.job_id)
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| Error::invalid_response("a job submission's answer has no job_id string"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(v: Value) -> JobRequest {
        serde_json::from_value(v).unwrap()
    }

    fn wire(v: Value) -> Result<Value> {
        request(v)
            .wire_body("bot")
            .map(|(_, body)| serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn aliases_parse_to_the_wire_name() {
        for (name, kind) in [
            ("chat_completions", JobKind::Chat),
            ("reranking", JobKind::Rerank),
            ("images_generations", JobKind::Images),
            ("forecast", JobKind::Forecast),
        ] {
            assert_eq!(name.parse::<JobKind>().unwrap(), kind);
        }
        assert_eq!(JobKind::parse("Chat"), None);
        let err = "chat-completions".parse::<JobKind>().unwrap_err();
        assert!(
            err.message.contains(
                "expected one of chat (chat_completions), embeddings, rerank (reranking)"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_json_body_gets_the_slug_as_model_and_keeps_context() {
        let body = wire(json!({"kind": "chat_completions", "body": {"messages": []},
                               "context": {"order": 7}}))
        .unwrap();
        assert_eq!(
            body,
            json!({"kind": "chat", "body": {"messages": [], "model": "bot"}, "context": {"order": 7}})
        );
        let own = wire(json!({"kind": "embeddings", "body": {"model": "m", "input": ["a"]}}));
        assert_eq!(own.unwrap()["body"]["model"], "m");
    }

    #[test]
    fn bytes_bodies_need_base64_a_content_type_and_a_kind_that_takes_them() {
        let ok = wire(json!({"kind": "audio_transcriptions", "body_b64": "aGk=",
                             "content_type": "audio/wav"}));
        assert_eq!(ok.unwrap()["content_type"], "audio/wav");
        for (bad, says) in [
            (
                json!({"kind": "audio_speech", "body_b64": "a*b", "content_type": "x/y"}),
                "base64",
            ),
            (
                json!({"kind": "audio_speech", "body_b64": "aGk="}),
                "content_type",
            ),
            (
                json!({"kind": "audio_speech", "body_b64": "aGk=", "content_type": "a\r\nb"}),
                "content_type",
            ),
            (
                json!({"kind": "chat", "body_b64": "aGk=", "content_type": "x/y"}),
                "chat",
            ),
            (
                json!({"kind": "chat", "body": {}, "body_b64": "aGk="}),
                "not both",
            ),
            (json!({"kind": "chat"}), "needs a body"),
            (
                json!({"kind": "chat", "body": {}, "content_type": "x/y"}),
                "content_type",
            ),
            (json!({"kind": "sing", "body": {}}), "unknown job kind"),
        ] {
            let err = wire(bad.clone()).unwrap_err();
            assert_eq!(err.code, crate::codes::INVALID_ARGUMENT, "{bad}");
            assert!(err.message.contains(says), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn the_answer_must_name_a_job() {
        assert_eq!(job_id_of(br#"{"job_id":"4f1c"}"#).unwrap(), "4f1c");
        for bad in [
            &b"{}"[..],
            br#"{"job_id":7}"#,
            br#"{"job_id":" "}"#,
            b"<html>",
        ] {
            assert_eq!(
                job_id_of(bad).unwrap_err().code,
                crate::codes::INVALID_RESPONSE
            );
        }
    }
}

//! Shapes, for the JSON Schemas only, of request fields that the core keeps as raw JSON and
//! checks by hand, so that a wrong type gets the SDK's typed error rather than serde's.

use schemars::JsonSchema;
use serde_json::Value;

/// The `enum` of an optional choice: null or one of `choices`.
pub fn null_or(choices: &[&'static str]) -> Vec<Option<&'static str>> {
    std::iter::once(None)
        .chain(choices.iter().copied().map(Some))
        .collect()
}

/// A string, or a list of strings.
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum TextOrTexts {
    Text(String),
    Texts(Vec<String>),
}

/// A string, or a non-empty list of strings.
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum Inputs {
    Text(String),
    Texts(#[schemars(length(min = 1))] Vec<String>),
}

/// One chat message. Other keys (`name`, `tool_call_id`, ...) are sent as given.
#[derive(JsonSchema)]
pub struct Message {
    #[schemars(length(min = 1))]
    pub role: String,
    pub content: MessageContent,
}

/// Text, or a list of content parts (OpenAI's shape, passed through).
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<Value>),
}

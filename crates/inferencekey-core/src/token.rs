//! Tokens (wire §2): prefix and shape checks, redaction, zeroize-on-drop secrets.

use zeroize::Zeroizing;

use crate::codes;
use crate::error::{Error, ErrorKind, Result};

const SDK_PREFIX: &str = "ik_sdk_";
const LIVE_PREFIX: &str = "ik_live_";
/// How many characters of the public id a redaction shows (wire §2).
const SHOWN_ID_CHARS: usize = 8;
const ELLIPSIS: char = '\u{2026}';

/// Which plane a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `ik_sdk_`: control plane.
    Sdk,
    /// `ik_live_`: data plane.
    Live,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Sdk => SDK_PREFIX,
            TokenKind::Live => LIVE_PREFIX,
        }
    }

    /// The kind whose prefix `s` starts with, if any.
    fn of(s: &str) -> Option<TokenKind> {
        [TokenKind::Sdk, TokenKind::Live]
            .into_iter()
            .find(|k| s.starts_with(k.prefix()))
    }

    /// How a token of this kind is named in messages, and who requires it.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            TokenKind::Sdk => (
                "a management token",
                "the management plane requires an ik_sdk_ token",
            ),
            TokenKind::Live => ("a data key", "endpoints require an ik_live_ key"),
        }
    }
}

/// A validated token; the secret is zeroed when dropped and never shown by `Debug`.
#[derive(Clone)]
pub struct Token {
    kind: TokenKind,
    value: Zeroizing<String>,
}

impl Token {
    /// Checks a token for `expected` plane, before any request (wire §2, sdk-behaviour §7).
    /// Trims whitespace. The prefix is checked first, so a key of the other plane is named as
    /// such even when its shape is odd: other plane's prefix → `Permission`; no known prefix
    /// or bad shape → `Auth`. Both use code `wrong_credential_type`; messages hold only the
    /// redaction.
    pub fn parse(raw: &str, expected: TokenKind) -> Result<Token> {
        let trimmed = raw.trim();
        let (_, requirement) = expected.describe();
        let auth =
            |message: String| Error::new(ErrorKind::Auth, codes::WRONG_CREDENTIAL_TYPE, message);
        match TokenKind::of(trimmed) {
            None if trimmed.is_empty() => Err(auth(format!("the token is empty; {requirement}"))),
            None => Err(auth(format!(
                "the token is not an InferenceKey token; {requirement}"
            ))),
            Some(kind) if kind != expected => Err(Error::new(
                ErrorKind::Permission,
                codes::WRONG_CREDENTIAL_TYPE,
                format!(
                    "{} is {}; {requirement}",
                    redact(trimmed),
                    kind.describe().0
                ),
            )),
            Some(kind) => {
                let rest = &trimmed[kind.prefix().len()..];
                // Exactly the characters `scrub_secrets` takes as part of a token, so that any
                // token accepted here is redacted wherever it appears in text.
                if rest.is_empty() || !rest.bytes().all(is_token_byte) {
                    return Err(auth(format!(
                        "{} is malformed: a token is its prefix followed by printable ASCII \
                         characters without spaces, quotes or brackets",
                        redact(trimmed)
                    )));
                }
                Ok(Token {
                    kind,
                    value: Zeroizing::new(trimmed.to_owned()),
                })
            }
        }
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The full token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// `ik_sdk_1a2b3c4d…`
    pub fn redacted(&self) -> String {
        redact(&self.value)
    }

    /// The public token id as a redaction shows it (its first 8 chars), when the token splits
    /// as `ik_<kind>_<id>_<secret>`. Safe to log.
    pub fn public_id(&self) -> Option<&str> {
        split(&self.value).map(|(_, id)| id)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({})", self.redacted())
    }
}

/// `(prefix, shown id)` of a token that splits as `ik_<kind>_<id>_<secret>` with non-empty
/// id and secret; the id is cut to its first 8 chars.
fn split(token: &str) -> Option<(&'static str, &str)> {
    let prefix = TokenKind::of(token)?.prefix();
    let (id, secret) = token[prefix.len()..].split_once('_')?;
    if id.is_empty() || secret.is_empty() {
        return None;
    }
    let end = id
        .char_indices()
        .nth(SHOWN_ID_CHARS)
        .map_or(id.len(), |(i, _)| i);
    Some((prefix, &id[..end]))
}

/// Redacted display of any token-like string (wire §2 "Redaction").
pub fn redact(token: &str) -> String {
    let token = token.trim();
    match (split(token), TokenKind::of(token)) {
        (Some((prefix, id)), _) => format!("{prefix}{id}{ELLIPSIS}"),
        (None, Some(kind)) => format!("{}{ELLIPSIS}", kind.prefix()),
        (None, None) => "<redacted>".to_owned(),
    }
}

/// Whether `s` contains a token prefix anywhere (the `secret_in_spec` rule, wire §6.2).
pub fn contains_token_prefix(s: &str) -> bool {
    s.contains(SDK_PREFIX) || s.contains(LIVE_PREFIX)
}

/// A byte of a token: printable ASCII except quoting and bracketing characters, which delimit
/// tokens in JSON, logs and sentences. Parsing and scrubbing share it, so every token that
/// parses is scrubbed.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"\"'`,;()[]{}<>\\".contains(&b)
}

/// Replaces every token-like substring (`ik_sdk_…`, `ik_live_…`) of free text by its
/// redaction, and every webhook destination secret (`whsec_…`) by `whsec_…`. A prefix
/// followed by no token character is prose (`an ik_sdk_ token`) and stays; an existing
/// redaction (`ik_sdk_1a2b3c4d…`) stays too, so scrubbing is idempotent.
pub fn scrub_secrets(text: &str) -> String {
    let text = scrub_tokens(text);
    if !text.contains(WEBHOOK_SECRET_PREFIX) {
        return text;
    }
    scrub_webhook_secrets(&text)
}

/// Prefix of a webhook destination's signing secret (`whsec_<64 hex>`).
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// `whsec_<secret>` becomes `whsec_…`: unlike a token, no part of the secret is public.
fn scrub_webhook_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(WEBHOOK_SECRET_PREFIX) {
        let body = found + WEBHOOK_SECRET_PREFIX.len();
        let run = rest.as_bytes()[body..]
            .iter()
            .take_while(|&&b| is_token_byte(b))
            .count();
        out.push_str(&rest[..body]);
        if run > 0 {
            out.push(ELLIPSIS);
        }
        rest = &rest[body + run..];
    }
    out.push_str(rest);
    out
}

fn scrub_tokens(text: &str) -> String {
    let Some(first) = text.find("ik_") else {
        return text.to_owned();
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // text[..copied] is already in `out`
    let mut at = first;
    while let Some(found) = text[at..].find("ik_") {
        let start = at + found;
        let Some(kind) = TokenKind::of(&text[start..]) else {
            at = start + 3;
            continue;
        };
        let body = start + kind.prefix().len();
        let mut end = body
            + bytes[body..]
                .iter()
                .take_while(|&&b| is_token_byte(b))
                .count();
        // Sentence punctuation after a token is not part of it (a token of punctuation only,
        // which parses, keeps its first character and is redacted).
        while end > body + 1 && matches!(bytes[end - 1], b'.' | b':' | b'!' | b'?') {
            end -= 1;
        }
        let run = &text[body..end];
        let already_redacted =
            run.len() <= SHOWN_ID_CHARS && !run.contains('_') && text[end..].starts_with(ELLIPSIS);
        if !run.is_empty() && !already_redacted {
            out.push_str(&text[copied..start]);
            out.push_str(&redact(&text[start..end]));
            copied = end;
        }
        at = end.max(start + 3);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK: &str =
        "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const LIVE: &str =
        "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    #[test]
    fn webhook_secrets_are_scrubbed_whole() {
        let secret = format!("whsec_{}", "ab12".repeat(16));
        assert_eq!(
            scrub_secrets(&format!("secret={secret}, key {LIVE}.")),
            "secret=whsec_\u{2026}, key ik_live_9f8e7d6c\u{2026}."
        );
        assert_eq!(
            scrub_secrets(&format!("\"{secret}\"")),
            "\"whsec_\u{2026}\""
        );
        // Prose and an existing redaction stay; scrubbing twice changes nothing more.
        assert_eq!(scrub_secrets("a whsec_ secret"), "a whsec_ secret");
        let once = scrub_secrets(&format!("{secret} {secret}"));
        assert_eq!(once, "whsec_\u{2026} whsec_\u{2026}");
        assert_eq!(scrub_secrets(&once), once);
    }

    #[test]
    fn redaction_follows_wire_rules() {
        assert_eq!(redact(SDK), "ik_sdk_1a2b3c4d…");
        assert_eq!(redact(LIVE), "ik_live_9f8e7d6c…");
        assert_eq!(redact("ik_sdk_0123456789abcdef_s"), "ik_sdk_01234567…");
        assert_eq!(redact("ik_sdk_abc_s"), "ik_sdk_abc…");
        for no_split in [
            "ik_sdk_",
            "ik_sdk_nounderscore",
            "ik_sdk__secret",
            "ik_sdk_id_",
        ] {
            assert_eq!(redact(no_split), "ik_sdk_…", "{no_split}");
        }
        assert_eq!(redact("ik_live_x"), "ik_live_…");
        for other in ["", "sk-abc", "IK_SDK_1a2b3c4d_00", "Bearer ik_sdk_1_2"] {
            assert_eq!(redact(other), "<redacted>", "{other}");
        }
        // Multi-byte ids are cut on a char boundary.
        assert_eq!(redact("ik_sdk_ééééééééé_s"), "ik_sdk_éééééééé…");
    }

    #[test]
    fn parse_accepts_and_trims() {
        let t = Token::parse(&format!("  {SDK}\n"), TokenKind::Sdk).unwrap();
        assert_eq!((t.kind(), t.expose()), (TokenKind::Sdk, SDK));
        assert_eq!(t.public_id(), Some("1a2b3c4d"));
        assert_eq!(format!("{t:?}"), "Token(ik_sdk_1a2b3c4d…)");
        // Shape is lenient: hosted examples do not follow <8hex>_<64hex>.
        let t = Token::parse("ik_live_abc", TokenKind::Live).unwrap();
        assert_eq!((t.public_id(), t.redacted().as_str()), (None, "ik_live_…"));
        assert_eq!(t.clone().expose(), "ik_live_abc");
    }

    #[test]
    fn other_plane_is_permission_denied() {
        let e = Token::parse(LIVE, TokenKind::Sdk).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Permission, "wrong_credential_type")
        );
        assert_eq!(
            e.message,
            "ik_live_9f8e7d6c… is a data key; the management plane requires an ik_sdk_ token"
        );
        assert_eq!(e.http_status, None);
        let e = Token::parse(SDK, TokenKind::Live).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Permission);
        assert_eq!(
            e.message,
            "ik_sdk_1a2b3c4d… is a management token; endpoints require an ik_live_ key"
        );
        // The plane wins over the shape.
        assert_eq!(
            Token::parse("ik_live_a b", TokenKind::Sdk)
                .unwrap_err()
                .kind,
            ErrorKind::Permission
        );
    }

    #[test]
    fn unknown_or_malformed_is_auth_error() {
        let secretish = "sk-proj-VERYSECRET";
        for raw in [
            "",
            "   ",
            secretish,
            "ik_sdk_",
            "ik_sdk_a b",
            "ik_sdk_\u{7f}x",
            "ik_sdk_é",
            "ik_sdk_[x]",
            "ik_sdk_a\"b",
        ] {
            let e = Token::parse(raw, TokenKind::Sdk).unwrap_err();
            assert_eq!(
                (e.kind, e.code.as_str()),
                (ErrorKind::Auth, "wrong_credential_type"),
                "{raw:?}"
            );
            assert!(!e.message.contains("VERYSECRET"), "{}", e.message);
            assert!(e.message.contains("ik_sdk_"), "{}", e.message);
        }
        let e = Token::parse("ik_live_sec ret_x", TokenKind::Live).unwrap_err();
        assert!(!e.message.contains("sec"), "{}", e.message);
    }

    #[test]
    fn scrub_replaces_every_token() {
        // Found by the `token` fuzz target: every string that parses as a token is scrubbed.
        for odd in ["ik_live_?", "ik_sdk_..", "ik_live_x!"] {
            assert!(Token::parse(odd, TokenKind::of(odd).unwrap()).is_ok());
            assert!(!scrub_secrets(odd).contains(odd), "{odd}");
        }
        let text = format!("a {SDK} b \"{LIVE}\", c={SDK}.");
        assert_eq!(
            scrub_secrets(&text),
            "a ik_sdk_1a2b3c4d… b \"ik_live_9f8e7d6c…\", c=ik_sdk_1a2b3c4d…."
        );
        assert_eq!(
            scrub_secrets("key ik_live_9f8e7d6c_ffee"),
            "key ik_live_9f8e7d6c…"
        );
        assert_eq!(
            scrub_secrets("{\"k\":\"ik_sdk_nosplit\"}"),
            "{\"k\":\"ik_sdk_…\"}"
        );
        // Glued to other text, and secrets with odd characters, are still scrubbed whole.
        assert_eq!(scrub_secrets("xik_sdk_a/b+c=d_e/f"), "xik_sdk_a/b+c=d…");
        assert_eq!(
            scrub_secrets("--api-key=ik_live_SECRET"),
            "--api-key=ik_live_…"
        );
    }

    #[test]
    fn scrub_leaves_prose_and_redactions_alone() {
        for text in [
            "",
            "no tokens here",
            "ik_ alone, ik_other_x, ik_sdkx",
            "the management plane requires an ik_sdk_ token",
            "ik_live_9f8e7d6c… is a data key",
            "ik_sdk_… and ik_live_…",
            "naïve ik_sdk_ é",
        ] {
            assert_eq!(scrub_secrets(text), text);
        }
    }

    /// `tests/conformance/redaction.json`: the vectors every binding replays.
    const REDACTION_VECTORS: &str = include_str!("../../../tests/conformance/redaction.json");

    #[test]
    fn scrub_replays_the_redaction_vectors() {
        let doc: serde_json::Value = serde_json::from_str(REDACTION_VECTORS).unwrap();
        assert_eq!(doc["version"], 1);
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 30);
        let mut failures = Vec::new();
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let input = case["input"].as_str().unwrap();
            let expected = case["output"].as_str().unwrap();
            let got = scrub_secrets(input);
            if got != expected {
                failures.push(format!("{name}: {got:?} != {expected:?}"));
            }
            // Idempotent: a redacted text is its own redaction.
            assert_eq!(scrub_secrets(expected), expected, "{name}");
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn scrub_is_idempotent_and_never_leaks() {
        let samples = [
            format!("{SDK} {LIVE}"),
            "ik_sdk_abcdefghSECRET".to_owned(),
            "ik_sdk_SECRETSECRET…".to_owned(),
            "ik_live_1234567…".to_owned(),
        ];
        for s in &samples {
            let once = scrub_secrets(s);
            assert_eq!(scrub_secrets(&once), once);
            assert!(
                !once.contains("SECRET") && !once.contains("ffeedd"),
                "{once}"
            );
        }
    }
}

//! Token minting, hashing, verification and redaction (wire §2).
//!
//! A token is `ik_<kind>_<8hex id>_<64hex secret>`, made of 4 + 32 bytes from the OS CSPRNG.
//! Only `sha256(full token)` is stored; verification compares hashes in constant time.

use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Which plane a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ik_sdk_`: the control plane.
    Sdk,
    /// `ik_live_`: the data plane.
    Live,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Sdk => "ik_sdk_",
            Kind::Live => "ik_live_",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sdk => "sdk",
            Kind::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "sdk" => Some(Kind::Sdk),
            "live" => Some(Kind::Live),
            _ => None,
        }
    }
}

/// A freshly minted token: shown once, then only its hash is kept.
pub struct Minted {
    pub token: String,
    pub token_id: String,
    pub hash: String,
}

/// Mints a token of `kind` from the OS CSPRNG.
pub fn mint(kind: Kind) -> Result<Minted, String> {
    let mut bytes = [0u8; 36];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("the OS random generator failed: {e}"))?;
    let token_id = hex::encode(&bytes[..4]);
    let token = format!("{}{}_{}", kind.prefix(), token_id, hex::encode(&bytes[4..]));
    let hash = hash(&token);
    Ok(Minted {
        token,
        token_id,
        hash,
    })
}

/// 32 random bytes, hex: the admin secret.
pub fn random_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("the OS random generator failed: {e}"))?;
    Ok(hex::encode(bytes))
}

/// `sha256(token)` as lower-case hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of a presented token against a stored hash.
pub fn verify(token: &str, stored_hash: &str) -> bool {
    let presented = hash(token);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// Constant-time string equality (admin secret).
pub fn secure_eq(a: &str, b: &str) -> bool {
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.as_slice().ct_eq(hb.as_slice()).into()
}

/// Parses a token of the exact format of wire §2: returns its kind and public id.
pub fn parse_exact(token: &str) -> Option<(Kind, &str)> {
    let (kind, rest) = if let Some(rest) = token.strip_prefix("ik_sdk_") {
        (Kind::Sdk, rest)
    } else if let Some(rest) = token.strip_prefix("ik_live_") {
        (Kind::Live, rest)
    } else {
        return None;
    };
    let (id, secret) = rest.split_once('_')?;
    let lower_hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (lower_hex(id, 8) && lower_hex(secret, 64)).then_some((kind, id))
}

/// Replaces every token-looking substring of `text` by its redacted form (`ik_sdk_1a2b3c4d…`,
/// `ik_sdk_…`): the SDK core's one redaction (wire §2: "servers apply the same rule to their
/// logs"), so the platform's logs, log tails and upstream errors follow the same vectors
/// (`tests/conformance/redaction.json`) as every binding.
pub fn redact_text(text: &str) -> String {
    inferencekey_core::token::scrub_secrets(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_have_the_exact_format() {
        for kind in [Kind::Sdk, Kind::Live] {
            let m = mint(kind).unwrap();
            let (k, id) = parse_exact(&m.token).expect("exact format");
            assert_eq!(k, kind);
            assert_eq!(id, m.token_id);
            assert_eq!(m.token.len(), kind.prefix().len() + 8 + 1 + 64);
            assert!(verify(&m.token, &m.hash));
            assert!(!verify(&format!("{}0", m.token), &m.hash));
        }
    }

    #[test]
    fn exact_format_is_strict() {
        let good = format!("ik_sdk_1a2b3c4d_{}", "ab".repeat(32));
        assert!(parse_exact(&good).is_some());
        assert!(parse_exact(&good.to_uppercase()).is_none());
        assert!(parse_exact("ik_sdk_1a2b3c4d_short").is_none());
        assert!(parse_exact("ik_sdk_abc").is_none());
        assert!(parse_exact(&format!("ik_test_1a2b3c4d_{}", "ab".repeat(32))).is_none());
    }

    #[test]
    fn redaction() {
        let line = format!("key=ik_live_9f8e7d6c_{} end", "ff".repeat(32));
        assert_eq!(redact_text(&line), "key=ik_live_9f8e7d6c\u{2026} end");
        assert_eq!(redact_text("no secrets"), "no secrets");
        let minted = mint(Kind::Sdk).unwrap();
        let shown = redact_text(&format!("token {}.", minted.token));
        assert_eq!(shown, format!("token ik_sdk_{}\u{2026}.", minted.token_id));
        // Webhook destination secrets too (the core's redaction covers them).
        let secret = crate::webhooks::new_secret().unwrap();
        assert_eq!(redact_text(&format!("[{secret}]")), "[whsec_\u{2026}]");
    }

    /// The platform's log redaction gives the outputs every binding gives.
    #[test]
    fn redaction_replays_the_shared_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/conformance/redaction.json"))
                .unwrap();
        for case in doc["cases"].as_array().unwrap() {
            let (input, output) = (case["input"].as_str(), case["output"].as_str());
            assert_eq!(
                redact_text(input.unwrap()),
                output.unwrap(),
                "{}",
                case["name"]
            );
        }
    }
}

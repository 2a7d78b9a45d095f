//! Token parsing from any text: a token or a typed error, never a panic; a parsed token's
//! redacted form never contains its secret.
#![no_main]

use inferencekey_core::token::{redact, scrub_secrets, Token, TokenKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [TokenKind::Sdk, TokenKind::Live] {
        if let Ok(token) = Token::parse(text, kind) {
            assert_ne!(token.redacted(), token.expose());
            assert!(!scrub_secrets(token.expose()).contains(token.expose()));
        }
    }
    let _ = redact(text);
    let _ = scrub_secrets(text);
});

//! `ik_text_redact` and `ik_token_redact`: the one secret redaction (wire §2 "Redaction"),
//! exported so that no binding keeps a copy of it (c-abi rule 26). The vectors every binding
//! replays are `tests/conformance/redaction.json`.

use std::ffi::c_char;

use inferencekey_core::token;

use crate::boundary::{arg_str, guard, out_ptr};
use crate::error::ik_error;
use crate::payload::Payload;
use crate::status::ik_status;

/// Replaces every token-like substring of free text (`ik_sdk_…`, `ik_live_…`) by its
/// redaction (`ik_sdk_1a2b3c4d…`, `ik_sdk_…`) and keeps everything else: prose naming a
/// prefix (`an ik_sdk_ token`), text already redacted, punctuation ending a sentence,
/// delimiters (quotes, brackets, `,`, `;`, backslash escapes) and non-ASCII text. Idempotent.
/// The result is plain UTF-8 text (not JSON), NUL-terminated, `*out_len` bytes without the
/// NUL; free it with ik_buffer_free. Needs no runtime: callable from any thread, callbacks
/// included. Fails only on a bad argument (NULL, invalid UTF-8, a NUL byte in `text`).
#[no_mangle]
pub extern "C" fn ik_text_redact(
    text: *const c_char,
    text_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    text_export(
        (text, text_len, "text"),
        (out, out_len, err),
        token::scrub_secrets,
    )
}

/// The display form of one token (surrounding whitespace ignored): `ik_sdk_1a2b3c4d…` for a
/// token that splits as `ik_<kind>_<id>_<secret>`, `ik_sdk_…` / `ik_live_…` for one that does
/// not, `<redacted>` for anything else. Plain text result, as for ik_text_redact.
#[no_mangle]
pub extern "C" fn ik_token_redact(
    token: *const c_char,
    token_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    text_export(
        (token, token_len, "token"),
        (out, out_len, err),
        token::redact,
    )
}

/// Both exports: a text argument in, `f`'s plain-text result out.
fn text_export(
    (text, len, name): (*const c_char, usize, &str),
    (out, out_len, err): (*mut *mut c_char, *mut usize, *mut *mut ik_error),
    f: fn(&str) -> String,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        let text = arg_str(text, len, name)?;
        Payload::text(&f(text)).write_to(out, out_len);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{IK_ERR_INVALID_ARG, IK_ERR_INVALID_UTF8, IK_ERR_NULL_ARG, IK_OK};
    use std::ptr;

    const VECTORS: &str = include_str!("../../../tests/conformance/redaction.json");

    type Export = extern "C" fn(
        *const c_char,
        usize,
        *mut *mut c_char,
        *mut usize,
        *mut *mut ik_error,
    ) -> ik_status;

    /// Calls an export the way a binding does; `Err(status)` on failure (the error freed).
    fn call(f: Export, input: &[u8]) -> Result<String, ik_status> {
        let mut out: *mut c_char = ptr::null_mut();
        let mut out_len = usize::MAX;
        let mut err: *mut ik_error = ptr::null_mut();
        let status = f(
            input.as_ptr().cast(),
            input.len(),
            &mut out,
            &mut out_len,
            &mut err,
        );
        if status != IK_OK {
            assert!(
                out.is_null() && out_len == usize::MAX,
                "no result on failure"
            );
            assert!(!err.is_null());
            crate::error::ik_error_free(err);
            return Err(status);
        }
        assert!(err.is_null());
        // SAFETY: a result buffer of `out_len` bytes plus a NUL.
        let bytes = unsafe { std::slice::from_raw_parts(out.cast::<u8>(), out_len + 1) };
        assert_eq!(bytes[out_len], 0, "NUL-terminated");
        let text = String::from_utf8(bytes[..out_len].to_vec()).expect("UTF-8");
        crate::boundary::ik_buffer_free(out);
        Ok(text)
    }

    #[test]
    fn text_redact_replays_the_redaction_vectors() {
        let doc: serde_json::Value = serde_json::from_str(VECTORS).expect("JSON");
        let cases = doc["cases"].as_array().expect("cases");
        assert!(!cases.is_empty());
        for case in cases {
            let name = case["name"].as_str().expect("name");
            let input = case["input"].as_str().expect("input");
            let output = case["output"].as_str().expect("output");
            assert_eq!(
                call(ik_text_redact, input.as_bytes()).as_deref(),
                Ok(output),
                "{name}"
            );
        }
    }

    #[test]
    fn token_redact_shows_the_display_form() {
        let sdk =
            "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        for (input, shown) in [
            (sdk, "ik_sdk_1a2b3c4d…"),
            (" ik_live_9f8e7d6c_ffee\n", "ik_live_9f8e7d6c…"),
            ("ik_sdk_nosplit", "ik_sdk_…"),
            ("ik_live_", "ik_live_…"),
            ("sk-proj-123", "<redacted>"),
            ("", "<redacted>"),
        ] {
            assert_eq!(
                call(ik_token_redact, input.as_bytes()).as_deref(),
                Ok(shown)
            );
        }
    }

    #[test]
    fn empty_text_is_empty() {
        assert_eq!(call(ik_text_redact, b"").as_deref(), Ok(""));
    }

    #[test]
    fn bad_arguments_are_refused_without_a_result() {
        for f in [ik_text_redact as Export, ik_token_redact] {
            assert_eq!(call(f, b"a\xffb"), Err(IK_ERR_INVALID_UTF8));
            assert_eq!(call(f, b"a\0b"), Err(IK_ERR_INVALID_ARG));
            let mut out: *mut c_char = ptr::null_mut();
            let mut err: *mut ik_error = ptr::null_mut();
            let status = f(ptr::null(), 0, &mut out, ptr::null_mut(), &mut err);
            assert_eq!(status, IK_ERR_NULL_ARG);
            assert!(out.is_null());
            crate::error::ik_error_free(err);
            let status = f(
                c"x".as_ptr(),
                1,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            );
            assert_eq!(status, IK_ERR_NULL_ARG);
        }
    }
}

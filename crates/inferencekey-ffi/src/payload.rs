//! Result buffers: what `char **out` and a completion callback's `json` carry (c-abi rules
//! 10a and 25).
//!
//! A buffer starts with JSON text (or, for the redaction exports, plain text) and its NUL, and
//! the length reported with it is always that text's, without the NUL. A result with a binary
//! part (a response body, packed vectors) names it in its JSON as
//! `{"offset","length","dtype"}`, `offset` counted from the buffer's start. Buffers are
//! allocated in 16-byte blocks, so they start 16-aligned, and parts start at multiples of 16:
//! every language can view a part in place (numbers are little-endian). Bulk data so skips
//! JSON escaping and base64 on both sides, and a binding that ignores parts still reads the
//! JSON as a C string.

use std::ffi::c_char;
use std::io::Write;
use std::sync::OnceLock;

use inferencekey_core::Error;
use schemars::JsonSchema;
use serde::Serialize;

use crate::handles;

/// The unit buffers are allocated in: its alignment is the parts' (rule 25).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Block([u8; 16]);

const BLOCK: usize = std::mem::size_of::<Block>();

/// Written where a part's offset goes until the JSON's length, and so the offset, is known:
/// as many digits as any offset can have.
const OFFSET_PLACEHOLDER: u64 = 10_000_000_000_000_000_000;
const OFFSET_DIGITS: usize = 20;
/// The placeholder as it appears in the JSON, with its key.
const OFFSET_MARKER: &[u8] = b"\"offset\":10000000000000000000";

/// The searcher for [`OFFSET_MARKER`], built once: building one costs more than a search.
fn marker_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(OFFSET_MARKER))
}

/// A serialised result, owned by the library until handed to the caller.
pub(crate) struct Payload {
    blocks: Box<[Block]>,
    /// The text's length, without its NUL.
    text_len: usize,
}

/// What a binary part holds.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Dtype {
    /// IEEE 754 binary64, little-endian.
    F64le,
    /// UTF-8 text (a response body's JSON).
    Utf8,
}

/// Where a binary part lies: `length` bytes from `offset`, counted from the start of the
/// buffer (a multiple of 16), holding `dtype` values.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub(crate) struct PartRef {
    pub offset: u64,
    pub length: usize,
    pub dtype: Dtype,
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    // Most results fit: one allocation instead of the three that growing from empty takes.
    let mut json = Vec::with_capacity(512);
    serde_json::to_writer(&mut json, value).map_err(|e| {
        Error::invalid_state(
            inferencekey_core::codes::INTERNAL,
            format!("cannot encode the result: {e}"),
        )
    })?;
    Ok(json)
}

impl Payload {
    /// A JSON-only result.
    pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        Ok(Self::assemble(&encode(value)?, 0, 0))
    }

    /// A plain-text result (UTF-8 without NUL, e.g. a redacted text).
    pub(crate) fn text(text: &str) -> Self {
        Self::assemble(text.as_bytes(), 0, 0)
    }

    /// A result whose JSON (`head(part)`) names one binary part of `length` bytes, which
    /// `write_part` fills.
    pub(crate) fn with_part<T: Serialize>(
        head: impl FnOnce(PartRef) -> T,
        dtype: Dtype,
        length: usize,
        write_part: impl FnOnce(&mut [u8]),
    ) -> Result<Self, Error> {
        // The JSON names the offset of the part that follows it, which depends on the JSON's
        // length. So it is written once with a 20-digit placeholder, which is then overwritten
        // by the real offset, left-aligned and padded with spaces (JSON allows whitespace after
        // a number): the length does not change. `"offset":` with its quotes can only be our
        // key (quotes inside strings are escaped, and nothing else we write has that key
        // before the part), so the first match is the placeholder.
        let mut json = encode(&head(PartRef {
            offset: OFFSET_PLACEHOLDER,
            length,
            dtype,
        }))?;
        let offset = (json.len() + 1).next_multiple_of(BLOCK);
        let at = marker_finder()
            .find(&json)
            .map(|i| i + OFFSET_MARKER.len() - OFFSET_DIGITS)
            .ok_or_else(|| {
                Error::invalid_state(
                    inferencekey_core::codes::INTERNAL,
                    "a result part is not named in its JSON",
                )
            })?;
        let slot = &mut json[at..at + OFFSET_DIGITS];
        slot.fill(b' ');
        // Cannot fail: an offset has at most OFFSET_DIGITS digits.
        let _ = write!(&mut slot[..], "{offset}");
        let mut payload = Self::assemble(&json, offset, length);
        write_part(&mut payload.bytes_mut()[offset..offset + length]);
        Ok(payload)
    }

    /// A zeroed buffer of whole blocks holding `text`, its NUL and `part_len` bytes from
    /// `part_offset`.
    fn assemble(text: &[u8], part_offset: usize, part_len: usize) -> Self {
        let len = (part_offset + part_len).max(text.len() + 1);
        let blocks = vec![Block([0; BLOCK]); len.div_ceil(BLOCK)].into_boxed_slice();
        let mut payload = Self {
            blocks,
            text_len: text.len(),
        };
        payload.bytes_mut()[..text.len()].copy_from_slice(text);
        payload
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.blocks.len() * BLOCK;
        // SAFETY: `Block` is 16 plain bytes (`repr(C)`), so the blocks are `len` bytes.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast(), len) }
    }

    /// Hands the buffer over: its address (a live buffer until `ik_buffer_free`) and the
    /// length of its text.
    pub(crate) fn into_raw(self) -> (*mut c_char, usize) {
        let blocks = self.blocks.len();
        let raw = Box::into_raw(self.blocks).cast::<c_char>();
        handles::record_buffer(raw, blocks);
        (raw, self.text_len)
    }

    /// Hands the buffer to the caller through checked out-parameters.
    pub(crate) fn write_to(self, out: *mut *mut c_char, out_len: *mut usize) {
        let (raw, len) = self.into_raw();
        // SAFETY: both pointers were checked with `out_ptr` before the operation ran.
        unsafe {
            *out = raw;
            if !out_len.is_null() {
                *out_len = len;
            }
        }
    }

    /// The whole buffer, for tests.
    #[cfg(test)]
    pub(crate) fn bytes(&mut self) -> (&[u8], usize) {
        let len = self.text_len;
        (self.bytes_mut(), len)
    }
}

/// Frees a buffer handed out by [`Payload::into_raw`]; `false` for a pointer that is not one.
pub(crate) fn free(ptr: *mut c_char) -> bool {
    match handles::forget_buffer(ptr) {
        Some(blocks) => {
            // SAFETY: recorded by `into_raw` from a `Box<[Block]>` of exactly `blocks` blocks.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    ptr.cast::<Block>(),
                    blocks,
                ))
            });
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_results_report_the_text_length_and_end_in_nul() {
        let mut payload = Payload::json(&serde_json::json!({"a": 1})).unwrap();
        let (bytes, len) = payload.bytes();
        assert_eq!(&bytes[..len], br#"{"a":1}"#);
        assert_eq!(bytes[len], 0);
        assert_eq!(bytes.len() % BLOCK, 0);
    }

    #[test]
    fn parts_start_at_16_byte_offsets_named_in_the_json() {
        for name_len in 0..40 {
            let name = "x".repeat(name_len);
            let mut payload = Payload::with_part(
                |part| serde_json::json!({"name": name, "part": part}),
                Dtype::F64le,
                24,
                |bytes| bytes.copy_from_slice(&[7; 24]),
            )
            .unwrap();
            let (bytes, len) = payload.bytes();
            assert_eq!(bytes.as_ptr() as usize % BLOCK, 0);
            let head: serde_json::Value = serde_json::from_slice(&bytes[..len]).unwrap();
            assert_eq!(bytes[len], 0);
            let offset = head["part"]["offset"].as_u64().unwrap() as usize;
            assert_eq!(offset % BLOCK, 0);
            assert!(offset > len);
            assert_eq!(head["part"]["dtype"], "f64le");
            assert_eq!(&bytes[offset..offset + 24], &[7; 24]);
        }
    }
}

//! Result buffers: what `char **out` and a completion callback's `json` carry.
//!
//! A result is JSON text, NUL-terminated. A result with binary parts (a response body, packed
//! vectors) continues after that NUL with the parts' bytes, which its JSON refers to as
//! `{"offset","length"}` counted from the byte after the NUL; the length reported to the
//! caller then covers the JSON, the NUL and the parts. Bulk data so skips JSON escaping and
//! base64 on both sides, and a binding that ignores parts can still read the JSON as a C
//! string.

use std::ffi::c_char;

use inferencekey_core::Error;
use schemars::JsonSchema;
use serde::Serialize;

use crate::handles;

/// A serialised result, owned by the library until handed to the caller.
pub(crate) struct Payload {
    bytes: Vec<u8>,
}

/// Where a binary part lies: `length` bytes from `offset`, counted from the byte after the
/// NUL that ends the result's JSON.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub(crate) struct PartRef {
    pub offset: usize,
    pub length: usize,
}

impl Payload {
    /// A JSON-only result.
    pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        serde_json::to_vec(value)
            .map(|bytes| Self { bytes })
            .map_err(|e| {
                Error::invalid_state(
                    inferencekey_core::codes::INTERNAL,
                    format!("cannot encode the result: {e}"),
                )
            })
    }

    /// A plain-text result (UTF-8 without NUL, e.g. a redacted text).
    pub(crate) fn text(text: String) -> Self {
        Self {
            bytes: text.into_bytes(),
        }
    }

    /// A result whose JSON (`head`) refers to parts that `write_parts` appends, `parts_len`
    /// bytes in all.
    pub(crate) fn with_parts<T: Serialize + ?Sized>(
        head: &T,
        parts_len: usize,
        write_parts: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Self, Error> {
        let mut payload = Self::json(head)?;
        let bytes = &mut payload.bytes;
        bytes.reserve_exact(parts_len + 2);
        bytes.push(0);
        let start = bytes.len();
        write_parts(bytes);
        debug_assert_eq!(bytes.len() - start, parts_len);
        Ok(payload)
    }

    /// The bytes handed over (with a trailing NUL) and the length reported with them.
    fn into_buffer(mut self) -> (Box<[u8]>, usize) {
        let len = self.bytes.len();
        self.bytes.push(0);
        (self.bytes.into_boxed_slice(), len)
    }

    /// Hands the buffer to the caller through checked out-parameters; freed by
    /// `ik_string_free`.
    pub(crate) fn write_to(self, out: *mut *mut c_char, out_len: *mut usize) {
        let (buffer, len) = self.into_buffer();
        let alloc_len = buffer.len();
        let raw = Box::into_raw(buffer).cast::<c_char>();
        handles::record_buffer(raw, alloc_len);
        // SAFETY: both pointers were checked with `out_ptr` before the operation ran.
        unsafe {
            *out = raw;
            if !out_len.is_null() {
                *out_len = len;
            }
        }
    }

    /// Lends the buffer to `f` for the duration of a callback.
    pub(crate) fn lend<R>(self, f: impl FnOnce(*const c_char, usize) -> R) -> R {
        let (buffer, len) = self.into_buffer();
        f(buffer.as_ptr().cast(), len)
    }
}

/// Frees a buffer handed out by [`Payload::write_to`]; `false` for a pointer that is not one.
pub(crate) fn free(ptr: *mut c_char) -> bool {
    match handles::forget_buffer(ptr) {
        Some(len) => {
            // SAFETY: recorded by `write_to` from a `Box<[u8]>` of exactly `len` bytes.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.cast::<u8>(), len))
            });
            true
        }
        None => false,
    }
}

//! Decoding a list (and one) workload from any JSON body: a result or a typed error, never a
//! panic; every decoded workload has a slug.
#![no_main]

use inferencekey_core::workload::{decode_list, decode_one};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(list) = decode_list(&body) {
        assert!(list.iter().all(|w| !w.slug.is_empty()));
    }
    let _ = decode_one(&body);
});

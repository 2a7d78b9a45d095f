//! Request JSON as bindings send it: a spec through the C ABI's `ik_workload_spec_validate`
//! (UTF-8, JSON and spec checks behind the panic boundary) and a `generate_text` request
//! through the core's body builder. Any bytes give a status or a typed error, never a panic.
#![no_main]

use inferencekey::{ik_error, ik_error_free, ik_workload_spec_validate, IK_ERR_PANIC, IK_OK};
use inferencekey_core::data::{chat_body, GenerateRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut err: *mut ik_error = std::ptr::null_mut();
    let status = ik_workload_spec_validate(data.as_ptr().cast(), data.len(), &mut err);
    assert_ne!(status, IK_ERR_PANIC);
    assert_eq!(status == IK_OK, err.is_null());
    ik_error_free(err);

    if let Ok(request) = serde_json::from_slice::<GenerateRequest>(data) {
        if let Ok(body) = chat_body("bot", &request, false) {
            let body: serde_json::Value = serde_json::from_slice(&body.to_vec()).unwrap();
            assert_eq!(body["model"], "bot");
            assert!(body["messages"].as_array().is_some_and(|m| !m.is_empty()));
        }
    }
});

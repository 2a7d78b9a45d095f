//! The error codes the C boundary itself emits (c-abi rule 5a), each with its status and a
//! one-line description; with the core's (`inferencekey_core::codes`) they make the
//! `x-ik-error-codes` table of `include/inferencekey.schema.json`. `ffi_error` takes an
//! [`AbiCode`], so a boundary code cannot be emitted without an entry in [`ALL`].

// The descriptions and the table are read by the schema (a test-only module).
#![cfg_attr(not(test), allow(dead_code))]

use crate::status::*;

/// A code of the C boundary, with the status it always comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbiCode {
    /// The Rust constant's name.
    pub name: &'static str,
    pub code: &'static str,
    pub status: ik_status,
    pub description: &'static str,
}

macro_rules! abi_codes {
    ($( $name:ident = $code:literal $status:ident $description:literal; )*) => {
        $(
            #[doc = $description]
            pub(crate) const $name: AbiCode = AbiCode {
                name: stringify!($name),
                code: $code,
                status: $status,
                description: $description,
            };
        )*
        /// Every code of the C boundary.
        pub(crate) const ALL: &[AbiCode] = &[$($name),*];
    };
}

abi_codes! {
    INTERIOR_NUL = "interior_nul" IK_ERR_INVALID_ARG
        "A string argument contains a NUL byte.";
    INVALID_LEVEL = "invalid_level" IK_ERR_INVALID_ARG
        "A log level is not 0 to 4.";
    NULL_ARGUMENT = "null_argument" IK_ERR_NULL_ARG
        "A required pointer is NULL (a binding bug).";
    INVALID_HANDLE = "invalid_handle" IK_ERR_INVALID_HANDLE
        "A handle was freed, is of another kind, or was not made by this library (a binding bug).";
    INVALID_UTF8 = "invalid_utf8" IK_ERR_INVALID_UTF8
        "A string argument is not valid UTF-8 (a binding bug).";
    INVALID_RUNTIME_OPTION = "invalid_runtime_option" IK_ERR_INVALID_ARG
        "A runtime setting is out of range (ik_runtime_configure).";
    RUNTIME_STARTED = "runtime_started" IK_ERR_INVALID_STATE
        "The runtime was configured after it had started.";
    RUNTIME = "runtime" IK_ERR_INVALID_STATE
        "The async runtime could not be started.";
    WRONG_THREAD = "wrong_thread" IK_ERR_INVALID_STATE
        "A blocking call was made from a runtime thread (e.g. in a callback); use the _async twin.";
    FORKED = "forked" IK_ERR_INVALID_STATE
        "The object was made before fork() and is unusable in the child.";
    STREAM_BUSY = "stream_busy" IK_ERR_INVALID_STATE
        "Another call is reading the same stream (a binding bug).";
    CALLBACK_QUEUED = "callback_queued" IK_ERR_INVALID_STATE
        "A completion queue already holds the completions of this callback (ik_completion_queue_new).";
    COMPLETION_QUEUE = "completion_queue" IK_ERR_INVALID_STATE
        "The system refused a completion queue's descriptor (ik_completion_queue_new).";
    INTERNAL_PANIC = "internal_panic" IK_ERR_PANIC
        "A bug in the library was caught at the C boundary.";
}

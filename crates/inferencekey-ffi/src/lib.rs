//! The InferenceKey C ABI (`include/inferencekey.h`), following `shared/spec/c-abi.md`.
//!
//! Every export is a thin, hand-written wrapper: it checks its pointers, parses JSON, and
//! runs the operation of `inferencekey-core` inside one panic boundary ([`boundary`]).
//! Operations come in a blocking form and an `_async` twin completing through a callback.
#![allow(non_camel_case_types)]
// Exports take raw pointers by design; each one is checked in `boundary` before use.
#![allow(clippy::missing_safety_doc, clippy::not_unsafe_ptr_arg_deref)]

mod boundary;
mod cancel;
mod codes;
mod deliver;
#[cfg(feature = "dev-server")]
mod dev;
mod endpoint;
mod error;
mod handles;
mod interrupt;
mod lifecycle;
mod live;
mod log;
mod management;
mod ops;
mod payload;
mod queue;
mod redact;
mod runtime;
// Writes and checks include/inferencekey.schema.json; nothing of it is linked.
#[cfg(test)]
mod schema;
mod status;
mod stream;
mod testing;
mod version;
mod webhooks;

pub use cancel::*;
#[cfg(feature = "dev-server")]
pub use dev::*;
pub use endpoint::*;
pub use error::*;
pub use interrupt::*;
pub use lifecycle::*;
pub use live::*;
pub use log::*;
pub use management::*;
pub use ops::ik_callback;
pub use queue::*;
pub use redact::*;
pub use status::*;
pub use stream::*;
pub use testing::*;
pub use version::*;
pub use webhooks::*;

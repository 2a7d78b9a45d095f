//! The InferenceKey SDK core: everything a binding needs except the binding itself.
//!
//! Safe, idiomatic Rust with no `extern "C"` (the C ABI lives in `inferencekey-ffi`).
//! Pure logic (tokens, specs, reconcile, SSE and error-body decoding) is separated from
//! I/O (transport, management and data clients) so it can be unit-tested without a network.

pub mod body;
pub mod codes;
pub mod config;
pub mod data;
mod embeddings;
pub mod error;
pub mod headers;
pub mod http1;
pub mod interrupt;
pub mod jobs;
pub mod log;
pub mod management;
pub mod process;
pub mod readiness;
pub mod reconcile;
pub mod schema;
pub mod spec;
pub mod sse;
pub mod suggest;
pub mod tls;
pub mod token;
pub mod transport;
pub mod webhooks;
pub mod workload;

pub use error::{Error, ErrorKind, Result};

/// The core's semantic version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

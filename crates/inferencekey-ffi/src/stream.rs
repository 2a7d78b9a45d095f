//! `ik_stream`: pull iterators over SSE streams (chat chunks, readiness events), c-abi rule 20.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use inferencekey_core::data::{TextStream, Usage};
use inferencekey_core::readiness::{ReadinessEvent, ReadinessStream};
use inferencekey_core::Error;
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

use crate::boundary::{
    arg_handle, ffi_error, guard, guard_or, null_arg, out_ptr, write_json, FfiResult,
};
use crate::cancel::{ik_cancel, token_of};
use crate::codes;
use crate::error::ik_error;
use crate::handles::{self, Handle, Kind};
use crate::ops::{
    blocking_shared, export_async, export_blocking_shared, ik_callback, spawn, to_json, OpFuture,
};
use crate::payload::Payload;
use crate::status::ik_status;

/// What a stream reads from. Lives behind the handle's heap allocation, moved once.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Text(TextStream),
    Readiness(ReadinessStream),
}

/// Opens a source (the HTTP exchange happens here, so status errors surface at open).
pub(crate) type StreamSource = Pin<Box<dyn Future<Output = Result<Source, Error>> + Send>>;

impl Source {
    async fn next_json(&mut self) -> Result<Option<Payload>, Error> {
        match self {
            Source::Text(s) => match s.next().await? {
                Some(chunk) => to_json(&chunk),
                None => Ok(None),
            },
            Source::Readiness(s) => match s.next().await? {
                Some(event) => to_json(&event),
                None => Ok(None),
            },
        }
    }

    fn metadata(&self) -> StreamMetadata {
        match self {
            Source::Text(s) => StreamMetadata::Text {
                request_id: s.request_id().map(str::to_owned),
                usage: s.usage().cloned(),
            },
            Source::Readiness(s) => StreamMetadata::Readiness {
                request_id: s.request_id().map(str::to_owned),
                last_event: s.last_event().cloned(),
            },
        }
    }
}

/// What `ik_stream_metadata` (and an async open's callback) returns.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum StreamMetadata {
    /// A chat stream: `usage` once the server sent it.
    Text {
        request_id: Option<String>,
        usage: Option<Usage>,
    },
    /// A readiness stream: the last event read.
    Readiness {
        request_id: Option<String>,
        last_event: Option<ReadinessEvent>,
    },
    /// An `_async` open still in flight: `{}`.
    Opening {},
}

#[allow(clippy::large_enum_variant)]
enum State {
    /// An `_async` open is still running.
    Opening,
    Open(Source),
    /// Ended, failed or closed; the connection is gone.
    Ended,
}

/// Opaque stream handle. One consumer at a time; `ik_stream_close` and `ik_stream_metadata`
/// may come from any thread at any time.
pub struct ik_stream {
    pid: u32,
    state: Arc<Mutex<State>>,
    /// Kept apart from `state`, so reading it never waits for a blocked `next`.
    meta: Arc<std::sync::Mutex<StreamMetadata>>,
    closed: CancellationToken,
}

impl Handle for ik_stream {
    const KIND: Kind = Kind::Stream;
}

impl ik_stream {
    fn new(state: State, meta: StreamMetadata) -> ik_stream {
        ik_stream {
            pid: inferencekey_core::process::pid(),
            state: Arc::new(Mutex::new(state)),
            meta: Arc::new(std::sync::Mutex::new(meta)),
            closed: CancellationToken::new(),
        }
    }
}

fn set_meta(meta: &std::sync::Mutex<StreamMetadata>, value: StreamMetadata) {
    *meta.lock().unwrap_or_else(|p| p.into_inner()) = value;
}

fn stream<'a>(s: *const ik_stream) -> FfiResult<&'a ik_stream> {
    let s = arg_handle(s, "stream")?;
    if s.pid != inferencekey_core::process::pid() {
        return Err(ffi_error(
            codes::FORKED,
            "this stream was opened before fork() and is unusable here",
        ));
    }
    Ok(s)
}

/// The exclusive right to read; a concurrent reader is a binding bug (c-abi rule 15).
fn take(s: &ik_stream) -> FfiResult<OwnedMutexGuard<State>> {
    s.state
        .clone()
        .try_lock_owned()
        .map_err(|_| ffi_error(codes::STREAM_BUSY, "another call is using this stream"))
}

/// Reads the next item; moves to `Ended` at the end, on error or on close.
fn advance(s: &ik_stream) -> FfiResult<OpFuture> {
    let mut state = take(s)?;
    let closed = s.closed.clone();
    let meta = s.meta.clone();
    Ok(Box::pin(async move {
        let State::Open(source) = &mut *state else {
            return Ok(None);
        };
        let outcome = tokio::select! {
            biased;
            _ = closed.cancelled() => Err(Error::cancelled()),
            item = source.next_json() => item,
        };
        set_meta(&meta, source.metadata());
        if !matches!(outcome, Ok(Some(_))) {
            *state = State::Ended;
        }
        outcome
    }))
}

pub(crate) fn open_stream(
    err: *mut *mut ik_error,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    prepare: impl FnOnce() -> FfiResult<StreamSource>,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let cancel = token_of(cancel)?;
        let source = blocking_shared(cancel, prepare()?)?;
        let meta = source.metadata();
        let handle = ik_stream::new(State::Open(source), meta);
        unsafe { *out = handles::register(Box::new(handle)) };
        Ok(())
    })
}

/// Writes `*out` (a live handle) before the open is spawned, so the callback, where a
/// binding starts pulling, always finds it.
pub(crate) fn open_stream_async(
    err: *mut *mut ik_error,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    cb: ik_callback,
    user_data: *mut c_void,
    prepare: impl FnOnce() -> FfiResult<StreamSource>,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        if cb.is_none() {
            return Err(null_arg("cb"));
        }
        let cancel = token_of(cancel)?;
        let source = prepare()?;
        crate::runtime::get()?;
        let handle = ik_stream::new(State::Opening, StreamMetadata::Opening {});
        let mut state = take(&handle)?;
        let closed = handle.closed.clone();
        let meta = handle.meta.clone();
        let open: OpFuture = Box::pin(async move {
            let opened = tokio::select! {
                biased;
                _ = closed.cancelled() => Err(Error::cancelled()),
                opened = source => opened,
            };
            match opened {
                Ok(source) => {
                    let current = source.metadata();
                    set_meta(&meta, current.clone());
                    *state = State::Open(source);
                    to_json(&current)
                }
                Err(e) => {
                    *state = State::Ended;
                    Err(e)
                }
            }
        });
        unsafe { *out = handles::register(Box::new(handle)) };
        spawn(cancel, cb, user_data, open)
    })
}

/// The next item as JSON; at the end `IK_OK` with `*out == NULL`. After `ik_stream_close`
/// a blocked call returns `IK_ERR_CANCELLED`.
#[no_mangle]
pub extern "C" fn ik_stream_next(
    s: *mut ik_stream,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    export_blocking_shared(err, std::ptr::null(), out, out_len, || advance(stream(s)?))
}

/// Async twin of `ik_stream_next`: `cb` gets the item (or NULL at the end).
#[no_mangle]
pub extern "C" fn ik_stream_next_async(
    s: *mut ik_stream,
    cancel: *const ik_cancel,
    cb: ik_callback,
    user_data: *mut c_void,
    err: *mut *mut ik_error,
) -> ik_status {
    export_async(err, cancel, cb, user_data, || advance(stream(s)?))
}

/// `{"request_id","usage"}` for chat streams (`usage` once sent), `{"request_id",
/// "last_event"}` for readiness streams, `{}` while an `_async` open is still running.
#[no_mangle]
pub extern "C" fn ik_stream_metadata(
    s: *const ik_stream,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut ik_error,
) -> ik_status {
    guard(err, || {
        out_ptr(out, "out")?;
        let meta = stream(s)?.meta.lock().unwrap_or_else(|p| p.into_inner());
        write_json(out, out_len, &*meta)
    })
}

/// Closes the stream and its connection; wakes a blocked `next` with `IK_ERR_CANCELLED`.
/// Idempotent; callable from any thread.
#[no_mangle]
pub extern "C" fn ik_stream_close(s: *mut ik_stream) {
    guard_or((), || {
        if let Some(s) = unsafe { handles::borrow(s) } {
            s.closed.cancel();
            if let Ok(mut state) = s.state.try_lock() {
                if let State::Open(source) = &*state {
                    set_meta(&s.meta, source.metadata());
                    *state = State::Ended;
                }
            }
        }
    });
}

/// Closes and frees; NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_stream_free(s: *mut ik_stream) {
    ik_stream_close(s);
    guard_or((), || unsafe { handles::release(s) });
}

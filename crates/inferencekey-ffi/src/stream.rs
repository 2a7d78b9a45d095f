//! `ik_stream`: pull iterators over SSE streams (chat chunks, readiness events), c-abi rule 20.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::FutureExt;
use inferencekey_core::data::{TextChunk, TextStream, Usage};
use inferencekey_core::http1::Closer;
use inferencekey_core::readiness::{ReadinessEvent, ReadinessStream};
use inferencekey_core::Error;
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

use crate::boundary::{
    arg_handle, core_error, ffi_error, guard, guard_or, made_in_this_process, null_arg, out_ptr,
    write_json, FfiResult,
};
use crate::cancel::{ik_cancel, token_of};
use crate::codes;
use crate::error::ik_error;
use crate::handles::{self, Handle, Kind};
use crate::ops::{
    blocking, blocking_shared, export_async, ik_callback, spawn, to_json, write_item, OpFuture,
};
use crate::payload::{Dtype, PartRef, Payload};
use crate::status::ik_status;

/// What a stream reads from. Lives behind the handle's heap allocation, moved once.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Text(TextStream),
    Readiness(ReadinessStream),
}

/// Opens a source (the HTTP exchange happens here, so status errors surface at open).
pub(crate) type StreamSource = Pin<Box<dyn Future<Output = Result<Source, Error>> + Send>>;

/// A `TextChunk` as the boundary carries it: the event's JSON follows as a binary part named
/// by `raw_part` (like `TextResult`'s body), so the binding decodes it only if `raw` is read.
#[derive(Serialize, JsonSchema)]
pub(crate) struct TextChunkOut<'a> {
    text: &'a str,
    finish_reason: &'a Option<String>,
    /// The event's data (JSON), as a binary part.
    raw_part: PartRef,
}

fn text_chunk_payload(chunk: &TextChunk) -> Result<Payload, Error> {
    let body = chunk.body.as_bytes();
    let head = |raw_part| TextChunkOut {
        text: &chunk.text,
        finish_reason: &chunk.finish_reason,
        raw_part,
    };
    Payload::with_part(head, Dtype::Utf8, body.len(), |part| {
        part.copy_from_slice(body)
    })
}

impl Source {
    async fn next_json(&mut self) -> Result<Option<Payload>, Error> {
        match self {
            Source::Text(s) => match s.next().await? {
                Some(chunk) => text_chunk_payload(&chunk).map(Some),
                None => Ok(None),
            },
            Source::Readiness(s) => match s.next().await? {
                Some(event) => to_json(&event),
                None => Ok(None),
            },
        }
    }

    /// Reads block the thread that pulls (opened on a blocking caller's thread).
    fn is_blocking(&self) -> bool {
        matches!(self, Source::Text(s) if s.is_blocking())
    }

    /// What wakes a blocked read of a blocking source from another thread.
    fn closer(&self) -> Option<Closer> {
        match self {
            Source::Text(s) => s.closer(),
            Source::Readiness(_) => None,
        }
    }

    /// Whether an item may have changed the metadata (usage comes with the last events).
    fn meta_may_change(&self) -> bool {
        match self {
            Source::Text(s) => s.usage().is_some(),
            Source::Readiness(_) => true,
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
    /// For a stream read on its caller's thread: wakes a blocked read on close.
    closer: Option<Closer>,
}

impl Handle for ik_stream {
    const KIND: Kind = Kind::Stream;
}

impl ik_stream {
    fn new(state: State, meta: StreamMetadata, closer: Option<Closer>) -> ik_stream {
        ik_stream {
            pid: inferencekey_core::process::pid(),
            state: Arc::new(Mutex::new(state)),
            meta: Arc::new(std::sync::Mutex::new(meta)),
            closed: CancellationToken::new(),
            closer,
        }
    }
}

fn set_meta(meta: &std::sync::Mutex<StreamMetadata>, value: StreamMetadata) {
    *meta.lock().unwrap_or_else(|p| p.into_inner()) = value;
}

fn stream(s: *const ik_stream) -> FfiResult<std::sync::Arc<ik_stream>> {
    let s = arg_handle(s, "stream")?;
    made_in_this_process(
        s.pid,
        "this stream was opened before fork() and is unusable here",
    )?;
    Ok(s)
}

/// The exclusive right to read; a concurrent reader is a binding bug (c-abi rule 15).
fn take(s: &ik_stream) -> FfiResult<OwnedMutexGuard<State>> {
    s.state
        .clone()
        .try_lock_owned()
        .map_err(|_| ffi_error(codes::STREAM_BUSY, "another call is using this stream"))
}

/// Reads the next item; moves to `Ended` at the end, on error or on close. A source read on
/// its caller's thread is read by a thread of the runtime's blocking pool.
fn advance(s: &ik_stream, mut state: OwnedMutexGuard<State>) -> OpFuture {
    let closed = s.closed.clone();
    let meta = s.meta.clone();
    if matches!(&*state, State::Open(source) if source.is_blocking()) {
        return Box::pin(async move {
            tokio::task::spawn_blocking(move || read_here(&closed, &meta, &mut state))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::invalid_state(
                        inferencekey_core::codes::INTERNAL,
                        "a stream read failed unexpectedly",
                    ))
                })
        });
    }
    Box::pin(async move {
        let State::Open(source) = &mut *state else {
            return Ok(None);
        };
        let outcome = tokio::select! {
            biased;
            _ = closed.cancelled() => Err(Error::cancelled()),
            item = source.next_json() => item,
        };
        settle(&meta, &mut state, &outcome);
        outcome
    })
}

/// After a read: the metadata when it may have changed, and `Ended` unless an item came.
fn settle(
    meta: &std::sync::Mutex<StreamMetadata>,
    state: &mut State,
    outcome: &Result<Option<Payload>, Error>,
) {
    let item = matches!(outcome, Ok(Some(_)));
    if let State::Open(source) = &*state {
        if !item || source.meta_may_change() {
            set_meta(meta, source.metadata());
        }
    }
    if !item {
        *state = State::Ended;
    }
}

/// Reads the next item of a blocking source on this thread: its socket reads wait in slices
/// that run the interrupt check, within the per-event timeout; `ik_stream_close` wakes them
/// by shutting the socket down.
fn read_here(
    closed: &CancellationToken,
    meta: &std::sync::Mutex<StreamMetadata>,
    state: &mut State,
) -> Result<Option<Payload>, Error> {
    let State::Open(source) = state else {
        return Ok(None);
    };
    let mut outcome = if closed.is_cancelled() {
        Err(Error::cancelled())
    } else {
        // Ready at its first poll: a blocking source never waits on the runtime.
        source.next_json().now_or_never().unwrap_or_else(|| {
            Err(Error::invalid_state(
                inferencekey_core::codes::INTERNAL,
                "a blocking stream read did not complete",
            ))
        })
    };
    if closed.is_cancelled() && !matches!(outcome, Ok(Some(_))) {
        outcome = Err(Error::cancelled());
    }
    settle(meta, state, &outcome);
    outcome
}

pub(crate) fn open_stream(
    err: *mut *mut ik_error,
    cancel: *const ik_cancel,
    out: *mut *mut ik_stream,
    prepare: impl FnOnce() -> FfiResult<(StreamSource, bool)>,
) -> ik_status {
    guard(err, || {
        let out = out_ptr(out, "out")?;
        let cancel = token_of(cancel)?;
        let (source, on_caller) = prepare()?;
        // With no token to watch, the exchange runs on this thread, and so do the reads.
        let source = if on_caller && cancel.is_none() {
            blocking(None, source)?
        } else {
            blocking_shared(cancel, source)?
        };
        let meta = source.metadata();
        let closer = source.closer();
        let handle = ik_stream::new(State::Open(source), meta, closer);
        unsafe { *out = handles::register(handle) };
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
        let handle = ik_stream::new(State::Opening, StreamMetadata::Opening {}, None);
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
        unsafe { *out = handles::register(handle) };
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
    guard(err, || {
        out_ptr(out, "out")?;
        let s = stream(s)?;
        let mut state = take(&s)?;
        let item = if matches!(&*state, State::Open(source) if source.is_blocking()) {
            crate::runtime::refuse_on_runtime_thread()?;
            read_here(&s.closed, &s.meta, &mut state).map_err(core_error)?
        } else {
            blocking_shared(None, advance(&s, state))?
        };
        write_item(item, out, out_len);
        Ok(())
    })
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
    export_async(err, cancel, cb, user_data, || {
        let s = stream(s)?;
        Ok(advance(&s, take(&s)?))
    })
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
        let s = stream(s)?;
        let meta = s.meta.lock().unwrap_or_else(|p| p.into_inner());
        write_json(out, out_len, &*meta)
    })
}

/// Closes the stream and its connection; wakes a blocked `next` with `IK_ERR_CANCELLED`.
/// Idempotent; callable from any thread.
#[no_mangle]
pub extern "C" fn ik_stream_close(s: *mut ik_stream) {
    guard_or((), || {
        if let Some(s) = handles::borrow(s) {
            s.closed.cancel();
            if let Some(closer) = &s.closer {
                closer.close();
            }
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
    guard_or((), || handles::release(s));
}

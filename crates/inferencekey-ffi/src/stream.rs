//! `ik_stream`: pull iterators over SSE streams (chat chunks, readiness events), c-abi rule 20.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use inferencekey_core::data::TextStream;
use inferencekey_core::readiness::ReadinessStream;
use inferencekey_core::Error;
use serde_json::json;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

use crate::boundary::{ffi_error, guard, guard_or, null_arg, out_ptr, write_string, FfiResult};
use crate::cancel::{ik_cancel, token_of};
use crate::error::ik_error;
use crate::handles::{self, Kind};
use crate::ops::{
    blocking_shared, export_async, export_blocking_shared, ik_callback, spawn, to_json, OpFuture,
};
use crate::status::{ik_status, IK_ERR_INVALID_STATE};

/// What a stream reads from. Lives behind the handle's heap allocation, moved once.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Text(TextStream),
    Readiness(ReadinessStream),
}

/// Opens a source (the HTTP exchange happens here, so status errors surface at open).
pub(crate) type StreamSource = Pin<Box<dyn Future<Output = Result<Source, Error>> + Send>>;

impl Source {
    async fn next_json(&mut self) -> Result<Option<String>, Error> {
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

    fn metadata(&self) -> serde_json::Value {
        match self {
            Source::Text(s) => json!({"request_id": s.request_id(), "usage": s.usage()}),
            Source::Readiness(s) => json!({"last_event": s.last_event()}),
        }
    }
}

#[allow(clippy::large_enum_variant)]
enum State {
    /// An `_async` open is still running.
    Opening,
    Open(Source, serde_json::Value),
    /// Ended, failed or closed; the connection is gone. Keeps the last metadata.
    Ended(serde_json::Value),
}

/// Opaque stream handle. One consumer at a time; `ik_stream_close` may come from any thread.
pub struct ik_stream {
    pid: u32,
    state: Arc<Mutex<State>>,
    closed: CancellationToken,
}

impl ik_stream {
    fn new(state: State) -> ik_stream {
        ik_stream {
            pid: std::process::id(),
            state: Arc::new(Mutex::new(state)),
            closed: CancellationToken::new(),
        }
    }
}

fn stream<'a>(s: *const ik_stream) -> FfiResult<&'a ik_stream> {
    let s = unsafe { handles::borrow(s, Kind::Stream) }
        .ok_or_else(|| null_arg("stream (not a live ik_stream)"))?;
    if s.pid != std::process::id() {
        return Err(ffi_error(
            IK_ERR_INVALID_STATE,
            "forked",
            "this stream was opened before fork() and is unusable here",
        ));
    }
    Ok(s)
}

/// The exclusive right to read; a concurrent reader is a binding bug (c-abi rule 15).
fn take(s: &ik_stream) -> FfiResult<OwnedMutexGuard<State>> {
    s.state.clone().try_lock_owned().map_err(|_| {
        ffi_error(
            IK_ERR_INVALID_STATE,
            "stream_busy",
            "another call is using this stream",
        )
    })
}

/// Reads the next item; moves to `Ended` at the end, on error or on close.
async fn advance(
    mut state: OwnedMutexGuard<State>,
    closed: CancellationToken,
) -> Result<Option<String>, Error> {
    let State::Open(source, _) = &mut *state else {
        return Ok(None);
    };
    let outcome = tokio::select! {
        biased;
        _ = closed.cancelled() => Err(Error::cancelled()),
        item = source.next_json() => item,
    };
    if !matches!(outcome, Ok(Some(_))) {
        let meta = source.metadata();
        *state = State::Ended(meta);
    } else if let State::Open(source, meta) = &mut *state {
        *meta = source.metadata();
    }
    outcome
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
        let handle = ik_stream::new(State::Open(source, meta));
        unsafe { *out = handles::register(Box::new(handle), Kind::Stream) };
        Ok(())
    })
}

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
        let handle = ik_stream::new(State::Opening);
        let mut state = take(&handle)?;
        let closed = handle.closed.clone();
        let open: OpFuture = Box::pin(async move {
            let opened = tokio::select! {
                biased;
                _ = closed.cancelled() => Err(Error::cancelled()),
                opened = source => opened,
            };
            match opened {
                Ok(source) => {
                    let meta = source.metadata();
                    let reply = to_json(&meta);
                    *state = State::Open(source, meta);
                    reply
                }
                Err(e) => {
                    *state = State::Ended(json!({}));
                    Err(e)
                }
            }
        });
        spawn(cancel, cb, user_data, open)?;
        unsafe { *out = handles::register(Box::new(handle), Kind::Stream) };
        Ok(())
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
    export_blocking_shared(err, std::ptr::null(), out, out_len, || {
        let s = stream(s)?;
        let state = take(s)?;
        Ok(Box::pin(advance(state, s.closed.clone())))
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
        let state = take(s)?;
        Ok(Box::pin(advance(state, s.closed.clone())))
    })
}

/// `{"request_id","usage"}` for chat streams (usage once sent), `{"last_event"}` for readiness.
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
        let state = take(s)?;
        let meta = match &*state {
            State::Open(_, meta) | State::Ended(meta) => meta.clone(),
            State::Opening => json!({}),
        };
        write_string(out, out_len, &meta.to_string());
        Ok(())
    })
}

/// Closes the stream and its connection; wakes a blocked `next` with `IK_ERR_CANCELLED`.
/// Idempotent; callable from any thread.
#[no_mangle]
pub extern "C" fn ik_stream_close(s: *mut ik_stream) {
    guard_or((), || {
        if let Some(s) = unsafe { handles::borrow(s, Kind::Stream) } {
            s.closed.cancel();
            if let Ok(mut state) = s.state.try_lock() {
                if let State::Open(source, _) = &*state {
                    let meta = source.metadata();
                    *state = State::Ended(meta);
                }
            }
        }
    });
}

/// Closes and frees; NULL is a no-op.
#[no_mangle]
pub extern "C" fn ik_stream_free(s: *mut ik_stream) {
    ik_stream_close(s);
    guard_or((), || unsafe { handles::release(s, Kind::Stream) });
}

//! Blocking HTTP/1.1 exchanges made on a blocking caller's own thread (and, in
//! `on_runtime`, unary exchanges as tasks of the shared runtime, reading answers with the
//! same code: `take_head`, `BodyReader`).
//!
//! A blocking call waits on its caller's thread anyway. Doing its socket I/O right there (one
//! write, then reads until the reply is whole) skips the async machinery, whose task wakeups,
//! readiness polling and timers cost more than the exchange itself on a nearby server. The
//! transport modes and their fork handling are tabled in `transport.rs`.
//!
//! The message syntax is in [`message`]: the request head written, the response head parsed
//! by `httparse`, the body framing decoded (Content-Length, chunked with extensions and
//! trailers, close-delimited), 1xx answers skipped, and whether the connection may be kept.
//! The socket loop around it is ours, because `ureq` would bring a pool behind a mutex that a
//! forked child can find held, and reads that no interrupt check can cut into slices; and a
//! general client state machine (`ureq-proto`, used before) cost 4–5 µs per exchange building
//! header maps both ways, a tenth of a loopback call.
//!
//! What is ours, and why:
//! - the pool: keep-alive connections per origin, per process ([`ForkLocal`]). A connection
//!   that still holds unread bytes when it comes back, or has bytes or a close waiting when it
//!   is checked out, is dropped: a late or unsolicited answer is never read as another call's.
//! - resending: only a request of which not one byte was written goes out again on another
//!   connection (wire §3.3); any other failure is the retry policy's to count and log.
//! - one deadline over the whole attempt (resolution, connect, TLS handshake, write, read),
//!   with waits cut into slices that run the interrupt check (Ctrl-C).
//! - memory caps: a body over `max_response_bytes` is refused before it is read when its
//!   length is declared, and as soon as it passes the cap otherwise.
//! - an early answer (a 413 while the body is still going out) is read after the write fails.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use reqwest::header::HeaderValue;
use reqwest::Method;
use zeroize::Zeroize;

use crate::codes;
use crate::config::describe_bytes;
use crate::error::{Error, ErrorKind};
use crate::interrupt::{self, CHECK_INTERVAL};
use crate::log::Level;
use crate::process::ForkLocal;

pub mod message;
#[cfg(unix)]
mod on_runtime;
use message::{Body, Decoder, Head, Parsed};
#[cfg(unix)]
pub use on_runtime::AsyncPool;

/// Idle connections kept per origin, and for how long.
const MAX_IDLE_PER_ORIGIN: usize = 16;
const IDLE_EXPIRY: Duration = Duration::from_secs(60);
const READ_CHUNK: usize = 16 * 1024;
/// What one read asks for when nothing says more is coming (most replies fit).
const MIN_READ: usize = 4 * 1024;
/// The most one read asks for (a large body).
const MAX_READ: usize = 256 * 1024;
const MAX_HEAD: usize = 64 * 1024;
/// Never reserve more than this ahead of the bytes actually received.
const MAX_PREALLOCATION: usize = 64 * 1024 * 1024;
/// How long an answer the server sent before our request was whole may take to be read once
/// writing failed.
const EARLY_ANSWER_WAIT: Duration = Duration::from_secs(2);

/// One request: the head is written from these parts, the body sent as given.
pub struct Request<'a> {
    pub method: &'a Method,
    pub url: &'a url::Url,
    /// The bearer token, already checked to be a valid header value.
    pub token: &'a str,
    pub user_agent: &'a HeaderValue,
    /// `application/json` or `text/event-stream`.
    pub accept: &'static str,
    /// The user's headers (validated, none of them `Authorization` or connection-level);
    /// they replace ours of the same name.
    pub headers: &'a crate::headers::Headers,
    pub body: Option<&'a [u8]>,
    /// A longer response body is refused (`response_too_large`).
    pub max_body: usize,
}

/// A whole response of any status.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
    pub request_id: Option<String>,
    pub retry_after: Option<String>,
    pub retry_after_ms: Option<String>,
}

/// Why an attempt failed, and whether the request may have reached the server.
#[derive(Debug)]
pub struct Failure {
    pub err: Error,
    pub reached_server: bool,
}

/// Keep-alive connections of one transport, per process: a forked child starts with none and
/// never uses, closes or locks its parent's.
pub struct Pool {
    connect_timeout: Duration,
    /// The client's TLS set-up (`crate::tls`), the same roots as its async client's.
    tls: crate::tls::Tls,
    idle: Idle<Conn>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

struct Conn {
    io: Io,
    origin: Origin,
    /// Bytes received and not yet consumed.
    buf: BytesMut,
    /// Where short reads land first (initialised once, so reads need no zeroing).
    scratch: Box<[u8; MIN_READ]>,
    /// Request heads are written here (and wiped after sending: they hold the token).
    out: Vec<u8>,
    /// The socket's current read timeout.
    read_timeout: Duration,
}

/// What [`Pool::open_stream`] got: a 2xx head with its body still to read, or a whole answer.
// Moved once per stream: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Opened {
    Streaming {
        status: u16,
        request_id: Option<String>,
        body: BodyStream,
    },
    Whole(Response),
}

/// What one streaming attempt read before handing the connection over.
enum Answer {
    Streaming(Head),
    Whole(Response, bool),
}

/// Wakes a read blocked on a streamed body from any thread, by shutting the socket down (a
/// duplicate of its descriptor, so it can never reach a socket reused for something else).
/// Emptied before the connection goes back to the pool.
/// Never used in a forked child: the socket is shared with the parent, whose stream it is.
#[derive(Clone)]
pub struct Closer(Arc<Mutex<Option<TcpStream>>>, u32);

impl Closer {
    pub fn close(&self) {
        if self.1 != crate::process::pid() {
            return;
        }
        let socket = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(socket) = socket.as_ref() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    fn disarm(&self) {
        if self.1 != crate::process::pid() {
            // A child closes its copy of the descriptor with the handle: a close, unlike a
            // shutdown, leaves the parent's socket alone.
            return;
        }
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The body of a streamed answer, read on the caller's thread as it pulls. At its end a
/// connection that may be kept goes back to the pool (never in a forked child).
pub struct BodyStream {
    pool: Arc<Pool>,
    pid: u32,
    /// `None` once the body ended or failed.
    conn: Option<Conn>,
    decoder: Option<Decoder>,
    /// The head and framing allow keeping the connection.
    keep: bool,
    /// Decoded body bytes of the last read.
    decoded: Vec<u8>,
    closer: Closer,
}

impl BodyStream {
    /// What wakes a blocked [`next_bytes`](Self::next_bytes) from another thread.
    pub fn closer(&self) -> Closer {
        self.closer.clone()
    }

    /// The next decoded bytes of the body, waiting at most `idle` for them; `Ok(None)` at its
    /// end. Waits in slices that run the interrupt check.
    pub fn next_bytes(&mut self, idle: Duration) -> Result<Option<&[u8]>, Error> {
        match self.next_inner(idle) {
            Ok(0) => {
                self.finish();
                Ok(None)
            }
            Ok(n) => Ok(Some(&self.decoded[..n])),
            Err(e) => {
                self.conn = None;
                self.decoder = None;
                self.closer.disarm();
                Err(match e {
                    TripError::TimedOut => {
                        Error::timeout(format!("no event within {:.1}s", idle.as_secs_f64()))
                    }
                    other => other.into_failure(idle).err,
                })
            }
        }
    }

    /// Reads until some body bytes are decoded (their count) or the body ends (0).
    fn next_inner(&mut self, idle: Duration) -> Result<usize, TripError> {
        let (Some(conn), Some(decoder)) = (self.conn.as_mut(), self.decoder.as_mut()) else {
            return Ok(0);
        };
        loop {
            if !conn.buf.is_empty() {
                self.decoded.clear();
                let used = decoder
                    .decode(&conn.buf, &mut self.decoded)
                    .map_err(TripError::Protocol)?;
                conn.buf.advance(used);
                if !self.decoded.is_empty() {
                    return Ok(self.decoded.len());
                }
                if used > 0 {
                    continue;
                }
            }
            if decoder.is_done() {
                return Ok(0);
            }
            if conn.fill(Instant::now() + idle, READ_CHUNK)? == 0 {
                if decoder.until_close() || decoder.after_last_chunk() {
                    self.keep = false;
                    return Ok(0);
                }
                return Err(TripError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed in the middle of the body",
                )));
            }
        }
    }

    /// Once the caller needs no more of the body (the stream's last event came): when the
    /// bytes already received complete it, the connection goes back to the pool. Never waits.
    pub fn end_if_received(&mut self) {
        let (Some(conn), Some(decoder)) = (self.conn.as_mut(), self.decoder.as_mut()) else {
            return;
        };
        if !conn.buf.is_empty() {
            self.decoded.clear();
            match decoder.decode(&conn.buf, &mut self.decoded) {
                // Bytes after the last event are not a body to leave on a kept connection.
                Ok(used) if self.decoded.is_empty() => conn.buf.advance(used),
                _ => return,
            }
        }
        if decoder.is_done() {
            self.finish();
        }
    }

    /// At the body's end: the connection goes back to the pool when it may be kept.
    fn finish(&mut self) {
        let (Some(conn), Some(decoder)) = (self.conn.take(), self.decoder.take()) else {
            return;
        };
        if self.keep && decoder.is_done() && self.pid == crate::process::pid() {
            self.closer.disarm();
            self.pool.idle.put(conn);
        }
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        // The duplicate descriptor would keep the socket open after the connection closed.
        self.closer.disarm();
    }
}

/// How one round trip on one connection failed.
enum TripError {
    /// Not one byte of the request was written: it may go out on another connection.
    NotSent(io::Error),
    /// The connection was closed after the request was sent, before any byte of a reply.
    Closed(io::Error),
    TimedOut,
    /// The interrupt check stopped the call.
    Interrupted,
    Io(io::Error),
    Protocol(String),
    /// The body passed this many bytes (`max_body`).
    TooLarge(usize),
}

/// A connection the pools keep between exchanges.
trait Pooled {
    fn origin(&self) -> &Origin;
    /// Nothing waits on it: no early bytes, no close.
    fn is_quiet(&self) -> bool;
    /// Nothing of the last answer is left unread (received bytes, decrypted TLS records).
    fn is_drained(&mut self) -> bool;
}

/// Idle keep-alive connections, each with when it went idle; per process ([`ForkLocal`]): a
/// forked child starts with none and never uses, closes or locks its parent's.
struct Idle<C> {
    conns: ForkLocal<Mutex<Vec<(Instant, C)>>>,
    max_per_origin: usize,
}

impl<C: Pooled> Idle<C> {
    fn new(max_per_origin: usize) -> Idle<C> {
        Idle {
            conns: ForkLocal::new(),
            max_per_origin,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Instant, C)>> {
        self.conns
            .get_or_init(|| Mutex::new(Vec::new()), drop)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently kept connection to `origin` that is still quiet. Expired ones are
    /// dropped, and so is one with bytes nobody asked for (a late answer) or a close.
    fn take(&self, origin: &Origin) -> Option<C> {
        loop {
            let conn = {
                let mut idle = self.lock();
                let now = Instant::now();
                idle.retain(|(since, _)| now.duration_since(*since) < IDLE_EXPIRY);
                let at = idle.iter().rposition(|(_, c)| c.origin() == origin)?;
                idle.swap_remove(at).1
            };
            if conn.is_quiet() {
                return Some(conn);
            }
        }
    }

    /// Keeps `conn` for a later exchange, unless something of its last answer is unread or
    /// its origin has enough idle connections already.
    fn put(&self, mut conn: C) {
        if !conn.is_drained() {
            return;
        }
        let mut idle = self.lock();
        let same = idle
            .iter()
            .filter(|(_, c)| c.origin() == conn.origin())
            .count();
        if same < self.max_per_origin {
            idle.push((Instant::now(), conn));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Pool {
    pub fn new(connect_timeout: Duration, tls: crate::tls::Tls) -> Pool {
        Pool {
            connect_timeout,
            tls,
            idle: Idle::new(MAX_IDLE_PER_ORIGIN),
        }
    }

    /// One attempt: the whole exchange, connect included, within `timeout`.
    pub fn exchange(&self, req: &Request<'_>, timeout: Duration) -> Result<Response, Failure> {
        let deadline = Instant::now() + timeout;
        let origin = Origin::of_request(req)?;
        loop {
            let (mut conn, reused) = match self.idle.take(&origin) {
                Some(conn) => (conn, true),
                None => (self.connect(&origin, timeout, deadline)?, false),
            };
            match conn.round_trip(req, deadline) {
                Ok((response, keep_alive)) => {
                    if keep_alive {
                        self.idle.put(conn);
                    }
                    return Ok(response);
                }
                Err(e) => resend_or_fail(&origin, e, reused, timeout)?,
            }
        }
    }

    /// One attempt at opening a streamed answer (server-sent events): the request and the
    /// response head within `timeout`. A 2xx answer's body is left on the connection, to be
    /// read by the caller's thread as it pulls; any other answer is read whole.
    pub fn open_stream(
        self: &Arc<Self>,
        req: &Request<'_>,
        timeout: Duration,
    ) -> Result<Opened, Failure> {
        let deadline = Instant::now() + timeout;
        let origin = Origin::of_request(req)?;
        loop {
            let (mut conn, reused) = match self.idle.take(&origin) {
                Some(conn) => (conn, true),
                None => (self.connect(&origin, timeout, deadline)?, false),
            };
            let answer = conn.send_then(req, deadline, |conn, deadline, broken| {
                let head = conn.read_head(req.method, deadline)?;
                if (200..300).contains(&head.status) && !broken {
                    return Ok(Answer::Streaming(head));
                }
                let (bytes, intact) = conn.read_body(head.body, deadline, req.max_body)?;
                let keep = head.reusable && intact && !broken;
                Ok(Answer::Whole(head.into_response(bytes), keep))
            });
            match answer {
                Ok(Answer::Whole(response, keep)) => {
                    if keep {
                        self.idle.put(conn);
                    }
                    return Ok(Opened::Whole(response));
                }
                Ok(Answer::Streaming(head)) => {
                    let socket = conn.io.tcp().try_clone().ok();
                    let closer = Closer(Arc::new(Mutex::new(socket)), crate::process::pid());
                    return Ok(Opened::Streaming {
                        status: head.status,
                        request_id: head.request_id,
                        body: BodyStream {
                            pool: self.clone(),
                            pid: crate::process::pid(),
                            conn: Some(conn),
                            decoder: Some(Decoder::new(head.body)),
                            keep: head.reusable,
                            decoded: Vec::new(),
                            closer,
                        },
                    });
                }
                Err(e) => resend_or_fail(&origin, e, reused, timeout)?,
            }
        }
    }

    fn connect(
        &self,
        origin: &Origin,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Conn, Failure> {
        let addrs = resolve(origin, deadline).map_err(|e| resolve_failure(origin, timeout, e))?;
        let connect_timeout = self.connect_timeout;
        let stream = on_helper_thread("inferencekey-connect", deadline, move || {
            connect_any(&addrs, connect_timeout, deadline)
        })
        .map_err(|e| connect_failure(origin, connect_timeout.min(timeout), timeout, e))?;
        // Reads and writes wait in slices, so that the interrupt check runs while they wait.
        let slice = timeout.min(CHECK_INTERVAL);
        let setup = |s: &TcpStream| {
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(slice))?;
            s.set_write_timeout(Some(slice))
        };
        setup(&stream).map_err(|e| connect_failure(origin, timeout, timeout, TripError::Io(e)))?;
        let io = if origin.tls {
            let config = self.tls.configs().map_err(|err| Failure {
                err,
                reached_server: false,
            })?;
            Io::Tls(Box::new(
                handshake(config.blocking_config.clone(), origin, stream, deadline)
                    .map_err(|e| handshake_failure(origin, timeout, e))?,
            ))
        } else {
            Io::Plain(stream)
        };
        Ok(Conn {
            io,
            origin: origin.clone(),
            buf: BytesMut::new(),
            scratch: Box::new([0; MIN_READ]),
            out: Vec::new(),
            read_timeout: slice,
        })
    }
}

/// A resolution that failed: nothing reached the server.
fn resolve_failure(origin: &Origin, timeout: Duration, e: TripError) -> Failure {
    match e {
        TripError::Io(e) => Failure {
            err: Error::connection(
                codes::CONNECTION_FAILED,
                format!("cannot resolve {origin}: {e}"),
            ),
            reached_server: false,
        },
        other => not_sent(other, timeout),
    }
}

/// A TCP connect that failed (`connect_timeout` the wait it had): nothing reached the server.
fn connect_failure(
    origin: &Origin,
    connect_timeout: Duration,
    timeout: Duration,
    e: TripError,
) -> Failure {
    let err = match e {
        TripError::Io(e) if e.kind() != io::ErrorKind::TimedOut => Error::connection(
            codes::CONNECTION_FAILED,
            format!("cannot connect to {origin}: {e}"),
        ),
        TripError::Io(_) | TripError::TimedOut => Error::timeout(format!(
            "connecting to {origin} timed out after {:.1}s",
            connect_timeout.as_secs_f64()
        )),
        other => return not_sent(other, timeout),
    };
    Failure {
        err,
        reached_server: false,
    }
}

/// A TLS handshake that failed: nothing reached the server; an untrusted certificate has a
/// code of its own (never retried).
fn handshake_failure(origin: &Origin, timeout: Duration, e: TripError) -> Failure {
    match e {
        TripError::Io(e) => Failure {
            err: match crate::transport::certificate_error(&e) {
                Some(why) => crate::transport::untrusted_certificate(&origin.host, &why),
                None => Error::connection(
                    codes::CONNECTION_FAILED,
                    format!("TLS handshake with {origin} failed: {e}"),
                ),
            },
            reached_server: false,
        },
        other => not_sent(other, timeout),
    }
}

/// After an attempt on a connection failed: `Ok` to send again on another connection when the
/// server had closed a kept one before any of the request left (wire §3.3: whatever the
/// method), else the failure.
fn resend_or_fail(
    origin: &Origin,
    e: TripError,
    reused: bool,
    timeout: Duration,
) -> Result<(), Failure> {
    match e {
        TripError::NotSent(e) if reused => {
            crate::log!(
                Level::Debug,
                "inferencekey.http",
                "a kept connection to {origin} was closed ({e}); sending on another"
            );
            Ok(())
        }
        e => Err(e.into_failure(timeout)),
    }
}

/// What is left to write of `head`, then `body`, once `written` bytes of them went out.
fn unsent<'a>(head: &'a [u8], body: &'a [u8], written: usize) -> [IoSlice<'a>; 2] {
    let from_head = written.min(head.len());
    [
        IoSlice::new(&head[from_head..]),
        IoSlice::new(&body[written - from_head..]),
    ]
}

/// A failure before the request was written: whatever it is, nothing reached the server.
fn not_sent(e: TripError, timeout: Duration) -> Failure {
    Failure {
        reached_server: false,
        ..e.into_failure(timeout)
    }
}

impl TripError {
    /// A read or write that failed: the server closed the connection, or another I/O error.
    fn lost(e: io::Error) -> TripError {
        if is_closed(&e) {
            TripError::Closed(e)
        } else {
            TripError::Io(e)
        }
    }

    fn into_failure(self, timeout: Duration) -> Failure {
        let (err, reached_server) = match self {
            TripError::NotSent(e) => (
                Error::connection(
                    codes::CONNECTION_ERROR,
                    format!("the connection failed before the request was sent: {e}"),
                ),
                false,
            ),
            TripError::TimedOut => (
                Error::timeout(format!("no answer within {:.1}s", timeout.as_secs_f64())),
                true,
            ),
            TripError::Interrupted => (interrupt::interrupted(), true),
            TripError::Closed(e) => (
                Error::connection(
                    codes::CONNECTION_ERROR,
                    format!("the server closed the connection without answering: {e}"),
                ),
                true,
            ),
            TripError::Io(e) => (
                Error::connection(codes::CONNECTION_ERROR, format!("connection lost: {e}")),
                true,
            ),
            TripError::Protocol(why) => (
                Error::connection(
                    codes::CONNECTION_ERROR,
                    format!("the server sent an invalid HTTP response: {why}"),
                ),
                true,
            ),
            TripError::TooLarge(cap) => (response_too_large(cap), true),
        };
        Failure {
            err,
            reached_server,
        }
    }
}

/// The error of a body longer than the cap (`max_response_bytes`).
pub fn response_too_large(cap: usize) -> Error {
    Error::new(
        ErrorKind::Api,
        codes::RESPONSE_TOO_LARGE,
        format!(
            "the response body is larger than max_response_bytes, {}; it was not read",
            describe_bytes(cap)
        ),
    )
    .with_detail("limit_bytes", cap.into())
}

/// What reading an answer needs next: more bytes (about this many are expected; 0 when
/// nothing says), or nothing: it is done.
enum Step<T> {
    More(usize),
    Done(T),
}

/// Takes the final response head to `method` off `buf` once it is whole, skipping 1xx
/// answers. The reading half of both exchanges, blocking and async.
fn take_head(buf: &mut BytesMut, method: &Method) -> Result<Step<Head>, TripError> {
    loop {
        match message::parse_head(buf, method).map_err(TripError::Protocol)? {
            Some(Parsed::Final(used, head)) => {
                buf.advance(used);
                return Ok(Step::Done(head));
            }
            // A 1xx answer: the real one follows.
            Some(Parsed::Interim(used)) => buf.advance(used),
            None if buf.len() > MAX_HEAD => {
                return Err(TripError::Protocol("the response head is too long".into()))
            }
            None => return Ok(Step::More(0)),
        }
    }
}

/// The error of a connection that ended before the head was whole (`buf` holds its start).
fn head_cut(buf: &BytesMut) -> TripError {
    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "end of stream");
    if buf.is_empty() {
        TripError::Closed(e)
    } else {
        TripError::Protocol("the connection closed in the middle of the head".into())
    }
}

/// Decodes one body from the bytes a connection receives, refusing more than `max_body`.
struct BodyReader {
    decoder: Decoder,
    out: Vec<u8>,
    max_body: usize,
}

impl BodyReader {
    /// A body longer than `max_body` by its declared length is refused before it is read.
    fn new(body: Body, max_body: usize) -> Result<BodyReader, TripError> {
        let out = match body {
            Body::Length(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > max_body {
                    return Err(TripError::TooLarge(max_body));
                }
                Vec::with_capacity(n.min(MAX_PREALLOCATION))
            }
            _ => Vec::new(),
        };
        Ok(BodyReader {
            decoder: Decoder::new(body),
            out,
            max_body,
        })
    }

    /// Decodes what `buf` holds of the body (consuming it): the whole body once its framing
    /// ends it, else how much more is expected.
    fn take(&mut self, buf: &mut BytesMut) -> Result<Step<Bytes>, TripError> {
        if !buf.is_empty() {
            let used = self
                .decoder
                .decode(buf, &mut self.out)
                .map_err(TripError::Protocol)?;
            buf.advance(used);
            if self.out.len() > self.max_body {
                return Err(TripError::TooLarge(self.max_body));
            }
        }
        if self.decoder.is_done() {
            return Ok(Step::Done(Bytes::from(std::mem::take(&mut self.out))));
        }
        Ok(Step::More(match self.decoder.expected() {
            0 => MAX_READ,
            n => usize::try_from(n).unwrap_or(MAX_READ),
        }))
    }

    /// The body when the connection closed: whole if close-delimited, or chunked with its last
    /// chunk in and only the final CRLF missing (the connection is not kept either way).
    fn at_close(self) -> Result<Bytes, TripError> {
        if self.decoder.until_close() || self.decoder.after_last_chunk() {
            return Ok(Bytes::from(self.out));
        }
        Err(TripError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed in the middle of the body",
        )))
    }
}

impl Conn {
    /// Sends `req` and reads the whole answer; `true` with it when the connection may be kept.
    fn round_trip(
        &mut self,
        req: &Request<'_>,
        deadline: Instant,
    ) -> Result<(Response, bool), TripError> {
        self.send_then(req, deadline, |conn, deadline, broken| {
            let head = conn.read_head(req.method, deadline)?;
            let (body, intact) = conn.read_body(head.body, deadline, req.max_body)?;
            let keep = head.reusable && intact && !broken && conn.buf.is_empty();
            Ok((head.into_response(body), keep))
        })
    }

    /// Sends `req`, then reads its answer with `read` (told whether writing failed, after
    /// which the connection is never kept).
    fn send_then<T>(
        &mut self,
        req: &Request<'_>,
        deadline: Instant,
        read: impl FnOnce(&mut Conn, Instant, bool) -> Result<T, TripError>,
    ) -> Result<T, TripError> {
        message::write_head(&mut self.out, req);
        let body = req.body.unwrap_or_default();
        let sent = self.send(body, deadline);
        // The head holds the token: it does not outlive the write.
        self.out.zeroize();
        match sent {
            Ok(()) => read(self, deadline, false),
            Err((0, e)) if is_closed(&e) => Err(TripError::NotSent(e)),
            Err((_, e)) if matches!(e.kind(), io::ErrorKind::TimedOut) => Err(TripError::TimedOut),
            Err((_, e)) if e.kind() == io::ErrorKind::Interrupted => Err(TripError::Interrupted),
            Err((_, e)) => {
                // The server may have answered before it closed on us (a 413 for a body it
                // will not take): that answer, not the broken pipe, is the result.
                let soon = deadline.min(Instant::now() + EARLY_ANSWER_WAIT);
                read(self, soon, true).map_err(|_| TripError::lost(e))
            }
        }
    }

    /// Writes the head in `out`, then `body`, within the deadline; on failure, how many bytes
    /// went out and why.
    fn send(&mut self, body: &[u8], deadline: Instant) -> Result<(), (usize, io::Error)> {
        let mut written = 0;
        while written < self.out.len() + body.len() {
            match self.io.write_vectored(&unsent(&self.out, body, written)) {
                Ok(0) => return Err((written, io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if is_wait(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    if interrupt::requested() {
                        return Err((written, io::ErrorKind::Interrupted.into()));
                    }
                    if Instant::now() >= deadline {
                        return Err((written, io::ErrorKind::TimedOut.into()));
                    }
                }
                Err(e) => return Err((written, e)),
            }
        }
        self.io.flush().map_err(|e| (written, e))
    }

    /// Reads the final response head to `method` (skipping 1xx answers).
    fn read_head(&mut self, method: &Method, deadline: Instant) -> Result<Head, TripError> {
        loop {
            if let Step::Done(head) = take_head(&mut self.buf, method)? {
                return Ok(head);
            }
            if self.fill(deadline, 0)? == 0 {
                return Err(head_cut(&self.buf));
            }
        }
    }

    /// Reads and decodes a body framed as `body`, refusing one longer than `max_body`;
    /// returns it and whether it ended by its framing (not by a close, which ends the
    /// connection with it).
    fn read_body(
        &mut self,
        body: Body,
        deadline: Instant,
        max_body: usize,
    ) -> Result<(Bytes, bool), TripError> {
        let mut reader = BodyReader::new(body, max_body)?;
        loop {
            match reader.take(&mut self.buf)? {
                Step::Done(bytes) => return Ok((bytes, true)),
                Step::More(want) => {
                    if self.fill(deadline, want)? == 0 {
                        return Ok((reader.at_close()?, false));
                    }
                }
            }
        }
    }

    /// Reads more bytes into `buf`, up to `want` when more than a short read is known to be
    /// coming; `Ok(0)` at the end of the stream.
    fn fill(&mut self, deadline: Instant, want: usize) -> Result<usize, TripError> {
        if want <= MIN_READ {
            // Most replies: one short read into the scratch buffer, then one copy.
            let n = self.read_into(deadline, None)?;
            self.buf.extend_from_slice(&self.scratch[..n]);
            return Ok(n);
        }
        // A large body is read up to MAX_READ at a time: 20 KB reads made 26 MB take 1,280
        // system calls and twice the time.
        let want = want.min(MAX_READ);
        let room = want.max(READ_CHUNK);
        if self.buf.capacity() - self.buf.len() < room {
            self.buf.reserve(room);
        }
        let start = self.buf.len();
        // Reads go into zeroed memory: the window keeps that cost to what is expected.
        let window = (self.buf.capacity() - start).min(want);
        self.buf.resize(start + window, 0);
        let result = self.read_into(deadline, Some(start));
        self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// One read into the scratch buffer (`None`) or `buf` from `start`, within the deadline.
    fn read_into(&mut self, deadline: Instant, start: Option<usize>) -> Result<usize, TripError> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(TripError::TimedOut);
            }
            // The last slice ends at the deadline (a syscall only near the end of a wait).
            if self.read_timeout > remaining {
                self.set_read_timeout(remaining);
            }
            let into = match start {
                None => &mut self.scratch[..],
                Some(start) => &mut self.buf[start..],
            };
            match self.io.read(into) {
                Ok(n) => return Ok(n),
                // A signal (Ctrl-C) or the end of a wait slice: the host may want to stop.
                Err(e) if e.kind() == io::ErrorKind::Interrupted || is_wait(&e) => {
                    if interrupt::requested() {
                        return Err(TripError::Interrupted);
                    }
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(TripError::TimedOut);
                    }
                    // A slice left shorter by the end of an earlier exchange is widened again.
                    let slice = remaining.min(CHECK_INTERVAL);
                    if self.read_timeout != slice {
                        self.set_read_timeout(slice);
                    }
                }
                Err(e) => return Err(TripError::lost(e)),
            }
        }
    }

    fn set_read_timeout(&mut self, timeout: Duration) {
        let timeout = timeout.max(Duration::from_millis(1));
        if self.io.tcp().set_read_timeout(Some(timeout)).is_ok() {
            self.read_timeout = timeout;
        }
    }
}

impl Pooled for Conn {
    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn is_quiet(&self) -> bool {
        peek_is_quiet(self.io.tcp())
    }

    fn is_drained(&mut self) -> bool {
        self.buf.is_empty()
            && match &mut self.io {
                Io::Plain(_) => true,
                Io::Tls(tls) => holds_no_plaintext(&mut tls.conn),
            }
    }
}

/// No decrypted bytes wait in `tls` (records that arrived after the answer).
fn holds_no_plaintext(tls: &mut rustls::ClientConnection) -> bool {
    tls.process_new_packets()
        .is_ok_and(|state| state.plaintext_bytes_to_read() == 0)
}

/// One non-blocking peek: `true` when nothing is waiting on the socket (no byte, no close).
#[cfg(unix)]
fn peek_is_quiet(socket: &impl std::os::fd::AsFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut probe = 0u8;
    // SAFETY: a one-byte read into a local, on a descriptor the borrowed socket owns.
    let n = unsafe {
        libc::recv(
            socket.as_fd().as_raw_fd(),
            (&raw mut probe).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && is_wait(&io::Error::last_os_error())
}

#[cfg(not(unix))]
fn peek_is_quiet(tcp: &TcpStream) -> bool {
    if tcp.set_nonblocking(true).is_err() {
        return false;
    }
    let mut probe = [0u8; 1];
    let quiet = matches!(tcp.peek(&mut probe), Err(e) if is_wait(&e));
    tcp.set_nonblocking(false).is_ok() && quiet
}

/// The origin's addresses, resolved within the deadline: the system resolver has no timeout
/// of its own and cannot be interrupted, so it runs on a thread of its own that this one
/// waits for in slices (a resolution still running when the call gives up finishes alone).
fn resolve(origin: &Origin, deadline: Instant) -> Result<Vec<SocketAddr>, TripError> {
    resolve_with(origin, deadline, |host, port| {
        (host, port).to_socket_addrs().map(Vec::from_iter)
    })
}

type Lookup = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

fn resolve_with(
    origin: &Origin,
    deadline: Instant,
    lookup: Lookup,
) -> Result<Vec<SocketAddr>, TripError> {
    if let Ok(ip) = origin.host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, origin.port)]);
    }
    let (host, port) = (origin.host.clone(), origin.port);
    on_helper_thread("inferencekey-dns", deadline, move || lookup(&host, port))
}

/// The first of `addrs` that accepts a connection within the connect timeout and the
/// deadline, or the last failure.
fn connect_any(
    addrs: &[SocketAddr],
    connect_timeout: Duration,
    deadline: Instant,
) -> io::Result<TcpStream> {
    let mut last = io::Error::from(io::ErrorKind::TimedOut);
    for addr in addrs {
        let budget = connect_timeout.min(deadline.saturating_duration_since(Instant::now()));
        if budget.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(addr, budget) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Runs `work`, which cannot be interrupted (the system resolver, a connect), on a thread of
/// its own and waits for it in slices that run the interrupt check; work still running when
/// the call gives up finishes alone, and what it made is dropped.
fn on_helper_thread<T: Send + 'static>(
    name: &str,
    deadline: Instant,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, TripError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(TripError::Io)?;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(TripError::TimedOut);
        }
        match rx.recv_timeout(remaining.min(CHECK_INTERVAL)) {
            Ok(result) => return result.map_err(TripError::Io),
            Err(mpsc::RecvTimeoutError::Timeout) if interrupt::requested() => {
                return Err(TripError::Interrupted)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(TripError::Io(io::Error::other(format!(
                    "the {name} thread failed"
                ))))
            }
        }
    }
}

fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl Origin {
    /// The origin `req` goes to; a URL we cannot connect to fails before anything is sent.
    fn of_request(req: &Request<'_>) -> Result<Origin, Failure> {
        Origin::of(req.url).map_err(|err| Failure {
            err,
            reached_server: false,
        })
    }

    fn of(url: &url::Url) -> Result<Origin, Error> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(Error::config(
                    codes::INVALID_BASE_URL,
                    format!("unsupported URL scheme {other:?}"),
                ))
            }
        };
        // The host as the URL already spells it (no formatting per call); IPv6 without its
        // brackets, which `Display` adds back.
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => {
                return Err(Error::config(
                    codes::INVALID_BASE_URL,
                    "the URL has no host",
                ))
            }
        }
        .to_owned();
        let port = url
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        Ok(Origin { tls, host, port })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Io {
    fn tcp(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => s,
            Io::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write_vectored(bufs),
            Io::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// Completes the handshake now, within the deadline and in interruptible slices, so that its
/// failures are connection failures (nothing was sent).
fn handshake(
    config: Arc<rustls::ClientConfig>,
    origin: &Origin,
    mut tcp: TcpStream,
    deadline: Instant,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, TripError> {
    let invalid = |e: String| TripError::Io(io::Error::new(io::ErrorKind::InvalidInput, e));
    let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
        .map_err(|e| invalid(e.to_string()))?;
    let mut conn =
        rustls::ClientConnection::new(config, name).map_err(|e| invalid(e.to_string()))?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_wait(&e) => {
                if interrupt::requested() {
                    return Err(TripError::Interrupted);
                }
                if Instant::now() >= deadline {
                    return Err(TripError::TimedOut);
                }
            }
            Err(e) => return Err(TripError::Io(e)),
        }
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

#[cfg(test)]
mod tests {
    /// The public web's roots only.
    pub(super) fn test_roots() -> rustls::RootCertStore {
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
    }

    /// A pool trusting the public web's roots only.
    fn test_pool(connect_timeout: Duration) -> Pool {
        Pool::new(connect_timeout, crate::tls::Tls::with_roots(test_roots()))
    }

    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::Ordering;
    use std::thread;

    pub(super) const TOKEN: &str = "ik_live_1a2b3c4d_0123456789abcdef";

    /// A one-connection server thread answering each request with the next canned bytes;
    /// returns the requests it read.
    pub(super) fn serve(answers: Vec<Vec<u8>>) -> (url::Url, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url::Url::parse(&format!(
            "http://{}/v1/things?x=1",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let handle = thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            for answer in answers {
                seen.push(read_request(&mut sock));
                sock.write_all(&answer).unwrap();
            }
            seen
        });
        (url, handle)
    }

    pub(super) fn read_request(sock: &mut TcpStream) -> String {
        let mut data = Vec::new();
        let mut byte = [0u8; 1];
        while !data.ends_with(b"\r\n\r\n") {
            assert_eq!(sock.read(&mut byte).unwrap(), 1, "request cut short");
            data.push(byte[0]);
        }
        let head = String::from_utf8(data).unwrap();
        let len = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v)
            })
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0u8; len];
        sock.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    pub(super) fn post<'a>(url: &'a url::Url, body: &'a [u8]) -> Request<'a> {
        Request {
            method: &Method::POST,
            url,
            token: TOKEN,
            user_agent: Box::leak(Box::new(HeaderValue::from_static("inferencekey-test"))),
            accept: "application/json",
            headers: Box::leak(Box::default()),
            body: Some(body),
            max_body: 1 << 20,
        }
    }

    #[test]
    fn user_headers_are_sent_and_replace_ours() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec();
        let (url, server) = serve(vec![answer]);
        let headers = crate::headers::Headers::from_config(Some(&serde_json::json!({
            "User-Agent": "app/1", "X-Trace": "t-1", "Content-Type": "application/json; charset=utf-8"
        })))
        .unwrap();
        let request = Request {
            headers: &headers,
            ..post(&url, b"{}")
        };
        let got = test_pool(SECOND).exchange(&request, SECOND).unwrap();
        assert_eq!(got.status, 200);
        let seen = server.join().unwrap().remove(0).to_ascii_lowercase();
        assert_eq!(seen.matches("user-agent:").count(), 1, "{seen}");
        assert!(seen.contains("user-agent: app/1\r\n"), "{seen}");
        assert!(seen.contains("x-trace: t-1\r\n"), "{seen}");
        assert_eq!(seen.matches("content-type:").count(), 1, "{seen}");
        assert!(seen.contains("charset=utf-8"), "{seen}");
        assert_eq!(seen.matches("authorization: bearer ").count(), 1, "{seen}");
        assert!(!seen.contains("inferencekey-test"), "{seen}");
    }

    /// One exchange with a server that sends `answer` and then closes: the body, and whether
    /// the connection went back to the pool.
    fn one_answer(answer: &[u8]) -> (Bytes, bool) {
        let (url, server) = serve(vec![answer.to_vec()]);
        let pool = test_pool(SECOND);
        let got = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
        server.join().unwrap();
        let kept = pool.idle.len() == 1;
        (got.body, kept)
    }

    pub(super) const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn content_length_keep_alive_and_head_fields() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: req_1\r\n\r\n{}".to_vec(),
            b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nretry-after-ms: 250\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ]);
        let pool = test_pool(SECOND);
        let first = pool.exchange(&post(&url, b"{\"a\":1}"), SECOND).unwrap();
        assert_eq!((first.status, &first.body[..]), (200, &b"{}"[..]));
        assert_eq!(first.request_id.as_deref(), Some("req_1"));
        // The same (single-connection) server answers the second: the connection was reused.
        let second = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
        assert_eq!(second.status, 429);
        assert_eq!(second.retry_after.as_deref(), Some("3"));
        assert_eq!(second.retry_after_ms.as_deref(), Some("250"));
        let seen = server.join().unwrap();
        assert!(
            seen[0].starts_with("POST /v1/things?x=1 HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        let head = seen[0].to_ascii_lowercase();
        assert!(head.contains(&format!(
            "\r\nauthorization: bearer {}\r\n",
            TOKEN.to_ascii_lowercase()
        )));
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains("\r\ncontent-length: 7\r\n"));
        assert!(seen[0].ends_with("\r\n\r\n{\"a\":1}"));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers_after_a_1xx() {
        let (body, kept) = one_answer(
            b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n",
        );
        assert_eq!(&body[..], b"Wikipedia in \r\n\r\nchunks.");
        assert!(kept, "kept alive");
    }

    #[test]
    fn body_until_close_is_not_kept() {
        let (body, kept) = one_answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"ok\":true}");
        assert_eq!(&body[..], b"{\"ok\":true}");
        assert!(!kept, "not kept");
    }

    #[test]
    fn malformed_answers_are_connection_errors() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"SMTP ready\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ] {
            let (url, server) = serve(vec![answer.to_vec()]);
            let failure = test_pool(SECOND)
                .exchange(&post(&url, b"{}"), SECOND)
                .unwrap_err();
            assert_eq!(failure.err.kind, ErrorKind::Connection, "{answer:?}");
            assert!(failure.reached_server);
            server.join().unwrap();
        }
    }

    #[test]
    fn silence_times_out_within_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let started = Instant::now();
        let failure = test_pool(SECOND)
            .exchange(&post(&url, b"{}"), Duration::from_millis(300))
            .unwrap_err();
        assert_eq!(failure.err.kind, ErrorKind::Timeout);
        assert!(failure.reached_server);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{took:?}"
        );
        drop(listener);
    }

    #[test]
    fn refused_connection_did_not_reach_the_server() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let failure = test_pool(SECOND)
            .exchange(&post(&url, b"{}"), SECOND)
            .unwrap_err();
        assert_eq!(failure.err.code, "connection_failed");
        assert!(!failure.reached_server);
    }

    #[test]
    fn a_pooled_connection_closed_by_the_server_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let server = thread::spawn(move || {
            // First connection: one answer, then closed (an idle timeout on the server).
            let (mut sock, _) = listener.accept().unwrap();
            read_request(&mut sock);
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
                .unwrap();
            drop(sock);
            let (mut sock, _) = listener.accept().unwrap();
            read_request(&mut sock);
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
                .unwrap();
        });
        let pool = test_pool(SECOND);
        assert_eq!(
            &pool.exchange(&post(&url, b"{}"), SECOND).unwrap().body[..],
            b"a"
        );
        thread::sleep(Duration::from_millis(50));
        assert_eq!(
            &pool.exchange(&post(&url, b"{}"), SECOND).unwrap().body[..],
            b"b"
        );
        server.join().unwrap();
    }

    /// Roots trusting the fixture CA (`tls_server`'s certificate).
    pub(super) fn fixture_roots() -> rustls::RootCertStore {
        use rustls::pki_types::pem::PemObject;
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        let ca =
            rustls::pki_types::CertificateDer::from_pem_file(format!("{fixture}/ca.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        roots
    }

    /// A TLS server (the fixture certificate) answering `bodies` on one connection, after
    /// waiting `delay` before its part of the handshake.
    pub(super) fn tls_server(
        bodies: Vec<&'static str>,
        delay: Duration,
    ) -> (u16, thread::JoinHandle<Vec<String>>) {
        let config = crate::tls::fixture_server_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            thread::sleep(delay);
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut seen = Vec::new();
            for body in bodies {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if tls.read_exact(&mut byte).is_err() {
                        return seen; // the client gave up (an untrusted certificate)
                    }
                    head.push(byte[0]);
                }
                let mut request_body = [0u8; 2];
                tls.read_exact(&mut request_body).unwrap();
                seen.push(String::from_utf8(head).unwrap());
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                tls.write_all(answer.as_bytes()).unwrap();
                tls.flush().unwrap();
            }
            seen
        });
        (port, server)
    }

    #[test]
    fn https_through_rustls_on_a_kept_connection() {
        let pool = Pool::new(SECOND, crate::tls::Tls::with_roots(fixture_roots()));
        // A slow handshake (a distant server) is longer than one read slice.
        let (port, server) = tls_server(vec!["{\"n\":1}", "{\"n\":2}"], 2 * CHECK_INTERVAL);
        let url = url::Url::parse(&format!("https://localhost:{port}/v1/x")).unwrap();
        for expected in [&b"{\"n\":1}"[..], b"{\"n\":2}"] {
            let got = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
            assert_eq!((got.status, &got.body[..]), (200, expected));
        }
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 2, "both requests on the one connection");
        assert!(seen[0]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: localhost:{port}\r\n")));
    }

    #[test]
    fn https_refuses_a_certificate_outside_the_public_roots() {
        let (port, server) = tls_server(vec!["{}"], Duration::ZERO);
        let url = url::Url::parse(&format!("https://localhost:{port}/")).unwrap();
        let failure = test_pool(SECOND)
            .exchange(&post(&url, b"{}"), SECOND)
            .unwrap_err();
        assert_eq!(failure.err.code, "tls_certificate", "{}", failure.err);
        assert!(
            failure.err.message.contains("certificate")
                && failure.err.message.contains("SSL_CERT_FILE"),
            "{}",
            failure.err
        );
        assert!(!failure.reached_server);
        assert!(server.join().unwrap().is_empty(), "no request was sent");
    }

    /// A listener whose connections are handed to `serve` one by one, each on its own thread;
    /// returns the URL and a counter of the requests the server read.
    pub(super) fn scripted(
        serve: impl Fn(usize, TcpStream) + Send + Sync + 'static,
    ) -> (url::Url, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url =
            url::Url::parse(&format!("http://{}/v1/x", listener.local_addr().unwrap())).unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let serve = Arc::new(serve);
        thread::spawn(move || {
            for (n, sock) in listener.incoming().enumerate() {
                let serve = serve.clone();
                thread::spawn(move || serve(n, sock.unwrap()));
            }
        });
        (url, count)
    }

    #[test]
    fn late_bytes_on_an_idle_connection_are_never_an_answer() {
        let (url, _) = scripted(|n, mut sock| {
            read_request(&mut sock);
            let body = format!("{{\"conn\":{n}}}");
            write!(
                sock,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            // An unsolicited second answer on the idle connection.
            thread::sleep(Duration::from_millis(50));
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n\"smuggle\"");
            thread::sleep(Duration::from_secs(2));
        });
        let pool = test_pool(SECOND);
        assert_eq!(
            &pool.exchange(&post(&url, b"{}"), SECOND).unwrap().body[..],
            b"{\"conn\":0}"
        );
        thread::sleep(Duration::from_millis(200));
        let second = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
        assert_eq!(
            &second.body[..],
            b"{\"conn\":1}",
            "answered on a new connection"
        );
    }

    #[test]
    fn a_post_the_server_read_is_not_sent_again() {
        let copies = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = copies.clone();
        let (url, _) = scripted(move |_, mut sock| {
            // First request answered, the second read whole and left unanswered.
            read_request(&mut sock);
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
            read_request(&mut sock);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let pool = test_pool(SECOND);
        pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
        let failure = pool
            .exchange(&post(&url, b"{\"n\":2}"), SECOND)
            .unwrap_err();
        assert_eq!(failure.err.kind, ErrorKind::Connection, "{}", failure.err);
        assert!(failure.reached_server);
        thread::sleep(Duration::from_millis(100));
        assert_eq!(copies.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn bodies_past_the_cap_are_refused_before_they_are_held() {
        let (url, _) = scripted(|n, mut sock| {
            read_request(&mut sock);
            let _ = if n == 0 {
                // Declared: refused from the head alone.
                sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3221225472\r\n\r\n")
            } else {
                // Chunked: refused once past the cap.
                sock.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .and_then(|()| {
                        let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "x".repeat(64 << 10));
                        (0..64).try_for_each(|_| sock.write_all(chunk.as_bytes()))
                    })
            };
        });
        let pool = test_pool(SECOND);
        for _ in 0..2 {
            let mut req = post(&url, b"{}");
            req.max_body = 1 << 20;
            let failure = pool.exchange(&req, SECOND).unwrap_err();
            assert_eq!(failure.err.code, "response_too_large");
            assert!(
                failure.err.message.contains("1048576 bytes (1 MiB)"),
                "{}",
                failure.err
            );
        }
        assert_eq!(pool.idle.len(), 0);
    }

    #[test]
    fn an_answer_sent_before_the_body_was_whole_is_read() {
        let (url, _) = scripted(|_, mut sock| {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                sock.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let body = br#"{"error":{"code":"payload_too_large","message":"too big"}}"#;
            let mut answer = format!(
                "HTTP/1.1 413 Payload Too Large\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            answer.extend_from_slice(body);
            sock.write_all(&answer).unwrap();
            // Closed with the rest of the request unread: the client's writes fail.
        });
        let big = vec![b'x'; 64 << 20];
        let got = test_pool(SECOND)
            .exchange(&post(&url, &big), Duration::from_secs(5))
            .unwrap();
        assert_eq!(got.status, 413);
        assert!(got.body.starts_with(b"{\"error\""));
    }

    #[test]
    fn ambiguous_framing_is_not_kept() {
        let (body, kept) = one_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
        assert_eq!(&body[..], b"{}");
        assert!(!kept, "not kept");
    }

    /// A fault a real resolver cannot be made to produce on loopback: a lookup that hangs.
    fn hung_lookup(_: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        thread::sleep(Duration::from_secs(5));
        Ok(Vec::new())
    }

    #[test]
    fn a_hung_name_lookup_obeys_the_deadline_and_the_interrupt_check() {
        let origin = Origin {
            tls: false,
            host: "hangs.invalid".into(),
            port: 80,
        };
        let started = Instant::now();
        let err = resolve_with(&origin, started + Duration::from_millis(300), hung_lookup);
        assert!(matches!(err, Err(TripError::TimedOut)));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );

        // The process-wide check answers for this test's thread alone.
        let _one = interrupt::TEST_CHECK
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let me = thread::current().id();
        interrupt::set_check(Some(Arc::new(move || thread::current().id() == me)));
        let started = Instant::now();
        let err = resolve_with(&origin, started + Duration::from_secs(30), hung_lookup);
        interrupt::set_check(None);
        assert!(matches!(err, Err(TripError::Interrupted)));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    /// Work that cannot be interrupted (a connect to a host that drops SYNs, which loopback
    /// cannot be made to do) is left to its helper thread once the caller's own check, a
    /// cancel token's, asks to stop.
    #[test]
    fn a_hung_connect_obeys_a_thread_check() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = stop.clone();
        let check: interrupt::Check = Arc::new(move || seen.load(Ordering::SeqCst));
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::SeqCst);
            Instant::now()
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let err = interrupt::with_thread_check(check, || {
            on_helper_thread("inferencekey-connect", deadline, || {
                thread::sleep(Duration::from_secs(5));
                TcpStream::connect("127.0.0.1:9")
            })
        });
        let stopped_after = canceller.join().unwrap().elapsed();
        assert!(matches!(err, Err(TripError::Interrupted)));
        assert!(stopped_after < Duration::from_secs(1), "{stopped_after:?}");
    }

    #[test]
    fn a_silent_tls_handshake_obeys_the_interrupt_check() {
        // Accepts and never answers the ClientHello.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url::Url::parse(&format!(
            "https://localhost:{}/",
            listener.local_addr().unwrap().port()
        ))
        .unwrap();
        let _one = interrupt::TEST_CHECK
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let me = thread::current().id();
        interrupt::set_check(Some(Arc::new(move || thread::current().id() == me)));
        let started = Instant::now();
        let failure = test_pool(Duration::from_secs(30))
            .exchange(&post(&url, b"{}"), Duration::from_secs(30))
            .unwrap_err();
        interrupt::set_check(None);
        assert_eq!(failure.err.code, "interrupted", "{}", failure.err);
        assert!(!failure.reached_server);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        drop(listener);
    }

    #[test]
    fn a_chunked_body_cut_after_its_last_chunk_is_whole_but_not_kept() {
        let (body, kept) =
            one_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n");
        assert_eq!(&body[..], b"{}");
        assert!(!kept, "not kept");
    }
}

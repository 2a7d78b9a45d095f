//! A blocking HTTP/1.1 client for unary exchanges made on a blocking caller's own thread.
//!
//! A blocking call waits on its caller's thread anyway. Doing its socket I/O right there (one
//! write, then reads until the reply is whole) skips the async machinery, whose task wakeups,
//! readiness polling and timers cost more than the exchange itself on a nearby server.
//! Streams, `_async` calls, calls with a cancellation token and proxied calls stay on the
//! async client.
//!
//! Scope: what the platform's JSON exchanges need. Keep-alive connections pooled per origin
//! (plain TCP or rustls), `Content-Length`, chunked and read-to-close bodies, 1xx skipped, a
//! deadline over the whole attempt, a stale pooled connection replaced once it proves closed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use zeroize::Zeroize;

use crate::error::{Error, ErrorKind};
use crate::interrupt::{self, CHECK_INTERVAL};

/// Idle connections kept per origin, and for how long.
const MAX_IDLE_PER_ORIGIN: usize = 16;
const IDLE_EXPIRY: Duration = Duration::from_secs(60);
/// A connection idle longer than this is checked for a server-side close before reuse.
const PROBE_AFTER_IDLE: Duration = Duration::from_secs(1);
const READ_CHUNK: usize = 16 * 1024;
/// What one read asks for when nothing says more is coming (most replies fit).
const MIN_READ: usize = 4 * 1024;
/// The most one read asks for (a large body with a known length).
const MAX_READ: usize = 256 * 1024;
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Never reserve more than this ahead of the bytes actually received.
const MAX_PREALLOCATION: usize = 64 * 1024 * 1024;

/// One request: the head is written from these parts, the body sent as given.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a url::Url,
    /// The bearer token, already checked to be a valid header value.
    pub token: &'a str,
    pub user_agent: &'a str,
    pub accept: &'a str,
    pub body: Option<&'a [u8]>,
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

/// Keep-alive connections of one transport, rebuilt after `fork()` (a parent's sockets are
/// never used, nor closed, by its child).
pub struct Pool {
    connect_timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Mutex<Idle>,
}

struct Idle {
    pid: u32,
    conns: Vec<Conn>,
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
    /// Request heads are assembled here (and wiped after sending: they hold the token).
    out: Vec<u8>,
    /// The socket's current read timeout.
    read_timeout: Duration,
    idle_since: Instant,
}

/// How one round trip on one connection failed.
enum TripError {
    /// The connection was closed before any byte of a reply: on a reused connection the
    /// server had dropped it while idle, so the request is sent again on another.
    Closed(io::Error),
    TimedOut,
    /// The interrupt check stopped the call.
    Interrupted,
    Io(io::Error),
    Protocol(String),
}

impl Pool {
    pub fn new(connect_timeout: Duration) -> Pool {
        Pool {
            connect_timeout,
            tls: None,
            idle: Mutex::new(Idle {
                pid: crate::process::pid(),
                conns: Vec::new(),
            }),
        }
    }

    /// A pool that trusts only the roots of `tls` (tests).
    #[cfg(test)]
    fn with_tls(connect_timeout: Duration, tls: Arc<rustls::ClientConfig>) -> Pool {
        Pool {
            tls: Some(tls),
            ..Pool::new(connect_timeout)
        }
    }

    /// One attempt: the whole exchange, connect included, within `timeout`.
    pub fn exchange(&self, req: &Request<'_>, timeout: Duration) -> Result<Response, Failure> {
        let deadline = Instant::now() + timeout;
        let origin = Origin::of(req.url).map_err(|err| Failure {
            err,
            reached_server: false,
        })?;
        loop {
            let (mut conn, reused) = match self.checkout(&origin) {
                Some(conn) => (conn, true),
                None => (self.connect(&origin, timeout, deadline)?, false),
            };
            match conn.round_trip(req, deadline) {
                Ok((response, keep_alive)) => {
                    if keep_alive {
                        self.checkin(conn);
                    }
                    return Ok(response);
                }
                Err(TripError::Closed(_)) if reused => continue,
                Err(e) => return Err(e.into_failure(timeout)),
            }
        }
    }

    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let pid = crate::process::pid();
        if idle.pid != pid {
            // A forked child: the parent's connections are left alone, not even closed.
            std::mem::forget(std::mem::take(&mut idle.conns));
            idle.pid = pid;
        }
        idle.conns.retain(|c| c.idle_since.elapsed() < IDLE_EXPIRY);
        let at = idle.conns.iter().rposition(|c| c.origin == *origin)?;
        let conn = idle.conns.swap_remove(at);
        drop(idle);
        if conn.idle_since.elapsed() > PROBE_AFTER_IDLE && !conn.is_quiet() {
            return self.checkout(origin);
        }
        Some(conn)
    }

    fn checkin(&self, mut conn: Conn) {
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.pid != crate::process::pid() {
            std::mem::forget(conn);
            return;
        }
        let same = idle
            .conns
            .iter()
            .filter(|c| c.origin == conn.origin)
            .count();
        if same < MAX_IDLE_PER_ORIGIN {
            idle.conns.push(conn);
        }
    }

    fn connect(
        &self,
        origin: &Origin,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Conn, Failure> {
        let failed = |code: &'static str, message: String| Failure {
            err: Error::connection(code, message),
            reached_server: false,
        };
        let addrs: Vec<SocketAddr> = origin
            .addrs()
            .map_err(|e| failed("connection_failed", format!("cannot resolve {origin}: {e}")))?;
        let mut last: Option<io::Error> = None;
        let mut stream = None;
        for addr in &addrs {
            let budget = self
                .connect_timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            if budget.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(addr, budget) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(stream) = stream else {
            return Err(match last {
                Some(e) if e.kind() != io::ErrorKind::TimedOut => failed(
                    "connection_failed",
                    format!("cannot connect to {origin}: {e}"),
                ),
                _ => Failure {
                    err: Error::timeout(format!(
                        "connecting to {origin} timed out after {:.1}s",
                        self.connect_timeout.min(timeout).as_secs_f64()
                    )),
                    reached_server: false,
                },
            });
        };
        // The handshake may take the rest of the attempt; afterwards reads wait in slices, so
        // that an interrupt check runs while a reply is awaited.
        let handshake_timeout = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let read_timeout = timeout.min(CHECK_INTERVAL);
        let setup = |s: &TcpStream| {
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(handshake_timeout))?;
            s.set_write_timeout(Some(timeout))
        };
        setup(&stream).map_err(|e| failed("connection_failed", format!("{origin}: {e}")))?;
        let io = if origin.tls {
            let config = match &self.tls {
                Some(config) => config.clone(),
                None => default_tls().map_err(|err| Failure {
                    err,
                    reached_server: false,
                })?,
            };
            Io::Tls(Box::new(handshake(config, origin, stream).map_err(
                |e| {
                    failed(
                        "connection_failed",
                        format!("TLS handshake with {origin} failed: {e}"),
                    )
                },
            )?))
        } else {
            Io::Plain(stream)
        };
        io.tcp()
            .set_read_timeout(Some(read_timeout))
            .map_err(|e| failed("connection_failed", format!("{origin}: {e}")))?;
        Ok(Conn {
            io,
            origin: origin.clone(),
            buf: BytesMut::new(),
            scratch: Box::new([0; MIN_READ]),
            out: Vec::new(),
            read_timeout,
            idle_since: Instant::now(),
        })
    }
}

impl TripError {
    fn into_failure(self, timeout: Duration) -> Failure {
        let (err, reached_server) = match self {
            TripError::TimedOut => (
                Error::timeout(format!("no answer within {:.1}s", timeout.as_secs_f64())),
                true,
            ),
            TripError::Interrupted => (interrupt::interrupted(), true),
            TripError::Closed(e) => (
                Error::connection(
                    "connection_error",
                    format!("the server closed the connection without answering: {e}"),
                ),
                true,
            ),
            TripError::Io(e) => (
                Error::connection("connection_error", format!("connection lost: {e}")),
                true,
            ),
            TripError::Protocol(why) => (
                Error::connection(
                    "connection_error",
                    format!("the server sent an invalid HTTP response: {why}"),
                ),
                true,
            ),
        };
        Failure {
            err,
            reached_server,
        }
    }
}

/// Framing of a response body (RFC 9112 §6.3).
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    request_id: Option<String>,
    retry_after: Option<String>,
    retry_after_ms: Option<String>,
}

impl Conn {
    fn round_trip(
        &mut self,
        req: &Request<'_>,
        deadline: Instant,
    ) -> Result<(Response, bool), TripError> {
        self.send(req)?;
        let head = loop {
            let head = self.read_head(deadline)?;
            // 1xx interim answers (100 Continue, 103 Early Hints) precede the real one.
            if !(100..200).contains(&head.status) {
                break head;
            }
        };
        let body = match head.framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(n) => self.read_length(n, deadline)?,
            Framing::Chunked => self.read_chunked(deadline)?,
            Framing::UntilClose => self.read_until_close(deadline)?,
        };
        let keep_alive =
            head.keep_alive && !matches!(head.framing, Framing::UntilClose) && self.buf.is_empty();
        let response = Response {
            status: head.status,
            body,
            request_id: head.request_id,
            retry_after: head.retry_after,
            retry_after_ms: head.retry_after_ms,
        };
        Ok((response, keep_alive))
    }

    fn send(&mut self, req: &Request<'_>) -> Result<(), TripError> {
        let out = &mut self.out;
        out.clear();
        let url = req.url;
        let path = url.path();
        let target_len = path.len() + url.query().map_or(0, |q| q.len() + 1);
        out.reserve(256 + target_len + req.token.len() + req.body.map_or(0, <[u8]>::len));
        out.extend_from_slice(req.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        if let Some(query) = url.query() {
            out.push(b'?');
            out.extend_from_slice(query.as_bytes());
        }
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(self.origin.host_header(url).as_bytes());
        out.extend_from_slice(b"\r\nAuthorization: Bearer ");
        out.extend_from_slice(req.token.as_bytes());
        out.extend_from_slice(b"\r\nUser-Agent: ");
        out.extend_from_slice(req.user_agent.as_bytes());
        out.extend_from_slice(b"\r\nAccept: ");
        out.extend_from_slice(req.accept.as_bytes());
        match req.body {
            Some(body) => {
                out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
                let _ = write!(out, "{}", body.len()); // writing to a Vec cannot fail
                out.extend_from_slice(b"\r\n\r\n");
                out.extend_from_slice(body);
            }
            None if matches!(req.method, "POST" | "PUT" | "PATCH") => {
                out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            }
            None => out.extend_from_slice(b"\r\n\r\n"),
        }
        let written = self.io.write_all(&self.out).and_then(|()| self.io.flush());
        // The head holds the token: it does not outlive the write.
        self.out.zeroize();
        written.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TripError::TimedOut,
            _ if is_closed(&e) => TripError::Closed(e),
            _ => TripError::Io(e),
        })
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
        if self.buf.capacity() - self.buf.len() < READ_CHUNK {
            self.buf.reserve(READ_CHUNK);
        }
        let start = self.buf.len();
        // Reads go into zeroed memory: the window keeps that cost to what is expected.
        let window = (self.buf.capacity() - start).min(want.min(MAX_READ));
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
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if interrupt::requested() {
                        return Err(TripError::Interrupted);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(TripError::TimedOut);
                    }
                    if interrupt::requested() {
                        return Err(TripError::Interrupted);
                    }
                    // A slice left shorter by the end of an earlier exchange is widened again.
                    let slice = remaining.min(CHECK_INTERVAL);
                    if self.read_timeout != slice {
                        self.set_read_timeout(slice);
                    }
                }
                Err(e) if is_closed(&e) => return Err(TripError::Closed(e)),
                Err(e) => return Err(TripError::Io(e)),
            }
        }
    }

    fn set_read_timeout(&mut self, timeout: Duration) {
        let timeout = timeout.max(Duration::from_millis(1));
        if self.io.tcp().set_read_timeout(Some(timeout)).is_ok() {
            self.read_timeout = timeout;
        }
    }

    /// More bytes, or an error naming what ended early.
    fn fill_more(&mut self, deadline: Instant, want: usize, what: &str) -> Result<(), TripError> {
        match self.fill(deadline, want)? {
            0 => Err(TripError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed in the middle of the {what}"),
            ))),
            _ => Ok(()),
        }
    }

    fn read_head(&mut self, deadline: Instant) -> Result<Head, TripError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = Head::of(&parsed)?;
                    self.buf.advance(len);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                    return Err(TripError::Protocol("the response head is too long".into()));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(TripError::Protocol(e.to_string())),
            }
            if self.fill(deadline, 0)? == 0 {
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, "end of stream");
                return Err(if self.buf.is_empty() {
                    TripError::Closed(e)
                } else {
                    TripError::Protocol("the connection closed in the middle of the head".into())
                });
            }
        }
    }

    fn read_length(&mut self, len: usize, deadline: Instant) -> Result<Bytes, TripError> {
        if self.buf.len() < len {
            self.buf
                .reserve((len - self.buf.len()).min(MAX_PREALLOCATION));
        }
        while self.buf.len() < len {
            self.fill_more(deadline, len - self.buf.len(), "body")?;
        }
        Ok(self.buf.split_to(len).freeze())
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Bytes, TripError> {
        let mut body = BytesMut::new();
        loop {
            let line = self.read_line(deadline)?;
            let size = chunk_size(&line)?;
            if size == 0 {
                // Trailer fields, up to the blank line, are read and ignored.
                while !self.read_line(deadline)?.is_empty() {}
                return Ok(body.freeze());
            }
            let need = size
                .checked_add(2)
                .ok_or_else(|| TripError::Protocol("chunk size overflows".into()))?;
            while self.buf.len() < need {
                self.fill_more(deadline, need - self.buf.len(), "body")?;
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..need] != b"\r\n" {
                return Err(TripError::Protocol("a chunk does not end with CRLF".into()));
            }
            self.buf.advance(need);
        }
    }

    /// One CRLF-terminated line of chunked framing, without its CRLF.
    fn read_line(&mut self, deadline: Instant) -> Result<Bytes, TripError> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(at).freeze();
                self.buf.advance(2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(TripError::Protocol("a chunk line is too long".into()));
            }
            self.fill_more(deadline, 0, "body")?;
        }
    }

    fn read_until_close(&mut self, deadline: Instant) -> Result<Bytes, TripError> {
        while self.fill(deadline, MAX_READ)? > 0 {}
        Ok(self.buf.split().freeze())
    }

    /// True when an idle connection has nothing to read: no early bytes, no close.
    fn is_quiet(&self) -> bool {
        let tcp = self.io.tcp();
        if tcp.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let quiet = matches!(tcp.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        tcp.set_nonblocking(false).is_ok() && quiet
    }
}

impl Head {
    fn of(parsed: &httparse::Response<'_, '_>) -> Result<Head, TripError> {
        let status = parsed.code.unwrap_or(0);
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = parsed.version != Some(1);
        let mut head = Head {
            status,
            framing: Framing::Empty,
            keep_alive: false,
            request_id: None,
            retry_after: None,
            retry_after_ms: None,
        };
        let text = |v: &[u8]| String::from_utf8_lossy(v).trim().to_owned();
        for h in parsed.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| TripError::Protocol("invalid Content-Length".into()))?;
                if length.is_some_and(|l| l != n) {
                    return Err(TripError::Protocol("conflicting Content-Length".into()));
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = text(h.value)
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
                if !chunked {
                    close = true;
                }
            } else if name.eq_ignore_ascii_case("connection") {
                let value = text(h.value);
                if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
                {
                    close = true;
                } else if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
                {
                    close = false;
                }
            } else if name.eq_ignore_ascii_case("x-request-id") {
                head.request_id = Some(text(h.value));
            } else if name.eq_ignore_ascii_case("request-id") {
                head.request_id.get_or_insert_with(|| text(h.value));
            } else if name.eq_ignore_ascii_case("retry-after") {
                head.retry_after = Some(text(h.value));
            } else if name.eq_ignore_ascii_case("retry-after-ms") {
                head.retry_after_ms = Some(text(h.value));
            }
        }
        head.framing = if (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::Empty
        } else if chunked {
            Framing::Chunked
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        head.keep_alive = !close;
        Ok(head)
    }
}

fn chunk_size(line: &[u8]) -> Result<usize, TripError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = std::str::from_utf8(digits)
        .map(str::trim)
        .map_err(|_| TripError::Protocol("invalid chunk size".into()))?;
    if digits.is_empty() || digits.len() > 15 {
        return Err(TripError::Protocol("invalid chunk size".into()));
    }
    usize::from_str_radix(digits, 16).map_err(|_| TripError::Protocol("invalid chunk size".into()))
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
    fn of(url: &url::Url) -> Result<Origin, Error> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(Error::config(
                    "invalid_base_url",
                    format!("unsupported URL scheme {other:?}"),
                ))
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(Error::config("invalid_base_url", "the URL has no host")),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        Ok(Origin { tls, host, port })
    }

    fn addrs(&self) -> io::Result<Vec<SocketAddr>> {
        match self.host.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(vec![SocketAddr::new(ip, self.port)]),
            Err(_) => Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect()),
        }
    }

    /// `Host`: the URL's authority without userinfo, its port only when given.
    fn host_header<'u>(&self, url: &'u url::Url) -> std::borrow::Cow<'u, str> {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => format!("{host}:{port}").into(),
            None => host.into(),
        }
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

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// Completes the handshake now, so its failures are connection failures (nothing was sent).
fn handshake(
    config: Arc<rustls::ClientConfig>,
    origin: &Origin,
    mut tcp: TcpStream,
) -> io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut conn = rustls::ClientConnection::new(config, name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            // A signal handler ran (the attempt's deadline still bounds the handshake).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The public web's roots (as the async client trusts), HTTP/1.1 offered by ALPN.
fn default_tls() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            tls_config(roots).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::new(ErrorKind::Config, "tls", format!("cannot set up TLS: {e}")))
}

fn tls_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    const TOKEN: &str = "ik_live_1a2b3c4d_0123456789abcdef";

    /// A one-connection server thread answering each request with the next canned bytes;
    /// returns the requests it read.
    fn serve(answers: Vec<Vec<u8>>) -> (url::Url, thread::JoinHandle<Vec<String>>) {
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

    fn read_request(sock: &mut TcpStream) -> String {
        let mut data = Vec::new();
        let mut byte = [0u8; 1];
        while !data.ends_with(b"\r\n\r\n") {
            assert_eq!(sock.read(&mut byte).unwrap(), 1, "request cut short");
            data.push(byte[0]);
        }
        let head = String::from_utf8(data).unwrap();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0u8; len];
        sock.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    fn post<'a>(url: &'a url::Url, body: &'a [u8]) -> Request<'a> {
        Request {
            method: "POST",
            url,
            token: TOKEN,
            user_agent: "inferencekey-test",
            accept: "application/json",
            body: Some(body),
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn content_length_keep_alive_and_head_fields() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: req_1\r\n\r\n{}".to_vec(),
            b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nretry-after-ms: 250\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ]);
        let pool = Pool::new(SECOND);
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
        assert!(seen[0].contains(&format!("\r\nAuthorization: Bearer {TOKEN}\r\n")));
        assert!(seen[0].contains("\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"));
        assert!(seen[0].ends_with("\r\n\r\n{\"a\":1}"));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers_after_a_1xx() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n"
                .to_vec(),
        ]);
        let pool = Pool::new(SECOND);
        let got = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
        assert_eq!(&got.body[..], b"Wikipedia in \r\n\r\nchunks.");
        server.join().unwrap();
        assert_eq!(pool.idle.lock().unwrap().conns.len(), 1, "kept alive");
    }

    #[test]
    fn body_until_close_is_not_kept() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"ok\":true}".to_vec(),
        ]);
        let pool = Pool::new(SECOND);
        // The server thread ends (closing the socket) after answering.
        let got = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
        assert_eq!(&got.body[..], b"{\"ok\":true}");
        server.join().unwrap();
        assert!(pool.idle.lock().unwrap().conns.is_empty());
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
            let failure = Pool::new(SECOND)
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
        let failure = Pool::new(SECOND)
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
        let failure = Pool::new(SECOND)
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
        let pool = Pool::new(SECOND);
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

    /// A TLS server (the fixture certificate) answering `bodies` on one connection, after
    /// waiting `delay` before its part of the handshake.
    fn tls_server(
        bodies: Vec<&'static str>,
        delay: Duration,
    ) -> (u16, thread::JoinHandle<Vec<String>>) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        let chain: Vec<_> = CertificateDer::pem_file_iter(format!("{fixture}/server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(format!("{fixture}/server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        );
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
        use rustls::pki_types::pem::PemObject;
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        let ca =
            rustls::pki_types::CertificateDer::from_pem_file(format!("{fixture}/ca.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let pool = Pool::with_tls(SECOND, tls_config(roots).unwrap());
        // A slow handshake (a distant server) is longer than one read slice.
        let (port, server) = tls_server(vec!["{\"n\":1}", "{\"n\":2}"], 2 * CHECK_INTERVAL);
        let url = url::Url::parse(&format!("https://localhost:{port}/v1/x")).unwrap();
        for expected in [&b"{\"n\":1}"[..], b"{\"n\":2}"] {
            let got = pool.exchange(&post(&url, b"{}"), SECOND).unwrap();
            assert_eq!((got.status, &got.body[..]), (200, expected));
        }
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 2, "both requests on the one connection");
        assert!(seen[0].contains(&format!("\r\nHost: localhost:{port}\r\n")));
    }

    #[test]
    fn https_refuses_a_certificate_outside_the_public_roots() {
        let (port, server) = tls_server(vec!["{}"], Duration::ZERO);
        let url = url::Url::parse(&format!("https://localhost:{port}/")).unwrap();
        let failure = Pool::new(SECOND)
            .exchange(&post(&url, b"{}"), SECOND)
            .unwrap_err();
        assert_eq!(failure.err.code, "connection_failed", "{}", failure.err);
        assert!(
            failure.err.message.contains("certificate"),
            "{}",
            failure.err
        );
        assert!(!failure.reached_server);
        assert!(server.join().unwrap().is_empty(), "no request was sent");
    }
}

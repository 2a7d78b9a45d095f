//! Unary HTTP/1.1 exchanges as tasks of the shared async runtime: the same message syntax
//! ([`super::message`]), pool rules and failure semantics as the blocking exchanges, over
//! tokio sockets.
//!
//! An `_async` call used to go through reqwest (hyper, hyper-util's pool, tower): about
//! 20–35 µs of a worker's CPU per loopback exchange, mostly header maps, URI conversions,
//! channel hops to a connection task and their allocations. Here one task writes the
//! request and reads the answer on a connection it holds alone: about half that.
//!
//! Connections are registered with the reactor of the runtime that opened them, so a pool
//! serves only tasks of one multi-threaded runtime (the transport checks the flavour); a
//! forked child starts with no connections and never touches its parent's ([`ForkLocal`]).
//! A task that is dropped (its call cancelled or timed out) drops the connection it held:
//! what the server sends later is never read as another call's answer.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zeroize::Zeroize;

use super::{
    connect_failure, handshake_failure, head_cut, holds_no_plaintext, is_closed, message,
    peek_is_quiet, resend_or_fail, resolve_failure, take_head, unsent, BodyReader, Failure, Idle,
    Origin, Pooled, Request, Response, Step, TripError, EARLY_ANSWER_WAIT, MAX_READ, MIN_READ,
};

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Idle connections kept per origin. Async callers keep many exchanges in flight at once
/// (a blocking pool sees one per thread): a cap below their concurrency would close and
/// reopen connections all the time.
const MAX_IDLE_PER_ORIGIN: usize = 256;

/// Keep-alive connections of one transport's async exchanges, per process.
pub struct AsyncPool {
    connect_timeout: Duration,
    tls: crate::tls::Tls,
    idle: Idle<Conn>,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

struct Conn {
    io: Io,
    origin: Origin,
    /// Bytes received and not yet consumed.
    buf: BytesMut,
    /// Request heads are written here (and wiped after sending: they hold the token).
    out: Vec<u8>,
}

impl AsyncPool {
    pub fn new(connect_timeout: Duration, tls: crate::tls::Tls) -> AsyncPool {
        AsyncPool {
            connect_timeout,
            tls,
            idle: Idle::new(MAX_IDLE_PER_ORIGIN),
        }
    }

    /// One attempt: the whole exchange, connect included. The caller bounds it in time
    /// (`timeout` only words the errors).
    pub async fn exchange(
        &self,
        req: &Request<'_>,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let origin = Origin::of_request(req)?;
        loop {
            let (mut conn, reused) = match self.idle.take(&origin) {
                Some(conn) => (conn, true),
                None => (self.connect(&origin, timeout).await?, false),
            };
            match conn.round_trip(req).await {
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

    async fn connect(&self, origin: &Origin, timeout: Duration) -> Result<Conn, Failure> {
        let addrs: Vec<SocketAddr> = match origin.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
            Err(_) => tokio::net::lookup_host((origin.host.as_str(), origin.port))
                .await
                .map_err(|e| resolve_failure(origin, timeout, TripError::Io(e)))?
                .collect(),
        };
        let connect_timeout = self.connect_timeout.min(timeout);
        let mut last = io::Error::from(io::ErrorKind::TimedOut);
        let mut connected = None;
        for addr in addrs {
            match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    connected = Some(stream);
                    break;
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = io::ErrorKind::TimedOut.into(),
            }
        }
        let fail = |e| connect_failure(origin, connect_timeout, timeout, TripError::Io(e));
        let stream = connected.ok_or_else(|| fail(last))?;
        stream.set_nodelay(true).map_err(fail)?;
        let io = if origin.tls {
            let config = self.tls.configs().map_err(|err| Failure {
                err,
                reached_server: false,
            })?;
            let failed = |e| handshake_failure(origin, timeout, TripError::Io(e));
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
            let connector = tokio_rustls::TlsConnector::from(config.blocking_config.clone());
            Io::Tls(Box::new(
                connector.connect(name, stream).await.map_err(failed)?,
            ))
        } else {
            Io::Plain(stream)
        };
        Ok(Conn {
            io,
            origin: origin.clone(),
            buf: BytesMut::new(),
            out: Vec::new(),
        })
    }
}

impl Conn {
    /// Sends `req` and reads the whole answer; `true` with it when the connection may be kept.
    async fn round_trip(&mut self, req: &Request<'_>) -> Result<(Response, bool), TripError> {
        message::write_head(&mut self.out, req);
        let sent = self.send(req.body.unwrap_or_default()).await;
        // The head holds the token: it does not outlive the write.
        self.out.zeroize();
        match sent {
            Ok(()) => self.read_answer(req).await,
            Err((0, e)) if is_closed(&e) => Err(TripError::NotSent(e)),
            Err((_, e)) => {
                // The server may have answered before it closed on us (a 413 for a body it
                // will not take): that answer, not the broken pipe, is the result.
                match tokio::time::timeout(EARLY_ANSWER_WAIT, self.read_answer(req)).await {
                    Ok(Ok((answer, _))) => Ok((answer, false)),
                    _ => Err(TripError::lost(e)),
                }
            }
        }
    }

    /// Writes the head in `out`, then `body`; on failure, how many bytes went out and why.
    async fn send(&mut self, body: &[u8]) -> Result<(), (usize, io::Error)> {
        let mut written = 0;
        while written < self.out.len() + body.len() {
            let parts = unsent(&self.out, body, written);
            let n = match &mut self.io {
                Io::Plain(s) => s.write_vectored(&parts).await,
                Io::Tls(s) => s.write_vectored(&parts).await,
            };
            match n {
                Ok(0) => return Err((written, io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((written, e)),
            }
        }
        let flushed = match &mut self.io {
            Io::Plain(s) => s.flush().await,
            Io::Tls(s) => s.flush().await,
        };
        flushed.map_err(|e| (written, e))
    }

    /// Reads the answer to `req` whole; `true` with it when the connection may be kept.
    async fn read_answer(&mut self, req: &Request<'_>) -> Result<(Response, bool), TripError> {
        let head = loop {
            if let Step::Done(head) = take_head(&mut self.buf, req.method)? {
                break head;
            }
            if self.fill(MIN_READ).await? == 0 {
                return Err(head_cut(&self.buf));
            }
        };
        let mut reader = BodyReader::new(head.body, req.max_body)?;
        let (body, intact) = loop {
            match reader.take(&mut self.buf)? {
                Step::Done(body) => break (body, true),
                Step::More(want) => {
                    if self.fill(want).await? == 0 {
                        break (reader.at_close()?, false);
                    }
                }
            }
        };
        let keep = head.reusable && intact && self.buf.is_empty();
        Ok((head.into_response(body), keep))
    }

    /// Reads more bytes into `buf` (room for about `want`); `Ok(0)` at the end of the stream.
    async fn fill(&mut self, want: usize) -> Result<usize, TripError> {
        self.buf.reserve(want.clamp(MIN_READ, MAX_READ));
        let read = match &mut self.io {
            Io::Plain(s) => s.read_buf(&mut self.buf).await,
            Io::Tls(s) => s.read_buf(&mut self.buf).await,
        };
        read.map_err(TripError::lost)
    }
}

impl Pooled for Conn {
    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn is_quiet(&self) -> bool {
        match &self.io {
            Io::Plain(s) => peek_is_quiet(s),
            Io::Tls(s) => peek_is_quiet(s.get_ref().0),
        }
    }

    fn is_drained(&mut self) -> bool {
        self.buf.is_empty()
            && match &mut self.io {
                Io::Plain(_) => true,
                Io::Tls(tls) => holds_no_plaintext(tls.get_mut().1),
            }
    }
}

#[cfg(test)]
mod tests {
    //! The blocking exchanges' socket-level cases (`super::super::tests`), run as tasks of a
    //! multi-threaded runtime, and what only tasks do: many exchanges at once, and an
    //! exchange dropped half-way (a cancelled call).

    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread;

    use super::super::tests::{
        fixture_roots, post, read_request, scripted, serve, test_roots, tls_server, SECOND,
    };
    use super::*;
    use crate::error::ErrorKind;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn test_pool() -> AsyncPool {
        AsyncPool::new(SECOND, crate::tls::Tls::with_roots(test_roots()))
    }

    fn exchange(pool: &AsyncPool, req: &Request<'_>) -> Result<Response, Failure> {
        runtime().block_on(pool.exchange(req, SECOND))
    }

    #[test]
    fn keep_alive_reuses_the_connection_and_reads_the_head_fields() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: req_1\r\n\r\n{}".to_vec(),
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 3\r\n\
              Transfer-Encoding: chunked\r\n\r\n2;x=1\r\nab\r\n0\r\nTrailer: t\r\n\r\n"
                .to_vec(),
        ]);
        let pool = test_pool();
        let rt = runtime();
        let first = rt
            .block_on(pool.exchange(&post(&url, b"{\"a\":1}"), SECOND))
            .unwrap();
        assert_eq!((first.status, &first.body[..]), (200, &b"{}"[..]));
        assert_eq!(first.request_id.as_deref(), Some("req_1"));
        // The single-connection server answers the second: the connection was reused.
        let second = rt
            .block_on(pool.exchange(&post(&url, b"{}"), SECOND))
            .unwrap();
        assert_eq!((second.status, &second.body[..]), (429, &b"ab"[..]));
        assert_eq!(second.retry_after.as_deref(), Some("3"));
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("POST /v1/things?x=1 HTTP/1.1\r\n"));
        assert!(seen[0].ends_with("\r\n\r\n{\"a\":1}"), "{}", seen[0]);
        assert_eq!(pool.idle.len(), 1, "kept for the next call");
    }

    #[test]
    fn answers_ended_by_a_close_or_framed_twice_are_not_kept() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        ] {
            let (url, server) = serve(vec![answer.to_vec()]);
            let pool = test_pool();
            let got = exchange(&pool, &post(&url, b"{}")).unwrap();
            assert_eq!(&got.body[..], b"{}");
            assert_eq!(pool.idle.len(), 0, "{answer:?} kept");
            server.join().unwrap();
        }
    }

    #[test]
    fn malformed_or_cut_answers_are_connection_errors_after_sending() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"SMTP ready\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-",
        ] {
            let (url, server) = serve(vec![answer.to_vec()]);
            let failure = exchange(&test_pool(), &post(&url, b"{}")).unwrap_err();
            assert_eq!(failure.err.kind, ErrorKind::Connection, "{answer:?}");
            assert!(failure.reached_server);
            server.join().unwrap();
        }
    }

    #[test]
    fn a_refused_connection_did_not_reach_the_server() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let failure = exchange(&test_pool(), &post(&url, b"{}")).unwrap_err();
        assert_eq!(failure.err.code, "connection_failed", "{}", failure.err);
        assert!(!failure.reached_server);
    }

    #[test]
    fn an_unresolvable_host_did_not_reach_the_server() {
        let url = url::Url::parse("http://no-such-host.invalid/").unwrap();
        let failure = exchange(&test_pool(), &post(&url, b"{}")).unwrap_err();
        assert_eq!(failure.err.code, "connection_failed", "{}", failure.err);
        assert!(
            failure.err.message.contains("cannot resolve"),
            "{}",
            failure.err
        );
        assert!(!failure.reached_server);
    }

    #[test]
    fn a_kept_connection_the_server_closed_is_replaced() {
        let (url, _) = scripted(|n, mut sock| {
            read_request(&mut sock);
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{n}");
            sock.write_all(answer.as_bytes()).unwrap();
            // Closed right after (a server's idle timeout).
        });
        let pool = test_pool();
        let rt = runtime();
        for expected in [b"0", b"1"] {
            let got = rt.block_on(pool.exchange(&post(&url, b"{}"), SECOND));
            assert_eq!(&got.unwrap().body[..], expected);
            thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn late_bytes_on_an_idle_connection_are_never_an_answer() {
        let (url, _) = scripted(|n, mut sock| {
            read_request(&mut sock);
            let body = format!("{{\"conn\":{n}}}");
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(answer.as_bytes()).unwrap();
            thread::sleep(Duration::from_millis(50));
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n\"smuggle\"");
            thread::sleep(Duration::from_secs(2));
        });
        let pool = test_pool();
        let rt = runtime();
        let first = rt.block_on(pool.exchange(&post(&url, b"{}"), SECOND));
        assert_eq!(&first.unwrap().body[..], b"{\"conn\":0}");
        thread::sleep(Duration::from_millis(200));
        let second = rt.block_on(pool.exchange(&post(&url, b"{}"), SECOND));
        assert_eq!(
            &second.unwrap().body[..],
            b"{\"conn\":1}",
            "a new connection"
        );
    }

    #[test]
    fn a_post_the_server_read_is_not_sent_again() {
        let copies = Arc::new(AtomicUsize::new(0));
        let seen = copies.clone();
        let (url, _) = scripted(move |_, mut sock| {
            read_request(&mut sock);
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
            // The second request is read whole, then the connection closes unanswered.
            read_request(&mut sock);
            seen.fetch_add(1, Ordering::SeqCst);
        });
        let pool = test_pool();
        let rt = runtime();
        rt.block_on(pool.exchange(&post(&url, b"{}"), SECOND))
            .unwrap();
        let failure = rt
            .block_on(pool.exchange(&post(&url, b"{\"n\":2}"), SECOND))
            .unwrap_err();
        assert_eq!(failure.err.kind, ErrorKind::Connection, "{}", failure.err);
        assert!(failure.reached_server);
        thread::sleep(Duration::from_millis(100));
        assert_eq!(copies.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn bodies_past_the_cap_are_refused_before_they_are_held() {
        let (url, _) = scripted(|n, mut sock| {
            read_request(&mut sock);
            let _ = if n == 0 {
                sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3221225472\r\n\r\n")
            } else {
                sock.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .and_then(|()| {
                        let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "x".repeat(64 << 10));
                        (0..64).try_for_each(|_| sock.write_all(chunk.as_bytes()))
                    })
            };
        });
        let pool = test_pool();
        let rt = runtime();
        for _ in 0..2 {
            let failure = rt
                .block_on(pool.exchange(&post(&url, b"{}"), SECOND))
                .unwrap_err();
            assert_eq!(failure.err.code, "response_too_large", "{}", failure.err);
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
            sock.write_all(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            .unwrap();
            // Closed with the rest of the request unread: the client's writes fail.
        });
        let big = vec![b'x'; 64 << 20];
        let got = runtime()
            .block_on(test_pool().exchange(&post(&url, &big), Duration::from_secs(5)))
            .unwrap();
        assert_eq!((got.status, &got.body[..]), (413, &b"{}"[..]));
    }

    #[test]
    fn https_on_a_kept_connection_and_an_untrusted_certificate_refused() {
        let pool = AsyncPool::new(SECOND, crate::tls::Tls::with_roots(fixture_roots()));
        let (port, server) = tls_server(vec!["{\"n\":1}", "{\"n\":2}"], Duration::ZERO);
        let url = url::Url::parse(&format!("https://localhost:{port}/v1/x")).unwrap();
        let rt = runtime();
        for expected in [&b"{\"n\":1}"[..], b"{\"n\":2}"] {
            let got = rt.block_on(pool.exchange(&post(&url, b"{}"), SECOND));
            assert_eq!(&got.unwrap().body[..], expected);
        }
        assert_eq!(server.join().unwrap().len(), 2, "one connection");

        let (port, server) = tls_server(vec!["{}"], Duration::ZERO);
        let url = url::Url::parse(&format!("https://localhost:{port}/")).unwrap();
        let failure = exchange(&test_pool(), &post(&url, b"{}")).unwrap_err();
        assert_eq!(failure.err.code, "tls_certificate", "{}", failure.err);
        assert!(!failure.reached_server);
        assert!(server.join().unwrap().is_empty(), "no request was sent");
    }

    #[test]
    fn a_dropped_exchange_takes_its_connection_with_it() {
        // The first answer comes late, after its caller gave up: it must not become the
        // answer of the next call on a reused connection.
        let (url, _) = scripted(|n, mut sock| {
            read_request(&mut sock);
            if n == 0 {
                thread::sleep(Duration::from_millis(300));
            }
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{n}");
            let _ = sock.write_all(answer.as_bytes());
            let _ = read_request_or_close(&mut sock);
        });
        let pool = test_pool();
        let rt = runtime();
        let req = post(&url, b"{}");
        let gave_up = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), pool.exchange(&req, SECOND)).await
        });
        assert!(gave_up.is_err(), "still waiting when dropped");
        thread::sleep(Duration::from_millis(400));
        let got = rt.block_on(pool.exchange(&req, SECOND)).unwrap();
        assert_eq!(&got.body[..], b"1", "answered on a new connection");
    }

    /// Reads one more request, or returns when the client closes.
    fn read_request_or_close(sock: &mut StdStream) -> usize {
        let mut buf = [0u8; 1024];
        sock.read(&mut buf).unwrap_or(0)
    }

    #[test]
    fn exchanges_in_flight_at_once_each_get_their_own_answer() {
        // Each answer echoes its request's body after a delay that varies per request, so
        // answers finish out of order across the pool's connections.
        let (url, _) = scripted(|_, mut sock| loop {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if sock.read_exact(&mut byte).is_err() {
                    return;
                }
                head.push(byte[0]);
            }
            let mut body = [0u8; 4];
            sock.read_exact(&mut body).unwrap();
            let n = u32::from_be_bytes(body);
            thread::sleep(Duration::from_micros(u64::from(n % 7) * 300));
            let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n".to_vec();
            answer.extend_from_slice(&body);
            sock.write_all(&answer).unwrap();
        });
        let pool = Arc::new(test_pool());
        let url = Arc::new(url);
        let rt = runtime();
        // 64 callers, each making 8 calls in turn: connections are shared out and reused.
        rt.block_on(async {
            let tasks: Vec<_> = (0..64u32)
                .map(|caller| {
                    let (pool, url) = (pool.clone(), url.clone());
                    tokio::spawn(async move {
                        for call in 0..8 {
                            let body = (caller * 8 + call).to_be_bytes();
                            let got = pool.exchange(&post(&url, &body), SECOND).await.unwrap();
                            assert_eq!(&got.body[..], &body[..], "caller {caller}, call {call}");
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        let idle = pool.idle.len();
        assert!((1..=64).contains(&idle), "{idle} connections kept");
    }
}

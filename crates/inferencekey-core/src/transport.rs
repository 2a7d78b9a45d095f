//! HTTP transport: one pooled connection set per process, per-attempt timeouts, and the
//! retry contract of wire §3.3 (backoff, `Retry-After`, which methods may be repeated).
//!
//! | mode | used for | where the I/O runs | after `fork()` |
//! |---|---|---|---|
//! | blocking | unary calls of a thread marked a blocking caller ([`as_blocking_caller`]), no proxy configured | the caller's thread, [`crate::http1`] (httparse over our sockets) | the child starts an empty pool; the parent's connections are never used, closed or locked |
//! | on the runtime | unary calls run by the shared (multi-threaded) runtime: `_async` calls, calls with a cancel token; no proxy configured | tasks of that runtime, [`crate::http1::AsyncPool`] (the same message code over tokio sockets) | the child starts an empty pool (and the binding its own runtime); the parent's connections are leaked unread |
//! | async | streams not read by a blocking caller, calls on another runtime | reqwest on the runtime that runs them | the child builds its own client; the parent's are leaked unread |
//! | proxied | every call while `HTTP(S)_PROXY`/`ALL_PROXY` is set | reqwest, which applies the proxy variables and `NO_PROXY` | as async |
//!
//! Every mode obeys the same caps: a body over `max_response_bytes` and a server-sent-event
//! line over `max_event_bytes` are refused with a typed error before the memory is spent.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use serde_json::Value;

use crate::codes;
use crate::config::{describe_bytes, CallOptions, Limits, Resolved};
use crate::error::{self, Error, ErrorKind, Result};
use crate::headers::Headers;
use crate::http1;
use crate::log::Level;
use crate::process::ForkLocal;
use crate::sse::SseDecoder;
use crate::tls::Tls;
use crate::token::Token;

/// `Retry-After` values above this are not waited for: the error is raised at once.
const MAX_HONOURED_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The largest `Retry-After` kept (a day): larger values, and absurd ones such as `1e30`,
/// are clamped to it rather than overflowing a `Duration`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);
const BACKOFF_BASE: f64 = 0.5;
const BACKOFF_CAP: f64 = 8.0;

/// A connection pool that is rebuilt in a forked child: a parent's connections are never reused.
struct Pool {
    connect_timeout: Duration,
    /// The roots of this client, for both the async client and the blocking path.
    tls: Tls,
    /// The async client of this process (a forked child builds its own).
    client: ForkLocal<reqwest::Client>,
    /// Connections of blocking callers' unary exchanges.
    blocking: Arc<http1::Pool>,
    /// Connections of unary exchanges run as tasks of the shared runtime.
    #[cfg(unix)]
    on_runtime: http1::AsyncPool,
    /// No proxy is configured, so blocking callers may connect directly. (With one, every
    /// exchange goes through reqwest, which applies the proxy variables and `NO_PROXY`.)
    direct: bool,
    /// Identifies this pool's per-thread clients; they die with it.
    identity: Arc<()>,
}

/// A client of one pool for one thread and process.
struct ThreadClient {
    pool: Weak<()>,
    pid: u32,
    client: reqwest::Client,
}

thread_local! {
    /// Clients used under a current-thread runtime (a blocking call driven by its caller's
    /// thread, with no hop to a worker): their connections belong to that thread's runtime,
    /// so each thread keeps its own.
    static THREAD_CLIENTS: RefCell<Vec<ThreadClient>> = const { RefCell::new(Vec::new()) };

    /// Set while this thread runs a blocking call that nothing else waits on or cancels.
    static BLOCKING_CALLER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread marked as a blocking caller: the unary HTTP exchanges that `f`
/// drives (on a current-thread runtime) block this thread in their socket calls instead of
/// going through the async client. Only for calls that cannot be cancelled from elsewhere.
pub fn as_blocking_caller<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            BLOCKING_CALLER.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BLOCKING_CALLER.with(|b| b.replace(true)));
    f()
}

impl Pool {
    fn new(connect_timeout: Duration, tls: Tls) -> Result<Pool> {
        let direct = direct_io();
        let client = ForkLocal::new();
        if !direct {
            // Every exchange goes through it: built now, so that a bad proxy variable fails
            // when the client is made. Otherwise only async calls need it, on first use.
            client.get_or_try_init(|| build_client(connect_timeout, &tls), drop)?;
        }
        Ok(Pool {
            connect_timeout,
            client,
            blocking: Arc::new(http1::Pool::new(connect_timeout, tls.clone())),
            #[cfg(unix)]
            on_runtime: http1::AsyncPool::new(connect_timeout, tls.clone()),
            tls,
            direct,
            identity: Arc::new(()),
        })
    }

    fn client(&self) -> Result<reqwest::Client> {
        let on_caller_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        if on_caller_thread {
            return self.thread_client();
        }
        // A forked child's first call builds its client (the parent's is leaked unread).
        self.client
            .get_or_try_init(|| build_client(self.connect_timeout, &self.tls), drop)
            .cloned()
    }

    fn thread_client(&self) -> Result<reqwest::Client> {
        let pid = crate::process::pid();
        THREAD_CLIENTS.with(|cell| {
            let mut clients = cell.borrow_mut();
            // Clients of dropped pools go; a forked parent's are leaked, never dropped.
            clients.retain_mut(|c| {
                let keep = c.pid == pid && c.pool.strong_count() > 0;
                if c.pid != pid {
                    std::mem::forget(c.client.clone());
                }
                keep
            });
            let me = Arc::as_ptr(&self.identity);
            if let Some(found) = clients.iter().find(|c| c.pool.as_ptr() == me) {
                return Ok(found.client.clone());
            }
            let client = build_client(self.connect_timeout, &self.tls)?;
            clients.push(ThreadClient {
                pool: Arc::downgrade(&self.identity),
                pid,
                client: client.clone(),
            });
            Ok(client)
        })
    }
}

/// Whether this task runs on a multi-threaded runtime (the shared one): the only kind whose
/// tasks share [`http1::AsyncPool`] connections. A current-thread runtime's would die with it.
fn on_shared_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Whether blocking callers' exchanges may use direct sockets ([`crate::http1`]) on their own
/// thread: no proxy is configured. Otherwise they go through reqwest.
pub fn direct_io() -> bool {
    !proxy_configured()
}

/// Whether the environment names a proxy, as reqwest reads it when a client is built.
fn proxy_configured() -> bool {
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        .iter()
        .flat_map(|name| [name.to_string(), name.to_lowercase()])
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

fn build_client(connect_timeout: Duration, tls: &Tls) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls.configs()?.async_config).clone())
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            Error::config(
                codes::INVALID_OPTION,
                format!("cannot build the HTTP client: {e}"),
            )
        })
}

/// Shared by a client and every endpoint or `with_options` copy made from it.
#[derive(Clone)]
pub struct Transport {
    pool: Arc<Pool>,
    user_agent: HeaderValue,
    /// The client's `default_headers` (with a call's merged over them, per call).
    headers: Headers,
    pub limits: Limits,
}

/// One logical request; attempts are made by [`Transport::send`].
pub struct Call<'a> {
    pub method: Method,
    pub url: reqwest::Url,
    /// For logs: the path without the base URL.
    pub path: &'a str,
    pub token: &'a Token,
    pub body: Option<Bytes>,
    pub sse: bool,
    pub limits: Limits,
}

/// A complete response (any status).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `retry-after-ms` or `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
    pub body: Bytes,
    pub request_id: Option<String>,
}

impl Reply {
    /// The typed error for a non-2xx reply (wire §3.1), with `retry_after` when sent.
    pub fn error(&self) -> Error {
        let status = reqwest::StatusCode::from_u16(self.status).ok();
        let reason = status.and_then(|s| s.canonical_reason()).unwrap_or("");
        let mut err =
            error::from_response(self.status, reason, &self.body, self.request_id.clone());
        if let Some(delay) = self.retry_after {
            err = err.with_detail("retry_after", Value::from(delay.as_secs_f64()));
        }
        err
    }

    /// `Ok(self)` for 2xx, else the typed error.
    pub fn ok(self) -> Result<Reply> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(self.error())
        }
    }

    /// The body decoded as JSON; an undecodable 2xx body is `invalid_response`.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::invalid_response(format!("the server sent a body that is not JSON: {e}"))
                .with_status(self.status)
                .with_request_id(self.request_id.clone())
        })
    }
}

/// What one attempt produced.
enum Attempt {
    Reply(reqwest::Response),
    Failed { err: Error, reached_server: bool },
}

/// What one attempt of a retried exchange came to ([`Transport::retried`]).
enum Tried<T> {
    /// A stream opened (2xx headers): done.
    Opened {
        value: T,
        status: u16,
        request_id: Option<String>,
    },
    /// A whole reply, of any status: retried, or final.
    Whole(Reply),
    /// No usable response; whether the request may have reached the server.
    Failed(Error, bool),
}

impl<T> Tried<T> {
    fn of(outcome: std::result::Result<Reply, (Error, bool)>) -> Tried<T> {
        match outcome {
            Ok(reply) => Tried::Whole(reply),
            Err((err, reached_server)) => Tried::Failed(err, reached_server),
        }
    }
}

impl From<http1::Response> for Reply {
    fn from(r: http1::Response) -> Reply {
        Reply {
            status: r.status,
            retry_after: retry_after_of(r.retry_after_ms.as_deref(), r.retry_after.as_deref()),
            body: r.body,
            request_id: r.request_id,
        }
    }
}

impl Transport {
    /// The transport of a resolved configuration: its TLS roots are loaded here, once for
    /// the client and every copy made from it.
    pub fn new(resolved: &Resolved) -> Result<Transport> {
        let user_agent = HeaderValue::from_str(&resolved.user_agent).map_err(|_| {
            Error::config(codes::INVALID_OPTION, "the User-Agent is not valid ASCII")
        })?;
        let tls = Tls::new(resolved.ca_bundle_path.as_deref())?;
        let limits = resolved.limits;
        Ok(Transport {
            pool: Arc::new(Pool::new(limits.connect_timeout, tls)?),
            user_agent,
            headers: resolved.headers.clone(),
            limits,
        })
    }

    /// A copy with per-call or `with_options` overrides (limits, headers merged over this
    /// transport's), sharing the pool unless the connect timeout changed.
    pub fn with_options(&self, options: &CallOptions) -> Result<Transport> {
        let limits = self.limits.with(options)?;
        let headers = self.headers.with(options.headers.as_ref(), "headers")?;
        let pool = if limits.connect_timeout == self.pool.connect_timeout {
            self.pool.clone()
        } else {
            Arc::new(Pool::new(limits.connect_timeout, self.pool.tls.clone())?)
        };
        Ok(Transport {
            pool,
            user_agent: self.user_agent.clone(),
            headers,
            limits,
        })
    }

    /// The extra headers this transport sends (for descriptions: names only).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Sends with retries and returns the last reply, whatever its status; errors only when no
    /// usable response came (connection failure, timeout).
    pub async fn send(&self, call: &Call<'_>) -> Result<Reply> {
        let blocking = !call.sse && self.pool.direct && BLOCKING_CALLER.with(Cell::get);
        let on_runtime = !call.sse && self.pool.direct && cfg!(unix) && on_shared_runtime();
        self.retried(
            call,
            || async move {
                let limit = call.limits.request_timeout;
                let outcome = if blocking {
                    self.exchange_blocking(call)
                } else if on_runtime {
                    tokio::time::timeout(limit, self.exchange_on_runtime(call))
                        .await
                        .unwrap_or_else(|_| Err((timed_out(limit), true)))
                } else {
                    tokio::time::timeout(limit, async {
                        match self.attempt(call).await {
                            Attempt::Reply(resp) => {
                                read_reply(resp, call.limits.max_response_bytes).await
                            }
                            Attempt::Failed {
                                err,
                                reached_server,
                            } => Err((err, reached_server)),
                        }
                    })
                    .await
                    .unwrap_or_else(|_| Err((timed_out(limit), true)))
                };
                Tried::of(outcome)
            },
            Ok,
        )
        .await
    }

    /// Opens a streaming exchange: retried like [`send`](Self::send) until 2xx headers arrive;
    /// a non-2xx status is read whole and raised.
    pub async fn open_stream(
        &self,
        call: &Call<'_>,
    ) -> Result<(reqwest::Response, Option<String>)> {
        let limit = call.limits.request_timeout;
        let attempt = || async move {
            match tokio::time::timeout(limit, self.attempt(call)).await {
                Err(_) => Tried::Failed(timed_out(limit), true),
                Ok(Attempt::Failed {
                    err,
                    reached_server,
                }) => Tried::Failed(err, reached_server),
                Ok(Attempt::Reply(resp)) if resp.status().is_success() => {
                    let request_id = request_id(resp.headers());
                    Tried::Opened {
                        status: resp.status().as_u16(),
                        request_id: request_id.clone(),
                        value: (resp, request_id),
                    }
                }
                Ok(Attempt::Reply(resp)) => Tried::of(
                    tokio::time::timeout(limit, read_reply(resp, call.limits.max_response_bytes))
                        .await
                        .unwrap_or_else(|_| Err((timed_out(limit), true))),
                ),
            }
        };
        self.retried(call, attempt, |reply| Err(reply.error()))
            .await
    }

    /// Whether a stream opened now runs on this thread ([`open_stream_blocking`]): a blocking
    /// caller's, with no proxy configured.
    ///
    /// [`open_stream_blocking`]: Self::open_stream_blocking
    pub fn streams_on_caller(&self) -> bool {
        self.pool.direct && BLOCKING_CALLER.with(Cell::get)
    }

    /// Whether streams opened by a blocking caller of this transport run on its thread (no
    /// proxy is configured).
    pub fn streams_directly(&self) -> bool {
        self.pool.direct
    }

    /// [`open_stream`](Self::open_stream) on the caller's thread: the same retries, the body
    /// then read by the thread that pulls events ([`EventReader::blocking`]).
    pub async fn open_stream_blocking(
        &self,
        call: &Call<'_>,
    ) -> Result<(http1::BodyStream, Option<String>)> {
        let request = self.http1_request(call)?;
        let attempt = || async {
            match self
                .pool
                .blocking
                .open_stream(&request, call.limits.request_timeout)
            {
                Ok(http1::Opened::Streaming {
                    status,
                    request_id,
                    body,
                }) => Tried::Opened {
                    status,
                    request_id: request_id.clone(),
                    value: (body, request_id),
                },
                Ok(http1::Opened::Whole(r)) => Tried::Whole(Reply::from(r)),
                Err(f) => Tried::Failed(f.err, f.reached_server),
            }
        };
        self.retried(call, attempt, |reply| Err(reply.error()))
            .await
    }

    /// The retry loop of every exchange (wire §3.3): runs `attempt` until it opens a stream,
    /// gives a reply that is final (then `finish` decides), or fails for good; logs each
    /// attempt and waits out each delay.
    async fn retried<T, A, F>(
        &self,
        call: &Call<'_>,
        mut attempt: A,
        finish: impl Fn(Reply) -> Result<T>,
    ) -> Result<T>
    where
        A: FnMut() -> F,
        F: std::future::Future<Output = Tried<T>>,
    {
        let mut tries = 0u32;
        loop {
            let started = Instant::now();
            let (delay, why) = match attempt().await {
                Tried::Opened {
                    value,
                    status,
                    request_id,
                } => {
                    log_attempt(call, tries, started, Some(status), request_id.as_deref());
                    return Ok(value);
                }
                Tried::Whole(reply) => {
                    log_attempt(
                        call,
                        tries,
                        started,
                        Some(reply.status),
                        reply.request_id.as_deref(),
                    );
                    match self.retry_delay_for_status(call, &reply, tries) {
                        Some(delay) => (delay, reply.error()),
                        None => return finish(reply),
                    }
                }
                Tried::Failed(err, reached_server) => {
                    log_attempt(call, tries, started, None, None);
                    match self.retry_delay_for_failure(call, &err, reached_server, tries) {
                        Some(delay) => (delay, err),
                        None => return Err(with_connect_hint(err, &call.url)),
                    }
                }
            };
            self.wait(call, tries, delay, &why).await;
            tries += 1;
        }
    }

    async fn attempt(&self, call: &Call<'_>) -> Attempt {
        let client = match self.pool.client() {
            Ok(c) => c,
            Err(err) => {
                return Attempt::Failed {
                    err,
                    reached_server: false,
                }
            }
        };
        let mut auth = match HeaderValue::from_str(&format!("Bearer {}", call.token.expose())) {
            Ok(v) => v,
            Err(_) => {
                return Attempt::Failed {
                    err: unusable_token(),
                    reached_server: false,
                };
            }
        };
        auth.set_sensitive(true);
        let mut headers = HeaderMap::with_capacity(4 + self.headers.iter().count());
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.insert(ACCEPT, HeaderValue::from_static(accept(call)));
        if call.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        // The user's headers override ours; they never include Authorization (refused).
        for (name, value) in self.headers.iter() {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(AUTHORIZATION, auth);
        let mut req = client
            .request(call.method.clone(), call.url.clone())
            .headers(headers);
        if let Some(body) = &call.body {
            req = req.body(body.clone());
        }
        match req.send().await {
            Ok(resp) => Attempt::Reply(resp),
            Err(e) => {
                let reached_server = !e.is_connect();
                Attempt::Failed {
                    err: connection_error(&e),
                    reached_server,
                }
            }
        }
    }

    /// The request of `call` for our HTTP/1 exchanges; an unusable token is refused first.
    fn http1_request<'a>(&'a self, call: &'a Call<'_>) -> Result<http1::Request<'a>> {
        let token = call.token.expose();
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unusable_token());
        }
        Ok(http1::Request {
            method: &call.method,
            url: &call.url,
            token,
            user_agent: &self.user_agent,
            accept: accept(call),
            headers: &self.headers,
            body: call.body.as_deref(),
            max_body: call.limits.max_response_bytes,
        })
    }

    /// One attempt of a unary exchange, on this thread.
    fn exchange_blocking(&self, call: &Call<'_>) -> std::result::Result<Reply, (Error, bool)> {
        let request = self.http1_request(call).map_err(|e| (e, false))?;
        self.pool
            .blocking
            .exchange(&request, call.limits.request_timeout)
            .map(Reply::from)
            .map_err(|f| (f.err, f.reached_server))
    }

    /// One attempt of a unary exchange, as a task of the shared runtime.
    #[cfg(unix)]
    async fn exchange_on_runtime(
        &self,
        call: &Call<'_>,
    ) -> std::result::Result<Reply, (Error, bool)> {
        let request = self.http1_request(call).map_err(|e| (e, false))?;
        self.pool
            .on_runtime
            .exchange(&request, call.limits.request_timeout)
            .await
            .map(Reply::from)
            .map_err(|f| (f.err, f.reached_server))
    }

    #[cfg(not(unix))]
    async fn exchange_on_runtime(
        &self,
        _call: &Call<'_>,
    ) -> std::result::Result<Reply, (Error, bool)> {
        unreachable!("async exchanges go through reqwest off unix")
    }

    /// The delay before retrying a reply, or `None` when it is final (wire §3.3).
    fn retry_delay_for_status(
        &self,
        call: &Call<'_>,
        reply: &Reply,
        attempt: u32,
    ) -> Option<Duration> {
        if attempt >= call.limits.max_retries || !Error::is_retryable_status(reply.status) {
            return None;
        }
        let retry_after = reply.retry_after;
        if retry_after.is_some_and(|d| d > MAX_HONOURED_RETRY_AFTER) {
            return None;
        }
        let idempotent = call.method != Method::POST;
        let post_may_retry = matches!(reply.status, 429 | 503) && retry_after.is_some();
        if !idempotent && !post_may_retry {
            return None;
        }
        Some(retry_after.unwrap_or_else(|| backoff(attempt + 1)))
    }

    /// A failed attempt is retried when the request never reached the server, or for
    /// idempotent methods on a connection error. A timeout after sending is final, so a hung
    /// server surfaces within the timeout (sdk §9); so are an interrupt and a refused
    /// (too large) answer.
    fn retry_delay_for_failure(
        &self,
        call: &Call<'_>,
        err: &Error,
        reached_server: bool,
        attempt: u32,
    ) -> Option<Duration> {
        // A certificate the client does not trust will not be trusted a moment later.
        if attempt >= call.limits.max_retries
            || err.kind != ErrorKind::Connection
            || err.code == codes::TLS_CERTIFICATE
        {
            return None;
        }
        let idempotent = call.method != Method::POST;
        (idempotent || !reached_server).then(|| backoff(attempt + 1))
    }

    async fn wait(&self, call: &Call<'_>, attempt: u32, delay: Duration, why: &Error) {
        crate::log!(Level::Info, "inferencekey.http",
            "retrying {} {} in {:.2}s (attempt {} failed: {})",
            call.method, call.path, delay.as_secs_f64(), attempt + 1, why;
            "delay_s" => delay.as_secs_f64(), "attempt" => attempt + 1, "code" => why.code);
        tokio::time::sleep(delay).await;
    }
}

/// Where an [`EventReader`] reads from. (Moved once per stream: not boxed.)
#[allow(clippy::large_enum_variant)]
enum Body {
    /// On the runtime that owns the connection.
    Async(reqwest::Response),
    /// On the thread that pulls: each read blocks it (in interruptible slices).
    Blocking(http1::BodyStream),
}

/// Reads SSE events from an open response, one `data` payload at a time.
pub struct EventReader {
    body: Body,
    decoder: SseDecoder,
    /// Longest silence allowed between two chunks.
    idle: Duration,
    eof: bool,
}

impl EventReader {
    /// Reads `resp`, waiting at most `idle` between chunks; an event line or event longer than
    /// `max_event` bytes is refused (`event_too_large`).
    pub fn new(resp: reqwest::Response, idle: Duration, max_event: usize) -> EventReader {
        EventReader::of(Body::Async(resp), idle, max_event)
    }

    /// As [`new`](Self::new), for a body read on the caller's thread: [`next_data`]
    /// (Self::next_data) then blocks that thread and is ready at its first poll.
    pub fn blocking(body: http1::BodyStream, idle: Duration, max_event: usize) -> EventReader {
        EventReader::of(Body::Blocking(body), idle, max_event)
    }

    fn of(body: Body, idle: Duration, max_event: usize) -> EventReader {
        EventReader {
            body,
            decoder: SseDecoder::with_limit(max_event),
            idle,
            eof: false,
        }
    }

    /// What wakes a blocked read from another thread (for a body read on the caller's thread).
    pub fn closer(&self) -> Option<http1::Closer> {
        match &self.body {
            Body::Blocking(body) => Some(body.closer()),
            Body::Async(_) => None,
        }
    }

    /// The caller read its last event: a body read on the caller's thread whose end already
    /// arrived gives its connection back to the pool.
    pub fn done(&mut self) {
        if let Body::Blocking(body) = &mut self.body {
            body.end_if_received();
        }
    }

    /// Whether reads block the thread that pulls ([`blocking`](Self::blocking)).
    pub fn is_blocking(&self) -> bool {
        matches!(self.body, Body::Blocking(_))
    }

    /// The next event's data; `Ok(None)` at the end of the body. A silence longer than the
    /// idle limit is a timeout error; a broken body is a connection error.
    pub async fn next_data(&mut self) -> Result<Option<String>> {
        loop {
            if let Some(data) = self.decoder.next_event() {
                return Ok(Some(data));
            }
            if self.decoder.failed() {
                return Err(event_too_large(self.decoder.limit()));
            }
            if self.eof {
                return Ok(None);
            }
            let chunk = match &mut self.body {
                Body::Async(resp) => match tokio::time::timeout(self.idle, resp.chunk()).await {
                    Err(_) => return Err(timed_out(self.idle)),
                    Ok(Err(e)) => return Err(connection_error(&e)),
                    Ok(Ok(chunk)) => chunk,
                },
                Body::Blocking(body) => match body.next_bytes(self.idle)? {
                    // Events completed before a line that passed the cap still come out first.
                    Some(bytes) => {
                        let _ = self.decoder.feed(bytes);
                        continue;
                    }
                    None => None,
                },
            };
            match chunk {
                // Events completed before a line that passed the cap still come out first.
                Some(chunk) => {
                    let _ = self.decoder.feed(&chunk);
                }
                None => {
                    self.eof = true;
                    if let Some(data) = self.decoder.finish() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Delay before retry `n` (1-based): `min(8, 0.5 × 2^(n−1))` s × a factor in [0.75, 1.0].
pub fn backoff(n: u32) -> Duration {
    let base = (BACKOFF_BASE * 2f64.powi(n.saturating_sub(1).min(16) as i32)).min(BACKOFF_CAP);
    Duration::from_secs_f64(base * rand::rng().random_range(0.75..=1.0))
}

/// `retry-after-ms` wins over `Retry-After` (seconds or an HTTP-date).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    retry_after_of(text("retry-after-ms"), text("retry-after"))
}

/// [`retry_after`] from the two header values. Any value a server sends is clamped to
/// [`MAX_RETRY_AFTER`]: past 60 s it only says "do not retry", so nothing is lost.
fn retry_after_of(ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    let seconds =
        |s: f64| (s >= 0.0).then(|| Duration::from_secs_f64(s.min(MAX_RETRY_AFTER.as_secs_f64())));
    if let Some(delay) = ms
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|ms| seconds(ms / 1000.0))
    {
        return Some(delay);
    }
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let when = httpdate_to_unix(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(Duration::from_secs(when.saturating_sub(now.as_secs())).min(MAX_RETRY_AFTER))
}

/// Parses the IMF-fixdate form of an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn httpdate_to_unix(s: &str) -> Option<u64> {
    let mut parts = s.split_whitespace().skip(1);
    let day: u64 = parts.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u64 + 1;
    let year: u64 = parts
        .next()?
        .parse()
        .ok()
        .filter(|y| (1970..=9999).contains(y))?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if day > 31 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm), for years after 1970.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// Joins the base URL and an encoded path (parsed once here, not per attempt).
pub fn join_url(base_url: &str, path: &str) -> Result<reqwest::Url> {
    reqwest::Url::parse(&format!("{base_url}{path}")).map_err(|e| {
        Error::config(
            codes::INVALID_BASE_URL,
            format!("cannot build a URL for {path}: {e}"),
        )
    })
}

/// `X-Request-Id`, else `Request-Id`.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .or_else(|| headers.get("request-id"))
        .map(|v| request_id_of(v.as_bytes()))
}

/// A request id as every result and error shows it: trimmed text, redacted, since a server may
/// echo anything there, a token included.
pub fn request_id_of(raw: &[u8]) -> String {
    crate::token::scrub_secrets(String::from_utf8_lossy(raw).trim())
}

/// The error of a server-sent-event line or event longer than the cap (`max_event_bytes`).
pub fn event_too_large(cap: usize) -> Error {
    Error::new(
        ErrorKind::Api,
        codes::EVENT_TOO_LARGE,
        format!(
            "a server-sent event is larger than max_event_bytes, {}; the stream was closed",
            describe_bytes(cap)
        ),
    )
    .with_detail("limit_bytes", cap.into())
}

/// Reads a whole reply, refusing a body longer than `max_body` before it is held: at once
/// when its declared length says so, else as soon as the received bytes pass it.
async fn read_reply(
    mut resp: reqwest::Response,
    max_body: usize,
) -> std::result::Result<Reply, (Error, bool)> {
    let status = resp.status().as_u16();
    let request_id = request_id(resp.headers());
    let retry_after = retry_after(resp.headers());
    let failed = |err: Error| (err.with_request_id(request_id.clone()), true);
    let declared = resp.content_length().unwrap_or(0);
    if declared > max_body as u64 {
        return Err(failed(http1::response_too_large(max_body)));
    }
    let mut body = bytes::BytesMut::with_capacity(declared as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| failed(connection_error(&e)))?
    {
        if body.len() + chunk.len() > max_body {
            return Err(failed(http1::response_too_large(max_body)));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    Ok(Reply {
        status,
        retry_after,
        body,
        request_id,
    })
}

fn accept(call: &Call<'_>) -> &'static str {
    if call.sse {
        "text/event-stream"
    } else {
        "application/json"
    }
}

fn unusable_token() -> Error {
    Error::new(
        ErrorKind::Auth,
        codes::INVALID_CREDENTIAL,
        "the token is not valid ASCII",
    )
}

fn timed_out(after: Duration) -> Error {
    Error::timeout(format!("no answer within {:.1}s", after.as_secs_f64()))
}

/// `err` with a hint added when no connection could be made at all (`connection_failed`:
/// refused, unknown host): is the platform running, is the base URL right? Names the URL
/// tried, without user info, query or fragment. TLS failures keep their own message.
pub fn with_connect_hint(mut err: Error, url: &reqwest::Url) -> Error {
    let lower = err.message.to_lowercase();
    if err.code != codes::CONNECTION_FAILED
        || lower.contains("tls")
        || lower.contains("certificate")
        || lower.contains("is the platform running")
    {
        return err;
    }
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    err.message = format!(
        "{} (tried {shown}); is the platform running (`inferencekey dev` starts a local one), \
         and is INFERENCEKEY_BASE_URL / base_url right?",
        err.message
    );
    err
}

/// Maps a reqwest failure to a connection or timeout error; never includes the URL's secrets
/// (tokens never travel in URLs, so the URL is safe to show).
pub fn connection_error(e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::timeout(format!("the request timed out: {}", chain(e)));
    }
    if let Some(why) = certificate_error(e) {
        let host = e.url().and_then(|u| u.host_str()).unwrap_or("the server");
        return untrusted_certificate(host, &why);
    }
    let code = if e.is_connect() {
        codes::CONNECTION_FAILED
    } else {
        codes::CONNECTION_ERROR
    };
    Error::connection(code, chain(e))
}

/// The certificate problem behind a failed TLS handshake, if that is what failed: rustls's
/// error, found in the chain of causes (an `io::Error` holds it without showing it as a
/// source, so each one is opened).
pub fn certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(
            r @ (rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType),
        ) = err.downcast_ref::<rustls::Error>()
        {
            return Some(r.to_string());
        }
        // An `io::Error` wrapping another error reports its wrapped error's *source*, skipping
        // the wrapped error itself (reqwest's connector nests two of them around rustls's).
        current = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The error of a server certificate this client does not trust (`tls_certificate`).
pub fn untrusted_certificate(host: &str, why: &str) -> Error {
    Error::connection(
        codes::TLS_CERTIFICATE,
        format!(
            "the TLS certificate of {host} was not accepted ({why}); {}",
            crate::tls::untrusted_hint()
        ),
    )
}

/// The error with its causes, as one line ("connection refused" is usually a cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn log_attempt(
    call: &Call<'_>,
    attempt: u32,
    started: Instant,
    status: Option<u16>,
    request_id: Option<&str>,
) {
    crate::log!(Level::Debug, "inferencekey.http",
        "{} {} -> {} (attempt {}, {} ms{})",
        call.method, call.path,
        status.map_or_else(|| "no response".to_owned(), |s| s.to_string()),
        attempt + 1, started.elapsed().as_millis(),
        request_id.map_or_else(String::new, |id| format!(", request_id {id}"));
        "method" => call.method.as_str(), "path" => call.path, "status" => status,
        "attempt" => attempt + 1, "elapsed_ms" => started.elapsed().as_millis() as u64,
        "request_id" => request_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        for (n, base) in [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (9, 8.0)] {
            let d = backoff(n).as_secs_f64();
            assert!(
                d >= base * 0.75 - 1e-9 && d <= base + 1e-9,
                "retry {n}: {d}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn connection_failures_say_what_to_check() {
        let url = reqwest::Url::parse("http://user:pw@127.0.0.1:9/api/x?q=1#f").unwrap();
        let refused = Error::connection(
            codes::CONNECTION_FAILED,
            "cannot connect to 127.0.0.1:9: Connection refused (os error 111)",
        );
        let e = with_connect_hint(refused, &url);
        assert!(e.message.starts_with("cannot connect"), "{}", e.message);
        assert!(
            e.message.contains("(tried http://127.0.0.1:9/api/x)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("`inferencekey dev`"), "{}", e.message);
        assert!(e.message.contains("INFERENCEKEY_BASE_URL"), "{}", e.message);
        assert!(!e.message.contains("pw"), "{}", e.message);
        // Once only; not for TLS failures or other connection errors.
        assert_eq!(with_connect_hint(e.clone(), &url).message, e.message);
        for (code, message) in [
            (
                codes::CONNECTION_FAILED,
                "TLS handshake with 127.0.0.1:9 failed: x",
            ),
            (codes::CONNECTION_ERROR, "connection lost: reset"),
        ] {
            let e = with_connect_hint(Error::connection(code, message), &url);
            assert_eq!(e.message, message);
        }
    }

    #[test]
    fn request_id_fallback() {
        let mut h = HeaderMap::new();
        h.insert("request-id", HeaderValue::from_static("req_b"));
        assert_eq!(request_id(&h).as_deref(), Some("req_b"));
        h.insert("x-request-id", HeaderValue::from_static("req_a"));
        assert_eq!(request_id(&h).as_deref(), Some("req_a"));
    }

    /// The async client (reqwest) reports an untrusted certificate as `tls_certificate`,
    /// through the two `io::Error`s its connector nests around rustls's error; with the
    /// fixture CA as `ca_bundle_path`, the same server is trusted.
    #[tokio::test]
    async fn untrusted_certificates_are_classified_and_a_ca_bundle_trusts_them() {
        use std::io::{Read, Write};
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let config = crate::tls::fixture_server_config();
            for sock in listener.incoming().take(2) {
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, sock.unwrap());
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && tls.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                let _ = tls.flush();
            }
        });
        let url = format!("https://localhost:{port}/");
        let untrusted = build_client(Duration::from_secs(5), &Tls::new(None).unwrap()).unwrap();
        let err = connection_error(&untrusted.get(&url).send().await.unwrap_err());
        assert_eq!(err.code, "tls_certificate", "{err}");
        assert!(err.message.contains("localhost"), "{err}");
        let ca = format!("{fixture}/ca.pem");
        let trusted = build_client(Duration::from_secs(5), &Tls::new(Some(&ca)).unwrap()).unwrap();
        let resp = trusted.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
}

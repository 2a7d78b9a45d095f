"""``RecordingProxy``: a tap in front of the real local platform.

Every request is forwarded as it came (method, path with query, headers including
``Authorization``, body) to the upstream platform, and the upstream answer is streamed back
chunk by chunk (so SSE readiness streams flow through live). The proxy records
``(method, path)`` of each request, so a test can assert exactly which requests reached the
server. It never invents an answer: it is a tap, not a fake.

``hold`` (optional) is called with ``(method, path)`` before a request is forwarded; a test
can block there to line up a race (e.g. two concurrent ``ensure()`` calls both listing before
either creates).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .httpio import QuietServer, read_body

__all__ = ["RecordingProxy"]

# Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; framing is redone per hop.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)


class RecordingProxy:
    """``with RecordingProxy(dev.base_url) as proxy:`` -- point a client at ``proxy.url``."""

    def __init__(
        self,
        upstream: str,
        *,
        hold: Callable[[str, str], None] | None = None,
        upstream_timeout: float = 120.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"RecordingProxy forwards to plain http only, not {upstream!r}")
        self._up_host = parts.hostname
        self._up_port = parts.port or 80
        self._up_prefix = parts.path.rstrip("/")
        self._up_timeout = upstream_timeout
        self.hold = hold
        self._lock = threading.Lock()
        self._requests: list[tuple[str, str]] = []
        self._open: set[http.client.HTTPConnection] = set()
        self.errors: list[str] = []
        self._server = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    # -- what the tests read -----------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- forwarding -------------------------------------------------------------------------

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._requests.append((method, path))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = read_body(self)
                path = urlsplit(self.path).path
                proxy._record(self.command, path)
                if proxy.hold is not None:
                    proxy.hold(self.command, path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Host"] = f"{proxy._up_host}:{proxy._up_port}"
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(
                    proxy._up_host, proxy._up_port, timeout=proxy._up_timeout
                )
                with proxy._lock:
                    proxy._open.add(conn)
                try:
                    try:
                        conn.request(
                            self.command, proxy._up_prefix + self.path, body=body, headers=headers
                        )
                        upstream = conn.getresponse()
                    except OSError as exc:
                        proxy.errors.append(f"{self.command} {path}: upstream failed: {exc!r}")
                        self.send_error(502, "upstream failed")
                        return
                    self._relay(upstream)
                finally:
                    with proxy._lock:
                        proxy._open.discard(conn)
                    conn.close()

            def _relay(self, upstream: http.client.HTTPResponse) -> None:
                self.send_response_only(upstream.status, upstream.reason)
                for key, value in upstream.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                no_body = self.command == "HEAD" or upstream.status in (204, 304)
                length = upstream.getheader("Content-Length")
                if no_body or length is not None:
                    data = b"" if no_body else upstream.read()
                    if not no_body:
                        self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    return
                # Unknown length (chunked or close-delimited upstream, e.g. SSE): re-chunk
                # and pass each piece on as soon as it arrives.
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                while True:
                    piece = upstream.read1(65536)
                    if not piece:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _forward

        return Handler

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            still_open = list(self._open)
        for conn in still_open:  # unblocks relays of streams the client already dropped
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""``RecordingProxy``: a tap in front of the real local platform.

Every request is forwarded as it came (method, path with query, headers including
``Authorization``, body) to the upstream platform, and the upstream answer is streamed back
chunk by chunk (so SSE readiness streams flow through live). The proxy records
``(method, path)`` of each request (and its headers), so a test can assert exactly which
requests reached the server. It never invents an answer: it is a tap, not a fake.

``hold`` (optional) is called with ``(method, path)`` before a request is forwarded; a test
can block there to line up a race (e.g. two concurrent ``ensure()`` calls both listing before
either creates, or a workload deleted between a list and the write that follows it).

``cut_streams`` (default 0) is a fault on the tap, not a fake answer: that many of the next
streamed (unknown-length) responses are passed on up to the end of their first
``cut_after_frames`` SSE frames (default 1; 0 = right after the headers), and then the
connection is dropped mid-stream, as a network failure would.
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

_BLANK_LINES = (b"\r\n\r\n", b"\n\n", b"\n\r\n")


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
        self.cut_streams = 0
        self.cut_after_frames = 1
        self._lock = threading.Lock()
        self._requests: list[tuple[str, str]] = []
        self._headers: list[dict[str, str]] = []
        self._open: set[http.client.HTTPConnection] = set()
        self.errors: list[str] = []
        self._server = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    # -- what the tests read -----------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def headers(self) -> list[dict[str, str]]:
        """The request headers (names lower-cased) of each request in :attr:`requests`."""
        with self._lock:
            return [dict(h) for h in self._headers]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._headers.clear()

    # -- forwarding -------------------------------------------------------------------------

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append((method, path))
            self._headers.append(headers)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = read_body(self)
                path = urlsplit(self.path).path
                proxy._record(self.command, path, {k.lower(): v for k, v in self.headers.items()})
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
                frames = proxy._take_cut()
                if frames == 0:
                    self._drop()
                    return
                seen = b""
                while True:
                    piece = upstream.read1(65536)
                    if not piece:
                        break
                    if frames is not None:
                        seen += piece
                        end = _frames_end(seen, frames)
                        if end < 0:
                            continue
                        piece = seen[:end]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                    if frames is not None:
                        self._drop()
                        return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _drop(self) -> None:
                """Ends the client connection without the final chunk (a truncated stream)."""
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _forward

        return Handler

    def _take_cut(self) -> int | None:
        """How many frames the next stream may pass before it is cut (``None``: no cut)."""
        with self._lock:
            if self.cut_streams > 0:
                self.cut_streams -= 1
                return self.cut_after_frames
            return None

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


def _frames_end(data: bytes, frames: int) -> int:
    """The offset just past the blank line ending the ``frames``-th SSE frame, or -1."""
    offset = 0
    for _ in range(frames):
        ends = [data.find(sep, offset) + len(sep) for sep in _BLANK_LINES if sep in data[offset:]]
        if not ends:
            return -1
        offset = min(ends)
    return offset

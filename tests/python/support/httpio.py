"""Small HTTP/1.1 and JSON helpers for the in-test servers."""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["QuietServer", "dumps", "json_equal", "read_body"]


class QuietServer(ThreadingHTTPServer):
    """A threaded loopback server that does not print tracebacks of dropped connections."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes a connection (a closed stream, a timed-out call) is normal here;
        # real failures are recorded by the handlers themselves and reported to the test.
        pass


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body: by ``Content-Length``, or decoded from ``chunked`` encoding."""
    encoding = (handler.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in encoding:
        chunks: list[bytes] = []
        while True:
            size_line = handler.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailers end with a blank line.
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: object key order ignored, array order kept, numbers by value
    (``1 == 1.0``), and -- unlike Python's ``==`` -- ``true`` is not the number 1."""
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) and math.isnan(a):
            return False
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def dumps(value: Any) -> str:
    """Compact, stable JSON for assertion messages."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

"""``ReplayServer``: the fake control plane of ``../shared/conformance/README.md``.

A fake by design: the conformance vectors *define* the server. The n-th request gets the n-th
exchange after its method, path (without query) and body are checked; a request beyond the
list, or one that does not match, is answered ``418`` (never retried by a correct client) and
recorded as a failure, which :meth:`ReplayServer.verify` raises in the test thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .httpio import QuietServer, dumps, json_equal, read_body

__all__ = ["ReplayServer"]


class ReplayServer:
    """Answers the n-th request with the n-th exchange; ``with ReplayServer(exchanges) as s``."""

    def __init__(self, exchanges: Sequence[dict[str, Any]]) -> None:
        self._exchanges = list(exchanges)
        self._lock = threading.Lock()
        self._next = 0
        self.failures: list[str] = []
        #: Every request received, as ``(method, path, parsed body or None)``.
        self.received: list[tuple[str, str, Any]] = []
        self._server = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    # -- the handler ------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                raw = read_body(self)
                path = urlsplit(self.path).path
                status, body = replay._answer(self.command, path, raw)
                self.send_response(status)
                if status in (204, 304):
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.dumps(body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve

        return Handler

    def _answer(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        with self._lock:
            n = self._next
            self._next += 1
            try:
                body: Any = json.loads(raw) if raw else None
                shown = dumps(body) if raw else "<no body>"
            except ValueError:
                body, shown = raw.decode("utf-8", "replace"), f"<not JSON: {raw[:200]!r}>"
            self.received.append((method, path, body))
            if n >= len(self._exchanges):
                return self._fail(
                    f"request #{n + 1} {method} {path} {shown}: beyond the "
                    f"{len(self._exchanges)} exchange(s) of the case"
                )
            exchange = self._exchanges[n]
            want = exchange["request"]
            problems = []
            if method != want["method"]:
                problems.append(f"method {method} != {want['method']}")
            if path != want["path"]:
                problems.append(f"path {path} != {want['path']}")
            if want["body"] is None:
                if raw:
                    problems.append(f"body {shown} sent, the exchange has none")
            elif not raw:
                problems.append(f"no body sent, expected {dumps(want['body'])}")
            elif not json_equal(body, want["body"]):
                problems.append(f"body {shown} != expected {dumps(want['body'])}")
            if problems:
                return self._fail(f"request #{n + 1} ({method} {path}): " + "; ".join(problems))
            response = exchange["response"]
            return int(response["status"]), response["body"]

    def _fail(self, message: str) -> tuple[int, Any]:
        self.failures.append(message)
        return 418, {"error": {"code": "replay_mismatch", "message": message}}

    # -- test-side API -----------------------------------------------------------------------

    @property
    def used(self) -> int:
        with self._lock:
            return self._next

    def verify(self) -> None:
        """Raises ``AssertionError`` for any mismatch, extra request, or unused exchange."""
        with self._lock:
            failures = list(self.failures)
            used = self._next
        if failures:
            raise AssertionError("replay mismatch:\n  " + "\n  ".join(failures))
        if used != len(self._exchanges):
            missing = [
                f"{e['request']['method']} {e['request']['path']}" for e in self._exchanges[used:]
            ]
            raise AssertionError(
                f"only {used} of {len(self._exchanges)} exchange(s) were used; never sent: "
                + ", ".join(missing)
            )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

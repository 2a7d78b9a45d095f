"""Fault injection for the data-plane, error, secret and concurrency integration tests.

In-process fakes (each a context manager on a free loopback port):

- :class:`SilentServer`: accepts TCP connections, reads what is sent, never answers. Counts
  connections, so it doubles as the "was any request sent?" probe.
- :class:`ScriptedServer`: a tiny HTTP server that answers from a script of
  :class:`Reply` objects and records every request (method, path, headers, body).
- :func:`refused_url`: a loopback URL where nothing listens (connection refused).

Workload fakes, run by the local platform as ``config.command``: :func:`fake_spec` builds a
``WorkloadSpec`` for one of the scripts in ``fake_upstreams/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from inferencekey import WorkloadSpec

FAKE_UPSTREAMS = Path(__file__).resolve().parent / "fake_upstreams"

#: ``req_`` + 26 lower-case Crockford base-32 characters (wire §1.1).
REQUEST_ID_RE = re.compile(r"^req_[0-9a-hjkmnp-tv-z]{26}$")


# --------------------------------------------------------------------------------------------
# Workload fakes


def fake_command(script: str, *args: str) -> str:
    """``config.command`` running ``fake_upstreams/<script>`` with this interpreter."""
    path = FAKE_UPSTREAMS / script
    assert path.is_file(), path
    return shlex.join([sys.executable, str(path), *args])


def fake_spec(
    slug: str, script: str, *args: str, task_type: str = "text2text", startup_timeout_s: int = 30
) -> WorkloadSpec:
    """A workload served by a fake upstream script (the platform runs absolute paths as is)."""
    return WorkloadSpec(
        name=f"Fake {slug}",
        slug=slug,
        model="fake/" + script.removesuffix(".py"),
        backend="fake-upstream",
        task_type=task_type,
        command=fake_command(script, *args),
        config={"startup_timeout_s": startup_timeout_s},
    )


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a fake upstream wrote with ``--record``."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Polls ``predicate`` until it is true or ``timeout`` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Tokens


def token_secrets(token: str) -> list[str]:
    """What must never be shown of a token: the token itself and its secret part."""
    found = [token]
    parts = token.split("_")
    if len(parts) >= 4 and parts[0] == "ik":
        found.append("_".join(parts[3:]))
    return found


def well_formed(kind: str, ident: str = "0badc0de") -> str:
    """A token of the exact wire shape that no server has minted."""
    return f"ik_{kind}_{ident}_{'5e' * 32}"


# --------------------------------------------------------------------------------------------
# In-process servers


class _Background:
    """A server thread on 127.0.0.1, stopped on exit."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SilentServer(_Background):
    """Accepts connections and reads requests but never answers: a hung server."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.received = bytearray()
        self._thread = threading.Thread(target=self._run, name="silent-server", daemon=True)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = self._sock.accept()
                conn.setblocking(False)
                with self._lock:
                    self._conns.append(conn)
            with self._lock:
                for conn in self._conns:
                    with contextlib.suppress(BlockingIOError, OSError):
                        self.received += conn.recv(65536)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for conn in self._conns:
                conn.close()
        self._sock.close()


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering.
    delay: float = 0.0

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    """One request a :class:`ScriptedServer` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer(_Background):
    """HTTP/1.1 server answering each request with the next :class:`Reply` (the last one
    repeats), or with ``replies(seen)`` when given a callable. Records every request."""

    def __init__(self, replies: Sequence[Reply] | Callable[[Seen], Reply]) -> None:
        self._script = replies
        self._lock = threading.Lock()
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    at=time.monotonic(),
                )
                reply = server._next(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if callable(self._script):
                return self._script(seen)
            index = min(len(self.requests), len(self._script)) - 1
            return self._script[index]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def refused_url() -> str:
    """A loopback URL on a port where nothing listens."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# --------------------------------------------------------------------------------------------
# Logs


class ListHandler(logging.Handler):
    """Keeps every record (and its formatted line) it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs(name: str = "inferencekey") -> Iterator[ListHandler]:
    """Every record of ``name`` and its children at DEBUG, while the block runs."""
    logger = logging.getLogger(name)
    handler = ListHandler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def attempt_records(records: Iterable[logging.LogRecord]) -> list[dict[str, Any]]:
    """The structured fields of the core's per-attempt debug records (sdk §11)."""
    out = []
    for record in records:
        fields = getattr(record, "ik_fields", None)
        if (
            record.name == "inferencekey.http"
            and isinstance(fields, dict)
            and "elapsed_ms" in fields
        ):
            out.append(fields)
    return out

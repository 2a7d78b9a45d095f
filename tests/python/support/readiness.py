"""A scripted readiness stream (wire §6.5) for the ``wait_until_ready`` contract tests.

:class:`FakeReadinessServer` is a fake of the platform's
``GET /api/projects/<project>/workloads/<slug>/readiness-events`` on loopback (a
:class:`support.rawhttp.RawServer`). Each connection follows a :class:`Script`: frames sent
after delays, then an ending -- close the stream (EOF, no terminal frame unless scripted),
``hang`` (keep it open and silent), or ``done`` (``data: [DONE]``, then close). A script with
a ``status`` other than 200 answers that status and a JSON body instead of a stream. The n-th
connection follows the n-th script; the last script repeats.

Every connection is recorded (:class:`Connection`): its path, its headers, when it opened,
and whether -- and when -- the client closed it while the script was still running (during a
delay or while hanging), which is how a test sees that a cancelled wait let go of its stream.
"""

from __future__ import annotations

import json
import select
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from support.faults import Reply, wait_for
from support.rawhttp import Peer, RawServer, response

__all__ = ["Connection", "FakeReadinessServer", "Script", "event"]

Ending = Literal["close", "hang", "done"]


def event(
    phase: str, message: str = "", *, step: str | None = None, **extra: Any
) -> dict[str, Any]:
    """One readiness frame's object (wire §6.5): ``phase``, ``message``, ``elapsed_ms``, and
    ``step`` / ``log_tail`` (a string) when given."""
    frame: dict[str, Any] = {"phase": phase, "message": message or phase, "elapsed_ms": 0}
    if step is not None:
        frame["step"] = step
    frame.update(extra)
    return frame


@dataclass
class Script:
    """What one connection gets. ``frames``: ``(delay in seconds, frame)``, a frame being an
    event object (sent as ``data: <json>``) or raw ``data:`` text such as ``"[DONE]"``."""

    frames: Sequence[tuple[float, dict[str, Any] | str]] = ()
    end: Ending = "close"
    status: int = 200
    body: Any = None


@dataclass
class Connection:
    """One connection the fake accepted."""

    path: str
    headers: dict[str, str]
    opened_at: float
    #: Set when the client closed the connection while the script was running.
    client_closed: threading.Event = field(default_factory=threading.Event)
    closed_at: float | None = None


class FakeReadinessServer(RawServer):
    """The scripted readiness stream; ``url`` is the base URL for a management client."""

    def __init__(self, scripts: Sequence[Script]) -> None:
        assert scripts, "at least one script"
        self._scripts = list(scripts)
        self._stopping = threading.Event()
        self.streams: list[Connection] = []
        super().__init__(self._serve_script)

    def connection(self, index: int, timeout: float = 10.0) -> Connection:
        """The ``index``-th connection (0-based), waiting for it up to ``timeout`` seconds."""
        assert wait_for(lambda: len(self.streams) > index, timeout), (
            f"only {len(self.streams)} connection(s) arrived"
        )
        return self.streams[index]

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def _serve_script(self, peer: Peer) -> None:
        request = peer.read_request()
        if request is None:
            return
        conn = Connection(request.path, request.headers, request.at)
        with self._lock:
            self.streams.append(conn)
            script = self._scripts[min(len(self.streams), len(self._scripts)) - 1]
        if script.status != 200:
            peer.send(response(Reply(script.status, script.body), close=True))
            return
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "Connection: close\r\n\r\n"
        )
        if not peer.send(head.encode()):
            return self._closed_by_client(conn)
        for delay, frame in script.frames:
            if self._client_left(peer, delay):
                return self._closed_by_client(conn)
            data = frame if isinstance(frame, str) else json.dumps(frame)
            if not peer.send(f"data: {data}\n\n".encode()):
                return self._closed_by_client(conn)
        if script.end == "done" and not peer.send(b"data: [DONE]\n\n"):
            return self._closed_by_client(conn)
        if script.end == "hang" and self._client_left(peer, None):
            return self._closed_by_client(conn)
        return None  # "close" and "done": the handler returns, RawServer closes the socket

    def _client_left(self, peer: Peer, seconds: float | None) -> bool:
        """Waits ``seconds`` (``None``: until the server stops); ``True`` as soon as the client
        closes the connection. Bytes the client sends meanwhile are read and ignored."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stopping.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return False
            try:
                readable, _, _ = select.select([peer.sock], [], [], left)
                if readable and not peer.sock.recv(4096):
                    return True
            except (OSError, ValueError):  # reset by the client (or closed by stop())
                return True
        return False

    def _closed_by_client(self, conn: Connection) -> None:
        if not self._stopping.is_set():
            conn.closed_at = time.monotonic()
            conn.client_closed.set()

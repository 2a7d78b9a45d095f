"""Raw-socket HTTP/1.1 fault injectors for the transport tests (``test_transport_faults.py``).

:class:`faults.ScriptedServer` answers like a well-behaved server, one reply per request. The
faults here need control below HTTP: bytes nobody asked for on an idle keep-alive connection, a
request read whole and then dropped, an answer sent before the request body has arrived, a body
of gigabytes made up on the fly. So :class:`RawServer` hands each accepted connection, as a
:class:`Peer`, to a handler function on its own thread; the handler reads requests and writes
whatever bytes it likes. Loopback only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from support.faults import Reply, _Background

__all__ = [
    "MiB",
    "Peer",
    "RawRequest",
    "RawServer",
    "completion",
    "response",
    "stream_huge_body",
]

MiB = 1024 * 1024
_MAX_HEAD = 64 * 1024


@dataclass
class RawRequest:
    """One request a :class:`RawServer` read: head, body, and the connection it came on."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: Index of the connection (in accept order) that carried it.
    conn: int
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


def response(reply: Reply, *, close: bool = False) -> bytes:
    """The bytes of a whole HTTP/1.1 response for a :class:`faults.Reply` (``Content-Length``
    framing, JSON by default; a 204/304 has no body and no length)."""
    body = reply.encoded()
    reason = {200: "OK", 204: "No Content", 413: "Payload Too Large", 429: "Too Many Requests"}
    lines = [f"HTTP/1.1 {reply.status} {reason.get(reply.status, 'Status')}"]
    headers = {"Content-Type": "application/json", **reply.headers}
    if reply.status not in (204, 304):
        headers["Content-Length"] = str(len(body))
    if close:
        headers["Connection"] = "close"
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def completion(text: str) -> dict[str, Any]:
    """A minimal non-streaming chat completion whose answer is ``text``."""
    return {
        "id": "chatcmpl-raw",
        "object": "chat.completion",
        "model": "raw-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


class Peer:
    """One accepted connection: buffered request reading, raw writes, half- and full close."""

    def __init__(self, server: RawServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index
        self._buf = bytearray()

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(256 * 1024)
        except OSError:
            return False
        self._buf += chunk
        return bool(chunk)

    def read_head(self) -> tuple[str, str, dict[str, str]] | None:
        """The next request line and headers; ``None`` when the client closed first."""
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            if len(self._buf) > _MAX_HEAD or not self._fill():
                return None
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 4]
        first, *rest = head.split("\r\n")
        method, path, _version = first.split(" ", 2)
        headers: dict[str, str] = {}
        for line in rest:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return method, path, headers

    def read_exact(self, n: int) -> bytes | None:
        while len(self._buf) < n:
            if not self._fill():
                return None
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def read_request(self) -> RawRequest | None:
        """The next whole request (``Content-Length`` bodies), recorded by the server; ``None``
        when the client closed the connection."""
        head = self.read_head()
        if head is None:
            return None
        method, path, headers = head
        body = self.read_exact(int(headers.get("content-length") or 0))
        if body is None:
            return None
        request = RawRequest(method, path, headers, body, self.index, time.monotonic())
        self.server.record(request)
        return request

    def requests(self) -> Iterator[RawRequest]:
        """Every request of this connection until the client closes it."""
        while (request := self.read_request()) is not None:
            yield request

    def send(self, data: bytes) -> bool:
        """Writes ``data``; ``False`` when the client has gone."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def drain(self, limit: int, timeout: float) -> int:
        """Reads and discards up to ``limit`` bytes within ``timeout`` seconds; the count."""
        got = len(self._buf)
        self._buf.clear()
        deadline = time.monotonic() + timeout
        with contextlib.suppress(OSError):
            while got < limit and (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                chunk = self.sock.recv(min(256 * 1024, limit - got))
                if not chunk:
                    break
                got += len(chunk)
        return got

    def shutdown_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


Handler = Callable[[Peer], None]


class RawServer(_Background):
    """A loopback HTTP/1.1 server driven by ``handler(peer)``, one thread per connection.

    Records every request read through :meth:`Peer.read_request` (``requests``, across all
    connections) and counts connections. A handler that returns closes its connection."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._peers: list[Peer] = []
        self.requests: list[RawRequest] = []
        #: Exceptions raised by handlers (a test may assert there were none).
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._accept, name="raw-server", daemon=True)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._peers)

    def record(self, request: RawRequest) -> int:
        """Keeps ``request``; its 1-based number among all requests of the server."""
        with self._lock:
            self.requests.append(request)
            return len(self.requests)

    def number(self, request: RawRequest) -> int:
        """The 1-based arrival number of a recorded request."""
        with self._lock:
            return next(i for i, r in enumerate(self.requests, 1) if r is request)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                peer = Peer(self, sock, len(self._peers))
                self._peers.append(peer)
            threading.Thread(target=self._serve, args=(peer,), daemon=True).start()

    def _serve(self, peer: Peer) -> None:
        try:
            self._handler(peer)
        except OSError:
            pass  # the client went away: normal for these faults
        except BaseException as exc:  # a handler bug: report it to the test
            self.errors.append(exc)
        finally:
            peer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for peer in self._peers:
                with contextlib.suppress(OSError):
                    peer.sock.shutdown(socket.SHUT_RDWR)
                peer.close()
        self._sock.close()


def stream_huge_body(peer: Peer, total: int, framing: str, *, prefix: bytes = b"") -> int:
    """Answers 200 with a body of ``total`` bytes made up on the fly (``prefix`` first, then
    ``x``), never holding more than a MiB. ``framing``: ``"length"`` (``Content-Length``),
    ``"chunked"`` or ``"sse"`` (chunked ``text/event-stream``). Stops as soon as the client
    closes the connection; returns the body bytes written."""
    block = b"x" * MiB
    kind = "text/event-stream" if framing == "sse" else "application/json"
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n"
    framed = f"Content-Length: {total}" if framing == "length" else "Transfer-Encoding: chunked"
    head += framed + "\r\n"
    if not peer.send((head + "\r\n").encode()):
        return 0
    sent = 0
    first = prefix
    while sent < total:
        piece = first + block[: min(MiB, total - sent) - len(first)]
        first = b""
        frame = piece if framing == "length" else b"%x\r\n%b\r\n" % (len(piece), piece)
        if not peer.send(frame):
            return sent
        sent += len(piece)
    if framing != "length":
        peer.send(b"0\r\n\r\n")
    return sent

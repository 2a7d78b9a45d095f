"""Fake upstream for the async tests: a fast OpenAI chat server that notices hang-ups.

- A chat completion answers at once, or after the request's ``fake_delay`` seconds (sent
  through ``extra_body``; default ``--delay``). While it waits it watches the client
  connection; when the client (the platform) closes it, the fake stops waiting and records
  (``--record``) a ``disconnected`` line with ``waited`` seconds. An answer actually sent is
  recorded as ``answered``.
- Streams (``stream: true``) send ``fake_chunks`` chunks (default 3) at once, then a
  ``finish_reason`` and ``[DONE]``.
- The listen backlog is large (512) and every connection gets its own thread, so hundreds of
  concurrent requests are accepted at once instead of waiting for SYN retransmits.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import time
from http.server import ThreadingHTTPServer
from typing import Any

from _fake import FakeHandler, chat_chunk, chat_completion, parse_args


class PatientChat(FakeHandler):
    def route(self, body: dict[str, Any]) -> None:
        if self.path != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": "no such route"}})
            return
        model = self.args.model
        if body.get("stream"):
            self.start_sse()
            for i in range(int(body.get("fake_chunks", 3))):
                self.send_event(chat_chunk(model, f"part{i} "))
            self.send_event(chat_chunk(model, None, "stop"))
            self.send_event("[DONE]")
            return
        delay = float(body.get("fake_delay", self.args.delay))
        if delay > 0:
            waited = self._wait_unless_hung_up(delay)
            if waited is not None:
                self.record("disconnected", waited=round(waited, 3))
                self.close_connection = True
                return
        self.send_json(200, chat_completion(model, "a patient answer"))
        if delay > 0:
            self.record("answered", waited=delay)

    def _wait_unless_hung_up(self, delay: float) -> float | None:
        """Sleeps up to ``delay`` s; the seconds waited if the peer closed meanwhile."""
        started = time.monotonic()
        sock = self.connection
        while (left := delay - (time.monotonic() - started)) > 0:
            readable, _, _ = select.select([sock], [], [], min(left, 0.01))
            if readable:
                try:
                    peeked = sock.recv(1, socket.MSG_PEEK)
                except OSError:
                    peeked = b""
                if not peeked:
                    return time.monotonic() - started
                time.sleep(0.01)  # pipelined bytes: not a hang-up, keep waiting
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main() -> None:
    PatientChat.args = parse_args()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ["PORT"])
    server = Server((host, port), PatientChat)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake upstream PatientChat listening on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

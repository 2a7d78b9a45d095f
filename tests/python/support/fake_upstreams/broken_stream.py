"""Fake upstream: breaks off. A stream sends one chunk (no ``finish_reason``) and then drops
the connection; a plain completion drops the connection without answering."""

from __future__ import annotations

import socket
import time
from typing import Any

from _fake import FakeHandler, chat_chunk, serve


class BrokenStream(FakeHandler):
    def route(self, body: dict[str, Any]) -> None:
        if body.get("stream"):
            self.start_sse()
            self.send_event(chat_chunk(self.args.model, "partial "))
            time.sleep(0.1)
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


if __name__ == "__main__":
    serve(BrokenStream)

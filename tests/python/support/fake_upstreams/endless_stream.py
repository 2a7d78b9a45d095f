"""Fake upstream: a chat stream that never ends on its own.

Streams one chunk every 50 ms for up to 60 s and records (``--record``) when the client goes
away, which proves that closing a stream in the SDK really releases the connection all the
way to the workload process.
"""

from __future__ import annotations

import time
from typing import Any

from _fake import FakeHandler, chat_chunk, chat_completion, serve


class EndlessStream(FakeHandler):
    def route(self, body: dict[str, Any]) -> None:
        model = self.args.model
        if not body.get("stream"):
            self.send_json(200, chat_completion(model, "not streamed"))
            return
        self.start_sse()
        deadline = time.monotonic() + 60
        sent = 0
        try:
            while time.monotonic() < deadline:
                self.send_event(chat_chunk(model, f"tick{sent} "))
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            self.record("disconnected", chunks_sent=sent)
            return
        self.record("finished", chunks_sent=sent)


if __name__ == "__main__":
    serve(EndlessStream)

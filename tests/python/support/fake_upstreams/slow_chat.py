"""Fake upstream: a correct OpenAI-compatible chat server that takes its time.

Every chat completion answers after ``--delay`` seconds (e.g. ``--delay 0.2``; default 0),
or after the request's ``fake_delay`` (sent through ``extra_body``). Requests are served
concurrently, so N parallel calls take about one delay, not N. Streams send ``fake_chunks``
chunks (default 3), one per delay, then a ``finish_reason`` and ``[DONE]``.
"""

from __future__ import annotations

import time
from typing import Any

from _fake import FakeHandler, chat_chunk, chat_completion, serve


class SlowChat(FakeHandler):
    def route(self, body: dict[str, Any]) -> None:
        if self.path != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": "no such route"}})
            return
        delay = float(body.get("fake_delay", self.args.delay))
        model = self.args.model
        if not body.get("stream"):
            time.sleep(delay)
            self.send_json(200, chat_completion(model, "a slow but correct answer"))
            return
        self.start_sse()
        for i in range(int(body.get("fake_chunks", 3))):
            time.sleep(delay)
            self.send_event(chat_chunk(model, f"part{i} "))
        self.send_event(chat_chunk(model, None, "stop"))
        self.send_event("[DONE]")


if __name__ == "__main__":
    serve(SlowChat)

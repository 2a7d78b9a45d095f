"""Fake upstream: answers every chat completion with 200 and a body that is not JSON
(the platform must turn that into 502 ``upstream_error``)."""

from __future__ import annotations

from typing import Any

from _fake import FakeHandler, serve


class GarbageChat(FakeHandler):
    def route(self, body: dict[str, Any]) -> None:
        self.send_raw(200, b"<html>this is {not json", "application/json")


if __name__ == "__main__":
    serve(GarbageChat)

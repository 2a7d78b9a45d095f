"""Fake upstream: accepts chat completions and never answers them (the platform must give
up after its upstream timeout with 504 ``upstream_timeout``)."""

from __future__ import annotations

import time
from typing import Any

from _fake import FakeHandler, serve


class HangChat(FakeHandler):
    def route(self, body: dict[str, Any]) -> None:
        time.sleep(3600)


if __name__ == "__main__":
    serve(HangChat)

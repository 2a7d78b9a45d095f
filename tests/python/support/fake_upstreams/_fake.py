"""Shared plumbing of the fault-injection fake upstreams (run by the local platform as a
workload's ``config.command``; stdlib only, so any interpreter runs them).

A fake listens on ``$HOST:$PORT`` (set by the platform), answers the readiness probes
(``GET /health``, ``GET /v1/models``) like a real OpenAI-compatible server, and hands every
``POST /v1/...`` to a ``route`` method of its handler. ``--record FILE`` appends one JSON line
per event (request received, client disconnected, ...) so tests can see what the platform
really sent upstream.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

_record_lock = threading.Lock()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--record", default=None, help="append one JSON line per event here")
    parser.add_argument("--model", default="fake-upstream-model", help="the served model id")
    return parser.parse_args(argv)


def chat_completion(model: str, text: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def chat_chunk(model: str, text: str | None, finish_reason: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


class FakeHandler(BaseHTTPRequestHandler):
    """Readiness probes and JSON/SSE helpers; subclasses implement :meth:`route`."""

    protocol_version = "HTTP/1.1"
    args: ClassVar[argparse.Namespace]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- recording -----------------------------------------------------------------------

    def record(self, event: str, **fields: Any) -> None:
        path = self.args.record
        if not path:
            return
        line = json.dumps({"event": event, "path": self.path, "t": time.time(), **fields})
        with _record_lock, open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    # -- answering -----------------------------------------------------------------------

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_raw(status, body, "application/json")

    def send_raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_sse(self) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def send_event(self, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            value = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    # -- routes --------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            model = {"id": self.args.model, "object": "model", "owned_by": "fake"}
            self.send_json(200, {"object": "list", "data": [model]})
        else:
            self.send_json(404, {"error": {"message": "no such route"}})

    def do_POST(self) -> None:
        body = self.read_json()
        self.record("request", stream=bool(body.get("stream")), model=body.get("model"))
        self.route(body)

    def route(self, body: dict[str, Any]) -> None:
        raise NotImplementedError


def serve(handler: type[FakeHandler], argv: list[str] | None = None) -> None:
    """Serves ``handler`` on ``$HOST:$PORT`` until SIGTERM."""
    handler.args = parse_args(argv)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ["PORT"])
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake upstream {handler.__name__} listening on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()

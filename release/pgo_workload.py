"""The client run a profile-guided build of the native library is trained on (release/pgo.sh).

Imports the SDK (the instrumented build, first on ``sys.path``) and drives what a client
process does most: blocking calls, embeddings (list and numpy when installed), rerank,
streams, async calls at concurrency 64, ``ensure()`` no-ops, and a few error answers. The
answers come from a standard-library HTTP/1.1 server in this process, serving the
benchmarks' canned bodies (benches/), so the profile counts only the client's code: the
native library in this process never serves.

    python release/pgo_workload.py
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import sys
import threading
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(ROOT, "benches"))

import bench  # noqa: E402 - benches/ is on the path only now
import bench_ensure  # noqa: E402
import bench_stream  # noqa: E402

KEY = bench.KEY
SDK_TOKEN = bench_ensure.SDK_TOKEN
PROJECT = bench.PROJECT
RERANK_BODY = json.dumps(
    {
        "model": "rerank",
        "results": [
            {"index": 1, "relevance_score": 0.9, "document": {"text": "b"}},
            {"index": 0, "relevance_score": 0.1, "document": {"text": "a"}},
        ],
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
).encode()
RATE_LIMITED = json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}).encode()

BLOCKING_CALLS = 3000
ASYNC_CALLS = 1000
STREAMS = 40


def answers() -> dict[tuple[str, str], tuple[int, str, bytes]]:
    """(method, path) -> (status, content type, body)."""
    data = f"/endpoint/{PROJECT}/{bench.SLUG}/v1"
    json_type = "application/json"
    return {
        ("POST", f"{data}/chat/completions"): (200, json_type, bench.chat_body()),
        ("POST", f"{data}/embeddings"): (200, json_type, bench.embeddings_body()),
        ("POST", f"{data}/rerank"): (200, json_type, RERANK_BODY),
        ("POST", f"/endpoint/{PROJECT}/limited/v1/chat/completions"): (
            429,
            json_type,
            RATE_LIMITED,
        ),
        ("POST", bench_stream.PATH): (200, "text/event-stream", bench_stream.sse_body()),
        ("GET", bench_ensure.LIST_PATH): (200, json_type, bench_ensure.list_body()),
    }


def serve() -> str:
    table = answers()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, kind, body = table.get(
                (self.command, self.path.split("?")[0]), (404, "application/json", b"{}")
            )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Request-Id", "0" * 32)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # the async client opens 64 connections at once

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def blocking(base: str) -> None:
    from inferencekey import DataClient, InferenceKeyError, ManagementClient, WorkloadSpec

    data = DataClient(project=PROJECT, base_url=base, api_key=KEY, max_retries=0)
    ep = data.endpoint(bench.SLUG)
    for _ in range(BLOCKING_CALLS):
        assert ep.generate_text(prompt="Hi", max_tokens=16).text
    for _ in range(20):
        assert len(ep.embed(input=bench.INPUTS).embeddings) == bench.EMBED_ROWS
        assert ep.rerank(query="q", documents=["a", "b"]).results
    try:
        import numpy  # noqa: F401
    except ImportError:
        pass
    else:
        for _ in range(20):
            ep.embed(input=bench.INPUTS, as_numpy=True)
    for _ in range(STREAMS):
        stream = bench_stream.make_stream("ours", base)
        assert "".join(stream()) == bench_stream.EXPECTED
    limited = data.endpoint("limited")
    for _ in range(20):
        with contextlib.suppress(InferenceKeyError):
            limited.generate_text(prompt="Hi", max_tokens=16)
    manage = ManagementClient(base_url=base, sdk_token=SDK_TOKEN, project=PROJECT)
    spec = WorkloadSpec(**bench_ensure.spec_fields())
    for _ in range(50):
        assert manage.ensure(spec).action == "unchanged"


async def concurrent(base: str) -> None:
    from inferencekey import AsyncDataClient

    data = AsyncDataClient(project=PROJECT, base_url=base, api_key=KEY)
    ep = data.endpoint(bench.SLUG)
    gate = asyncio.Semaphore(64)

    async def call() -> None:
        async with gate:
            assert (await ep.generate_text(prompt="Hi", max_tokens=16)).text

    await asyncio.gather(*(call() for _ in range(ASYNC_CALLS)))
    await asyncio.gather(*(ep.embed(input=bench.INPUTS) for _ in range(10)))
    streams = data.endpoint(bench_stream.SLUG)
    for _ in range(STREAMS // 4):
        async for _chunk in await streams.generate_text_stream(prompt="Hi", max_tokens=16):
            pass


def main() -> None:
    base = serve()
    blocking(base)
    asyncio.run(concurrent(base))
    print(f"pgo workload: {BLOCKING_CALLS} blocking + {ASYNC_CALLS} async calls, streams, ensure")


if __name__ == "__main__":
    main()

"""2,000 generate_text calls at concurrency 64: AsyncDataClient against a raw asyncio floor.

The floor is the least an asyncio program must do for the same answers: 64 keep-alive
connections (asyncio streams), each sending a prebuilt minimal HTTP/1.1 request, reading the
headers and Content-Length bytes of body, and ``json.loads``-ing it. openai.AsyncOpenAI runs
too, for reference. Run by benches/run.sh against its nginx answerer; each client runs in its
own process, rounds interleaved, medians taken. A benchmark, not a test: it never fails on
the numbers. Only the standard library and _rounds.py are imported at the top: every
interpreter runs it.

    python bench_async_floor.py run --base URL --py-ours PY --py-peers PY [--rounds 3] [--json F]
    python bench_async_floor.py worker --base URL --client ours|floor|openai
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from _rounds import client_list, ratio, row, worker_rounds, write_rows

PROJECT, SLUG = "acme", "bench"
KEY = "ik_live_1a2b3c4d_" + "0123456789abcdef" * 4
CHAT_PATH = f"/endpoint/{PROJECT}/{SLUG}/v1/chat/completions"
CHAT_TEXT = "Hello! How can I help you today?"
CALLS = 2000
CONCURRENCY = 64
BATCHES = 5
CLIENTS = ("ours", "floor", "openai")
LABELS = {"ours": "AsyncDataClient", "floor": "raw asyncio floor", "openai": "openai.AsyncOpenAI"}


async def _floor_caller(base: str) -> Callable[[], Awaitable[str]]:
    """One call over a pool of CONCURRENCY keep-alive connections, each used by one call at a
    time (as a client's pool does)."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps(
        {"model": SLUG, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}
    ).encode()
    request = (
        f"POST {CHAT_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = [
        await asyncio.open_connection(host, port) for _ in range(CONCURRENCY)
    ]

    async def call() -> str:
        reader, writer = idle.pop()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if head[9:12] != b"200":
                raise RuntimeError(f"status {head[9:12].decode()}")
            lower = head.lower()
            at = lower.index(b"\r\ncontent-length:") + 17
            length = int(lower[at : lower.index(b"\r\n", at)])
            reply = json.loads(await reader.readexactly(length))
        finally:
            idle.append((reader, writer))
        return str(reply["choices"][0]["message"]["content"])

    return call


async def _caller(base: str, client: str) -> Callable[[], Awaitable[str]]:
    if client == "ours":
        from inferencekey import AsyncDataClient

        ep = AsyncDataClient(project=PROJECT, base_url=base, api_key=KEY).endpoint(SLUG)

        async def call() -> str:
            return (await ep.generate_text(prompt="Hi", max_tokens=16)).text

        return call
    if client == "openai":
        from openai import AsyncOpenAI

        oai = AsyncOpenAI(base_url=f"{base}/endpoint/{PROJECT}/{SLUG}/v1", api_key=KEY)

        async def call() -> str:
            reply = await oai.chat.completions.create(
                model=SLUG, messages=[{"role": "user", "content": "Hi"}], max_tokens=16
            )
            return reply.choices[0].message.content or ""

        return call
    return await _floor_caller(base)


async def _batches(base: str, client: str, batches: int) -> list[float]:
    """Seconds per batch of CALLS calls run by CONCURRENCY tasks, after one warm-up batch."""
    call = await _caller(base, client)

    async def batch() -> None:
        left = CALLS

        async def task() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                text = await call()
                if text != CHAT_TEXT:
                    raise SystemExit(f"{client}: answer {text!r}")

        await asyncio.gather(*(task() for _ in range(CONCURRENCY)))

    times = []
    for n in range(batches + 1):
        started = time.perf_counter()
        await batch()
        if n:  # the first batch opens the connections and warms up
            times.append(time.perf_counter() - started)
    return times


def worker(args: argparse.Namespace) -> None:
    times = asyncio.run(_batches(args.base, args.client, args.batches))
    print(json.dumps({"client": args.client, "batch_ms": statistics.median(times) * 1e3}))


def run(args: argparse.Namespace) -> None:
    pythons = {"ours": args.py_ours, "floor": args.py_peers, "openai": args.py_peers}
    clients = client_list(args.clients)
    rounds = worker_rounds(
        __file__, pythons, clients, args.rounds, args.base,
        lambda name, result: f"{name:<7} {result['batch_ms']:9.1f} ms", batches=args.batches,
    )  # fmt: skip
    results = {name: [r["batch_ms"] for r in rounds[name]] for name in clients}
    med = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{CALLS} generate_text calls at concurrency {CONCURRENCY} (median of {args.rounds})")
    for name in clients:
        spread = max(results[name]) - min(results[name])
        print(
            f"  {LABELS[name]:20} {med[name]:9.1f} ms  (spread {spread:6.1f} ms,"
            f" {med[name] / CALLS * 1e3:6.1f} us/call)"
        )
    rows = []
    for peer, goal in (("floor", 1.2), ("openai", None)):
        if "ours" in med and peer in med:
            value = ratio(med["ours"], med[peer])
            goal_text = f"   (goal <= {goal})" if goal else ""
            print(f"  ratio ours / {peer:<7} {value:6.2f}x{goal_text}")
            if goal:
                rows.append(
                    row(
                        f"async {CALLS} calls at concurrency {CONCURRENCY}",
                        ours=med["ours"],
                        peer=LABELS[peer],
                        peer_value=med[peer],
                        ratio=value,
                        goal=f"<= {goal}",
                        unit="ms",
                    )
                )
    write_rows(args.json, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--base", required=True)
    w.add_argument("--client", required=True, choices=CLIENTS)
    w.add_argument("--batches", type=int, default=BATCHES)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--py-ours", required=True)
    r.add_argument("--py-peers", required=True)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--batches", type=int, default=BATCHES)
    r.add_argument("--clients", default=",".join(CLIENTS))
    r.add_argument("--json", default=None, help="write the goal rows here")
    args: Any = parser.parse_args(argv)
    (worker if args.command == "worker" else run)(args)


if __name__ == "__main__":
    main(sys.argv[1:])

"""256 concurrent generate_text calls: AsyncDataClient against openai.AsyncOpenAI.

Run by benches/run.sh after the per-call benchmark, against the same nginx answerer. Each
client runs in its own process (interleaved rounds, median taken); prints the ratio. A
benchmark, not a test: it never fails on the numbers.

    python bench_async.py run --base URL --py-ours PY --py-peers PY [--rounds 3]
    python bench_async.py worker --base URL --client ours|openai
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from _rounds import ratio, worker_rounds

PROJECT, SLUG = "acme", "bench"
KEY = "ik_live_1a2b3c4d_" + "0" * 64
CONCURRENCY = 256
BATCHES = 5


async def _batches(base: str, client: str) -> list[float]:
    """Seconds per batch of CONCURRENCY calls, after one warm-up batch."""
    if client == "ours":
        from inferencekey import AsyncDataClient

        ep = AsyncDataClient(project=PROJECT, base_url=base, api_key=KEY).endpoint(SLUG)

        async def call() -> str:
            return (await ep.generate_text(prompt="Hi", max_tokens=16)).text

    else:
        from openai import AsyncOpenAI

        oai = AsyncOpenAI(base_url=f"{base}/endpoint/{PROJECT}/{SLUG}/v1", api_key=KEY)

        async def call() -> str:
            reply = await oai.chat.completions.create(
                model=SLUG, messages=[{"role": "user", "content": "Hi"}], max_tokens=16
            )
            return reply.choices[0].message.content or ""

    times = []
    for batch in range(BATCHES + 1):
        started = time.perf_counter()
        texts = await asyncio.gather(*(call() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        if not all(texts):
            raise SystemExit(f"{client}: an empty answer")
        if batch:  # the first batch opens the connections
            times.append(elapsed)
    return times


def worker(args: argparse.Namespace) -> None:
    times = asyncio.run(_batches(args.base, args.client))
    print(json.dumps({"client": args.client, "batch_s": statistics.median(times)}))


def run(args: argparse.Namespace) -> None:
    pythons = {"ours": args.py_ours, "openai": args.py_peers}
    rounds = worker_rounds(__file__, pythons, list(pythons), args.rounds, args.base)
    results = {name: [r["batch_s"] for r in rounds[name]] for name in pythons}
    ours, openai = (statistics.median(results[n]) for n in ("ours", "openai"))
    print(f"\n{CONCURRENCY} concurrent generate_text calls (median batch, {args.rounds} rounds)")
    for label, seconds in (("AsyncDataClient", ours), ("openai.AsyncOpenAI", openai)):
        per_call = seconds / CONCURRENCY * 1e6
        print(f"  {label:20} {seconds * 1000:9.1f} ms   ({per_call:6.1f} us/call)")
    print(f"  ratio ours / openai  {ratio(ours, openai):9.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--base", required=True)
    w.add_argument("--client", required=True, choices=["ours", "openai"])
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--py-ours", required=True)
    r.add_argument("--py-peers", required=True)
    r.add_argument("--rounds", type=int, default=3)
    args: Any = parser.parse_args(argv)
    (worker if args.command == "worker" else run)(args)


if __name__ == "__main__":
    main(sys.argv[1:])

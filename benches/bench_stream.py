"""Streaming benchmark: time to first chunk and time per chunk of a blocking chat stream.

This SDK vs the reference SDK, openai and raw httpx (``iter_lines`` + ``json.loads``), each
in its own process, against nginx serving one canned `text/event-stream` body of CHUNKS
events (see run.sh). Rounds are interleaved (the order rotates); each worker opens STREAMS
streams and reports the medians of its time to first chunk (open included) and of its time
per chunk after the first. Ratios are medians over rounds of the per-round ratios.

    bench_stream.py body --dir WORK            writes WORK/www/<path> (the SSE body)
    bench_stream.py run --base URL --py-ours PY --py-ref PY --py-peers PY [--json FILE]

Standard library and _rounds.py only at the top: every interpreter runs this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from _rounds import client_list, median_of, median_ratio, met, row, worker_rounds, write_rows

PROJECT = "acme"
SLUG = "stream"
KEY = "ik_live_1a2b3c4d_" + "0123456789abcdef" * 4
PATH = f"/endpoint/{PROJECT}/{SLUG}/v1/chat/completions"
CHUNKS = 200
CLIENTS = ("ours", "reference", "openai", "httpx")
LABELS = {
    "ours": "inferencekey (this)",
    "reference": "inferencekey (reference)",
    "openai": "openai",
    "httpx": "httpx iter_lines",
}


def piece(i: int) -> str:
    return f"tok{i} "


def sse_body() -> bytes:
    events = []
    for i in range(CHUNKS):
        last = i == CHUNKS - 1
        event = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1764979200,
            "model": SLUG,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": piece(i)}
                    if i == 0
                    else {"content": piece(i)},
                    "logprobs": None,
                    "finish_reason": "stop" if last else None,
                }
            ],
        }
        events.append(b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


EXPECTED = "".join(piece(i) for i in range(CHUNKS))


def write_body(directory: str) -> None:
    target = os.path.join(directory, "www", PATH.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(sse_body())


def make_stream(name: str, base: str) -> Any:
    """A function that opens one stream and returns an iterator of text pieces."""
    v1 = f"{base}/endpoint/{PROJECT}/{SLUG}/v1"
    messages = [{"role": "user", "content": "Hi"}]
    if name in ("ours", "reference"):
        from inferencekey import DataClient

        ep = DataClient(project=PROJECT, base_url=base, api_key=KEY).endpoint(SLUG)

        def ik() -> Any:
            return (c.text for c in ep.generate_text_stream(prompt="Hi", max_tokens=16))

        return ik
    if name == "openai":
        from openai import OpenAI

        create = OpenAI(base_url=v1, api_key=KEY).chat.completions.create

        def oa() -> Any:
            stream = create(model=SLUG, messages=messages, max_tokens=16, stream=True)
            return (c.choices[0].delta.content or "" for c in stream if c.choices)

        return oa
    if name == "httpx":
        import httpx

        client = httpx.Client(headers={"Authorization": f"Bearer {KEY}"})
        url = f"{v1}/chat/completions"
        body = {"model": SLUG, "messages": messages, "max_tokens": 16, "stream": True}
        loads = json.loads

        def hx() -> Any:
            with client.stream("POST", url, json=body) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line[6:]
                    if data == "[DONE]":
                        return
                    event = loads(data)
                    yield event["choices"][0]["delta"].get("content") or ""

        return hx
    raise SystemExit(f"unknown client {name!r}")


def worker(args: argparse.Namespace) -> None:
    open_stream = make_stream(args.client, args.base)
    text = "".join(open_stream())
    if text != EXPECTED:
        raise SystemExit(f"{args.client}: streamed text differs ({text[:40]!r}...)")
    clock = time.perf_counter_ns
    firsts: list[int] = []
    per_chunk: list[float] = []
    deadline = time.monotonic() + args.budget
    for i in range(args.warmup + args.streams):
        started = clock()
        pieces = open_stream()
        next(pieces)
        first = clock()
        n = 1
        for _ in pieces:
            n += 1
        ended = clock()
        if n != CHUNKS:
            raise SystemExit(f"{args.client}: {n} chunks, not {CHUNKS}")
        if i >= args.warmup:
            firsts.append(first - started)
            per_chunk.append((ended - first) / (n - 1))
        if time.monotonic() > deadline and len(firsts) >= 5:
            break
    print(
        json.dumps(
            {
                "client": args.client,
                "streams": len(firsts),
                "first_us": statistics.median(firsts) / 1e3,
                "chunk_us": statistics.median(per_chunk) / 1e3,
            }
        )
    )


def orchestrate(args: argparse.Namespace) -> None:
    pythons = {
        "ours": args.py_ours,
        "reference": args.py_ref,
        "openai": args.py_peers,
        "httpx": args.py_peers,
    }

    def describe(client: str, result: dict[str, Any]) -> str:
        return (
            f"{client:<9} first chunk {result['first_us']:8.1f} us"
            f"  per chunk {result['chunk_us']:6.2f} us (n={result['streams']} streams of {CHUNKS})"
        )

    clients = client_list(args.clients)
    rounds = worker_rounds(
        __file__, pythons, clients, args.rounds, args.base, describe, streams=args.streams,
        warmup=args.warmup, budget=args.budget,
    )  # fmt: skip

    def med(client: str, key: str) -> float:
        return median_of(rounds[client], key)

    def mratio(a: str, b: str, key: str) -> float:
        return median_ratio(rounds[a], rounds[b], key)

    print()
    print(f"Stream of {CHUNKS} chunks: median of {args.rounds} rounds; answerer {args.base}")
    print(f"{'client':<26} {'first chunk':>12} {'per chunk':>10}")
    for c in clients:
        print(f"{LABELS[c]:<26} {med(c, 'first_us'):>9.1f} us {med(c, 'chunk_us'):>7.2f} us")
    goals = [
        ("stream first chunk", "first_us", "reference", "<= 1.0"),
        ("stream per chunk", "chunk_us", "reference", "<= 1.0"),
        ("stream per chunk", "chunk_us", "httpx", "<= 1.5"),
    ]
    rows = []
    print()
    print("Targets (ratio of times, median of rounds):")
    for path, key, peer, goal in goals:
        if "ours" not in rounds or peer not in rounds:
            continue
        value = mratio("ours", peer, key)
        rows.append(
            row(
                path,
                ours=med("ours", key),
                peer=peer,
                peer_value=med(peer, key),
                ratio=value,
                goal=goal,
                unit="us",
            )
        )
        verdict = "MET" if met(value, goal) else "NOT MET"
        print(f"  {path + ' vs ' + peer:<34} {value:6.2f}x  (goal {goal})  {verdict}")
    if "openai" in rounds and "ours" in rounds:
        print(
            f"  (vs openai: first chunk {mratio('ours', 'openai', 'first_us'):.2f}x,"
            f" per chunk {mratio('ours', 'openai', 'chunk_us'):.2f}x)"
        )
    write_rows(args.json, rows)
    if args.json:
        print(f"rows written to {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("body")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("worker")
    p.add_argument("--client", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--budget", type=float, default=20.0)
    p = sub.add_parser("run")
    p.add_argument("--base", required=True)
    p.add_argument("--py-ours", required=True)
    p.add_argument("--py-ref", required=True)
    p.add_argument("--py-peers", required=True)
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--budget", type=float, default=20.0)
    p.add_argument("--json")
    args = parser.parse_args()
    if args.command == "body":
        write_body(args.dir)
    elif args.command == "worker":
        worker(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()

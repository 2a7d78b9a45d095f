"""Per-call and embed benchmark of this SDK against its peers, on one local answerer.

Not a test: it measures and prints, and never fails on a threshold. ``benches/run.sh`` sets
up the answerer (nginx serving canned bodies) and the interpreters, then runs ``run``.

Subcommands (each client runs in its own process, with its own interpreter):

- ``bodies --dir D``: writes the canned chat completion and embeddings bodies under ``D/www``.
- ``worker --client NAME --base URL``: measures one client (each chat call alternating with
  one of the raw-socket floor in the same process), prints one JSON line.
- ``run --base URL --py-ours P --py-ref P --py-peers P``: interleaves workers in rounds,
  prints the table and the ratios, writes ``--json``.
- ``profile --client NAME --base URL``: cProfile of one client's loops (stats to stdout).

Only the standard library and _rounds.py are imported at the top: every interpreter can
run this file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from _rounds import (
    client_list,
    median_of,
    median_ratio,
    quantile,
    ratio,
    row,
    timed,
    worker_rounds,
    write_rows,
)

PROJECT = "acme"
SLUG = "bench"
KEY = "ik_live_1a2b3c4d_" + "0123456789abcdef" * 4
CHAT_PATH = f"/endpoint/{PROJECT}/{SLUG}/v1/chat/completions"
EMBED_PATH = f"/endpoint/{PROJECT}/{SLUG}/v1/embeddings"
EMBED_ROWS = 256
EMBED_DIM = 384
SEED = 20260725
CHAT_TEXT = "Hello! How can I help you today?"
# 256 inputs of realistic length (about 60-90 characters each).
INPUTS = [
    f"Document {i}: the quick brown fox jumps over the lazy dog, "
    f"variation {i * 7919 % 1000} of the benchmark corpus."
    for i in range(EMBED_ROWS)
]
CLIENTS = ("ours", "reference", "openai", "httpx", "raw")
LABELS = {
    "ours": "this SDK",
    "reference": "reference SDK (PyPI)",
    "openai": "openai",
    "httpx": "httpx",
    "raw": "raw-socket floor",
}


# --------------------------------------------------------------------------------------------
# Canned bodies


def _f32_text(value: float) -> str:
    """The shortest text that reads back as the same float32, as embedding servers print
    their float32 outputs (about 8 significant digits)."""
    f = struct.unpack("<f", struct.pack("<f", value))[0]
    for digits in range(6, 10):
        text = "%.*g" % (digits, f)  # noqa: UP031 - %.*g is the point
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == f:
            return text
    return repr(f)


def chat_body() -> bytes:
    body = {
        "id": "chatcmpl-9d3c6f2a1b8e4c7d9a0b1c2d3e4f5a6b",
        "object": "chat.completion",
        "created": 1753430400,
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": CHAT_TEXT, "tool_calls": []},
                "logprobs": None,
                "finish_reason": "stop",
                "stop_reason": None,
            }
        ],
        "usage": {"prompt_tokens": 11, "total_tokens": 20, "completion_tokens": 9},
        "prompt_logprobs": None,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def embeddings_body() -> bytes:
    """256 unit vectors of 384 float32 values, from a fixed seed, in OpenAI's shape."""
    rng = random.Random(SEED)
    items = []
    for index in range(EMBED_ROWS):
        vector = [rng.gauss(0.0, 1.0) for _ in range(EMBED_DIM)]
        norm = sum(v * v for v in vector) ** 0.5
        numbers = ",".join(_f32_text(v / norm) for v in vector)
        items.append(f'{{"object":"embedding","index":{index},"embedding":[{numbers}]}}')
    tokens = sum(len(text.split()) for text in INPUTS)
    return (
        '{"id":"embd-5f0e3c2b9a8d4e7f","object":"list","created":1753430400,'
        '"model":"intfloat/multilingual-e5-small","data":['
        + ",".join(items)
        + f'],"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens},'
        '"completion_tokens":0}}'
    ).encode()


def write_bodies(directory: str) -> None:
    for path, body in ((CHAT_PATH, chat_body()), (EMBED_PATH, embeddings_body())):
        target = os.path.join(directory, "www", path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(body)
        print(f"  {path}: {len(body)} bytes")


# --------------------------------------------------------------------------------------------
# The raw-socket floor: the least a Python client must do to return the decoded answer.


class RawClient:
    """A blocking HTTP/1.1 keep-alive client for one server: sends prebuilt requests, reads
    the headers to the blank line, then Content-Length bytes, and ``json.loads`` them."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = f"{host}:{port}"
        self.pending = b""

    def request(self, path: str, payload: Any) -> bytes:
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def call(self, request: bytes) -> Any:
        sock = self.sock
        sock.sendall(request)
        data = self.pending
        end = data.find(b"\r\n\r\n")
        while end < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
            end = data.find(b"\r\n\r\n")
        if data[9:12] != b"200":
            raise RuntimeError(f"status {data[9:12].decode()}")
        head = data[:end].lower()
        at = head.index(b"\r\ncontent-length:") + 17
        length = int(head[at : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
        start = end + 4
        have = len(data) - start
        body: bytes | bytearray
        if have >= length:
            body = data[start : start + length]
            self.pending = data[start + length :]
        else:
            buf = bytearray(length)
            buf[:have] = data[start:]
            view = memoryview(buf)
            while have < length:
                n = sock.recv_into(view[have:])
                if not n:
                    raise ConnectionError("the server closed the connection")
                have += n
            body = buf
            self.pending = b""
        return json.loads(body)


# --------------------------------------------------------------------------------------------
# Clients: (one chat call, one embed call, text of a chat result, vectors of an embed result)

Call = Callable[[], Any]


Client = tuple[Call, Call, Callable[[Any], str], Callable[[Any], Any]]


def make_client(name: str, base: str) -> Client:
    v1 = f"{base}/endpoint/{PROJECT}/{SLUG}/v1"
    messages = [{"role": "user", "content": "Hi"}]
    if name == "ours":
        from inferencekey import DataClient

        ep = DataClient(project=PROJECT, base_url=base, api_key=KEY).endpoint(SLUG)
        return (
            lambda: ep.generate_text(prompt="Hi", max_tokens=16),
            lambda: ep.embed(input=INPUTS),
            lambda r: r.text,
            lambda r: r.embeddings,
        )
    if name == "reference":
        from inferencekey import DataClient

        ep = DataClient(base_url=base, project=PROJECT, api_key=KEY).endpoint(SLUG)
        return (
            lambda: ep.generate_text(prompt="Hi", max_tokens=16),
            lambda: ep.embed(input=INPUTS),
            lambda r: r.text,
            lambda r: r.embeddings,
        )
    if name == "openai":
        from openai import OpenAI

        client = OpenAI(base_url=v1, api_key=KEY)
        create = client.chat.completions.create
        embed = client.embeddings.create
        return (
            lambda: create(model=SLUG, messages=messages, max_tokens=16),
            lambda: embed(model=SLUG, input=INPUTS),
            lambda r: r.choices[0].message.content,
            lambda r: [d.embedding for d in r.data],
        )
    if name == "httpx":
        import httpx

        client = httpx.Client(headers={"Authorization": f"Bearer {KEY}"})
        post = client.post
        chat_url, embed_url = f"{v1}/chat/completions", f"{v1}/embeddings"
        chat = {"model": SLUG, "messages": messages, "max_tokens": 16}
        emb = {"model": SLUG, "input": INPUTS}
        return (
            lambda: post(chat_url, json=chat).raise_for_status().json(),
            lambda: post(embed_url, json=emb).raise_for_status().json(),
            lambda r: r["choices"][0]["message"]["content"],
            lambda r: [d["embedding"] for d in r["data"]],
        )
    if name == "raw":
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        raw = RawClient(parts.hostname or "127.0.0.1", parts.port or 80)
        chat_req = raw.request(CHAT_PATH, {"model": SLUG, "messages": messages, "max_tokens": 16})
        embed_req = raw.request(EMBED_PATH, {"model": SLUG, "input": INPUTS})
        call = raw.call
        return (
            lambda: call(chat_req),
            lambda: call(embed_req),
            lambda r: r["choices"][0]["message"]["content"],
            lambda r: [d["embedding"] for d in r["data"]],
        )
    raise SystemExit(f"unknown client {name!r}")


def check(name: str, text: str, vectors: Any) -> None:
    """A client that returns the wrong answer is not measured."""
    if text != CHAT_TEXT:
        raise SystemExit(f"{name}: chat text {text!r} != {CHAT_TEXT!r}")
    if len(vectors) != EMBED_ROWS or any(len(v) != EMBED_DIM for v in vectors):
        raise SystemExit(f"{name}: embeddings are not {EMBED_ROWS} x {EMBED_DIM}")
    rng = random.Random(SEED)
    vector = [rng.gauss(0.0, 1.0) for _ in range(EMBED_DIM)]
    norm = sum(v * v for v in vector) ** 0.5
    expected = [float(_f32_text(v / norm)) for v in vector]
    if list(vectors[0]) != expected:
        raise SystemExit(f"{name}: the first embedding differs from the canned one")


def timed_with_floor(
    fn: Call, floor: Call, count: int, budget_s: float
) -> tuple[list[int], list[int]]:
    """Like :func:`timed`, alternating each call of ``fn`` with one of ``floor`` (the raw-socket
    client in the same process), so both see the same machine at the same moments."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    floors: list[int] = []
    deadline = clock() + int(budget_s * 1e9)
    for _ in range(count):
        t0 = clock()
        fn()
        t1 = clock()
        floor()
        t2 = clock()
        samples.append(t1 - t0)
        floors.append(t2 - t1)
        if t2 > deadline:
            break
    return samples, floors


def raw_chat(base: str) -> Call:
    """One chat call of the raw-socket floor, on its own connection."""
    chat, _, _, _ = make_client("raw", base)
    return chat


def worker(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    chat, embed, text_of, vectors_of = make_client(args.client, args.base)
    check(args.client, text_of(chat()), vectors_of(embed()))
    floor = raw_chat(args.base)
    timed_with_floor(chat, floor, args.warmup, args.budget)
    per_call, floor_calls = timed_with_floor(chat, floor, args.calls, args.budget)
    timed(embed, 3, args.budget)
    embeds = timed(embed, args.embeds, args.budget)
    print(
        json.dumps(
            {
                "client": args.client,
                "python": sys.version.split()[0],
                "calls": len(per_call),
                "call_median_us": statistics.median(per_call) / 1e3,
                "call_p90_us": quantile(per_call, 0.9) / 1e3,
                "call_mean_us": statistics.fmean(per_call) / 1e3,
                "floor_median_us": statistics.median(floor_calls) / 1e3,
                "embeds": len(embeds),
                "embed_median_ms": statistics.median(embeds) / 1e6,
                "embed_p90_ms": quantile(embeds, 0.9) / 1e6,
                "wall_s": time.perf_counter() - started,
            }
        )
    )


def profile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    chat, embed, text_of, vectors_of = make_client(args.client, args.base)
    check(args.client, text_of(chat()), vectors_of(embed()))
    timed(chat, args.warmup, args.budget)
    for label, fn, count in (("per call", chat, args.calls), ("embed", embed, args.embeds)):
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(count):
            fn()
        prof.disable()
        print(f"\n===== {args.client}: {label} x {count} (cumulative times are totals) =====")
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


# --------------------------------------------------------------------------------------------
# Orchestration


def orchestrate(args: argparse.Namespace) -> None:
    pythons = {
        "ours": args.py_ours,
        "reference": args.py_ref,
        "openai": args.py_peers,
        "httpx": args.py_peers,
        "raw": args.py_peers,
    }
    started = time.perf_counter()

    def describe(client: str, result: dict[str, Any]) -> str:
        return (
            f"{client:<9} per call {result['call_median_us']:8.1f} us"
            f" (p90 {result['call_p90_us']:8.1f}, n={result['calls']},"
            f" floor {result['floor_median_us']:6.1f})"
            f"   embed {result['embed_median_ms']:7.2f} ms (n={result['embeds']})"
        )

    clients = client_list(args.clients)
    rounds = worker_rounds(
        __file__, pythons, clients, args.rounds, args.base, describe, timeout=120,
        calls=args.calls, embeds=args.embeds, warmup=args.warmup, budget=args.budget,
    )  # fmt: skip
    for result in (r for results in rounds.values() for r in results):
        result["call_over_floor"] = ratio(result["call_median_us"], result["floor_median_us"])
    summary = {
        client: {
            key: median_of(results, key)
            for key in ("call_median_us", "call_p90_us", "embed_median_ms", "embed_p90_ms")
        }
        for client, results in rounds.items()
    }
    elapsed = time.perf_counter() - started

    print()
    print(f"Results: median of {args.rounds} rounds (each a fresh process); answerer {args.base}")
    print(f"{'client':<22} {'call median':>12} {'call p90':>10} {'embed 256x384':>14}")
    for client in clients:
        s = summary[client]
        print(
            f"{LABELS[client]:<22} {s['call_median_us']:>9.1f} us {s['call_p90_us']:>7.1f} us"
            f" {s['embed_median_ms']:>11.2f} ms"
        )

    pairs = [
        ("ours", "reference"), ("ours", "raw"), ("ours", "openai"), ("ours", "httpx"),
        ("reference", "openai"), ("reference", "raw"),
    ]  # fmt: skip
    # Per call, every worker times the raw-socket floor too, alternating call by call with its
    # client: a client's time over that floor compares calls made microseconds apart, and two
    # clients compare through their floors, which cancels the machine's drift between workers.
    # Embeds (milliseconds each, far from their targets) compare the workers' medians.
    # Each ratio is the median over rounds.
    ratios: dict[str, dict[str, float]] = {}
    print()
    print(f"{'ratio (time / time), median of rounds':<38} {'per call':>9} {'embed':>9}")
    for a, b in pairs:
        if a not in rounds or b not in rounds:
            continue
        call = median_ratio(rounds[a], rounds[b], "call_over_floor")
        emb = median_ratio(rounds[a], rounds[b], "embed_median_ms")
        ratios[f"{a}/{b}"] = {"call": call, "embed": emb}
        print(f"{a + ' / ' + b:<38} {call:>8.2f}x {emb:>8.2f}x")

    targets = []
    if "ours/reference" in ratios:
        targets.append(("per call <= 0.90x reference SDK", ratios["ours/reference"]["call"], 0.90))
    if "ours/raw" in ratios:
        targets.append(("per call <= 1.20x raw floor", ratios["ours/raw"]["call"], 1.20))
    if "ours/reference" in ratios:
        targets.append(("embed <= 0.25x reference SDK", ratios["ours/reference"]["embed"], 0.25))
    print()
    print("Targets:")
    met = {}
    for label, value, limit in targets:
        ok = value <= limit
        met[label] = {"value": value, "limit": limit, "met": ok}
        print(f"  {label:<34} {value:6.2f}x   {'MET' if ok else 'NOT MET'}")
    print(f"\n(benchmark wall time {elapsed:.0f} s)")

    rows = []
    for path, key, peer, goal in (
        ("per call (generate_text)", "call", "reference", "<= 0.9"),
        ("per call (generate_text)", "call", "raw", "<= 1.2"),
        ("embed 256x384", "embed", "reference", "<= 0.25"),
    ):
        if f"ours/{peer}" in ratios:
            unit = "us" if key == "call" else "ms"
            measured = "call_median_us" if key == "call" else "embed_median_ms"
            rows.append(
                row(
                    path,
                    ours=summary["ours"][measured],
                    peer=LABELS[peer],
                    peer_value=summary[peer][measured],
                    ratio=ratios[f"ours/{peer}"][key],
                    goal=goal,
                    unit=unit,
                )
            )
    write_rows(args.rows, rows)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "base_url": args.base,
                    "rounds": rounds,
                    "summary": summary,
                    "ratios": ratios,
                    "targets": met,
                    "cpus": os.cpu_count(),
                    "settings": {
                        "calls": args.calls,
                        "embeds": args.embeds,
                        "warmup": args.warmup,
                        "budget_s": args.budget,
                    },
                },
                f,
                indent=2,
            )
        print(f"results written to {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bodies")
    p.add_argument("--dir", required=True)
    for name in ("worker", "profile", "run"):
        p = sub.add_parser(name)
        p.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8080")
        p.add_argument("--calls", type=int, default=5000, help="timed generate_text calls")
        p.add_argument("--embeds", type=int, default=40, help="timed embed calls")
        p.add_argument("--warmup", type=int, default=300)
        p.add_argument("--budget", type=float, default=3.0, help="seconds per timed loop, at most")
        if name in ("worker", "profile"):
            p.add_argument("--client", required=True, choices=CLIENTS)
        if name == "profile":
            p.add_argument("--sort", default="tottime")
            p.add_argument("--top", type=int, default=25)
        if name == "run":
            p.add_argument("--py-ours", required=True)
            p.add_argument("--py-ref", required=True)
            p.add_argument("--py-peers", required=True)
            p.add_argument("--rounds", type=int, default=5)
            p.add_argument("--clients", default=",".join(CLIENTS))
            p.add_argument("--json", default=None, help="write the results here")
            p.add_argument("--rows", default=None, help="write the goal ratios here (table.py)")
    args = parser.parse_args()
    if args.command == "bodies":
        write_bodies(args.dir)
    elif args.command == "worker":
        worker(args)
    elif args.command == "profile":
        profile(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()

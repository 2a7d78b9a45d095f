"""embed of 2048 inputs x 1024 dimensions: the numpy view against the list path and peers.

Rows: this SDK's list path (``embed``), its numpy path (``embed(..., as_numpy=True)``),
httpx + orjson (the response decoded by orjson, vectors taken as lists) and the reference
SDK. Both paths of this SDK alternate call by call in one process; each peer runs in its own
process; rounds interleave, medians are taken. ``benches/run.sh`` writes the canned body
(``body``) and serves it with nginx. A benchmark, not a test: it never fails on the numbers.
Only the standard library and _rounds.py are imported at the top: every interpreter runs
this file.

    python bench_embed_numpy.py body --dir D
    python bench_embed_numpy.py run --base URL --py-ours P --py-ref P --py-peers P [--json F]
    python bench_embed_numpy.py worker --base URL --client ours|httpx|reference
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _rounds import client_list, ratio, row, worker_rounds, write_rows
from bench import _f32_text  # the same float32 text as bench.py's bodies

PROJECT, SLUG = "acme", "bench-large"
KEY = "ik_live_1a2b3c4d_" + "0123456789abcdef" * 4
PATH = f"/endpoint/{PROJECT}/{SLUG}/v1/embeddings"
ROWS, DIM = 2048, 1024
SEED = 20260725
INPUTS = [f"Document {i}: the quick brown fox jumps over the lazy dog." for i in range(ROWS)]
CLIENTS = ("ours", "httpx", "reference")


def body() -> bytes:
    """ROWS unit vectors of DIM float32 values in OpenAI's shape, as bench.py's
    ``embeddings_body`` (64 distinct rows, repeated: the body takes seconds to write)."""
    rng = random.Random(SEED)
    texts = []
    for _ in range(64):
        vector = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
        norm = sum(v * v for v in vector) ** 0.5
        texts.append(",".join(_f32_text(v / norm) for v in vector))
    items = [
        f'{{"object":"embedding","index":{i},"embedding":[{texts[i % 64]}]}}' for i in range(ROWS)
    ]
    return (
        '{"id":"embd-5f0e3c2b9a8d4e7f","object":"list","created":1753430400,'
        '"model":"intfloat/e5-large","data":[' + ",".join(items) + '],"usage":'
        f'{{"prompt_tokens":{ROWS * 12},"total_tokens":{ROWS * 12},"completion_tokens":0}}}}'
    ).encode()


def write_body(directory: str) -> None:
    target = os.path.join(directory, "www", PATH.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    data = body()
    with open(target, "wb") as f:
        f.write(data)
    print(f"  {PATH}: {len(data)} bytes")


def _clients(name: str, base: str) -> dict[str, Callable[[], Any]]:
    """Label -> one embed call returning (rows, cols) of what it decoded."""
    if name in ("ours", "reference"):
        from inferencekey import DataClient

        ep = DataClient(project=PROJECT, base_url=base, api_key=KEY).endpoint(SLUG)
        if name == "reference":
            return {"reference": lambda: ep.embed(input=INPUTS).embeddings}
        return {
            "list": lambda: ep.embed(input=INPUTS).embeddings,
            "numpy": lambda: ep.embed(input=INPUTS, as_numpy=True).embeddings,
        }
    import httpx
    import orjson

    client = httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    url, payload = f"{base}{PATH}", {"model": SLUG, "input": INPUTS}

    def call() -> Any:
        data = orjson.loads(client.post(url, json=payload).raise_for_status().content)
        return [d["embedding"] for d in data["data"]]

    return {"httpx": call}


def worker(args: argparse.Namespace) -> None:
    calls = _clients(args.client, args.base)
    for label, call in calls.items():
        vectors = call()
        if len(vectors) != ROWS or any(len(v) != DIM for v in vectors):
            raise SystemExit(f"{label}: not {ROWS} x {DIM}")
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(args.embeds):
        for label, call in calls.items():  # alternate call by call
            started = time.perf_counter()
            call()
            times[label].append((time.perf_counter() - started) * 1e3)
    print(json.dumps({label: statistics.median(t) for label, t in times.items()}))


def run(args: argparse.Namespace) -> None:
    pythons = {"ours": args.py_ours, "httpx": args.py_peers, "reference": args.py_ref}

    def describe(name: str, medians: dict[str, Any]) -> str:
        return "\n".join(f"{label:<9} {ms:8.1f} ms" for label, ms in medians.items())

    clients = client_list(args.clients)
    rounds = worker_rounds(
        __file__, pythons, clients, args.rounds, args.base, describe, timeout=600,
        embeds=args.embeds,
    )  # fmt: skip
    # A worker reports one or more labels (ours: its list and numpy paths).
    results: dict[str, list[float]] = {}
    for name in clients:
        for medians in rounds[name]:
            for label, ms in medians.items():
                results.setdefault(label, []).append(ms)
    med = {label: statistics.median(values) for label, values in results.items()}
    names = {
        "list": "ours, list path",
        "numpy": "ours, as_numpy=True",
        "httpx": "httpx + orjson",
        "reference": "reference SDK",
    }
    print(f"\nembed {ROWS} x {DIM} (median of {args.rounds} rounds x {args.embeds} calls)")
    for label, value in med.items():
        spread = max(results[label]) - min(results[label])
        print(f"  {names[label]:22} {value:9.1f} ms  (spread {spread:6.1f} ms)")
    rows = []
    for ours, peer, goal in (("numpy", "list", 0.6), ("list", "httpx", 1.0)):
        if ours in med and peer in med:
            value = ratio(med[ours], med[peer])
            print(f"  {names[ours]} / {names[peer]}: {value:5.2f}x   (goal <= {goal})")
            rows.append(
                row(
                    f"embed {ROWS}x{DIM} ({names[ours]})",
                    ours=med[ours],
                    peer=names[peer],
                    peer_value=med[peer],
                    ratio=value,
                    goal=f"<= {goal}",
                    unit="ms",
                )
            )
    for ours in ("list", "numpy"):
        if ours in med and "reference" in med:
            print(f"  {names[ours]} / reference SDK: {ratio(med[ours], med['reference']):5.2f}x")
    write_rows(args.json, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("body")
    b.add_argument("--dir", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--base", required=True)
    w.add_argument("--client", required=True, choices=CLIENTS)
    w.add_argument("--embeds", type=int, default=10)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    for name in ("--py-ours", "--py-ref", "--py-peers"):
        r.add_argument(name, required=True)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--embeds", type=int, default=10)
    r.add_argument("--clients", default=",".join(CLIENTS))
    r.add_argument("--json", default=None, help="write the goal rows here")
    args: Any = parser.parse_args(argv)
    if args.command == "body":
        write_body(args.dir)
    else:
        (worker if args.command == "worker" else run)(args)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Blocking calls from 8 threads sharing one endpoint: this SDK against the reference SDK.

Run by benches/run.sh against the same nginx answerer as bench.py. Each client runs in its own
process (a fresh interpreter), in interleaved rounds; throughput is calls per second over all
threads, the median of the rounds is compared. A benchmark, not a test: it never fails on the
numbers.

    python bench_threads.py run --base URL --py-ours PY --py-ref PY [--rounds 5] [--json FILE]
    python bench_threads.py worker --base URL --client ours|reference

Only the standard library and _rounds.py are imported at the top: every interpreter can
run this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

from _rounds import met, ratio, row, worker_rounds, write_rows

PROJECT, SLUG = "acme", "bench"
KEY = "ik_live_1a2b3c4d_" + "0123456789abcdef" * 4
THREADS = 8
GOAL = 1.5  # ours / reference throughput, at least


def worker(args: argparse.Namespace) -> None:
    # Both packages are imported as `inferencekey` (each from its own environment).
    from inferencekey import DataClient

    ep = DataClient(project=PROJECT, base_url=args.base, api_key=KEY).endpoint(SLUG)
    assert ep.generate_text(prompt="Hi", max_tokens=16).text
    start = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(20):  # warm-up: connections in the pool, caches filled
                ep.generate_text(prompt="Hi", max_tokens=16)
            start.wait()
            for _ in range(args.calls):
                ep.generate_text(prompt="Hi", max_tokens=16)
        except BaseException as exc:  # reported below: a failed call must not look fast
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{args.client}: a call failed: {errors[0]!r}")
    print(json.dumps({"client": args.client, "calls_per_s": THREADS * args.calls / elapsed}))


def orchestrate(args: argparse.Namespace) -> None:
    pythons = {"ours": args.py_ours, "reference": args.py_ref}
    rounds = worker_rounds(
        __file__, pythons, list(pythons), args.rounds, args.base,
        lambda name, result: f"{name:<9} {result['calls_per_s']:9.0f} calls/s", calls=args.calls,
    )  # fmt: skip
    results = {name: [r["calls_per_s"] for r in rounds[name]] for name in pythons}
    ours, ref = (statistics.median(results[n]) for n in ("ours", "reference"))
    spread = {n: (min(v), max(v)) for n, v in results.items()}
    print()
    print(f"{THREADS} threads x blocking generate_text, one shared endpoint (median of rounds):")
    for name, label in (("ours", "this SDK"), ("reference", "reference SDK")):
        lo, hi = spread[name]
        med = statistics.median(results[name])
        print(f"  {label:<16} {med:9.0f} calls/s  (rounds {lo:.0f} .. {hi:.0f})")
    value = ratio(ours, ref)
    goal = f">= {GOAL}"
    verdict = "MET" if met(value, goal) else "NOT MET"
    print(f"  throughput ours / reference {value:6.2f}x   (goal {goal}x: {verdict})")
    rows = [
        row(
            f"{THREADS} threads x blocking calls, throughput",
            ours=ours,
            peer="reference SDK",
            peer_value=ref,
            ratio=value,
            goal=goal,
            unit="calls/s",
        )
    ]
    write_rows(args.json, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--base", required=True)
    w.add_argument("--client", required=True, choices=["ours", "reference"])
    w.add_argument("--calls", type=int, default=1000, help="calls per thread")
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--py-ours", required=True)
    r.add_argument("--py-ref", required=True)
    r.add_argument("--rounds", type=int, default=5)
    r.add_argument("--calls", type=int, default=1000, help="calls per thread")
    r.add_argument("--json", help="write the ratio row here")
    args = parser.parse_args()
    worker(args) if args.command == "worker" else orchestrate(args)


if __name__ == "__main__":
    main()

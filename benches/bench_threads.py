"""Blocking calls from 8 threads sharing one endpoint: this SDK against the reference SDK.

Run by benches/run.sh against the same nginx answerer as bench.py. Each client runs in its own
process (a fresh interpreter), in interleaved rounds; throughput is calls per second over all
threads, the median of the rounds is compared. A benchmark, not a test: it never fails on the
numbers.

    python bench_threads.py run --base URL --py-ours PY --py-ref PY [--rounds 5] [--json FILE]
    python bench_threads.py worker --base URL --client ours|reference

Only the standard library is imported at the top: every interpreter can run this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time

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
    results: dict[str, list[float]] = {name: [] for name in pythons}
    for r in range(args.rounds):
        order = list(pythons) if r % 2 == 0 else list(reversed(pythons))
        for name in order:
            cmd = [pythons[name], __file__, "worker", "--base", args.base, "--client", name]
            done = subprocess.run(
                [*cmd, "--calls", str(args.calls)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                sys.exit(f"worker {name} failed:\n{done.stderr}")
            value = json.loads(done.stdout.splitlines()[-1])["calls_per_s"]
            results[name].append(value)
            print(f"  round {r + 1}/{args.rounds} {name:<9} {value:9.0f} calls/s", flush=True)
    ours, ref = (statistics.median(results[n]) for n in ("ours", "reference"))
    spread = {n: (min(v), max(v)) for n, v in results.items()}
    print()
    print(f"{THREADS} threads x blocking generate_text, one shared endpoint (median of rounds):")
    for name, label in (("ours", "this SDK"), ("reference", "reference SDK")):
        lo, hi = spread[name]
        med = statistics.median(results[name])
        print(f"  {label:<16} {med:9.0f} calls/s  (rounds {lo:.0f} .. {hi:.0f})")
    ratio = ours / ref
    verdict = "MET" if ratio >= GOAL else "NOT MET"
    print(f"  throughput ours / reference {ratio:6.2f}x   (goal >= {GOAL}x: {verdict})")
    if args.json:
        row = {
            "path": f"{THREADS} threads x blocking calls, throughput",
            "ours": ours,
            "peer": "reference SDK",
            "peer_value": ref,
            "ratio": ratio,
            "goal": f">= {GOAL}",
            "unit": "calls/s",
        }
        with open(args.json, "w") as f:
            json.dump([row], f, indent=2)


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

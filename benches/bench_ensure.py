"""``ensure()`` no-op benchmark: the workload already matches its spec, among 1,000 listed.

Not a test: it measures and prints, and never fails on a threshold. ``benches/run.sh`` writes
the canned list (``bodies``) under the nginx root it already serves, then runs ``run``. The
no-op is one ``GET /api/projects/acme/workloads`` (a fixed path, so nginx serves it as a
static file) and the match; clients that send anything else get nginx's 404/405 and fail.

Subcommands (each client runs in its own process, with its own interpreter):

- ``bodies --dir D``: writes the canned list (1,000 workloads, about 600 KB) under ``D/www``.
- ``worker --client NAME --base URL``: checks the client's answer, then times ``--calls``
  no-op ensures after ``--warmup``; prints one JSON line. ``--warmup 0 --calls N`` is the
  loop to run under ``valgrind --tool=callgrind`` or ``strace -c``.
- ``run --base URL --py-ours P --py-ref P --py-peers P``: interleaves workers in rounds,
  prints the table and the ratios, writes ``--json`` (the rows the lead aggregates).

Peers: the reference SDK (PyPI), and httpx doing the same GET decoded by ``json`` or by
``orjson`` then a scan for the slug (the least a Python client can do for the same answer).

Only the standard library and _rounds.py are imported at the top: every interpreter can
run this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _rounds import (
    client_list,
    load_average,
    median_of,
    median_ratio,
    met,
    quantile,
    row,
    timed,
    worker_rounds,
    write_rows,
)

PROJECT = "acme"
COUNT = 1000
# The matching workload is the last listed (lists are oldest first): no early exit helps.
SLUG = f"bench-{COUNT - 1:04d}"
SDK_TOKEN = "ik_sdk_1a2b3c4d_" + "0123456789abcdef" * 4
LIST_PATH = f"/api/projects/{PROJECT}/workloads"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
COMMAND = f"vllm serve {MODEL} --max-model-len 8192"
VLLM_VERSION = "0.6.3"
CLIENTS = ("ours", "reference", "httpx-json", "httpx-orjson")
LABELS = {
    "ours": "this SDK",
    "reference": "reference SDK (PyPI)",
    "httpx-json": "httpx + json",
    "httpx-orjson": "httpx + orjson",
}


def workload(i: int) -> dict[str, Any]:
    """One element as the local platform emits it (wire §5: every key, always)."""
    slug = f"bench-{i:04d}"
    stamp = f"2026-07-25T10:{i // 60 % 60:02d}:{i % 60:02d}.412Z"
    return {
        "id": f"wl_01j30ex245d5g9z8dwen{i:06d}",
        "project_id": "proj_01j3k4mh5b4jejh9j9qdftv68j",
        "project_slug": PROJECT,
        "slug": slug,
        "workload_slug": slug,
        "name": f"Bench {i}",
        "description": f"Benchmark workload number {i}",
        "task_type": "text2text",
        "backend": "vllm",
        "model_name": MODEL,
        "config": {"command": COMMAND, "vllm_version": VLLM_VERSION},
        "worker_id": None,
        "gpu_resource_id": None,
        "execution_policy": "fixed",
        "execution_policy_config": None,
        "phase": "ready",
        "created_at": stamp,
        "updated_at": stamp,
    }


def list_body() -> bytes:
    return json.dumps([workload(i) for i in range(COUNT)]).encode()


def write_bodies(directory: str) -> None:
    target = os.path.join(directory, "www", LIST_PATH.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    body = list_body()
    with open(target, "wb") as f:
        f.write(body)
    print(f"  {LIST_PATH}: {len(body)} bytes, {COUNT} workloads")


# --------------------------------------------------------------------------------------------
# Clients: one no-op ensure, and what it says about the workload (checked before timing)

Call = Callable[[], Any]


def spec_fields() -> dict[str, Any]:
    """The spec that matches the last listed workload exactly."""
    i = COUNT - 1
    return {
        "name": f"Bench {i}",
        "slug": SLUG,
        "model": MODEL,
        "backend": "vllm",
        "description": f"Benchmark workload number {i}",
        "command": COMMAND,
        "vllm_version": VLLM_VERSION,
        "execution_policy": "fixed",
    }


def make_client(name: str, base: str) -> tuple[Call, Callable[[Any], str]]:
    """(one ensure, the slug of the workload it found or made)."""
    if name == "ours":
        from inferencekey import ManagementClient, WorkloadSpec

        ours = ManagementClient(base_url=base, sdk_token=SDK_TOKEN, project=PROJECT)
        spec = WorkloadSpec(**spec_fields())

        def ensure_ours() -> Any:
            result = ours.ensure(spec)
            if result.action != "unchanged":
                raise SystemExit(f"ours: action {result.action!r}, not 'unchanged'")
            return result

        return ensure_ours, lambda r: str(r.workload.slug)
    if name == "reference":
        from inferencekey import ManagementClient, WorkloadSpec

        ref = ManagementClient(base_url=base, sdk_token=SDK_TOKEN, project=PROJECT)
        ref_spec = WorkloadSpec(**spec_fields())
        return lambda: ref.ensure(ref_spec), lambda r: str(r.workload_slug)
    if name in ("httpx-json", "httpx-orjson"):
        import httpx

        if name == "httpx-orjson":
            import orjson

            loads: Callable[[bytes], Any] = orjson.loads
        else:
            loads = json.loads
        client = httpx.Client(headers={"Authorization": f"Bearer {SDK_TOKEN}"})
        url = base + LIST_PATH
        get = client.get
        want = spec_fields()

        def ensure_raw() -> Any:
            reply = get(url)
            reply.raise_for_status()
            for item in loads(reply.content):
                if item.get("slug") == SLUG:
                    # The same fields a no-op compares, so the peer does the match too.
                    same = (
                        item["name"] == want["name"]
                        and item["model_name"] == want["model"]
                        and item["backend"] == want["backend"]
                        and item["config"].get("command") == want["command"]
                    )
                    if not same:
                        raise SystemExit(f"{name}: the listed workload differs from the spec")
                    return item
            raise SystemExit(f"{name}: {SLUG} is not listed")

        return ensure_raw, lambda r: str(r["slug"])
    raise SystemExit(f"unknown client {name!r}")


def worker(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    ensure, slug_of = make_client(args.client, args.base)
    if slug_of(ensure()) != SLUG:
        raise SystemExit(f"{args.client}: ensure did not find {SLUG}")
    timed(ensure, args.warmup, args.budget)
    samples = timed(ensure, args.calls, args.budget)
    print(
        json.dumps(
            {
                "client": args.client,
                "python": sys.version.split()[0],
                "calls": len(samples),
                "median_ms": statistics.median(samples) / 1e6,
                "p90_ms": quantile(samples, 0.9) / 1e6,
                "min_ms": min(samples) / 1e6,
                "wall_s": time.perf_counter() - started,
            }
        )
    )


# --------------------------------------------------------------------------------------------
# Orchestration


def orchestrate(args: argparse.Namespace) -> None:
    pythons = {
        "ours": args.py_ours,
        "reference": args.py_ref,
        "httpx-json": args.py_peers,
        "httpx-orjson": args.py_peers,
    }
    load = load_average()
    started = time.perf_counter()

    def describe(client: str, result: dict[str, Any]) -> str:
        return (
            f"{client:<13} ensure no-op {result['median_ms']:8.3f} ms"
            f" (p90 {result['p90_ms']:8.3f}, n={result['calls']})"
        )

    clients = client_list(args.clients)
    rounds = worker_rounds(
        __file__, pythons, clients, args.rounds, args.base, describe, calls=args.calls,
        warmup=args.warmup, budget=args.budget,
    )  # fmt: skip
    summary = {
        client: {k: median_of(results, k) for k in ("median_ms", "p90_ms")}
        for client, results in rounds.items()
    }
    spread = {
        client: (min(x["median_ms"] for x in results), max(x["median_ms"] for x in results))
        for client, results in rounds.items()
    }
    elapsed = time.perf_counter() - started

    print()
    print(
        f"ensure() no-op, {COUNT} workloads listed: median of {args.rounds} rounds"
        f" (each a fresh process); answerer {args.base}; load average at start"
        f" {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"{'client':<22} {'median':>10} {'p90':>10} {'round medians (min..max)':>26}")
    for client in clients:
        s, (lo, hi) = summary[client], spread[client]
        print(
            f"{LABELS[client]:<22} {s['median_ms']:>7.3f} ms {s['p90_ms']:>7.3f} ms"
            f" {lo:>11.3f} .. {hi:.3f} ms"
        )

    # Each ratio is the median over rounds of that round's ratio of medians.
    goals = {"reference": "<= 0.5"}
    rows = []
    print()
    print(f"{'ratio (time / time), median of rounds':<40} {'ensure':>8}  goal")
    for peer in ("reference", "httpx-json", "httpx-orjson"):
        if "ours" not in rounds or peer not in rounds:
            continue
        value = median_ratio(rounds["ours"], rounds[peer], "median_ms")
        goal = goals.get(peer, "")
        verdict = ("MET" if met(value, goal) else "NOT MET") if goal else ""
        print(f"{'ours / ' + peer:<40} {value:>7.2f}x  {goal} {verdict}")
        if goal:
            rows.append(
                row(
                    f"ensure() no-op, {COUNT} workloads listed",
                    ours=summary["ours"]["median_ms"],
                    peer=LABELS[peer],
                    peer_value=summary[peer]["median_ms"],
                    ratio=value,
                    goal=goal,
                    unit="ms",
                )
            )
    if "reference" in rounds and "httpx-orjson" in rounds:
        value = median_ratio(rounds["httpx-orjson"], rounds["reference"], "median_ms")
        print(f"{'httpx-orjson / reference':<40} {value:>7.2f}x")
    print(f"\n(benchmark wall time {elapsed:.0f} s)")
    write_rows(args.json, rows)
    if args.json:
        print(f"rows written to {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bodies")
    p.add_argument("--dir", required=True)
    for name in ("worker", "run"):
        p = sub.add_parser(name)
        p.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8080")
        p.add_argument("--calls", type=int, default=200, help="timed ensure() calls")
        p.add_argument("--warmup", type=int, default=20)
        p.add_argument("--budget", type=float, default=4.0, help="seconds per timed loop, at most")
        if name == "worker":
            p.add_argument("--client", required=True, choices=CLIENTS)
        else:
            p.add_argument("--py-ours", required=True)
            p.add_argument("--py-ref", required=True)
            p.add_argument("--py-peers", required=True)
            p.add_argument("--rounds", type=int, default=5)
            p.add_argument("--clients", default=",".join(CLIENTS))
            p.add_argument("--json", default=None, help="write the goal rows here")
    args = parser.parse_args()
    if args.command == "bodies":
        write_bodies(args.dir)
    elif args.command == "worker":
        worker(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()

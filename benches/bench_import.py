"""Import and memory benchmark of this SDK against the reference SDK.

Not a test: it measures and prints, and never fails on a threshold. ``benches/run.sh`` sets
up the answerer (nginx serving canned bodies) and the interpreters, then runs ``run``.

What it measures, each client in its own fresh processes, launches interleaved:

- start-up: ``import inferencekey`` and creating a ``ManagementClient`` and a ``DataClient``
  (no request is sent), timed inside the process with ``perf_counter`` (the goal's ratio),
  and the whole process's wall time (interpreter start-up included);
- ``-X importtime``: the sum of the modules' own import times over ``python -c pass``'s,
  the fastest of a few runs: a cross-check that does not depend on the clock of one launch;
- memory: VmRSS and VmHWM (``/proc/self/status``) after the import and 10,000
  ``generate_text`` calls against the answerer.

Subcommand (the workers are ``-c`` programs of this file, run by each SDK's interpreter):

- ``run --base URL --py-ours P --py-ref P``: interleaves the workers, prints the table and the
  ratios, writes ``--json`` (rows for the lead's table).

Only the standard library and _rounds.py are imported at the top: every interpreter can
run this file.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from typing import Any

from _rounds import (
    clean_env,
    interleave,
    median_of,
    median_ratio,
    ratio,
    row,
    run_worker,
    write_rows,
)
from bench import CHAT_TEXT, KEY, PROJECT, SLUG

CLIENTS = ("ours", "reference")
LABELS = {"ours": "this SDK", "reference": "reference SDK (PyPI)"}
SDK_TOKEN = "ik_sdk_1a2b3c4d_" + "0123456789abcdef" * 4
# An address nothing listens on: creating a client sends no request.
NO_SERVER = "http://127.0.0.1:9"

# The start-up worker is a ``-c`` program that imports only ``sys`` and ``time`` before
# measuring: a module it loaded first (``json``, ``re``, ``typing``...) would be free for the
# SDK, hiding part of its cost.
_PRELUDE = "import sys, time\n"
_STARTUP = """t0 = time.perf_counter()
import inferencekey
t1 = time.perf_counter()
from inferencekey import DataClient, ManagementClient
m = ManagementClient({management})
d = DataClient({data})
t2 = time.perf_counter()
rss = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS:")][0]
print('{{"import_ms": %r, "startup_ms": %r, "modules": %d, "rss_mb": %r}}'
      % ((t1 - t0) * 1e3, (t2 - t0) * 1e3, len(sys.modules), int(rss) / 1024))
"""
_ARGS = {
    "ours": {
        "management": f"base_url={NO_SERVER!r}, project={PROJECT!r}, sdk_token={SDK_TOKEN!r}",
        "data": f"base_url={NO_SERVER!r}, project={PROJECT!r}, api_key={KEY!r}",
    },
    "reference": {
        "management": f"base_url={NO_SERVER!r}, sdk_token={SDK_TOKEN!r}, project={PROJECT!r}",
        "data": f"base_url={NO_SERVER!r}, project={PROJECT!r}, api_key={KEY!r}",
    },
}


def startup_program(client: str) -> str:
    return _PRELUDE + _STARTUP.format(**_ARGS[client])


# The memory worker, the same for both SDKs (they take the same keywords here); like the
# start-up worker it loads nothing else first, so that RSS counts what the SDK loads.
_RSS = """import sys
def rss(key):
    return int([l.split()[1] for l in open("/proc/self/status") if l.startswith(key)][0]) / 1024
from inferencekey import DataClient
after_import = rss("VmRSS:")
ep = DataClient(base_url={base!r}, project={project!r}, api_key={key!r}).endpoint({slug!r})
for _ in range({calls}):
    text = ep.generate_text(prompt="Hi", max_tokens=16).text
if text != {text!r}:
    sys.exit("chat text %r != %r" % (text, {text!r}))
print('{{"rss_after_import_mb": %r, "rss_mb": %r, "hwm_mb": %r}}'
      % (after_import, rss("VmRSS:"), rss("VmHWM:")))
"""


def rss_program(base: str, calls: int) -> str:
    return _RSS.format(base=base, project=PROJECT, key=KEY, slug=SLUG, calls=calls, text=CHAT_TEXT)


# --------------------------------------------------------------------------------------------
# Orchestration


def importtime_ms(python: str, client: str) -> float:
    """The sum of ``-X importtime``'s own times for the start-up worker, less ``-c pass``'s."""

    def total(argv: list[str]) -> float:
        proc = subprocess.run(
            [python, "-X", "importtime", *argv],
            capture_output=True, text=True, env=clean_env(), timeout=120, check=True,
        )  # fmt: skip
        own = 0
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                own += int(line.split(":", 1)[1].split("|")[0])
        return own / 1e3

    return total(["-c", startup_program(client)]) - total(["-c", _PRELUDE])


def orchestrate(args: argparse.Namespace) -> None:
    pythons = {"ours": args.py_ours, "reference": args.py_ref}
    started = time.perf_counter()

    def launch(client: str, progress: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        result = run_worker(client, pythons[client], "-c", startup_program(client))
        result["process_ms"] = (time.perf_counter() - t0) * 1e3
        return result

    results = interleave(CLIENTS, args.launches, launch)

    def med(client: str, key: str) -> float:
        return median_of(results[client], key)

    def spread(client: str, key: str) -> str:
        values = sorted(r[key] for r in results[client])
        q = len(values) // 10
        return f"{values[q]:.1f}-{values[-1 - q]:.1f}"

    print(f"Start-up: {args.launches} fresh processes per client, launches interleaved")
    print(
        f"{'client':<22} {'import':>9} {'import+clients':>15} {'(p10-p90)':>13}"
        f" {'process':>9} {'modules':>8}"
    )
    for client in CLIENTS:
        print(
            f"{LABELS[client]:<22} {med(client, 'import_ms'):>6.1f} ms"
            f" {med(client, 'startup_ms'):>12.1f} ms {spread(client, 'startup_ms'):>13}"
            f" {med(client, 'process_ms'):>6.1f} ms {med(client, 'modules'):>8.0f}"
        )

    importtimes = {
        c: min(importtime_ms(pythons[c], c) for _ in range(args.importtime_runs)) for c in CLIENTS
    }
    print(
        f"-X importtime (own times over the baseline, fastest of {args.importtime_runs}):"
        f" this SDK {importtimes['ours']:.1f} ms, reference {importtimes['reference']:.1f} ms"
    )

    memory: dict[str, list[dict[str, Any]]] = {c: [] for c in CLIENTS}
    if args.base:

        def measure(client: str, progress: str) -> dict[str, Any]:
            return run_worker(client, pythons[client], "-c", rss_program(args.base, args.calls))

        memory = interleave(CLIENTS, args.rss_rounds, measure)
        print(f"\nMemory after import + {args.calls} generate_text calls (median of rounds)")
        print(f"{'client':<22} {'VmRSS':>9} {'VmHWM':>9} {'after import':>13}")
        for client in CLIENTS:
            m = memory[client]
            print(
                f"{LABELS[client]:<22}"
                f" {median_of(m, 'rss_mb'):>6.1f} MB"
                f" {median_of(m, 'hwm_mb'):>6.1f} MB"
                f" {median_of(m, 'rss_after_import_mb'):>10.1f} MB"
            )

    start_ratio = median_ratio(results["ours"], results["reference"], "startup_ms")
    rows = [
        row(
            "import inferencekey + both clients (in-process)",
            ours=med("ours", "startup_ms"),
            peer="reference",
            peer_value=med("reference", "startup_ms"),
            ratio=start_ratio,
            goal="<= 1.0",
            unit="ms",
        )
    ]
    print("\nRatios (median of the launches' ratios):")
    print(f"  import + both clients, in-process   {start_ratio:6.2f}x   goal <= 1.00x")
    process_ratio = median_ratio(results["ours"], results["reference"], "process_ms")
    print(f"  whole process (interpreter too)     {process_ratio:6.2f}x")
    it_ratio = ratio(importtimes["ours"], importtimes["reference"])
    print(f"  -X importtime totals                {it_ratio:6.2f}x")
    if memory["ours"]:
        ours_mb = median_of(memory["ours"], "rss_mb")
        ref_mb = median_of(memory["reference"], "rss_mb")
        print(
            f"  VmRSS after {args.calls} calls: {ours_mb - ref_mb:+.1f} MB over the reference"
            f"   goal <= +5.0 MB"
        )
        # The goal is MB over the reference: table.py judges it on the difference.
        rows.append(
            row(
                f"VmRSS after import + {args.calls} generate_text",
                ours=ours_mb,
                peer="reference",
                peer_value=ref_mb,
                ratio=ratio(ours_mb, ref_mb),
                goal="<= +5",
                unit="MB",
                difference=ours_mb - ref_mb,
            )
        )
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)")
    write_rows(args.json, rows)
    if args.json:
        print(f"results written to {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--base", default=None, help="the answerer; without it, no memory rows")
    p.add_argument("--py-ours", required=True)
    p.add_argument("--py-ref", required=True)
    p.add_argument("--launches", type=int, default=40, help="start-up processes per client")
    p.add_argument("--importtime-runs", type=int, default=5)
    p.add_argument("--rss-rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=10_000, help="generate_text calls before VmRSS")
    p.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args()
    orchestrate(args)


if __name__ == "__main__":
    main()

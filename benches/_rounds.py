"""What every benchmark in benches/ shares: timing loops, workers in clean processes, rounds
interleaved between clients, ratios over rounds, the machine's load, and table.py's rows.

Every client runs in a fresh process of its own interpreter (each SDK lives in its own
environment), and each of those imports this module: it imports only the standard library.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# A worker must reach the answerer directly, configured only by its arguments: these would
# point a client elsewhere, slow it down (logging) or load other copies of modules.
_UNSET = (
    "INFERENCEKEY_BASE_URL",
    "INFERENCEKEY_API_KEY",
    "INFERENCEKEY_SDK_TOKEN",
    "INFERENCEKEY_PROJECT",
    "INFERENCEKEY_LOG",
    "OPENAI_BASE_URL",
    "PYTHONPATH",
)


# --------------------------------------------------------------------------------------------
# Timing inside a worker


def timed(fn: Callable[[], object], count: int, budget_s: float) -> list[int]:
    """Up to ``count`` calls (stopping after ``budget_s``), each timed in ns: enough samples
    for a stable median without letting a slow client hold the machine for minutes."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    deadline = clock() + int(budget_s * 1e9)
    for _ in range(count):
        t0 = clock()
        fn()
        t1 = clock()
        append(t1 - t0)
        if t1 > deadline:
            break
    return samples


def quantile(samples: Sequence[float], q: float) -> float:
    """The sample at quantile ``q`` (no interpolation: a time some call really took)."""
    ordered = sorted(samples)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


# --------------------------------------------------------------------------------------------
# Workers: one client, one fresh process


def clean_env() -> dict[str, str]:
    """This environment without the SDKs' settings and proxies, so that every client talks to
    the local answerer alone and the same way."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSET and "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def run_worker(name: str, python: str, *argv: str, timeout: float = 300.0) -> dict[str, Any]:
    """Runs ``python *argv`` in :func:`clean_env` and returns the JSON of its last line of
    output; a failed worker ends the benchmark with its stderr, as no number may stand in
    for a broken client."""
    proc = subprocess.run(
        [python, *argv],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------------------------
# Rounds and ratios


def client_list(text: str) -> list[str]:
    """The clients named in a ``--clients a,b,c`` option."""
    return [c for c in text.split(",") if c]


def interleave(
    clients: Sequence[str], rounds: int, measure: Callable[[str, str], T]
) -> dict[str, list[T]]:
    """``measure(client, "round i/n")`` for every client in every round, the order rotated
    each round so that no client always runs right after another: the machine's drift then
    falls on every client alike."""
    results: dict[str, list[T]] = {c: [] for c in clients}
    for r in range(rounds):
        shift = r % len(clients)
        for client in [*clients[shift:], *clients[:shift]]:
            results[client].append(measure(client, f"round {r + 1}/{rounds}"))
    return results


def worker_rounds(
    script: str,
    pythons: Mapping[str, str],
    clients: Sequence[str],
    rounds: int,
    base: str,
    describe: Callable[[str, dict[str, Any]], str] | None = None,
    *,
    timeout: float = 300.0,
    **options: object,
) -> dict[str, list[dict[str, Any]]]:
    """:func:`interleave` of ``script worker --base BASE --option value ... --client C`` (an
    option's underscores become dashes), each client run by its interpreter in ``pythons``;
    after each worker, prints ``round i/n`` before each line of ``describe(client, result)``,
    so that a long benchmark shows it is alive and how much its rounds vary."""
    argv = [os.path.abspath(script), "worker", "--base", base]
    for option, value in options.items():
        argv += [f"--{option.replace('_', '-')}", str(value)]

    def measure(client: str, progress: str) -> dict[str, Any]:
        result = run_worker(client, pythons[client], *argv, "--client", client, timeout=timeout)
        if describe:
            for line in describe(client, result).splitlines():
                print(f"  {progress} {line}", flush=True)
        return result

    return interleave(clients, rounds, measure)


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN for a zero ``b``: one empty measurement must not end the report."""
    return a / b if b else float("nan")


def median_of(results: Sequence[Mapping[str, float]], key: str) -> float:
    """The median over rounds of one measurement."""
    return statistics.median(r[key] for r in results)


def median_ratio(
    a: Sequence[Mapping[str, float]], b: Sequence[Mapping[str, float]], key: str
) -> float:
    """The median over rounds of one round's ``a[key] / b[key]``: each ratio compares
    processes that ran moments apart, which cancels most of the machine's drift."""
    return statistics.median(ratio(x[key], y[key]) for x, y in zip(a, b, strict=True))


def load_average() -> tuple[float, float, float]:
    """The machine's load averages (NaN where the platform has none): numbers measured under
    load are not to be believed, so every report says it."""
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


# --------------------------------------------------------------------------------------------
# Rows for table.py


def met(value: float, goal: str) -> bool:
    """Whether ``value`` meets a goal written ``"<= 0.5"`` or ``">= 1.5"``."""
    op, limit = goal.split()
    return value <= float(limit) if op == "<=" else value >= float(limit)


def row(
    path: str,
    *,
    ours: float,
    peer: str,
    peer_value: float,
    ratio: float,
    goal: str,
    unit: str,
    difference: float | None = None,
) -> dict[str, Any]:
    """One goal ratio for table.py; with a ``difference`` (ours - peer, in ``unit``) the goal
    is judged on the difference instead."""
    out: dict[str, Any] = {
        "path": path,
        "ours": ours,
        "peer": peer,
        "peer_value": peer_value,
        "ratio": ratio,
    }
    if difference is not None:
        out["difference"] = difference
    out.update(goal=goal, unit=unit)
    return out


def write_rows(path: str | None, rows: Sequence[Mapping[str, Any]]) -> None:
    """Writes the rows where ``--json`` (or ``--rows``) says, if it says."""
    if path:
        with open(path, "w") as f:
            json.dump(list(rows), f, indent=2)

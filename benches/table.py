"""One ratio table from the rows every benchmark of benches/run.sh wrote.

    python table.py ROWS.json [ROWS.json ...]

A row: {"path", "ours", "peer", "peer_value", "ratio", "goal" ("<= 0.5" or ">= 1.5"), "unit"};
a row with a "difference" (ours - peer, in its unit) is judged on it instead of the ratio.
Prints the table with the machine's load and date, as the README quotes it. A benchmark, not a
test: it exits 0 whatever the ratios.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from _rounds import load_average, met


def main() -> None:
    rows = []
    for path in sys.argv[1:]:
        if os.path.exists(path):
            with open(path) as f:
                rows.extend(json.load(f))
    load = ", ".join(f"{x:.1f}" for x in load_average())
    print()
    print(
        f"Ratios ({time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs,"
        f" load average {load} at the end)"
    )
    print(f"| {'path':<46} | {'compared with':<20} | {'ratio':>7} | {'goal':>7} | {'':<7} |")
    print(f"|{'-' * 48}|{'-' * 22}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for row in rows:
        if "difference" in row:
            value, shown = row["difference"], f"{row['difference']:+.1f} {row['unit']}"
            goal = f"{row['goal']} {row['unit']}"
        else:
            value, shown, goal = row["ratio"], f"{row['ratio']:.2f}x", f"{row['goal']}x"
        verdict = "met" if met(value, row["goal"]) else "NOT met"
        print(f"| {row['path']:<46} | {row['peer']:<20} | {shown:>7} | {goal:>7} | {verdict:<7} |")


if __name__ == "__main__":
    main()

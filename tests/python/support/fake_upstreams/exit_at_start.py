"""Fake upstream: crashes at start (exit status 3) after printing a diagnostic, so its
workload ends in phase ``error``."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    print("fake upstream: simulated crash while loading the model", file=sys.stderr, flush=True)
    sys.exit(3)

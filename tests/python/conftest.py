"""Shared by every Python suite: makes the ``support`` helper package importable.

Deliberately imports nothing from ``inferencekey``: the unit suite must be able to swap in a
bare package when the native library is not built (see ``unit/conftest.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

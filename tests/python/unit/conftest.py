"""Lets the pure-Python unit tests run without the native library.

``inferencekey/__init__.py`` loads the native core. When that is not possible (no wheel built
yet, a checkout used through ``PYTHONPATH=python``), the package is replaced by a bare
namespace over the same directory so that ``inferencekey.errors``, ``.types``, ``.enums``,
``._options`` and ``._logging`` import on their own. With a working install nothing changes.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def _bare_package() -> None:
    try:
        import inferencekey  # noqa: F401
    except ImportError:
        pass
    else:
        return
    for name in [m for m in sys.modules if m == "inferencekey" or m.startswith("inferencekey.")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("inferencekey")
    if spec is None or not spec.submodule_search_locations:
        source = Path(__file__).resolve().parents[3] / "python"
        sys.path.insert(0, str(source))
        spec = importlib.util.find_spec("inferencekey")
    assert spec is not None and spec.submodule_search_locations, "inferencekey not found"
    package = types.ModuleType("inferencekey")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["inferencekey"] = package


_bare_package()

"""The package's shape (c-abi rule 26, §6): public modules declare what they export, hold no
native plumbing, and reach the library only through the checked helpers of ``_ffi``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import inferencekey

PACKAGE = Path(inferencekey.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]))
PUBLIC = [m for m in MODULES if not m.startswith("_")]


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize("module", [*PUBLIC, "__init__"])
def test_every_public_module_declares_all_and_exports_only_public_names(module: str) -> None:
    name = "inferencekey" if module == "__init__" else f"inferencekey.{module}"
    mod = importlib.import_module(name)
    exported = getattr(mod, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for item in exported:
        assert not item.startswith("_") or item == "__version__", f"{name} exports {item}"
        assert hasattr(mod, item), f"{name}.__all__ names {item}, which it lacks"


@pytest.mark.parametrize("module", PUBLIC)
def test_public_modules_do_not_touch_the_cffi_objects(module: str) -> None:
    """``lib`` and ``ffi`` stay inside the private modules: a public module neither imports
    them nor reaches them as attributes, so no call site checks a status itself."""
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names}
            assert not names & {"lib", "ffi", "NULL"}, f"{module} imports {names}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert not (node.value.id == "_ffi" and node.attr in {"lib", "ffi"}), (
                f"{module} uses _ffi.{node.attr} (line {node.lineno})"
            )


def test_internal_helpers_are_not_exported() -> None:
    from inferencekey import errors

    assert "_error_from_native" not in errors.__all__
    assert not hasattr(errors, "error_from_native")
    assert not hasattr(inferencekey, "_ffi") or "_ffi" not in inferencekey.__all__

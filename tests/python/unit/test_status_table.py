"""The Python package's status mapping and error codes against the machine-readable tables of
the committed schema (``include/inferencekey.schema.json``: ``x-ik-statuses`` and
``x-ik-error-codes``, c-abi rule 5a), generated from the Rust constants the header is made of.

- every status in the schema has a Python constant of the same name and value and a class;
  every status Python knows is in the schema; the block fallback agrees with the exact classes;
- every code the package compares against comes from the library's table;
- every code the package raises is either in the table, with a class that one of its statuses
  maps to, or one of the binding's own codes, which no library code may shadow.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from inferencekey import _status as st
from inferencekey import errors
from inferencekey.errors import _BLOCK, _DEFAULT_CODE, _EXACT, InferenceKeyError, _class_for

ROOT = Path(__file__).resolve().parents[3]
SCHEMA: dict[str, Any] = json.loads((ROOT / "include" / "inferencekey.schema.json").read_text())
STATUSES: list[dict[str, Any]] = SCHEMA["x-ik-statuses"]
CODES: dict[str, dict[str, Any]] = {row["code"]: row for row in SCHEMA["x-ik-error-codes"]}
BY_NAME: dict[str, int] = {s["name"]: s["value"] for s in STATUSES}
SOURCES = sorted((ROOT / "python" / "inferencekey").glob("*.py"))

#: Codes the Python package makes up itself (no native call behind them).
BINDING_CODES = {
    "client_closed": "a Python client, stream or platform used after close()",
    "wrong_event_loop": "an async client used from another event loop",
    "invalid_file": "the CLI's workloads file is unreadable or malformed",
    "frozen_instance": "a field of an immutable record or result was set or deleted",
    "unknown": "the default code of IK_ERR_UNKNOWN when the core sends none",
    "missing_dependency": "embed(..., as_numpy=True) without numpy installed",
    "ragged_embeddings": "embeddings of different lengths asked for as one numpy array",
}

ERROR_CLASSES = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, InferenceKeyError)
}


def classes_of(code: str) -> set[type[InferenceKeyError]]:
    return {_class_for(BY_NAME[name]) for name in CODES[code]["statuses"]}


# --------------------------------------------------------------------------------------------
# Statuses


def test_the_schema_lists_statuses_and_codes() -> None:
    assert BY_NAME["IK_OK"] == 0
    assert len(STATUSES) == len(BY_NAME), "a status name is listed twice"
    assert len({s["value"] for s in STATUSES}) == len(STATUSES), "a status value is reused"
    assert CODES, "x-ik-error-codes is empty"


@pytest.mark.parametrize("status", STATUSES, ids=[s["name"] for s in STATUSES])
def test_every_schema_status_has_a_constant_and_a_class(status: dict[str, Any]) -> None:
    assert getattr(st, status["name"], None) == status["value"], status["name"]
    if status["value"] != st.IK_OK:
        assert status["value"] in _EXACT, f"{status['name']} has no Python class"


def test_every_python_status_is_in_the_schema() -> None:
    python = {
        name: value
        for name, value in vars(st).items()
        if name == "IK_OK" or name.startswith("IK_ERR_")
    }
    assert python == BY_NAME
    assert set(_EXACT) == set(BY_NAME.values()) - {st.IK_OK}


def test_block_fallback_agrees_with_the_schema() -> None:
    blocks = {s["block"] for s in STATUSES if "block" in s}
    assert set(_BLOCK) <= blocks, "a fallback block no status is in"
    for status in STATUSES:
        if status["value"] == st.IK_OK:
            continue
        assert status["block"] == status["value"] - status["value"] % 100
        fallback = _BLOCK.get(status["block"], InferenceKeyError)
        # A newer status of a known block lands in a superclass of what its block holds.
        assert issubclass(_EXACT[status["value"]], fallback), status["name"]


def test_default_codes_belong_to_their_status() -> None:
    for status, code in _DEFAULT_CODE.items():
        if code in BINDING_CODES:
            continue
        assert code in CODES, f"default code {code!r} is not in the schema"
        names = {name for name, value in BY_NAME.items() if value == status}
        assert names & set(CODES[code]["statuses"]), f"{code!r} never comes with {names}"


# --------------------------------------------------------------------------------------------
# Codes in the package's sources


def _literal(node: ast.expr | None) -> str | None:
    """``"x"``, or the fallback of ``value or "x"``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return _literal(node.values[-1])
    return None


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _is_code(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "code"


def scan() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """``(raised, compared)``: ``(where, class name, code)`` for every error built with a
    literal code (keyword or ``__init__`` default), ``(where, code)`` for every comparison of
    a ``.code`` with a literal."""
    raised: list[tuple[str, str, str]] = []
    compared: list[tuple[str, str]] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for init in cls.body:
                if isinstance(init, ast.FunctionDef) and init.name == "__init__":
                    args = init.args
                    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                        code = _literal(default)
                        if arg.arg == "code" and code is not None:
                            raised.append((f"{path.name}:{init.lineno}", cls.name, code))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    code = _literal(kw.value)
                    if kw.arg == "code" and code is not None:
                        raised.append((where, _callee(node), code))
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_is_code(side) for side in sides):
                    compared.extend(
                        (where, code) for side in sides if (code := _literal(side)) is not None
                    )
    return raised, compared


RAISED, COMPARED = scan()


def test_the_scan_sees_the_package() -> None:
    codes = {code for _, _, code in RAISED}
    assert {"invalid_argument", "client_closed", "drift_detected"} <= codes
    assert ("cli.py", "remote_bind_refused") in {(w.split(":")[0], c) for w, c in COMPARED}


@pytest.mark.parametrize(("where", "code"), COMPARED)
def test_compared_codes_come_from_the_library(where: str, code: str) -> None:
    assert code in CODES, f"{where}: {code!r} is compared against but no status emits it"


@pytest.mark.parametrize(("where", "cls", "code"), RAISED)
def test_raised_codes_are_in_the_table_or_the_bindings_own(where: str, cls: str, code: str) -> None:
    if code in BINDING_CODES:
        return
    assert code in CODES, f"{where}: {code!r} is neither a library code nor a binding code"
    raised = ERROR_CLASSES.get(cls)
    if raised is not None:
        # The class the package raises it with is one a native error with this code maps to.
        assert raised in classes_of(code), f"{where}: {cls} for {code!r}"


def test_binding_codes_do_not_shadow_library_codes() -> None:
    shadowed = set(BINDING_CODES) & set(CODES)
    assert not shadowed, f"binding codes also emitted by the library: {shadowed}"

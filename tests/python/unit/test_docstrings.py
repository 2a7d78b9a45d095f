"""Docstrings of the public API, in the Google style the API reference is built from.

Every public class, function, method and property has one. ``Args:`` names exactly the
parameters of the signature (a stale name breaks the reference build), every public parameter
is described there (or, for a constructor, in the class's ``Attributes:``), whatever returns a
value says what under ``Returns:``, and ``Raises:`` names only real exception classes.
"""

from __future__ import annotations

import builtins
import enum
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest

from inferencekey import errors

MODULES = ["inferencekey", "aio", "data", "management", "errors", "types", "enums"]
SECTION = re.compile(r"^(Args|Returns|Yields|Raises|Attributes|Examples?|Notes?):\s*$")
ITEM = re.compile(r"^    (\*{0,2}\w+)(?: \([^)]*\))?:")


def _sections(doc: str) -> dict[str, list[str]]:
    """The item names of each Google section (``Returns`` items are the lines' first words)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        header = SECTION.match(line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif current is not None and line.startswith("    ") and not line.startswith("     "):
            item = ITEM.match(line)
            current.append(item.group(1) if item else line.strip())
        elif line.strip() and not line.startswith(" "):
            current = None
    return sections


def _ours(obj: object) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("inferencekey")


def _public_api() -> Iterator[tuple[str, object, type | None]]:
    """(qualified name, object, owning class) of every public symbol, methods and properties
    inherited from the private base classes included (users reach them)."""
    seen: set[int] = set()
    for short in MODULES:
        module = importlib.import_module(
            short if short == "inferencekey" else f"inferencekey.{short}"
        )
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            seen.add(id(obj))
            if not _ours(obj):
                continue
            yield f"{module.__name__}.{name}", obj, None
            if inspect.isclass(obj):
                yield from _members(obj)
    from inferencekey.cli import main

    yield "inferencekey.cli.main", main, None


def _members(cls: type) -> Iterator[tuple[str, object, type | None]]:
    for name in sorted(dir(cls)):
        if name.startswith("_") and name != "__init__":
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not _ours(owner):
            continue
        raw = vars(owner)[name]
        if isinstance(raw, (classmethod, staticmethod)):
            raw = raw.__func__
        # ``_ours(function)`` too: pydantic puts functions of its own (``model_post_init``)
        # into our models' namespaces.
        function = raw.fget if isinstance(raw, property) else raw
        if inspect.isfunction(function) and _ours(function):
            yield f"{cls.__name__}.{name}", raw, cls


API = list(_public_api())


def _doc(obj: object) -> str:
    target = obj.fget if isinstance(obj, property) else obj
    return inspect.cleandoc(getattr(target, "__doc__", None) or "")


def test_the_walk_finds_the_api() -> None:
    names = {name for name, _, _ in API}
    for expected in (
        "inferencekey.ManagementClient",
        "ManagementClient.ensure",
        "ManagementClient.from_env",
        "ManagementClient.with_options",
        "AsyncEndpoint.generate_text_stream",
        "TextStream.close",
        "EnsureResult.changed",
        "inferencekey.cli.main",
    ):
        assert expected in names


@pytest.mark.parametrize(("name", "obj", "owner"), API, ids=[n for n, _, _ in API])
def test_public_symbol_has_a_google_docstring(name: str, obj: Any, owner: type | None) -> None:
    doc = _doc(obj)
    assert doc, f"{name} has no docstring"
    sections = _sections(doc)
    for raised in sections.get("Raises", []):
        assert hasattr(errors, raised) or isinstance(getattr(builtins, raised, None), type), (
            f"{name} says it raises {raised}, which is no exception class"
        )
    if isinstance(obj, property) or inspect.isclass(obj):
        if inspect.isclass(obj) and issubclass(obj, pydantic.BaseModel):
            documented = set(sections.get("Attributes", []))
            missing = set(obj.model_fields) - documented
            assert not missing, f"{name}: fields missing from Attributes: {sorted(missing)}"
        return
    _check_function(name, obj, owner, sections)


def _check_function(
    name: str, func: Callable[..., Any], owner: type | None, sections: dict[str, list[str]]
) -> None:
    signature = inspect.signature(func)
    params = [
        p
        for p in signature.parameters.values()
        if p.name not in ("self", "cls")
        and not p.name.startswith("_")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    documented = sections.get("Args", [])
    stale = set(documented) - set(signature.parameters)
    assert not stale, f"{name}: Args names no parameter {sorted(stale)}"
    described = set(documented)
    if func.__name__ == "__init__" and owner is not None:
        described |= set(_sections(_doc(owner)).get("Attributes", []))
    undescribed = [p.name for p in params if p.name not in described]
    assert not undescribed, f"{name}: parameters not in Args: {undescribed}"
    returns = signature.return_annotation
    if func.__name__ != "__init__" and returns not in ("None", "NoReturn", None):
        assert "Returns" in sections or "Yields" in sections, f"{name} has no Returns section"


def test_enums_and_errors_are_covered() -> None:
    names = {name for name, _, _ in API}
    for cls in (errors.NotFoundError, errors.DriftWarning):
        assert f"inferencekey.{cls.__name__}" in names
    assert any(inspect.isclass(o) and issubclass(o, enum.Enum) for _, o, _ in API)

"""Every case of ``tests/conformance/redaction.json`` through the Python package: the private
helper over the core's ``ik_text_redact``, ``scrub_secrets``, an error's message, ``str``,
``repr`` and ``request_id``, and a log record emitted through the package's logging. The
package itself holds no token pattern (c-abi rule 26): redaction is the core's alone."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from inferencekey import _ffi, _logging
from inferencekey.errors import (
    AuthError,
    InferenceKeyError,
    redact_token,
    scrub_secrets,
)

VECTORS = Path(__file__).parents[2] / "conformance/redaction.json"
PACKAGE = Path(_ffi.__file__).parent
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]

SDK = "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
LIVE = "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
SHOWN_SDK = "ik_sdk_1a2b3c4d\u2026"
SHOWN_LIVE = "ik_live_9f8e7d6c\u2026"


def by_name() -> Any:
    return pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])


def test_the_vectors_are_well_formed() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 30
    for case in CASES:
        assert set(case) == {"name", "about", "input", "output"}


@by_name()
def test_native_helper(case: dict[str, Any]) -> None:
    assert _ffi.redact_text(case["input"]) == case["output"]
    assert scrub_secrets(case["input"]) == case["output"]
    # Idempotent.
    assert scrub_secrets(case["output"]) == case["output"]


@by_name()
@pytest.mark.parametrize("cls", [InferenceKeyError, AuthError])
def test_error_surfaces(case: dict[str, Any], cls: type[InferenceKeyError]) -> None:
    text, shown = case["input"], case["output"]
    err = cls(text, code="some_code", request_id=text)
    assert err.message == shown
    assert err.request_id == shown
    assert err.args == (shown,)
    prefix = str(cls("", code="some_code"))
    suffix = f" (request_id: {shown})" if shown else ""
    assert str(err) == prefix + shown + suffix
    assert repr(err) == (
        f"{cls.__name__}(code='some_code', status_code=None, request_id={shown!r}, "
        f"message={shown!r})"
    )


@by_name()
def test_log_records(case: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="inferencekey")
    record = {
        "level": "info",
        "target": "inferencekey.http",
        "message": case["input"],
        "fields": {"detail": case["input"], "attempt": 1},
    }
    _logging.emit_native_record(3, json.dumps(record))
    [rec] = caplog.records
    assert rec.getMessage() == case["output"]
    assert getattr(rec, _logging.FIELDS_ATTR) == {"detail": case["output"], "attempt": 1}


def test_text_the_core_cannot_take_is_redacted_around_it() -> None:
    # NUL bytes and lone surrogates never belong to a token: the runs between them are
    # redacted and they are kept.
    text = f"a\0{SDK}\ud800 {LIVE}.\0"
    assert scrub_secrets(text) == f"a\0{SHOWN_SDK}\ud800 {SHOWN_LIVE}.\0"
    assert str(InferenceKeyError(f"\udcff{SDK}")) == f"inferencekey error: \udcff{SHOWN_SDK}"


def test_text_without_ik_skips_the_native_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_text: str) -> str:
        raise AssertionError("native call")

    monkeypatch.setattr(_ffi, "redact_text", boom)
    plain = "no token here " * 10
    assert scrub_secrets(plain) is plain
    assert InferenceKeyError(plain).message == plain


def test_redact_token_is_the_cores() -> None:
    assert redact_token(SDK) == SHOWN_SDK
    assert redact_token(f"  {LIVE}\n") == SHOWN_LIVE
    assert redact_token("ik_sdk_nosplit") == "ik_sdk_\u2026"
    assert redact_token("ik_live_") == "ik_live_\u2026"
    assert redact_token("sk-proj-123") == "<redacted>"
    assert redact_token("ik_sdk_a\0b_c") == "ik_sdk_a\ufffdb\u2026"


def _regex_literals(tree: ast.AST) -> list[str]:
    """String literals passed to any ``re`` function (``re.compile``, ``re.sub``, …)."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
        ):
            for arg in ast.walk(node):
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(arg.value)
    return found


def test_the_package_holds_no_token_pattern() -> None:
    sources = sorted(PACKAGE.glob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for literal in _regex_literals(ast.parse(text)):
            assert "ik_" not in literal, f"{path.name}: token pattern {literal!r}"
        for needle in ("ik_(", "(?:sdk|live)", "sdk|live"):
            assert needle not in text, f"{path.name} holds {needle!r}"

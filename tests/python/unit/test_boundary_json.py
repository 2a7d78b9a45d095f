"""JSON across the C boundary: what the binding writes for requests and how it splits results."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

import pytest

from inferencekey import _ffi
from inferencekey.errors import InferenceKeyError, ValidationError

PLAIN: list[Any] = [
    {"prompt": "Hi", "max_tokens": 16},
    {"prompt": "NaN and Infinity are only words here", "temperature": 0.1},
    {"messages": [{"role": "user", "content": 'é"\\\n\u2028'}], "stop": ["a", "b"]},
    {"seed": 2**80, "top_p": -0.0, "tiny": 5e-324, "big": 1e300, "flag": True, "none": None},
    {"nested": {"list": [1, [2, {"three": 3}]], "tuple": (1, 2)}, "1": {1: "int key"}},
]


@pytest.mark.parametrize("payload", PLAIN)
def test_requests_encode_as_the_json_module_would(payload: Any) -> None:
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert _ffi.encode(payload) == expected


def test_pydantic_types_encode_as_pydantic_writes_them() -> None:
    when = datetime.datetime(2026, 11, 27, 8, 30, tzinfo=datetime.timezone.utc)
    assert _ffi.encode({"at": when, "raw": b"hi"}) == b'{"at":"2026-11-27T08:30:00Z","raw":"hi"}'


def _cycle() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


@pytest.mark.parametrize(
    "payload",
    [
        {"temperature": math.nan},
        {"temperature": -math.inf},
        {"extra_body": {"deep": [1.0, math.inf]}},
        {"prompt": "NaN", "temperature": math.nan},
        {"object": object()},
        {"surrogate": "\ud800"},
        _cycle(),
    ],
    ids=["nan", "-inf", "nested inf", "nan beside the word", "object", "surrogate", "cycle"],
)
def test_values_json_cannot_hold_are_refused(payload: Any) -> None:
    with pytest.raises(ValidationError) as info:
        _ffi.encode(payload)
    assert info.value.code == "invalid_argument"
    assert "JSON values with finite numbers" in info.value.message


def _buffer(head: bytes, part_at: int = 0, part: bytes = b"") -> tuple[Any, int]:
    """A result buffer laid out as the library lays them out (ABI 3: JSON, NUL, parts at
    offsets from the start). Not the library's memory, so ``ik_buffer_free`` ignores it."""
    data = head + b"\0"
    if part:
        data = data.ljust(part_at, b"\0") + part
    return _ffi.ffi.new("char[]", data), len(head)


def test_result_buffers_give_their_json_and_the_parts_they_name() -> None:
    assert _ffi.take_result(*_buffer(b'{"a":1}'), None, _ffi.pair) == ({"a": 1}, b"")
    # The library pads the offset it fills in after the fact with spaces (valid JSON).
    head = b'{"p":{"offset":64   ,"length":3,"dtype":"utf8"}}'
    buf, json_len = _buffer(head, 64, b"xyz")
    result, parts = _ffi.take_result(buf, json_len, "p", _ffi.pair)
    assert result["p"]["dtype"] == "utf8"
    # The part's bytes alone; the reference stays as the library wrote it.
    assert parts == b"xyz" and result["p"]["offset"] == 64
    # A part key the result does not carry, or carries as a list: JSON only.
    assert _ffi.take_result(*_buffer(b'{"p":[1.0]}'), "p", _ffi.pair) == ({"p": [1.0]}, b"")


@pytest.mark.parametrize(
    "ref",
    [b'{"offset":2,"length":3}', b'{"offset":"48","length":3}', b'{"offset":48}'],
    ids=["inside the JSON", "offset not an int", "no length"],
)
def test_malformed_part_references_are_refused(ref: bytes) -> None:
    buf, json_len = _buffer(b'{"p":' + ref + b"}", 48, b"xyz")
    with pytest.raises(InferenceKeyError) as info:
        _ffi.take_result(buf, json_len, "p", _ffi.pair)
    assert info.value.code == "internal"


def test_the_core_suggests_the_closest_field_for_an_unknown_key() -> None:
    """What every binding gets from the C ABI for a misspelt spec key (Python's own
    ``WorkloadSpec`` catches it first, with the same suggestion)."""
    from inferencekey.management import WORKLOAD_SPEC

    spec = {"name": "n", "slug": "s", "model": "m", "backend": "vllm", "comand": "x"}
    body = _ffi.encode(spec)
    with pytest.raises(InferenceKeyError) as info:
        _ffi.call_status(WORKLOAD_SPEC.fn("validate"), body, len(body))
    message = info.value.message
    assert "unknown field `comand`" in message, message
    assert "did you mean `command`?" in message, message
    body = _ffi.encode({**{k: v for k, v in spec.items() if k != "comand"}, "zzzzzz": 1})
    with pytest.raises(InferenceKeyError) as info:
        _ffi.call_status(WORKLOAD_SPEC.fn("validate"), body, len(body))
    assert "did you mean" not in info.value.message

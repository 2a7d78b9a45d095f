"""Client options through the public API: the core checks them (c-abi rule 26), the binding
only converts types. Every refusal is a ``ConfigurationError`` (``invalid_option``) with the
core's message, raised before any network (the base URL's port 9 is never reached)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from inferencekey import AsyncManagementClient, DataClient, ManagementClient, _options
from inferencekey.errors import ConfigurationError
from inferencekey.types import Timeout

BASE_URL = "http://127.0.0.1:9"
SECRET = "ik_sdk_1a2b3c4d_secret"
SECONDS = "must be a positive finite number of seconds, got "
RETRIES = "max_retries must be an int from 0 to 10, got "


def management(**options: Any) -> ManagementClient:
    return ManagementClient(
        sdk_token="ik_sdk_1a2b3c4d_x", base_url=BASE_URL, project="p", **options
    )


def data(**options: Any) -> DataClient:
    return DataClient(base_url=BASE_URL, project="p", **options)


CLIENTS: list[Callable[..., ManagementClient | DataClient]] = [management, data]


def limits(client: ManagementClient | DataClient) -> tuple[float, float, int]:
    """The effective (request, connect, retries) as the core describes them."""
    d = client._description
    return d["timeout_s"], d["connect_timeout_s"], d["max_retries"]


def refused(call: Callable[[], object]) -> str:
    """The core's message; the class, code and string form are those of a bad option."""
    with pytest.raises(ConfigurationError) as info:
        call()
    error = info.value
    assert type(error) is ConfigurationError
    assert error.code == "invalid_option"
    assert str(error) == f"configuration error: {error.message}"
    return error.message


# --- timeouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("make", CLIENTS)
def test_defaults(make: Callable[..., ManagementClient | DataClient]) -> None:
    with make() as client:
        assert limits(client) == (60.0, 5.0, 2)
        d = client._description
        assert (d["max_response_bytes"], d["max_event_bytes"]) == (256 << 20, 16 << 20)


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (60.0, (60.0, 5.0)),
        (30, (30.0, 5.0)),
        (2.5, (2.5, 2.5)),
        (5, (5.0, 5.0)),
        (0.001, (0.001, 0.001)),
        (Fraction(1, 2), (0.5, 0.5)),
        (Timeout(request=120.0, connect=10.0), (120.0, 10.0)),
        (Timeout(request=1.0), (1.0, 5.0)),
    ],
    ids=repr,
)
@pytest.mark.parametrize("make", CLIENTS)
def test_good_timeouts(
    make: Callable[..., ManagementClient | DataClient],
    timeout: object,
    expected: tuple[float, float],
) -> None:
    with make(timeout=timeout, max_retries=0) as client:
        assert limits(client) == (pytest.approx(expected[0]), pytest.approx(expected[1]), 0)


# (value, what the message shows of it); numbers as floats, anything else only by JSON type.
BAD_TIMEOUTS: list[tuple[object, str]] = [
    (None, "timeout " + SECONDS + "null"),
    (0, "timeout " + SECONDS + "0.0"),
    (0.0, "timeout " + SECONDS + "0.0"),
    (-1, "timeout " + SECONDS + "-1.0"),
    (-0.5, "timeout " + SECONDS + "-0.5"),
    (math.nan, "timeout " + SECONDS + "nan"),
    (math.inf, "timeout " + SECONDS + "inf"),
    (-math.inf, "timeout " + SECONDS + "-inf"),
    (Fraction(-(10**400)), "timeout " + SECONDS + "-inf"),
    (True, "timeout " + SECONDS + "true"),
    (False, "timeout " + SECONDS + "false"),
    ("60", "timeout " + SECONDS + "a string"),
    ("NaN", "timeout " + SECONDS + "nan"),  # the wire's spelling of NaN, read as one
    (Decimal("1"), "timeout " + SECONDS + "a string"),
    (Decimal("NaN"), "timeout " + SECONDS + "a string"),
    ([60], "timeout " + SECONDS + "a list"),
    ([math.nan], "timeout " + SECONDS + "a list"),
    ({"request": 60}, "timeout " + SECONDS + "an object"),
    (object(), "timeout " + SECONDS + "a string"),
    (Timeout.model_construct(request=0.0, connect=5.0), "timeout " + SECONDS + "0.0"),
    (Timeout.model_construct(request=60.0, connect=math.nan), "connect timeout " + SECONDS + "nan"),
]


@pytest.mark.parametrize(("timeout", "message"), BAD_TIMEOUTS, ids=repr)
@pytest.mark.parametrize("make", CLIENTS)
def test_bad_timeouts(
    make: Callable[..., ManagementClient | DataClient], timeout: object, message: str
) -> None:
    assert refused(lambda: make(timeout=timeout)) == message


@pytest.mark.parametrize("make", CLIENTS)
def test_messages_never_show_a_value_that_is_not_a_number(
    make: Callable[..., ManagementClient | DataClient],
) -> None:
    for options in (
        {"timeout": SECRET},
        {"timeout": [SECRET]},
        {"timeout": Timeout.model_construct(request=60.0, connect=SECRET)},
        {"max_retries": SECRET},
        {"max_response_bytes": SECRET},
        {"max_event_bytes": {"key": SECRET}},
    ):
        with pytest.raises(ConfigurationError) as info:
            make(**options)
        assert "secret" not in str(info.value) and "secret" not in repr(info.value)
        assert info.value.message.endswith(("got a string", "got a list", "got an object"))


# --- retries and byte caps -------------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 2, 10])
@pytest.mark.parametrize("make", CLIENTS)
def test_max_retries_in_range(
    make: Callable[..., ManagementClient | DataClient], retries: int
) -> None:
    with make(max_retries=retries) as client:
        assert limits(client)[2] == retries


@pytest.mark.parametrize(
    ("retries", "shown"),
    [
        (-1, "-1"),
        (11, "11"),
        (100, "100"),
        (True, "true"),
        (False, "false"),
        (2.0, "2.0"),
        (math.nan, "nan"),
        ("2", "a string"),
        (None, "null"),
        ([2], "a list"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("make", CLIENTS)
def test_max_retries_out_of_range(
    make: Callable[..., ManagementClient | DataClient], retries: object, shown: str
) -> None:
    assert refused(lambda: make(max_retries=retries)) == RETRIES + shown


@pytest.mark.parametrize("name", ["max_response_bytes", "max_event_bytes"])
def test_byte_caps(name: str) -> None:
    with management(**{name: 4096}) as client:
        assert client._description[name] == 4096
    for value, shown in [
        (4095, "4095"),
        (0, "0"),
        (-1, "-1"),
        (65536.0, "65536.0"),
        (True, "true"),
        ("65536", "a string"),
    ]:
        message = refused(lambda value=value: data(**{name: value}))
        assert message == f"{name} must be a number of bytes from 4096 up, got {shown}"


# --- with_options ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", CLIENTS)
def test_with_options_changes_only_what_is_given(
    make: Callable[..., ManagementClient | DataClient],
) -> None:
    with make(timeout=Timeout(request=30.0, connect=10.0), max_retries=4) as base:
        assert limits(base.with_options()) == (30.0, 10.0, 4)
        assert limits(base.with_options(timeout=None, max_retries=None)) == (30.0, 10.0, 4)
        assert limits(base.with_options(timeout=3.0)) == (3.0, 3.0, 4)  # caps connect
        assert limits(base.with_options(timeout=60)) == (60.0, 10.0, 4)
        assert limits(base.with_options(max_retries=0)) == (30.0, 10.0, 0)
        clone = base.with_options(timeout=Timeout(request=9.0, connect=1.0), max_retries=5)
        assert limits(clone) == (9.0, 1.0, 5)
        assert limits(base) == (30.0, 10.0, 4)
        capped = base.with_options(max_response_bytes=1 << 20, max_event_bytes=8192)
        assert (
            capped._description["max_response_bytes"],
            capped._description["max_event_bytes"],
        ) == (
            1 << 20,
            8192,
        )


@pytest.mark.parametrize(
    ("timeout", "message"), [(t, m) for t, m in BAD_TIMEOUTS if t is not None], ids=repr
)
def test_with_options_refuses_bad_timeouts(timeout: object, message: str) -> None:
    with management() as client:
        assert refused(lambda: client.with_options(timeout=timeout)) == message


def test_with_options_refuses_bad_retries_and_caps() -> None:
    with data() as client:
        assert refused(lambda: client.with_options(max_retries=11)) == RETRIES + "11"
        assert refused(lambda: client.with_options(max_retries="1")) == RETRIES + "a string"
        assert refused(lambda: client.with_options(max_event_bytes=1)).endswith("got 1")


# --- the readiness deadline ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "message"),
    [(t, m) for t, m in BAD_TIMEOUTS if not isinstance(t, Timeout)]
    + [(Timeout(), "timeout " + SECONDS + "an object")],
    ids=repr,
)
def test_bad_readiness_timeouts(timeout: Any, message: str) -> None:
    with management() as client:
        assert refused(lambda: client.wait_until_ready("bot", timeout=timeout)) == message
        assert refused(lambda: client.readiness_events("bot", timeout=timeout)) == message

    async def wait() -> None:
        async with AsyncManagementClient(
            sdk_token="ik_sdk_1a2b3c4d_x", base_url=BASE_URL, project="p"
        ) as client:
            await client.wait_until_ready("bot", timeout=timeout, silent=True)

    assert refused(lambda: asyncio.run(wait())) == message


# --- what the binding sends ------------------------------------------------------------------


def test_the_binding_only_converts_types() -> None:
    assert _options.client_options(Fraction(1, 4), 3) == {"timeout_s": 0.25, "max_retries": 3}
    assert _options.client_options(None, None) == {"timeout_s": None, "max_retries": None}
    assert _options.client_options(Timeout(request=2.0, connect=1.0), 2.0) == {
        "timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "max_retries": 2.0,
    }
    assert _options.partial_options() == {}
    assert _options.partial_options(max_retries=0) == {"max_retries": 0}
    assert _options.byte_caps(None, 4096) == {"max_event_bytes": 4096}
    assert [_options.wait_timeout(x) for x in (math.nan, math.inf, -math.inf, 10**400)] == [
        "NaN",
        "Infinity",
        "-Infinity",
        "Infinity",
    ]
    assert [_options.wait_timeout(x) for x in (True, "x", [1], (1,), {1: 2}, Decimal(1))] == [
        True,
        "x",
        [],
        [],
        {},
        "",
    ]


def test_header_mappings_are_converted_not_checked() -> None:
    """Types only: bytes as Latin-1, ``None`` kept (drop a default), other values by JSON
    type; the core checks names and values (``invalid_header``)."""
    assert _options.header_mapping(None) is None
    assert _options.header_mapping({"X-A": "1", b"X-B": b"2", "X-C": None}) == {
        "X-A": "1",
        "X-B": "2",
        "X-C": None,
    }
    converted = _options.header_mapping({"X-A": 3, "X-B": object(), 7: "v"})
    assert converted["X-A"] == 3 and converted["X-B"] == {}
    assert "<int name>" in converted
    assert _options.header_mapping([("X-A", "1")]) == []
    assert _options.call_options() is None
    assert _options.call_options(timeout=2) == {"timeout_s": 2.0}
    assert _options.call_options(extra_headers={"X": "y"}) == {"headers": {"X": "y"}}


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({7: "v"}, "is not a valid header name"),
        ({"X-A": object()}, "must be a string, got an object"),
        ({"X-A": b"caf\xe9"}, "non-ASCII"),
        ("X-A: 1", "must be a mapping of header names to strings, got a string"),
    ],
)
def test_header_refusals_come_from_the_core(headers: object, says: str) -> None:
    for make in CLIENTS:
        with pytest.raises(ConfigurationError) as info:
            make(default_headers=headers)
        assert info.value.code == "invalid_header"
        assert says in str(info.value), str(info.value)


def test_ca_bundle_type_is_checked_here_and_the_file_in_the_core() -> None:
    from inferencekey.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        data(ca_bundle=3)
    assert info.value.code == "invalid_argument"
    with pytest.raises(ConfigurationError) as caught:
        data(ca_bundle="/nonexistent/ca.pem")
    assert caught.value.code == "invalid_ca_bundle"

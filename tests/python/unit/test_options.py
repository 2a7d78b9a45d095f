from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from inferencekey._options import (
    client_options,
    max_retries_value,
    partial_options,
    timeout_pair,
    wait_timeout,
)
from inferencekey.errors import ConfigurationError
from inferencekey.types import Timeout


def test_defaults() -> None:
    assert client_options() == {"timeout_s": 60.0, "connect_timeout_s": 5.0, "max_retries": 2}


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
)
def test_timeout_values(timeout: object, expected: tuple[float, float]) -> None:
    pair = timeout_pair(timeout)
    assert pair == expected
    assert all(type(x) is float for x in pair)
    options = client_options(timeout, 0)
    assert (options["timeout_s"], options["connect_timeout_s"]) == expected


BAD_TIMEOUTS: list[object] = [
    None,
    0,
    0.0,
    -1,
    -0.5,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "60",
    Decimal("1"),
    [60],
    Timeout.model_construct(request=0.0, connect=5.0),
    Timeout.model_construct(request=60.0, connect=math.nan),
]


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=repr)
def test_bad_timeouts_raise_configuration_error(timeout: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        client_options(timeout, 2)
    assert info.value.code == "invalid_option"
    assert "timeout" in info.value.message
    assert str(info.value).startswith("configuration error: timeout")


def test_timeout_message_shows_numbers_but_not_other_values() -> None:
    with pytest.raises(ConfigurationError) as info:
        timeout_pair(-1)
    assert info.value.message == "timeout must be a positive finite number of seconds, got -1.0"
    with pytest.raises(ConfigurationError) as info:
        timeout_pair("ik_sdk_1a2b3c4d_secret")
    assert "secret" not in str(info.value) and info.value.message.endswith("got str")


@pytest.mark.parametrize("retries", [0, 1, 2, 10])
def test_max_retries_in_range(retries: int) -> None:
    assert max_retries_value(retries) == retries
    assert client_options(60.0, retries)["max_retries"] == retries


@pytest.mark.parametrize("retries", [-1, 11, 100, True, False, 2.0, "2", None])
def test_max_retries_out_of_range(retries: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        client_options(60.0, retries)
    assert info.value.code == "invalid_option"
    assert info.value.message.startswith("max_retries must be an int from 0 to 10, got ")


def test_partial_options_only_include_what_was_given() -> None:
    assert partial_options() == {}
    assert partial_options(timeout=3.0) == {"timeout_s": 3.0, "connect_timeout_s": 3.0}
    assert partial_options(max_retries=0) == {"max_retries": 0}
    assert partial_options(Timeout(request=9.0, connect=1.0), 5) == {
        "timeout_s": 9.0,
        "connect_timeout_s": 1.0,
        "max_retries": 5,
    }
    with pytest.raises(ConfigurationError):
        partial_options(timeout=0)
    with pytest.raises(ConfigurationError):
        partial_options(max_retries=11)


def test_wait_timeout() -> None:
    assert wait_timeout(600) == 600.0
    assert wait_timeout(0.25) == 0.25
    for bad in (None, 0, -3, math.nan, math.inf, True, "600", Timeout()):
        with pytest.raises(ConfigurationError) as info:
            wait_timeout(bad)
        assert info.value.code == "invalid_option"
        assert info.value.message.startswith("timeout must be a positive finite number")

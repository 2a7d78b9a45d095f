"""Validation of client options (sdk-behaviour §2) into the ABI's config JSON keys.

Checked in Python, before the native call, so a bad option fails at the line that passed it
with ``ConfigurationError`` (``invalid_option``). There is no "no timeout": ``None``, zero,
negative, NaN and infinite values are all refused.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Final

from .errors import ConfigurationError
from .types import Timeout

__all__ = [
    "byte_caps",
    "client_options",
    "max_retries_value",
    "partial_options",
    "timeout_pair",
    "wait_timeout",
]

DEFAULT_CONNECT_TIMEOUT: Final = 5.0
MAX_RETRIES_LIMIT: Final = 10


def _invalid(message: str) -> ConfigurationError:
    return ConfigurationError(message, code="invalid_option")


def _describe(value: object) -> str:
    # Numbers are shown; anything else only by type, as it could be a mistyped secret.
    if isinstance(value, Real) and not isinstance(value, bool):
        return repr(float(value))
    return "None" if value is None else type(value).__name__


def _seconds(value: object, what: str) -> float:
    if isinstance(value, Real) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    raise _invalid(f"{what} must be a positive finite number of seconds, got {_describe(value)}")


def timeout_pair(timeout: object, *, name: str = "timeout") -> tuple[float, float]:
    """``(request, connect)`` seconds from a float or a ``Timeout``. A float sets the request
    timeout; connect stays 5 s, or the float if smaller."""
    if isinstance(timeout, Timeout):
        # Re-checked: model_construct() can bypass Timeout's own validation.
        return (
            _seconds(timeout.request, f"{name}.request"),
            _seconds(timeout.connect, f"{name}.connect"),
        )
    if isinstance(timeout, Real) and not isinstance(timeout, bool):
        seconds = _seconds(timeout, name)
        return seconds, min(DEFAULT_CONNECT_TIMEOUT, seconds)
    raise _invalid(
        f"{name} must be a positive finite number of seconds or a Timeout, got {_describe(timeout)}"
    )


def max_retries_value(max_retries: object) -> int:
    """An ``int`` from 0 to 10 (``bool`` is refused even though it is an ``int``)."""
    if (
        isinstance(max_retries, int)
        and not isinstance(max_retries, bool)
        and 0 <= max_retries <= MAX_RETRIES_LIMIT
    ):
        return max_retries
    shown = repr(max_retries) if isinstance(max_retries, int) else _describe(max_retries)
    raise _invalid(f"max_retries must be an int from 0 to {MAX_RETRIES_LIMIT}, got {shown}")


def client_options(timeout: object = 60.0, max_retries: object = 2) -> dict[str, float | int]:
    """The ``timeout_s`` / ``connect_timeout_s`` / ``max_retries`` keys of the client config."""
    request, connect = timeout_pair(timeout)
    return {
        "timeout_s": request,
        "connect_timeout_s": connect,
        "max_retries": max_retries_value(max_retries),
    }


def partial_options(timeout: object = None, max_retries: object = None) -> dict[str, float | int]:
    """Keys for ``with_options()``: only those given; ``None`` means "keep the client's"."""
    options: dict[str, float | int] = {}
    if timeout is not None:
        options["timeout_s"], options["connect_timeout_s"] = timeout_pair(timeout)
    if max_retries is not None:
        options["max_retries"] = max_retries_value(max_retries)
    return options


def byte_caps(max_response_bytes: object, max_event_bytes: object) -> dict[str, int]:
    """The ``max_response_bytes`` / ``max_event_bytes`` keys, only those given. Their range is
    the core's to check; here only that each is an ``int``."""
    caps: dict[str, int] = {}
    for name, value in (
        ("max_response_bytes", max_response_bytes),
        ("max_event_bytes", max_event_bytes),
    ):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(f"{name} must be an int (bytes), got {_describe(value)}")
        caps[name] = value
    return caps


def wait_timeout(timeout: object) -> float:
    """The hard deadline of ``wait_until_ready``/``readiness_events``, in seconds."""
    return _seconds(timeout, "timeout")

"""Client options (sdk-behaviour §2) as the ABI's config JSON keys: type conversion only.

The core checks every option (c-abi rule 26), so each binding refuses the same values with the
same ``ConfigurationError`` (``invalid_option``) and message. Here a number becomes a JSON
number (the non-finite ones the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which JSON
needs and the core reads for them) and a ``Timeout`` its two keys. Any other value goes to the
core as a value of its JSON type, which is all the core's message shows of it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from pydantic_core import to_json

from .types import Timeout

__all__ = ["byte_caps", "client_options", "partial_options", "wait_timeout"]


def _non_number(value: object) -> Any:
    """A value the core will refuse, as a JSON value of the type it would be written as (the
    core's message names only that type). Strings, booleans and ``None`` go as they are; a
    container goes empty and anything else as a string, so that encoding it cannot fail first
    (a list holding NaN, an object JSON cannot hold)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    try:
        written = to_json(value, inf_nan_mode="constants")[:1]
    except (ValueError, TypeError, RecursionError):
        written = b'"'
    return {b"{": {}, b"[": []}.get(written, "")


def _float(value: object) -> Any:
    """Seconds: any real number but ``bool`` as a ``float``."""
    if not isinstance(value, Real) or isinstance(value, bool):
        return _non_number(value)
    try:
        seconds = float(value)
    except OverflowError:  # an int or Fraction beyond float
        seconds = -math.inf if value < 0 else math.inf
    if math.isnan(seconds):
        return "NaN"
    if math.isinf(seconds):
        return "Infinity" if seconds > 0 else "-Infinity"
    return seconds


def _int(value: object) -> Any:
    """Counts: an integer stays an ``int``; other numbers go as floats, for the core to refuse."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    return _float(value)


def _timeout(timeout: object) -> dict[str, Any]:
    """A number sets the request timeout only (the core caps the connect timeout by it)."""
    if isinstance(timeout, Timeout):
        return {"timeout_s": _float(timeout.request), "connect_timeout_s": _float(timeout.connect)}
    return {"timeout_s": _float(timeout)}


def client_options(timeout: object, max_retries: object) -> dict[str, Any]:
    """The client config's ``timeout_s`` (``connect_timeout_s``) and ``max_retries`` keys, always
    present: ``None`` reaches the core as ``null``, which it refuses."""
    return {**_timeout(timeout), "max_retries": _int(max_retries)}


def partial_options(timeout: object = None, max_retries: object = None) -> dict[str, Any]:
    """Keys for ``with_options()``: only those given; ``None`` means "keep the client's"."""
    options = {} if timeout is None else _timeout(timeout)
    if max_retries is not None:
        options["max_retries"] = _int(max_retries)
    return options


def byte_caps(max_response_bytes: object, max_event_bytes: object) -> dict[str, Any]:
    """The ``max_response_bytes`` / ``max_event_bytes`` keys, only those given."""
    caps = {"max_response_bytes": max_response_bytes, "max_event_bytes": max_event_bytes}
    return {name: _int(value) for name, value in caps.items() if value is not None}


def wait_timeout(timeout: object) -> Any:
    """The ``timeout_s`` of ``wait_until_ready``/``readiness_events``, in seconds."""
    return _float(timeout)

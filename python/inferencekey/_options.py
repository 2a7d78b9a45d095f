"""Client options (sdk-behaviour §2) as the ABI's config JSON keys: type conversion only.

The core checks every option (c-abi rule 26), so each binding refuses the same values with the
same ``ConfigurationError`` (``invalid_option``) and message. Here a number becomes a JSON
number (the non-finite ones the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which JSON
needs and the core reads for them) and a ``Timeout`` its two keys. Any other value goes to the
core as a value of its JSON type, which is all the core's message shows of it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

_TYPES = f"{__package__}.types"

__all__ = [
    "byte_caps",
    "ca_bundle_path",
    "call_options",
    "client_options",
    "header_mapping",
    "partial_options",
    "wait_timeout",
]


def _non_number(value: object) -> Any:
    """A value the core will refuse, as a JSON value of the type it would be written as (the
    core's message names only that type). Strings, booleans and ``None`` go as they are; a
    container goes empty and anything else as a string, so that encoding it cannot fail first
    (a list holding NaN, an object JSON cannot hold)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    from pydantic_core import to_json  # rare (a wrong argument): not loaded at import

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
    # A ``Timeout`` exists only once ``inferencekey.types`` is loaded: looking it up here rather
    # than importing it keeps pydantic out of client creation with a plain number.
    types = sys.modules.get(_TYPES)
    if types is not None and isinstance(timeout, types.Timeout):
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


def _header_text(value: object) -> Any:
    """A header name or value as a JSON string: ``str`` as is, ``bytes`` as Latin-1 (as httpx
    encodes them; the core refuses anything but visible ASCII). ``None`` stays ``None``
    (per call: "drop this default header"). Other values go by JSON type, for the core's
    message (``got a number``); never as their text, which could be a secret."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and not math.isfinite(value):
            return 0  # still "a number"; JSON cannot hold the value itself
        return value
    return _non_number(value) if isinstance(value, (list, tuple, dict)) else {}


def header_mapping(headers: object) -> Any:
    """``default_headers`` / ``extra_headers`` as a JSON object (the core checks names, values
    and which headers may be set). A non-mapping goes as a value of its JSON type."""
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        return _non_number(headers) if not isinstance(headers, (bytes, bytearray)) else ""
    out: dict[str, Any] = {}
    for name, value in headers.items():
        key = _header_text(name)
        if not isinstance(key, str):
            # JSON keys are strings: a name of another type becomes one the core refuses
            # (a space is never part of a header name), keeping the message type-only.
            key = f"<{type(name).__name__} name>"
        if key in out:
            key = f"{key} (twice)"
        out[key] = _header_text(value)
    return out


def call_options(timeout: object = None, extra_headers: object = None) -> dict[str, Any] | None:
    """A request's ``"options"`` key (c-abi §4) for a per-call ``timeout=`` / ``extra_headers=``;
    ``None`` when neither is given."""
    options = {} if timeout is None else _timeout(timeout)
    if extra_headers is not None:
        options["headers"] = header_mapping(extra_headers)
    return options or None


def ca_bundle_path(ca_bundle: object) -> Any:
    """``ca_bundle=`` (a ``str`` or ``os.PathLike``) as the ``ca_bundle_path`` string; the core
    reads and checks the file."""
    if ca_bundle is None:
        return None
    if isinstance(ca_bundle, (str, os.PathLike)):
        path = os.fspath(ca_bundle)
        return path if isinstance(path, str) else os.fsdecode(path)
    from .errors import ValidationError

    raise ValidationError(
        f"ca_bundle must be a path (str or os.PathLike), not {type(ca_bundle).__name__}",
        code="invalid_argument",
        field="ca_bundle",
    )

"""The one door to the native library: loading, the ABI check, JSON in and out, errors.

Nothing here is public. Every native call goes through :func:`call` (or :func:`call_into`
for calls that return a handle), which checks the status in one place, frees the
``ik_error`` and raises the mapped exception (c-abi §6).
"""

from __future__ import annotations

import json
import os
import sys
import weakref
from collections.abc import Callable
from typing import Any, Final

from . import _logging
from .errors import InferenceKeyError, error_from_native

try:
    from ._native import ffi, lib
except ImportError as exc:  # pragma: no cover - only a broken install gets here
    raise ImportError(
        f"inferencekey: the native library could not be loaded ({exc}). "
        "Reinstall the inferencekey wheel for this platform."
    ) from exc

#: The ABI version this package was built against (c-abi rule 21).
ABI_VERSION: Final = 1


def _check_abi() -> None:
    found = int(lib.ik_abi_version())
    if found != ABI_VERSION:
        path = os.path.join(os.path.dirname(__file__), "_native")
        raise ImportError(
            f"inferencekey: native library ABI version {found} does not match the package's "
            f"{ABI_VERSION} (library in {path}); reinstall the inferencekey wheel"
        )


_check_abi()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lib.ik_after_fork_child)

NULL: Final = ffi.NULL


@ffi.callback("void(void *, int32_t, const char *, size_t)")
def _log_trampoline(_user_data: Any, level: int, record: Any, length: int) -> None:
    """Core log records into ``logging``; alive for the life of the process (c-abi §6)."""
    if sys.is_finalizing():
        return
    try:
        _logging.emit_native_record(level, ffi.unpack(record, length).decode())
    except Exception:  # a log record must never break the call that produced it
        pass


def _set_native_log_level(level: int) -> None:
    lib.ik_log_set_callback(level, _log_trampoline if level else NULL, NULL, NULL)


_logging.install_native_level_setter(_set_native_log_level)
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
_loads = json.loads


def native_version() -> str:
    return str(ffi.string(lib.ik_version()).decode())


def encode(payload: Any) -> bytes:
    """JSON for the boundary. NaN and infinities are refused here, as the core would."""
    try:
        return _dumps(payload).encode()
    except (ValueError, TypeError) as exc:
        from .errors import ValidationError

        raise ValidationError(
            f"arguments must be JSON values with finite numbers ({exc})", code="invalid_argument"
        ) from None


def raise_error(status: int, err: Any) -> None:
    """Turns a failed status and its ``ik_error`` into the mapped exception (and frees it)."""
    if err == NULL:
        raise error_from_native(status, 0, "", "native call failed", None, None)
    try:
        request_id = lib.ik_error_request_id(err)
        details = lib.ik_error_details_json(err)
        exc = error_from_native(
            int(lib.ik_error_status(err)),
            int(lib.ik_error_http_status(err)),
            ffi.string(lib.ik_error_code(err)).decode(),
            ffi.string(lib.ik_error_message(err)).decode(),
            ffi.string(request_id).decode() if request_id != NULL else None,
            _loads(ffi.string(details)) if details != NULL else None,
        )
    finally:
        lib.ik_error_free(err)
    raise exc


def error_from_borrowed(status: int, err: Any) -> InferenceKeyError:
    """The exception for a borrowed ``ik_error`` (callbacks): read, never freed here."""
    if err == NULL:
        return error_from_native(status, 0, "", "native call failed", None, None)
    request_id = lib.ik_error_request_id(err)
    details = lib.ik_error_details_json(err)
    return error_from_native(
        int(lib.ik_error_status(err)),
        int(lib.ik_error_http_status(err)),
        ffi.string(lib.ik_error_code(err)).decode(),
        ffi.string(lib.ik_error_message(err)).decode(),
        ffi.string(request_id).decode() if request_id != NULL else None,
        _loads(ffi.string(details)) if details != NULL else None,
    )


def take_string(out: Any, out_len: Any) -> str | None:
    """Copies a library string out and frees it; ``None`` for NULL (end of a stream)."""
    ptr = out[0]
    if ptr == NULL:
        return None
    try:
        return ffi.unpack(ptr, out_len[0]).decode()
    finally:
        lib.ik_string_free(ptr)


def call(fn: Callable[..., int], *args: Any) -> Any:
    """Calls ``fn(*args, &out, &out_len, &err)`` and returns the decoded JSON result
    (``None`` at the end of a stream)."""
    out = ffi.new("char **")
    out_len = ffi.new("size_t *")
    err = ffi.new("ik_error **")
    status = fn(*args, out, out_len, err)
    if status:
        raise_error(status, err[0])
    text = take_string(out, out_len)
    return None if text is None else _loads(text)


def call_into(fn: Callable[..., int], ctype: str, *args: Any) -> Any:
    """Calls ``fn(*args, &out, &err)`` for a function that returns a new handle."""
    out = ffi.new(f"{ctype} **")
    err = ffi.new("ik_error **")
    status = fn(*args, out, err)
    if status:
        raise_error(status, err[0])
    return out[0]


class Handle:
    """Owns one native handle: freed by :meth:`close` or when garbage-collected, never twice."""

    __slots__ = ("_finalizer", "ptr", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None]) -> None:
        self.ptr = ptr
        self._finalizer = weakref.finalize(self, free, ptr)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        self._finalizer()


class Cancel:
    """A native cancellation token for one call."""

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        self._handle = Handle(lib.ik_cancel_new(), lib.ik_cancel_free)

    @property
    def ptr(self) -> Any:
        return self._handle.ptr

    def cancel(self) -> None:
        if not self._handle.closed:
            lib.ik_cancel_cancel(self._handle.ptr)

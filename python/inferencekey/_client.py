"""What both clients share: building the native config, argument checks, the closed state."""

from __future__ import annotations

from typing import Any, TypeVar

from . import _ffi, _logging
from ._options import client_options, partial_options
from ._version import __version__
from .errors import InferenceKeyError, ValidationError


def native_config(
    *,
    from_env: bool,
    base_url: object,
    project: object,
    timeout: object,
    max_retries: object,
    **token: object,
) -> bytes:
    """The config JSON of c-abi §4; the core resolves the environment and checks tokens."""
    config: dict[str, Any] = {
        "from_env": from_env,
        "base_url": opt_str("base_url", base_url),
        "project": opt_str("project", project),
        "binding": "python",
        "binding_version": __version__,
        **client_options(timeout, max_retries),
    }
    for name, value in token.items():
        config[name] = opt_str(name, value)
    _logging.sync_native_level()
    return _ffi.encode(config)


def opt_str(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(
        f"{name} must be a string, not {type(value).__name__}", code="invalid_argument", field=name
    )


def slug_arg(value: object) -> str:
    """Workload slugs are checked for shape by the core; here only for type."""
    if not isinstance(value, str):
        raise ValidationError(
            f"workload_slug must be a string, not {type(value).__name__}",
            code="invalid_argument",
            field="workload_slug",
        )
    return value


class NativeClient:
    """A native client handle with the ``close()``/``with`` protocol of sdk §4."""

    __slots__ = ("_description", "_handle")

    def __init__(self, handle: _ffi.Handle) -> None:
        self._handle = handle
        self._description: dict[str, Any] = {}

    @property
    def _ptr(self) -> Any:
        if self._handle.closed:
            raise InferenceKeyError("this client is closed", code="client_closed")
        return self._handle.ptr

    def close(self) -> None:
        """Releases the native client (and its token). Later calls raise ``client_closed``."""
        self._handle.close()


C = TypeVar("C", bound=NativeClient)


def clone_with_options(
    client: C, new: Any, free: Any, ctype: str, timeout: object, max_retries: object
) -> C:
    """A copy of ``client`` with other timeouts or retries, sharing credentials, connections
    and (async clients) the event loop binding."""
    opts = _ffi.encode(partial_options(timeout, max_retries))
    ptr = _ffi.call_into(new, ctype, client._ptr, opts, len(opts))
    clone = type(client).__new__(type(client))
    NativeClient.__init__(clone, _ffi.Handle(ptr, free))
    clone._description = client._description
    if hasattr(client, "_loop"):
        clone._loop = client._loop  # type: ignore[attr-defined]
    return clone


def describe(fn: Any, ptr: Any) -> dict[str, Any]:
    result = _ffi.call(fn, ptr)
    return result if isinstance(result, dict) else {}

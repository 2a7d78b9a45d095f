"""What both clients share: building the native config, argument checks, the closed state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from . import _ffi, _logging
from ._options import byte_caps, client_options, partial_options
from ._version import __version__
from .errors import ValidationError


def native_config(
    *,
    from_env: bool,
    base_url: object,
    project: object,
    timeout: object,
    max_retries: object,
    max_response_bytes: object = None,
    max_event_bytes: object = None,
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
        **byte_caps(max_response_bytes, max_event_bytes),
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


@dataclass(frozen=True)
class Plane:
    """The native functions of one client type (management or data)."""

    ctype: str
    new: Any
    free: Any
    describe: Any
    with_options: Any


MANAGEMENT = Plane(
    "ik_management_client",
    _ffi.lib.ik_management_client_new,
    _ffi.lib.ik_management_client_free,
    _ffi.lib.ik_management_client_describe,
    _ffi.lib.ik_management_client_with_options,
)
DATA = Plane(
    "ik_data_client",
    _ffi.lib.ik_data_client_new,
    _ffi.lib.ik_data_client_free,
    _ffi.lib.ik_data_client_describe,
    _ffi.lib.ik_data_client_with_options,
)


C = TypeVar("C", bound="NativeClient")


class NativeClient:
    """A native client handle with the ``close()``/``with`` protocol of sdk §4. Sync and async
    clients of one plane open and clone through the same :class:`Plane`."""

    __slots__ = ("_description", "_handle")

    _plane: ClassVar[Plane]

    def __init__(self, config: bytes) -> None:
        ptr = _ffi.call_into(self._plane.new, self._plane.ctype, config, len(config))
        self._adopt(ptr)
        self._description: dict[str, Any] = describe(self._plane.describe, ptr)

    def _adopt(self, ptr: Any) -> None:
        self._handle = _ffi.Handle(ptr, self._plane.free)

    @property
    def _ptr(self) -> Any:
        return self._handle.open_ptr("client")

    def _clone_with_options(
        self: C,
        timeout: object,
        max_retries: object,
        max_response_bytes: object = None,
        max_event_bytes: object = None,
    ) -> C:
        """A copy with other timeouts, retries or caps, sharing credentials, connections and
        (async clients) the event loop binding."""
        opts = _ffi.encode(
            {
                **partial_options(timeout, max_retries),
                **byte_caps(max_response_bytes, max_event_bytes),
            }
        )
        ptr = _ffi.call_into(
            self._plane.with_options, self._plane.ctype, self._ptr, opts, len(opts)
        )
        clone = type(self).__new__(type(self))
        clone._adopt(ptr)
        clone._description = describe(self._plane.describe, ptr)
        if hasattr(self, "_loop"):
            clone._loop = self._loop  # type: ignore[attr-defined]
        return clone

    def close(self) -> None:
        """Releases the native client (and its token). Later calls raise ``client_closed``."""
        self._handle.close()


def describe(fn: Any, ptr: Any) -> dict[str, Any]:
    result = _ffi.call(fn, ptr)
    return result if isinstance(result, dict) else {}

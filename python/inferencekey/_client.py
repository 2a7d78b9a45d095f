"""What sync and async clients share: the native functions of each object, the config JSON,
construction, ``from_env``, ``with_options``, ``repr`` and the closed state. Only how a call
waits differs between them."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from . import _ffi, _logging
from ._options import (
    byte_caps,
    ca_bundle_path,
    call_options,
    client_options,
    header_mapping,
    partial_options,
)
from ._version import __version__
from .errors import ValidationError

if TYPE_CHECKING:
    from typing_extensions import Self

    from .types import Timeout

__all__ = [
    "DATA",
    "DEV_SERVER",
    "ENDPOINT",
    "MANAGEMENT",
    "STREAM",
    "WORKLOAD_SPEC",
    "DataClientBase",
    "EndpointBase",
    "ManagementClientBase",
    "NativeClient",
    "Plane",
    "describe",
    "native_config",
    "opt_str",
    "slug_arg",
    "with_call_options",
]


class Plane(NamedTuple):
    """The native functions of one kind of object: ABI 3 names them ``<prefix>_<verb>``.

    (A ``NamedTuple``, immutable and hashable, rather than a frozen dataclass: ``dataclasses``
    loads ``inspect``, a fifth of the import time of this package.)"""

    prefix: str

    @property
    def ctype(self) -> str:
        """The C type of the object's handle (the same name as the prefix)."""
        return self.prefix

    @functools.cache  # noqa: B019 - four module-level planes, alive for the process anyway
    def fn(self, verb: str) -> Any:
        """The native function ``<prefix>_<verb>`` (e.g. ``ik_management_client_ensure``)."""
        return getattr(_ffi.lib, f"{self.prefix}_{verb}")


MANAGEMENT = Plane("ik_management_client")
DATA = Plane("ik_data_client")
ENDPOINT = Plane("ik_endpoint")
STREAM = Plane("ik_stream")
WORKLOAD_SPEC = Plane("ik_workload_spec")
DEV_SERVER = Plane("ik_dev_server")


def native_config(
    *,
    from_env: bool,
    base_url: object,
    project: object,
    timeout: object,
    max_retries: object,
    max_response_bytes: object = None,
    max_event_bytes: object = None,
    ca_bundle: object = None,
    default_headers: object = None,
    **token: object,
) -> bytes:
    """The config JSON of c-abi §4; the core resolves the environment, checks tokens, loads
    the TLS roots and checks the headers."""
    config: dict[str, Any] = {
        "from_env": from_env,
        "base_url": opt_str("base_url", base_url),
        "project": opt_str("project", project),
        "binding": "python",
        "binding_version": __version__,
        **client_options(timeout, max_retries),
        **byte_caps(max_response_bytes, max_event_bytes),
    }
    if ca_bundle is not None:
        config["ca_bundle_path"] = ca_bundle_path(ca_bundle)
    if default_headers is not None:
        config["default_headers"] = header_mapping(default_headers)
    for name, value in token.items():
        config[name] = opt_str(name, value)
    _logging.sync_native_level()
    return _ffi.encode_config(config)


def with_call_options(
    request: dict[str, Any], timeout: object = None, extra_headers: object = None
) -> dict[str, Any]:
    """``request`` with its ``"options"`` key for a per-call ``timeout=``/``extra_headers=``."""
    if timeout is None and extra_headers is None:  # the per-call path: nothing to add
        return request
    options = call_options(timeout, extra_headers)
    if options is not None:
        request["options"] = options
    return request


def opt_str(name: str, value: object) -> str | None:
    """``value`` if it is a string or ``None``; anything else raises ``ValidationError``."""
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


def describe(plane: Plane, ptr: Any) -> dict[str, Any]:
    """The object's ``<prefix>_describe`` JSON (for ``repr``; secrets come redacted)."""
    result = _ffi.call_small(plane.fn("describe"), ptr)
    return result if isinstance(result, dict) else {}


class NativeClient:
    """A native client handle with the ``close()``/``with`` protocol of sdk §4.

    Attributes shared by every client (``base_url``, ``project``, ``timeout``,
    ``max_retries``) show the settings in effect, as the core resolved them.
    """

    __slots__ = ("_description", "_handle")

    _plane: ClassVar[Plane]
    #: The ``describe`` keys shown by ``repr``.
    _shown: ClassVar[tuple[str, ...]] = ("base_url", "project")

    def __init__(self, config: bytes) -> None:
        ptr = _ffi.call_into(self._plane.fn("new"), self._plane.ctype, config, len(config))
        self._handle = _ffi.Handle(ptr, self._plane.fn("free"))
        self._description: dict[str, Any] = describe(self._plane, ptr)

    @property
    def _ptr(self) -> Any:
        return self._handle.open_ptr("client")

    @property
    def base_url(self) -> str:
        """The server's base URL, as resolved (argument, ``INFERENCEKEY_BASE_URL``, default)."""
        return str(self._description["base_url"])

    @property
    def project(self) -> str | None:
        """The client's default project, if one is configured."""
        project = self._description.get("project")
        return None if project is None else str(project)

    @property
    def timeout(self) -> Timeout:
        """The per-attempt request and connect timeouts in effect, in seconds."""
        from .types import Timeout  # not at import: creating a client needs no pydantic model

        return Timeout(
            request=float(self._description["timeout_s"]),
            connect=float(self._description["connect_timeout_s"]),
        )

    @property
    def max_retries(self) -> int:
        """How many extra attempts a retryable failure gets (0 to 10)."""
        return int(self._description["max_retries"])

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        default_headers: Mapping[str, str | None] | None = None,
    ) -> Self:
        """Returns a copy of this client with other options.

        The copy shares the credentials, the connection pool and (async clients) the event
        loop binding. An argument left ``None`` keeps this client's value.

        Args:
            timeout: Seconds per attempt (the request timeout; the connect timeout becomes
                the smaller of it and 5 s), or a ``Timeout`` setting both.
            max_retries: Extra attempts after a retryable failure, 0 to 10.
            max_response_bytes: The largest response body accepted; a larger one raises
                ``ApiError`` (``response_too_large``).
            max_event_bytes: The largest streamed event accepted; a larger one raises
                ``ApiError`` (``event_too_large``).
            default_headers: Headers merged over this client's defaults; a ``None`` value
                drops that default.

        Returns:
            A new client of the same class.

        Raises:
            ConfigurationError: An option is out of range (``invalid_option``) or a header
                may not be set (``invalid_header``).
            InferenceKeyError: This client is closed (``client_closed``).
        """
        options: dict[str, Any] = {
            **partial_options(timeout, max_retries),
            **byte_caps(max_response_bytes, max_event_bytes),
        }
        if default_headers is not None:
            options["headers"] = header_mapping(default_headers)
        opts = _ffi.encode_config(options)
        ptr = _ffi.call_into(
            self._plane.fn("with_options"), self._plane.ctype, self._ptr, opts, len(opts)
        )
        clone = type(self).__new__(type(self))
        clone._handle = _ffi.Handle(ptr, self._plane.fn("free"))
        clone._description = describe(self._plane, ptr)
        loop = getattr(self, "_loop", None)
        if loop is not None:
            clone._loop = loop  # type: ignore[attr-defined]
        return clone

    def close(self) -> None:
        """Releases the native client and its credentials. Idempotent.

        Later calls on this client raise ``InferenceKeyError`` (``client_closed``).
        """
        self._handle.close()

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={self._description.get(key)!r}" for key in self._shown)
        state = ", closed" if self._handle.closed else ""
        return f"{type(self).__name__}({shown}{state})"


class ManagementClientBase(NativeClient):
    """Construction of a control-plane client (``ManagementClient``, ``AsyncManagementClient``)."""

    __slots__ = ()
    _plane = MANAGEMENT
    _shown = ("base_url", "project", "token")

    def __init__(
        self,
        *,
        sdk_token: str | None,
        base_url: str | None = None,
        project: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        default_headers: Mapping[str, str] | None = None,
        _from_env: bool = False,
    ) -> None:
        """Creates a client from its arguments alone; ``from_env()`` also reads the environment.

        Values are trimmed, and an empty one counts as unset. The token is checked here
        (its prefix strictly, its shape leniently); nothing is sent until the first call.

        Args:
            sdk_token: The project's ``ik_sdk_`` token.
            base_url: The platform's URL; default ``https://api.inferencekey.com``.
            project: The project used by calls that are given none.
            timeout: Seconds per attempt (the request timeout; the connect timeout becomes the
                smaller of it and 5 s), or a ``Timeout`` setting both.
            max_retries: Extra attempts after a retryable failure, 0 to 10.
            max_response_bytes: The largest response body accepted, at least 4096 (default
                256 MiB); a larger one raises ``ApiError`` (``response_too_large``).
            max_event_bytes: The largest streamed event accepted, at least 4096 (default
                16 MiB); a larger one raises ``ApiError`` (``event_too_large``).
            ca_bundle: A PEM file whose certificates become the only trusted roots. Without
                it, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set, else the system store.
            default_headers: Headers sent with every request. ``Authorization`` and connection
                headers (``Host``, ``Content-Length``, ...) are refused.

        Raises:
            ConfigurationError: No token was given (``missing_token``).
            AuthError: The token is malformed or has no known prefix
                (``wrong_credential_type``).
            PermissionDenied: The token is an ``ik_live_`` data key
                (``wrong_credential_type``).
            ConfigurationError: An option is out of range (``invalid_option``), the base URL
                is not ``http``/``https`` with a host (``invalid_base_url``), a header may not
                be set (``invalid_header``) or the CA bundle is unusable
                (``invalid_ca_bundle``).
            ValidationError: A string argument is not a string (``invalid_argument``).
        """
        super().__init__(
            native_config(
                from_env=_from_env,
                base_url=base_url,
                project=project,
                timeout=timeout,
                max_retries=max_retries,
                max_response_bytes=max_response_bytes,
                max_event_bytes=max_event_bytes,
                ca_bundle=ca_bundle,
                default_headers=default_headers,
                sdk_token=sdk_token,
            )
        )

    @classmethod
    def from_env(
        cls,
        *,
        sdk_token: str | None = None,
        base_url: str | None = None,
        project: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> Self:
        """Creates a client from its arguments, then the environment, then the defaults.

        An explicit argument wins over its environment variable, which wins over the default;
        an empty or blank value counts as unset. ``INFERENCEKEY_API_KEY`` is never read.

        Args:
            sdk_token: The project's ``ik_sdk_`` token; else ``INFERENCEKEY_SDK_TOKEN``.
            base_url: The platform's URL; else ``INFERENCEKEY_BASE_URL``, else
                ``https://api.inferencekey.com``.
            project: The project used by calls that are given none; else
                ``INFERENCEKEY_PROJECT``.
            timeout: Seconds per attempt (the request timeout; the connect timeout becomes the
                smaller of it and 5 s), or a ``Timeout`` setting both.
            max_retries: Extra attempts after a retryable failure, 0 to 10.
            max_response_bytes: The largest response body accepted, at least 4096 (default
                256 MiB); a larger one raises ``ApiError`` (``response_too_large``).
            max_event_bytes: The largest streamed event accepted, at least 4096 (default
                16 MiB); a larger one raises ``ApiError`` (``event_too_large``).
            ca_bundle: A PEM file whose certificates become the only trusted roots. Without
                it, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set, else the system store.
            default_headers: Headers sent with every request. ``Authorization`` and connection
                headers (``Host``, ``Content-Length``, ...) are refused.

        Returns:
            The new client.

        Raises:
            ConfigurationError: No token in the arguments or the environment
                (``missing_token``).
            AuthError: The token is malformed or has no known prefix
                (``wrong_credential_type``).
            PermissionDenied: The token is an ``ik_live_`` data key
                (``wrong_credential_type``).
            ConfigurationError: An option is out of range (``invalid_option``), the base URL
                is not ``http``/``https`` with a host (``invalid_base_url``), a header may not
                be set (``invalid_header``) or the CA bundle is unusable
                (``invalid_ca_bundle``).
            ValidationError: A string argument is not a string (``invalid_argument``).
        """
        return cls(
            sdk_token=sdk_token,
            base_url=base_url,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
            ca_bundle=ca_bundle,
            default_headers=default_headers,
            _from_env=True,
        )


class DataClientBase(NativeClient):
    """Construction of a data-plane client (``DataClient``, ``AsyncDataClient``)."""

    __slots__ = ()
    _plane = DATA

    def __init__(
        self,
        *,
        project: str | None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        default_headers: Mapping[str, str] | None = None,
        _from_env: bool = False,
    ) -> None:
        """Creates a client from its arguments alone; ``from_env()`` also reads the environment.

        Values are trimmed, and an empty one counts as unset. No request is sent here, and
        keys are checked by ``endpoint()``.

        Args:
            project: The project whose workloads are called.
            base_url: The platform's URL; default ``https://api.inferencekey.com``.
            api_key: The default ``ik_live_`` key of ``endpoint()``.
            timeout: Seconds per attempt (the request timeout; the connect timeout becomes the
                smaller of it and 5 s), or a ``Timeout`` setting both.
            max_retries: Extra attempts after a retryable failure, 0 to 10.
            max_response_bytes: The largest response body accepted, at least 4096 (default
                256 MiB); a larger one raises ``ApiError`` (``response_too_large``).
            max_event_bytes: The largest streamed event accepted, at least 4096 (default
                16 MiB); a larger one raises ``ApiError`` (``event_too_large``).
            ca_bundle: A PEM file whose certificates become the only trusted roots. Without
                it, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set, else the system store.
            default_headers: Headers sent with every request. ``Authorization`` and connection
                headers (``Host``, ``Content-Length``, ...) are refused.

        Raises:
            ConfigurationError: No project was given (``missing_project``).
            ConfigurationError: An option is out of range (``invalid_option``), the base URL
                is not ``http``/``https`` with a host (``invalid_base_url``), a header may not
                be set (``invalid_header``) or the CA bundle is unusable
                (``invalid_ca_bundle``).
            ValidationError: A string argument is not a string (``invalid_argument``).
        """
        super().__init__(
            native_config(
                from_env=_from_env,
                base_url=base_url,
                project=project,
                timeout=timeout,
                max_retries=max_retries,
                max_response_bytes=max_response_bytes,
                max_event_bytes=max_event_bytes,
                ca_bundle=ca_bundle,
                default_headers=default_headers,
                api_key=api_key,
            )
        )

    @classmethod
    def from_env(
        cls,
        *,
        project: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> Self:
        """Creates a client from its arguments, then the environment, then the defaults.

        An explicit argument wins over its environment variable, which wins over the default;
        an empty or blank value counts as unset. ``INFERENCEKEY_SDK_TOKEN`` is never read.

        Args:
            project: The project whose workloads are called; else ``INFERENCEKEY_PROJECT``.
            base_url: The platform's URL; else ``INFERENCEKEY_BASE_URL``, else
                ``https://api.inferencekey.com``.
            api_key: The default ``ik_live_`` key of ``endpoint()``; else
                ``INFERENCEKEY_API_KEY``.
            timeout: Seconds per attempt (the request timeout; the connect timeout becomes the
                smaller of it and 5 s), or a ``Timeout`` setting both.
            max_retries: Extra attempts after a retryable failure, 0 to 10.
            max_response_bytes: The largest response body accepted, at least 4096 (default
                256 MiB); a larger one raises ``ApiError`` (``response_too_large``).
            max_event_bytes: The largest streamed event accepted, at least 4096 (default
                16 MiB); a larger one raises ``ApiError`` (``event_too_large``).
            ca_bundle: A PEM file whose certificates become the only trusted roots. Without
                it, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set, else the system store.
            default_headers: Headers sent with every request. ``Authorization`` and connection
                headers (``Host``, ``Content-Length``, ...) are refused.

        Returns:
            The new client.

        Raises:
            ConfigurationError: No project in the arguments or the environment
                (``missing_project``).
            ConfigurationError: An option is out of range (``invalid_option``), the base URL
                is not ``http``/``https`` with a host (``invalid_base_url``), a header may not
                be set (``invalid_header``) or the CA bundle is unusable
                (``invalid_ca_bundle``).
            ValidationError: A string argument is not a string (``invalid_argument``).
        """
        return cls(
            project=project,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
            ca_bundle=ca_bundle,
            default_headers=default_headers,
            _from_env=True,
        )

    def _new_endpoint(self, workload_slug: object, api_key: object) -> _ffi.Handle:
        """A native endpoint (no network; the slug and key are checked by the core)."""
        body = _ffi.encode(
            {"workload_slug": slug_arg(workload_slug), "api_key": opt_str("api_key", api_key)}
        )
        ptr = _ffi.call_into(ENDPOINT.fn("new"), ENDPOINT.ctype, self._ptr, body, len(body))
        return _ffi.Handle(ptr, ENDPOINT.fn("free"))


class EndpointBase:
    """What sync and async endpoints share: the handle and the described identity.

    Attributes:
        project_slug: The project of the workload.
        workload_slug: The workload this endpoint calls.
        base_url: The ``.../v1`` base URL of the workload, for any OpenAI-compatible client.
    """

    __slots__ = ("_handle", "_key", "base_url", "project_slug", "workload_slug")

    def __init__(self, handle: _ffi.Handle) -> None:
        """Wraps a native endpoint; use ``DataClient.endpoint()`` rather than this.

        Args:
            handle: The native endpoint, owned from now on.
        """
        self._handle = handle
        info = describe(ENDPOINT, handle.ptr)
        self.project_slug: str = info["project_slug"]
        self.workload_slug: str = info["workload_slug"]
        self.base_url: str = info["base_url"]
        self._key: str = info["api_key"]

    @property
    def _ptr(self) -> Any:
        return self._handle.open_ptr("endpoint")

    def close(self) -> None:
        """Releases the native endpoint and its key now rather than at garbage collection.

        Idempotent. Later calls on this endpoint raise ``InferenceKeyError``
        (``client_closed``).
        """
        self._handle.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(project_slug={self.project_slug!r}, "
            f"workload_slug={self.workload_slug!r}, api_key={self._key!r})"
        )

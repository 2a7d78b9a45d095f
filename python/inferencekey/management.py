"""The control plane: ``ManagementClient`` (an ``ik_sdk_`` token, one project)."""

from __future__ import annotations

import builtins
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _ffi
from ._client import (
    MANAGEMENT,
    WORKLOAD_SPEC,
    ManagementClientBase,
    opt_str,
    slug_arg,
    with_call_options,
)
from ._options import wait_timeout
from .enums import EnsureAction, OnDrift, to_wire
from .errors import DriftWarning, ValidationError

# The results' pydantic models and the streams are imported where first used, not here:
# creating a client needs neither (see ``inferencekey.__getattr__``).
if TYPE_CHECKING:
    from ._streams import ReadinessStream
    from .types import EnsureResult, ReadinessEvent, Timeout, Workload, WorkloadSpec

__all__ = ["ManagementClient", "ReadinessStream", "validate_spec"]


def __getattr__(name: str) -> Any:
    if name == "ReadinessStream":
        from ._streams import ReadinessStream

        return ReadinessStream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ManagementClient(ManagementClientBase):
    """The control plane: declares and inspects the workloads of one project.

    Uses an ``ik_sdk_`` token, held by the native core and shown only redacted. Thread-safe;
    share one client per process. ``close()`` (or leaving a ``with`` block) releases it;
    garbage collection does too.
    """

    __slots__ = ()

    def _call(self, verb: str, request: dict[str, Any]) -> Any:
        body = _ffi.encode(request)
        return _ffi.call(MANAGEMENT.fn(verb), self._ptr, body, len(body), _ffi.NULL)

    def ensure(
        self,
        spec: WorkloadSpec,
        *,
        on_drift: OnDrift | str = OnDrift.RECONCILE,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> EnsureResult:
        """Makes the workload match ``spec``: creates it, leaves it as it is, or acts on drift.

        Checks the spec locally, lists the project's workloads, then sends at most one create
        or update (one more list if the create conflicts). On drift, ``on_drift`` decides: patch
        (``RECONCILE``), raise (``FAIL``), report only (``DRY_RUN``), warn with a
        ``DriftWarning`` (``WARN``) or ignore (``IGNORE``).

        Args:
            spec: The desired state of the workload.
            on_drift: What to do when the live workload differs from ``spec``.
            project: The project; default ``spec.project``, else the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The action taken, the fields that changed (or would change) and the workload.

        Raises:
            ValidationError: The spec breaks a rule (``empty_field``, ``invalid_slug``,
                ``invalid_field``, ``conflicting_field``) or the server refused it.
            DriftError: Drift under ``OnDrift.FAIL`` (``drift_detected``), or a ``task_type``
                change, which cannot be patched (``immutable_field``).
            ConfigurationError: No project (``missing_project``) or a token in the spec
                (``secret_in_spec``).
            ConflictError: A create conflicted and the slug was still not listed.
            NotFoundError: The workload was deleted while being updated.
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        request = with_call_options(ensure_request(spec, on_drift, project), timeout, extra_headers)
        from .types import EnsureResult

        result = EnsureResult._from_native(self._call("ensure", request))
        warn_if_drifted(result, stacklevel=3)
        return result

    def plan(
        self,
        spec: WorkloadSpec,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> EnsureResult:
        """Reports what ``ensure`` would do, without writing anything.

        The same as ``ensure(spec, on_drift=OnDrift.DRY_RUN)``: drift and a missing workload
        give the action ``planned`` with the changes.

        Args:
            spec: The desired state of the workload.
            project: The project; default ``spec.project``, else the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            ``unchanged``, or ``planned`` with ``planned_operation`` and the changes.

        Raises:
            ValidationError: The spec breaks a rule (``empty_field``, ``invalid_slug``, ...).
            ConfigurationError: No project (``missing_project``) or a token in the spec
                (``secret_in_spec``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        request = with_call_options(
            ensure_request(spec, OnDrift.DRY_RUN, project), timeout, extra_headers
        )
        from .types import EnsureResult

        return EnsureResult._from_native(self._call("plan", request))

    def get(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> Workload:
        """Returns the workload whose slug is exactly ``workload_slug``.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The workload as the server lists it.

        Raises:
            NotFoundError: No workload has this slug.
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        request = with_call_options(slug_request(workload_slug, project), timeout, extra_headers)
        from .types import Workload

        return Workload._from_native(self._call("get", request))

    def list(
        self,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> builtins.list[Workload]:
        """Returns every workload of the project.

        Decoding is lenient: a list element that is not an object, or has no slug, is skipped.

        Args:
            project: The project; default the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The workloads, in the order the server lists them.

        Raises:
            ConfigurationError: No project (``missing_project``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        request = with_call_options(
            {"project": opt_str("project", project)}, timeout, extra_headers
        )
        items = self._call("list", request)
        from .types import Workload

        return [Workload._from_native(item) for item in items]

    def delete(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> bool:
        """Deletes the workload. Irreversible.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            ``True`` if it was removed; ``False`` if it did not exist, or was deleted by someone
            else meanwhile.

        Raises:
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        request = with_call_options(slug_request(workload_slug, project), timeout, extra_headers)
        return bool(self._call("delete", request)["deleted"])

    def readiness_events(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float = 600.0,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> ReadinessStream:
        """Opens the workload's readiness stream.

        The stream is opened here, so an unknown workload or a refused token raises at this
        call. Then ``for event in stream`` yields every ``ReadinessEvent`` up to and
        including the terminal one (``ready`` or ``error``; an ``error`` event is yielded, not
        raised).
        Dropped connections are reopened until ``timeout``, after which iterating raises
        ``ReadinessTimeoutError``.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: The hard deadline of the whole stream in seconds, reconnects included.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The open stream; close it (or use it as a context manager) to release the connection.

        Raises:
            NotFoundError: The workload does not exist.
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``), or ``timeout`` is not a positive
                finite number (``invalid_option``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        body = _ffi.encode(readiness_request(workload_slug, project, timeout, extra_headers))
        from ._streams import ReadinessStream, open_stream

        ptr = open_stream(MANAGEMENT.fn("readiness_events"), self._ptr, body, len(body))
        return ReadinessStream(ptr)

    def wait_until_ready(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float = 600.0,
        on_progress: Callable[[ReadinessEvent], object] | None = None,
        silent: bool = False,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> ReadinessEvent:
        """Waits until the workload is ``ready`` and returns that event.

        Follows the readiness stream, reconnecting when it drops. ``timeout`` is a hard
        deadline for everything (connects, reads, reconnect waits and ``on_progress``): the call
        returns or raises within ``timeout`` + 1 s.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: The deadline in seconds; there is no way to wait forever.
            on_progress: Called on this thread with each event; an exception
                from it stops the wait and propagates. Without it (and without ``silent``),
                progress is written to stderr.
            silent: Write no progress to stderr.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The ``ready`` event.

        Raises:
            ReadinessError: The workload reached phase ``error`` (``workload_failed``); it
                carries ``last_event`` and the process's ``log_tail``.
            ReadinessTimeoutError: The deadline passed (also a builtin ``TimeoutError``).
            NotFoundError: The workload does not exist.
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``), or ``timeout`` is not a positive
                finite number (``invalid_option``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        body = _ffi.encode(readiness_request(workload_slug, project, timeout, extra_headers))
        report = progress_reporter(workload_slug, on_progress, silent)
        ready = _ffi.call_with_events(
            MANAGEMENT.fn("wait_until_ready"), report_decoded(report), self._ptr, body
        )
        from .types import ReadinessEvent

        return ReadinessEvent._from_native(ready)

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# Request building and result handling shared with the async client (``aio``).


def ensure_request(spec: object, on_drift: OnDrift | str, project: object) -> dict[str, Any]:
    """The request JSON of ``ensure``/``plan`` (shared with the async client).

    Args:
        spec: The spec; anything else raises ``ValidationError``.
        on_drift: The drift policy, a member or its wire string.
        project: The ``project=`` argument.

    Returns:
        The request, with the spec in the ABI's form.

    Raises:
        ValidationError: ``spec`` is not a ``WorkloadSpec``, or an argument has the wrong
            type (``invalid_argument``).
    """
    from .types import WorkloadSpec

    if not isinstance(spec, WorkloadSpec):
        raise ValidationError(
            f"spec must be a WorkloadSpec, not {type(spec).__name__}", code="invalid_argument"
        )
    return {
        "spec": spec._to_native(),
        "on_drift": to_wire(on_drift, field="on_drift", allowed=OnDrift),
        "project": opt_str("project", project),
    }


def slug_request(workload_slug: object, project: object) -> dict[str, Any]:
    """The request JSON of calls on one workload (shared with the async client).

    Args:
        workload_slug: The ``workload_slug`` argument.
        project: The ``project=`` argument.

    Returns:
        The request.

    Raises:
        ValidationError: An argument is not a string (``invalid_argument``).
    """
    return {"workload_slug": slug_arg(workload_slug), "project": opt_str("project", project)}


def readiness_request(
    workload_slug: object, project: object, timeout: float, extra_headers: object = None
) -> dict[str, Any]:
    """The request JSON of ``wait_until_ready``/``readiness_events``.

    Args:
        workload_slug: The ``workload_slug`` argument.
        project: The ``project=`` argument.
        timeout: The wait's deadline (``timeout_s``), not a per-attempt timeout.
        extra_headers: The ``extra_headers=`` argument.

    Returns:
        The request.
    """
    request = {**slug_request(workload_slug, project), "timeout_s": wait_timeout(timeout)}
    return with_call_options(request, None, extra_headers)


def warn_if_drifted(result: EnsureResult, *, stacklevel: int) -> None:
    """Issues the ``DriftWarning`` of ``OnDrift.WARN`` (the core also logs it on WARNING).

    Args:
        result: What ``ensure`` returned; only ``drift_warned`` warns.
        stacklevel: Passed to ``warnings.warn``, so that it names the caller's line.
    """
    if result.action == EnsureAction.DRIFT_WARNED:
        fields = ", ".join(c.field for c in result.changes)
        message = f'workload "{result.workload_slug}" drifted from spec: {fields}'
        warnings.warn(DriftWarning(message, result.changes), stacklevel=stacklevel)


def progress_reporter(
    workload_slug: object, on_progress: Callable[[ReadinessEvent], object] | None, silent: bool
) -> Callable[[ReadinessEvent], object] | None:
    """The progress callback of ``wait_until_ready``.

    Args:
        workload_slug: The slug shown by the default stderr reporter.
        on_progress: The caller's callback, used as it is when given.
        silent: No default reporter.

    Returns:
        ``on_progress``, else a stderr reporter, else ``None`` when ``silent``.
    """
    if on_progress is not None:
        return on_progress
    return None if silent else _StderrProgress(slug_arg(workload_slug))


def report_decoded(
    report: Callable[[ReadinessEvent], object] | None,
) -> Callable[[Any], object] | None:
    """Adapts ``report`` to the core's event JSON.

    Args:
        report: A callback taking ``ReadinessEvent`` objects, or ``None``.

    Returns:
        A callback taking decoded event JSON, or ``None``.
    """
    if report is None:
        return None
    from .types import ReadinessEvent

    return lambda event: report(ReadinessEvent._from_native(event))


class _StderrProgress:
    """Default progress: one rewritten line on a TTY, else one line per phase or step change."""

    def __init__(self, slug: str) -> None:
        self._slug = slug
        self._tty = sys.stderr.isatty()
        self._last: tuple[str, str | None] | None = None
        self._started = time.monotonic()

    def __call__(self, event: ReadinessEvent) -> None:
        key = (event.phase, event.step)
        if not self._tty and key == self._last:
            return
        self._last = key
        elapsed = event.elapsed_ms / 1000 if event.elapsed_ms else time.monotonic() - self._started
        line = f"{self._slug}: {event.phase} ({elapsed:.1f}s) {event.message}"
        if self._tty:
            end = "\n" if event.terminal else ""
            sys.stderr.write(f"\r\x1b[2K{line}{end}")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def validate_spec(spec: WorkloadSpec) -> None:
    """Runs the checks ``ensure`` applies to a spec before any request, without a client.

    Args:
        spec: The spec to check.

    Raises:
        ValidationError: A rule is broken (``empty_field``, ``invalid_slug``,
            ``invalid_field``, ``conflicting_field``).
        ConfigurationError: A string in the spec holds a token (``secret_in_spec``).
    """
    body = _ffi.encode(ensure_request(spec, OnDrift.DRY_RUN, None)["spec"])
    _ffi.call_status(WORKLOAD_SPEC.fn("validate"), body, len(body))

"""The control plane: :class:`ManagementClient` (an ``ik_sdk_`` token, one project)."""

from __future__ import annotations

import builtins
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

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
from ._streams import ReadinessStream, open_stream
from .enums import EnsureAction, OnDrift, to_wire
from .errors import DriftWarning, ValidationError
from .types import EnsureResult, ReadinessEvent, Timeout, Workload, WorkloadSpec

__all__ = ["ManagementClient", "ReadinessStream", "validate_spec"]


class ManagementClient(ManagementClientBase):
    """Declares and inspects workloads of one project. Thread-safe; share one per process."""

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
        """Makes the workload match ``spec``: create, no-op, or act on drift per ``on_drift``.
        ``timeout`` (per attempt) and ``extra_headers`` apply to this call only."""
        request = with_call_options(ensure_request(spec, on_drift, project), timeout, extra_headers)
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
        """What ``ensure`` would do, without writing anything (``OnDrift.DRY_RUN``)."""
        request = with_call_options(
            ensure_request(spec, OnDrift.DRY_RUN, project), timeout, extra_headers
        )
        return EnsureResult._from_native(self._call("plan", request))

    def get(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> Workload:
        """The workload with exactly this slug; raises ``NotFoundError`` when absent."""
        request = with_call_options(slug_request(workload_slug, project), timeout, extra_headers)
        return Workload._from_native(self._call("get", request))

    def list(
        self,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> builtins.list[Workload]:
        """Every workload of the project, oldest first."""
        request = with_call_options(
            {"project": opt_str("project", project)}, timeout, extra_headers
        )
        items = self._call("list", request)
        return [Workload._from_native(item) for item in items]

    def delete(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> bool:
        """Deletes the workload: ``True`` if removed, ``False`` if absent. Irreversible."""
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
        """Opens the readiness stream (errors raise here) and yields events until a terminal one.
        ``timeout`` is the hard deadline of the whole wait, reconnects included."""
        body = _ffi.encode(readiness_request(workload_slug, project, timeout, extra_headers))
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
        """Blocks until the workload is ``ready`` (the core's wait, reconnecting dropped
        streams). Phase ``error`` raises ``ReadinessError`` (with the process's log tail); the
        hard ``timeout`` raises ``ReadinessTimeoutError``. ``on_progress`` runs on this thread
        with each event; an exception from it stops the wait and propagates."""
        body = _ffi.encode(readiness_request(workload_slug, project, timeout, extra_headers))
        report = progress_reporter(workload_slug, on_progress, silent)
        ready = _ffi.call_with_events(
            MANAGEMENT.fn("wait_until_ready"), report_decoded(report), self._ptr, body
        )
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
    return {"workload_slug": slug_arg(workload_slug), "project": opt_str("project", project)}


def readiness_request(
    workload_slug: object, project: object, timeout: float, extra_headers: object = None
) -> dict[str, Any]:
    """``timeout`` here is the wait's deadline (``timeout_s``), not a per-attempt timeout."""
    request = {**slug_request(workload_slug, project), "timeout_s": wait_timeout(timeout)}
    return with_call_options(request, None, extra_headers)


def warn_if_drifted(result: EnsureResult, *, stacklevel: int) -> None:
    """``OnDrift.WARN``: a visible ``DriftWarning`` (the core also logs it on WARNING)."""
    if result.action == EnsureAction.DRIFT_WARNED:
        fields = ", ".join(c.field for c in result.changes)
        message = f'workload "{result.workload_slug}" drifted from spec: {fields}'
        warnings.warn(DriftWarning(message, result.changes), stacklevel=stacklevel)


def progress_reporter(
    workload_slug: object, on_progress: Callable[[ReadinessEvent], object] | None, silent: bool
) -> Callable[[ReadinessEvent], object] | None:
    if on_progress is not None:
        return on_progress
    return None if silent else _StderrProgress(slug_arg(workload_slug))


def report_decoded(
    report: Callable[[ReadinessEvent], object] | None,
) -> Callable[[Any], object] | None:
    """``report`` for the core's event JSON."""
    if report is None:
        return None
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
    """Applies the checks ``ensure`` runs before any request, without a client or network."""
    body = _ffi.encode(ensure_request(spec, OnDrift.DRY_RUN, None)["spec"])
    _ffi.call_status(WORKLOAD_SPEC.fn("validate"), body, len(body))

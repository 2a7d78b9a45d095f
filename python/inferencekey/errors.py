"""The exception hierarchy of sdk-behaviour §7, and the one mapping from native ABI errors.

Every error carries ``message`` (no prefix, redacted), ``status_code``, ``code`` and
``request_id``; ``str(error)`` adds the documented class prefix and the request id. Messages
are scrubbed of token-like text once more on construction, so no error text, attribute or
``repr`` can show a secret even if a caller builds one from untrusted text (§8).

Errors pickle with all their attributes (they cross ``multiprocessing`` boundaries): every
class is constructible from its message alone, and the attributes travel in ``__dict__``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from . import _status as st

if TYPE_CHECKING:
    from .types import FieldChange, ReadinessEvent

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "ApiError",
    "AuthError",
    "ConfigurationError",
    "ConflictError",
    "DriftError",
    "DriftWarning",
    "FrozenInstanceError",
    "InferenceKeyError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDenied",
    "RateLimitError",
    "ReadinessError",
    "ReadinessTimeoutError",
    "ValidationError",
    "WebhookSignatureError",
    "redact_token",
    "scrub_secrets",
]

# --------------------------------------------------------------------------------------------
# Redaction (wire §2): shared by errors, warnings, reprs and log records. The rules live in the
# native core only (c-abi rule 26; vectors: tests/conformance/redaction.json); ``_ffi`` is
# imported at the call, since it imports this module.


def redact_token(token: str) -> str:
    """Returns the display form of a token.

    Args:
        token: An ``ik_sdk_`` or ``ik_live_`` token (surrounding whitespace is ignored).

    Returns:
        ``ik_sdk_1a2b3c4d…`` (prefix and public id), ``ik_sdk_…`` when the id cannot be
        told, or ``<redacted>`` for anything else.
    """
    from . import _ffi

    return _ffi.redact_token(token)


def scrub_secrets(text: str) -> str:
    """Replaces every token-like substring of free text by its redacted form.

    Args:
        text: Any text, e.g. a server message.

    Returns:
        The text with each ``ik_sdk_``/``ik_live_`` token shown as by ``redact_token``, and
        each webhook secret as ``whsec_…``.
    """
    if "ik_" not in text and "whsec_" not in text:  # no secret without: spare the native call
        return text
    from . import _ffi

    return _ffi.redact_text(text)


def _scrub_opt(text: str | None) -> str | None:
    return None if text is None else scrub_secrets(text)


def _scrub_event(event: ReadinessEvent | None) -> ReadinessEvent | None:
    """``event`` with its text fields redacted (the core redacts the events it decodes; this
    covers events built elsewhere, e.g. by a caller)."""
    if event is None:
        return None
    fields: dict[str, str | None] = {
        "phase": event.phase,
        "message": event.message,
        "step": event.step,
        "log_tail": event.log_tail,
    }
    scrubbed = {k: _scrub_opt(v) for k, v in fields.items()}
    return event if scrubbed == fields else event.model_copy(update=scrubbed)


# --------------------------------------------------------------------------------------------
# The hierarchy.


class InferenceKeyError(Exception):
    """Base of every SDK error.

    Also raised as it is for client-state errors (``client_closed``, ``forked``,
    ``wrong_event_loop``), binding bugs and ``internal_panic``. ``str(error)`` is a prefix
    naming the kind of error, the message and, when known, ``(request_id: ...)``.

    Attributes:
        message: The text, without prefix; never holds a secret.
        status_code: The HTTP status, or ``None`` when the error did not come from a response.
        code: The machine-readable error code (e.g. ``missing_project``), or ``None``.
        request_id: The request id of the exchange, or ``None``.
    """

    message: str
    status_code: int | None
    code: str | None
    request_id: str | None

    def __init__(
        self,
        message: str = "",
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Builds an error; every class can be built from its message alone.

        Args:
            message: The text, without prefix; token-like parts are redacted.
            status_code: The HTTP status, if the error came from a response.
            code: The machine-readable error code.
            request_id: The request id of the exchange, if known.
        """
        message = scrub_secrets(str(message))
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = _scrub_opt(code)
        # A server may echo anything in X-Request-Id, a token included.
        self.request_id = _scrub_opt(request_id)

    def _prefix(self) -> str:
        return f"inferencekey error [{self.code}]: " if self.code else "inferencekey error: "

    def __str__(self) -> str:
        text = self._prefix() + self.message
        if self.request_id:
            text += f" (request_id: {self.request_id})"
        return text

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [
            ("code", self.code),
            ("status_code", self.status_code),
            ("request_id", self.request_id),
            ("message", self.message),
        ]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._repr_fields())
        return f"{type(self).__name__}({inner})"


class AuthError(InferenceKeyError):
    """401, or a token that is unrecognised or malformed (checked before any request)."""

    def _prefix(self) -> str:
        return "authentication failed: "


class PermissionDenied(InferenceKeyError):
    """403 (``code`` says why), or a token of the other plane (``wrong_credential_type``)."""

    def _prefix(self) -> str:
        return f"permission denied [{self.code}]: " if self.code else "permission denied: "


class ValidationError(InferenceKeyError):
    """400 or 422 from the server, or a local argument or spec check.

    Attributes:
        field: The argument or spec field at fault, when known.
    """

    field: str | None

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Builds an error; every class can be built from its message alone.

        Args:
            message: The text, without prefix; token-like parts are redacted.
            field: The argument or spec field at fault.
            status_code: The HTTP status, if the error came from a response.
            code: The machine-readable error code.
            request_id: The request id of the exchange, if known.
        """
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.field = field

    def _prefix(self) -> str:
        return "validation error: "

    def _repr_fields(self) -> list[tuple[str, object]]:
        fields = super()._repr_fields()
        if self.field is not None:
            fields.insert(-1, ("field", self.field))
        return fields


class FrozenInstanceError(ValidationError, AttributeError):
    """An attempt to set or delete a field of an immutable record or result (``TextResult``,
    ``Workload``, ``Timeout``, ...); ``field`` names it. Use ``model_copy(update={...})`` for
    a changed copy.

    Both an ``inferencekey.ValidationError`` (what pydantic raises for a frozen model, in
    this SDK's own tree) and an ``AttributeError`` (what frozen dataclasses, named tuples and
    read-only properties raise), so either ``except`` catches it.
    """


class DriftError(ValidationError):
    """The live workload differs from the spec under ``OnDrift.FAIL`` (``drift_detected``),
    or a change cannot be patched under ``RECONCILE`` (``immutable_field``).

    Attributes:
        changes: Every drifted field, patchable or not.
    """

    changes: tuple[FieldChange, ...]

    def __init__(
        self,
        message: str = "",
        *,
        changes: Sequence[FieldChange] = (),
        field: str | None = None,
        status_code: int | None = None,
        code: str | None = "drift_detected",
        request_id: str | None = None,
    ) -> None:
        """Builds an error; every class can be built from its message alone.

        Args:
            message: The text, without prefix; token-like parts are redacted.
            changes: The drifted fields.
            field: The spec field at fault.
            status_code: The HTTP status, if the error came from a response.
            code: The machine-readable error code.
            request_id: The request id of the exchange, if known.
        """
        super().__init__(
            message, field=field, status_code=status_code, code=code, request_id=request_id
        )
        self.changes = tuple(changes)


class ConfigurationError(InferenceKeyError):
    """A local setup problem: missing token/project/key, a bad option, a secret in a spec."""

    def _prefix(self) -> str:
        return "configuration error: "


class ApiError(InferenceKeyError):
    """Any other non-2xx answer, an undecodable 2xx body (``invalid_response``), or an error
    event inside a stream (``status_code=None``)."""

    def _prefix(self) -> str:
        status = f" (status {self.status_code})" if self.status_code is not None else ""
        code = f" [{self.code}]" if self.code else ""
        return f"api error{status}{code}: "


class NotFoundError(ApiError):
    """404: the workload, project or route does not exist."""

    def _prefix(self) -> str:
        return "not found: "


class ConflictError(ApiError):
    """409, e.g. ``slug_conflict`` when a re-list after a create conflict misses the slug."""


class RateLimitError(ApiError):
    """429 after retries. Above 60 s of ``Retry-After`` it is raised at once instead of retried.

    Attributes:
        retry_after: Seconds the server asked to wait (``Retry-After``), or ``None``.
    """

    retry_after: float | None

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Builds an error; every class can be built from its message alone.

        Args:
            message: The text, without prefix; token-like parts are redacted.
            retry_after: Seconds the server asked to wait.
            status_code: The HTTP status, if the error came from a response.
            code: The machine-readable error code.
            request_id: The request id of the exchange, if known.
        """
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.retry_after = retry_after


class InternalServerError(ApiError):
    """5xx after retries."""


class ReadinessError(ApiError):
    """The workload reached phase ``error`` while it was awaited (``workload_failed``).

    Both attributes are redacted (by the server, the core, and once more here).

    Attributes:
        last_event: The ``error`` event.
        log_tail: The last lines of the workload process's output.
    """

    last_event: ReadinessEvent | None
    log_tail: str | None

    def __init__(
        self,
        message: str = "",
        *,
        last_event: ReadinessEvent | None = None,
        log_tail: str | None = None,
        status_code: int | None = None,
        code: str | None = "workload_failed",
        request_id: str | None = None,
    ) -> None:
        """Builds an error; every class can be built from its message alone.

        Args:
            message: The text, without prefix; token-like parts are redacted.
            last_event: The ``error`` event.
            log_tail: The process's last output lines; default ``last_event.log_tail``.
            status_code: The HTTP status, if the error came from a response.
            code: The machine-readable error code.
            request_id: The request id of the exchange, if known.
        """
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.last_event = _scrub_event(last_event)
        if log_tail is None and last_event is not None:
            log_tail = last_event.log_tail
        self.log_tail = _scrub_opt(log_tail)


class APIConnectionError(InferenceKeyError):
    """No usable response: refused, reset, DNS, TLS, or a truncated stream."""

    def _prefix(self) -> str:
        return "connection error: "


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request exceeded its timeout. Also a builtin ``TimeoutError`` so generic timeout
    handling catches it."""

    def _prefix(self) -> str:
        return "timed out: "


class ReadinessTimeoutError(APITimeoutError):
    """The readiness deadline (``timeout`` of ``wait_until_ready()`` or
    ``readiness_events()``) passed. Also a builtin ``TimeoutError``.

    Attributes:
        last_event: The last event seen, or ``None``.
    """

    last_event: ReadinessEvent | None

    def __init__(
        self,
        message: str = "",
        *,
        last_event: ReadinessEvent | None = None,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Builds an error; every class can be built from its message alone.

        Args:
            message: The text, without prefix; token-like parts are redacted.
            last_event: The last event seen.
            status_code: The HTTP status, if the error came from a response.
            code: The machine-readable error code.
            request_id: The request id of the exchange, if known.
        """
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.last_event = _scrub_event(last_event)


class DriftWarning(UserWarning):
    """Issued by ``ensure(on_drift=OnDrift.WARN)`` on drift; shows without logging set up.

    Attributes:
        message: The text, naming the workload and the drifted fields.
        changes: The drifted fields.
    """

    message: str
    changes: tuple[FieldChange, ...]

    def __init__(self, message: str = "", changes: Sequence[FieldChange] = ()) -> None:
        """Builds the warning.

        Args:
            message: The text; token-like parts are redacted.
            changes: The drifted fields.
        """
        message = scrub_secrets(str(message))
        super().__init__(message)
        self.message = message
        self.changes = tuple(changes)


class WebhookSignatureError(InferenceKeyError):
    """A webhook delivery did not verify, so none of it may be trusted.

    ``code`` says why: ``webhook_header_malformed`` (no or an unreadable
    ``X-InferenceKey-Signature``), ``webhook_signature_mismatch`` (a changed body, another
    destination's secret, or a body re-encoded before verifying),
    ``webhook_timestamp_out_of_tolerance`` (a replay, or a clock off by more than the
    tolerance), ``webhook_payload_invalid`` (signed, but not an event). Answer such a request
    with 400 and do not act on it.
    """

    def _prefix(self) -> str:
        return (
            f"webhook signature error [{self.code}]: " if self.code else "webhook signature error: "
        )


class _Cancelled(InferenceKeyError):
    """Internal signal for ``IK_ERR_CANCELLED``: the binding turns it into
    ``asyncio.CancelledError``, ``KeyboardInterrupt`` or the end of a closed stream. It is an
    ``InferenceKeyError`` (code ``cancelled``) so that, should it ever escape, user code that
    catches SDK errors still catches it."""

    def __init__(
        self,
        message: str = "the operation was cancelled",
        *,
        status_code: int | None = None,
        code: str | None = "cancelled",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)


# --------------------------------------------------------------------------------------------
# Native mapping (c-abi §2): exact value first, then the block of 100.

_EXACT: Final[Mapping[int, type[InferenceKeyError]]] = {
    st.IK_ERR_INVALID_ARG: ValidationError,
    st.IK_ERR_NULL_ARG: InferenceKeyError,
    st.IK_ERR_INVALID_UTF8: InferenceKeyError,
    st.IK_ERR_INVALID_JSON: InferenceKeyError,
    st.IK_ERR_INVALID_STATE: InferenceKeyError,
    st.IK_ERR_INVALID_HANDLE: InferenceKeyError,
    st.IK_ERR_CONFIG: ConfigurationError,
    st.IK_ERR_AUTH: AuthError,
    st.IK_ERR_PERMISSION: PermissionDenied,
    st.IK_ERR_VALIDATION: ValidationError,
    st.IK_ERR_DRIFT: DriftError,
    st.IK_ERR_NOT_FOUND: NotFoundError,
    st.IK_ERR_CONFLICT: ConflictError,
    st.IK_ERR_RATE_LIMITED: RateLimitError,
    st.IK_ERR_API: ApiError,
    st.IK_ERR_SERVER: InternalServerError,
    st.IK_ERR_WORKLOAD_FAILED: ReadinessError,
    st.IK_ERR_CONNECTION: APIConnectionError,
    st.IK_ERR_TIMEOUT: APITimeoutError,
    st.IK_ERR_READINESS_TIMEOUT: ReadinessTimeoutError,
    st.IK_ERR_CANCELLED: _Cancelled,
    st.IK_ERR_WEBHOOK_SIGNATURE: WebhookSignatureError,
    st.IK_ERR_PANIC: InferenceKeyError,
    st.IK_ERR_UNKNOWN: InferenceKeyError,
}

# Fallback for numbers a newer core may add. Block 1000 is the binding-bug block: only 1000
# itself is a user error, so an unknown 10xx stays a plain InferenceKeyError.
_BLOCK: Final[Mapping[int, type[InferenceKeyError]]] = {
    1000: InferenceKeyError,
    1100: ConfigurationError,
    1200: AuthError,
    1300: PermissionDenied,
    1400: ValidationError,
    1500: NotFoundError,
    1600: ConflictError,
    1700: RateLimitError,
    1800: ApiError,
    1900: APIConnectionError,
    2000: APITimeoutError,
    2100: _Cancelled,
    2200: WebhookSignatureError,
}

# Codes given when the core sends none (it always should).
_DEFAULT_CODE: Final[Mapping[int, str]] = {
    st.IK_ERR_NULL_ARG: "null_argument",
    st.IK_ERR_INVALID_UTF8: "invalid_utf8",
    st.IK_ERR_INVALID_JSON: "invalid_json",
    st.IK_ERR_INVALID_STATE: "invalid_state",
    st.IK_ERR_INVALID_HANDLE: "invalid_handle",
    st.IK_ERR_DRIFT: "drift_detected",
    st.IK_ERR_WORKLOAD_FAILED: "workload_failed",
    st.IK_ERR_CANCELLED: "cancelled",
    st.IK_ERR_PANIC: "internal_panic",
    st.IK_ERR_UNKNOWN: "unknown",
}


def _class_for(status: int) -> type[InferenceKeyError]:
    cls = _EXACT.get(status)
    if cls is None and status > 0:
        cls = _BLOCK.get(status - status % 100)
    return cls or InferenceKeyError


def _opt_str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value) if isinstance(value, (int, float, str)) else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _error_from_native(
    status: int,
    http_status: int,
    code: str,
    message: str,
    request_id: str | None,
    details: dict[str, Any] | None,
) -> InferenceKeyError:
    """Builds the Python error for a failed native call (c-abi §2).

    ``http_status`` 0 means none; ``details`` is the decoded ``ik_error_details_json``
    (``changes``, ``retry_after``, ``field``, ``last_event``, ``log_tail``). Never raises: a
    malformed detail is dropped rather than hiding the real error. ``IK_ERR_CANCELLED`` gives
    the internal ``_Cancelled`` signal, which callers translate; it is never meant to reach
    users.
    """
    cls = _class_for(status)
    common: dict[str, Any] = {
        "status_code": http_status if http_status > 0 else None,
        "code": code or _DEFAULT_CODE.get(status) or ("cancelled" if cls is _Cancelled else None),
        "request_id": request_id or None,
    }
    try:
        extra = _extras(cls, details if isinstance(details, dict) else {})
        return cls(message, **common, **extra)
    except Exception:  # pragma: no cover - a defensive net; details come from our own core
        return cls(message, **common)


def _extras(cls: type[InferenceKeyError], details: dict[str, Any]) -> dict[str, Any]:
    from .types import FieldChange, ReadinessEvent

    extra: dict[str, Any] = {}
    if issubclass(cls, ValidationError):
        extra["field"] = _opt_str(details.get("field"))
    if issubclass(cls, DriftError):
        raw_changes = details.get("changes")
        if isinstance(raw_changes, list):
            extra["changes"] = tuple(
                FieldChange._from_native(c) for c in raw_changes if isinstance(c, dict)
            )
    if issubclass(cls, RateLimitError):
        extra["retry_after"] = _seconds(details.get("retry_after"))
    if issubclass(cls, (ReadinessError, ReadinessTimeoutError)):
        raw_event = details.get("last_event")
        if isinstance(raw_event, dict):
            extra["last_event"] = ReadinessEvent._from_native(raw_event)
    if issubclass(cls, ReadinessError):
        log_tail = details.get("log_tail")
        if isinstance(log_tail, str):
            extra["log_tail"] = log_tail
    return extra

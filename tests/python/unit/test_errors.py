from __future__ import annotations

import copy
import multiprocessing
import pickle
import warnings
from typing import Any

import pytest

from inferencekey import _status as st
from inferencekey.errors import (
    APIConnectionError,
    ApiError,
    APITimeoutError,
    AuthError,
    ConfigurationError,
    ConflictError,
    DriftError,
    DriftWarning,
    InferenceKeyError,
    InternalServerError,
    NotFoundError,
    PermissionDenied,
    RateLimitError,
    ReadinessError,
    ReadinessTimeoutError,
    ValidationError,
    WebhookSignatureError,
    _Cancelled,
    _error_from_native,
    redact_token,
    scrub_secrets,
)
from inferencekey.types import FieldChange, ReadinessEvent

SDK_TOKEN = "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
LIVE_KEY = "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

# --------------------------------------------------------------------------------------------
# Hierarchy

PARENTS: list[tuple[type[BaseException], type[BaseException]]] = [
    (AuthError, InferenceKeyError),
    (PermissionDenied, InferenceKeyError),
    (ValidationError, InferenceKeyError),
    (DriftError, ValidationError),
    (ConfigurationError, InferenceKeyError),
    (ApiError, InferenceKeyError),
    (NotFoundError, ApiError),
    (ConflictError, ApiError),
    (RateLimitError, ApiError),
    (InternalServerError, ApiError),
    (ReadinessError, ApiError),
    (APIConnectionError, InferenceKeyError),
    (APITimeoutError, APIConnectionError),
    (ReadinessTimeoutError, APITimeoutError),
    (InferenceKeyError, Exception),
    (DriftWarning, UserWarning),
]


@pytest.mark.parametrize(("child", "parent"), PARENTS, ids=lambda c: c.__name__)
def test_hierarchy(child: type[BaseException], parent: type[BaseException]) -> None:
    assert child.__bases__[0] is parent


def test_timeouts_are_builtin_timeout_errors() -> None:
    for cls in (APITimeoutError, ReadinessTimeoutError):
        err = cls("waited 5.0 s")
        assert isinstance(err, TimeoutError)
        assert isinstance(err, OSError)
        with pytest.raises(TimeoutError):
            raise err
    assert not isinstance(APIConnectionError("x"), TimeoutError)


def test_validation_error_is_not_value_error() -> None:
    # pydantic would swallow a ValueError raised inside a validator; ours must pass through.
    assert not issubclass(ValidationError, ValueError)


# --------------------------------------------------------------------------------------------
# str() formats


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            AuthError("token rejected", code="invalid_credential"),
            "authentication failed: token rejected",
        ),
        (
            PermissionDenied("lacks workload:write", code="scope_insufficient", status_code=403),
            "permission denied [scope_insufficient]: lacks workload:write",
        ),
        (PermissionDenied("no"), "permission denied: no"),
        (
            ValidationError("name must not be empty", code="empty_field", field="name"),
            "validation error: name must not be empty",
        ),
        (
            DriftError('workload "support-bot" drifted from spec: name, model'),
            'validation error: workload "support-bot" drifted from spec: name, model',
        ),
        (
            ConfigurationError(
                "No ik_sdk_ token configured. Pass sdk_token= or set INFERENCEKEY_SDK_TOKEN.",
                code="missing_token",
            ),
            "configuration error: No ik_sdk_ token configured. Pass sdk_token= or set "
            "INFERENCEKEY_SDK_TOKEN.",
        ),
        (NotFoundError("no workload", code="not_found", status_code=404), "not found: no workload"),
        (
            ApiError("method not allowed", code="method_not_allowed", status_code=405),
            "api error (status 405) [method_not_allowed]: method not allowed",
        ),
        (
            ApiError("workload process closed the stream", code="upstream_interrupted"),
            "api error [upstream_interrupted]: workload process closed the stream",
        ),
        (ApiError("odd"), "api error: odd"),
        (ApiError("odd", status_code=418), "api error (status 418): odd"),
        (
            ConflictError("already exists", code="slug_conflict", status_code=409),
            "api error (status 409) [slug_conflict]: already exists",
        ),
        (
            RateLimitError("slow down", code="rate_limited", status_code=429),
            "api error (status 429) [rate_limited]: slow down",
        ),
        (
            InternalServerError("boom", code="internal_error", status_code=500),
            "api error (status 500) [internal_error]: boom",
        ),
        (
            ReadinessError('workload "support-bot" failed: process exited with status 1'),
            'api error [workload_failed]: workload "support-bot" failed: process exited with '
            "status 1",
        ),
        (APIConnectionError("connection refused"), "connection error: connection refused"),
        (APITimeoutError("no answer within 60.0 s"), "timed out: no answer within 60.0 s"),
        (ReadinessTimeoutError("not ready after 600 s"), "timed out: not ready after 600 s"),
        (
            InferenceKeyError("this client is closed", code="client_closed"),
            "inferencekey error [client_closed]: this client is closed",
        ),
        (InferenceKeyError("plain"), "inferencekey error: plain"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else "",
)
def test_str_has_the_documented_prefix(error: InferenceKeyError, text: str) -> None:
    assert str(error) == text
    assert error.message == text.split(": ", 1)[1]
    assert error.args == (error.message,)


def test_str_appends_the_request_id() -> None:
    err = NotFoundError("gone", code="not_found", status_code=404, request_id="req_01J3")
    assert str(err) == "not found: gone (request_id: req_01J3)"
    assert err.message == "gone"
    err2 = ApiError("bad", code="x", status_code=502, request_id="req_9")
    assert str(err2) == "api error (status 502) [x]: bad (request_id: req_9)"


def test_wrong_credential_type_message() -> None:
    err = PermissionDenied(
        f"{redact_token(LIVE_KEY)} is a data key; the management plane requires an ik_sdk_ token",
        code="wrong_credential_type",
    )
    assert str(err) == (
        "permission denied [wrong_credential_type]: ik_live_9f8e7d6c\u2026 is a data key; the "
        "management plane requires an ik_sdk_ token"
    )
    assert err.status_code is None


def test_repr_shows_class_code_status_request_id_and_message() -> None:
    err = ConflictError("dup", code="slug_conflict", status_code=409, request_id="req_1")
    assert repr(err) == (
        "ConflictError(code='slug_conflict', status_code=409, request_id='req_1', message='dup')"
    )
    v = ValidationError("bad slug", code="invalid_slug", field="slug")
    assert repr(v) == (
        "ValidationError(code='invalid_slug', status_code=None, request_id=None, "
        "field='slug', message='bad slug')"
    )


def test_attribute_defaults() -> None:
    err = InferenceKeyError("x")
    assert (err.message, err.status_code, err.code, err.request_id) == ("x", None, None, None)
    assert ValidationError("x").field is None
    assert DriftError("x").changes == ()
    assert DriftError("x").code == "drift_detected"
    assert RateLimitError("x").retry_after is None
    r = ReadinessError("x")
    assert (r.last_event, r.log_tail, r.code) == (None, None, "workload_failed")
    assert ReadinessTimeoutError("x").last_event is None


def test_readiness_error_takes_log_tail_from_the_event() -> None:
    event = ReadinessEvent(phase="error", message="exited", log_tail="error: bad flag\n")
    err = ReadinessError("failed", last_event=event)
    assert err.log_tail == "error: bad flag\n"
    assert ReadinessError("failed", last_event=event, log_tail="other").log_tail == "other"


# --------------------------------------------------------------------------------------------
# Redaction


def test_redact_token_forms() -> None:
    assert redact_token(SDK_TOKEN) == "ik_sdk_1a2b3c4d\u2026"
    assert redact_token(LIVE_KEY) == "ik_live_9f8e7d6c\u2026"
    assert redact_token(f"  {SDK_TOKEN}\n") == "ik_sdk_1a2b3c4d\u2026"
    assert redact_token("ik_sdk_abcdefghijklmnop_s") == "ik_sdk_abcdefgh\u2026"
    assert redact_token("ik_sdk_nosplit") == "ik_sdk_\u2026"
    assert redact_token("ik_live_") == "ik_live_\u2026"
    assert redact_token("sk-proj-123") == "<redacted>"


def test_scrub_secrets_in_free_text() -> None:
    text = f'bad token {LIVE_KEY}, and "{SDK_TOKEN}" (x)'
    scrubbed = scrub_secrets(text)
    assert "ffeedd" not in scrubbed and "001122" not in scrubbed
    assert scrubbed == 'bad token ik_live_9f8e7d6c\u2026, and "ik_sdk_1a2b3c4d\u2026" (x)'
    # Kind names and already-redacted tokens stay as they are.
    kept = "an ik_sdk_ token; ik_live_9f8e7d6c\u2026 is a data key; ik_sdk_\u2026"
    assert scrub_secrets(kept) == kept
    assert scrub_secrets("ik_sdk_malformed rest") == "ik_sdk_\u2026 rest"
    assert scrub_secrets("nothing here") == "nothing here"


@pytest.mark.parametrize(
    "cls",
    [InferenceKeyError, AuthError, ValidationError, DriftError, ApiError, ReadinessError],
)
def test_errors_never_show_a_secret(cls: type[InferenceKeyError]) -> None:
    err = cls(f"server said {SDK_TOKEN}", code=f"flat {LIVE_KEY}", request_id="req_1")
    for text in (str(err), repr(err), err.message, str(err.code), str(err.args)):
        assert "0011223344" not in text
        assert "ffeeddccbb" not in text
    assert "ik_sdk_1a2b3c4d\u2026" in err.message


def test_drift_warning_is_scrubbed_too() -> None:
    assert "0011" not in str(DriftWarning(f"x {SDK_TOKEN}"))


# --------------------------------------------------------------------------------------------
# Pickling (errors cross multiprocessing boundaries)

CHANGE = FieldChange(field="model", live="a", desired="b", patchable=True)
EVENT = ReadinessEvent(phase="error", message="exited", elapsed_ms=2310, log_tail="tail\n")

SAMPLES: list[InferenceKeyError] = [
    InferenceKeyError("closed", code="client_closed"),
    AuthError("nope", code="invalid_credential", status_code=401, request_id="req_1"),
    PermissionDenied("scope", code="scope_insufficient", status_code=403),
    ValidationError("bad", code="invalid_slug", field="slug", status_code=422),
    DriftError("drifted", changes=[CHANGE], field="model", request_id="req_2"),
    ConfigurationError("missing", code="missing_project"),
    ApiError("teapot", code="http_418", status_code=418),
    NotFoundError("gone", code="not_found", status_code=404),
    ConflictError("dup", code="slug_conflict", status_code=409),
    RateLimitError("slow", code="rate_limited", status_code=429, retry_after=120.0),
    InternalServerError("boom", code="upstream_error", status_code=502),
    ReadinessError("failed", last_event=EVENT, request_id="req_3"),
    APIConnectionError("reset", code="stream_truncated"),
    APITimeoutError("slow", code="timeout"),
    ReadinessTimeoutError("late", last_event=EVENT, code="readiness_timeout"),
    _Cancelled(),
]


def _state(err: BaseException) -> tuple[Any, ...]:
    return (type(err), str(err), repr(err), err.args, err.__dict__)


@pytest.mark.parametrize("err", SAMPLES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_errors_pickle_with_their_attributes(err: InferenceKeyError, protocol: int) -> None:
    clone = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert _state(clone) == _state(err)
    assert _state(copy.copy(err)) == _state(err)
    assert _state(copy.deepcopy(err)) == _state(err)


def test_drift_warning_pickles() -> None:
    w = DriftWarning("drifted: model", changes=[CHANGE])
    clone = pickle.loads(pickle.dumps(w))
    assert (type(clone), str(clone), clone.changes, clone.message) == (
        DriftWarning,
        "drifted: model",
        (CHANGE,),
        "drifted: model",
    )


def _raise_in_worker(index: int) -> None:
    raise SAMPLES[index]


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_errors_cross_a_process_boundary() -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        for index in (4, 9, 11, 14):
            with pytest.raises(type(SAMPLES[index])) as info:
                pool.apply(_raise_in_worker, (index,))
            assert _state(info.value) == _state(SAMPLES[index])


# --------------------------------------------------------------------------------------------
# DriftWarning


def test_drift_warning_is_a_user_warning_with_changes() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(DriftWarning("drifted: model", changes=[CHANGE]), stacklevel=2)
    assert len(caught) == 1
    assert issubclass(caught[0].category, UserWarning)
    warning = caught[0].message
    assert isinstance(warning, DriftWarning)
    assert warning.changes == (CHANGE,)
    assert str(warning) == "drifted: model"


# --------------------------------------------------------------------------------------------
# _error_from_native

STATUS_TABLE: list[tuple[int, type[InferenceKeyError]]] = [
    (st.IK_ERR_INVALID_ARG, ValidationError),
    (st.IK_ERR_NULL_ARG, InferenceKeyError),
    (st.IK_ERR_INVALID_UTF8, InferenceKeyError),
    (st.IK_ERR_INVALID_JSON, InferenceKeyError),
    (st.IK_ERR_INVALID_STATE, InferenceKeyError),
    (st.IK_ERR_INVALID_HANDLE, InferenceKeyError),
    (st.IK_ERR_CONFIG, ConfigurationError),
    (st.IK_ERR_AUTH, AuthError),
    (st.IK_ERR_PERMISSION, PermissionDenied),
    (st.IK_ERR_VALIDATION, ValidationError),
    (st.IK_ERR_DRIFT, DriftError),
    (st.IK_ERR_NOT_FOUND, NotFoundError),
    (st.IK_ERR_CONFLICT, ConflictError),
    (st.IK_ERR_RATE_LIMITED, RateLimitError),
    (st.IK_ERR_API, ApiError),
    (st.IK_ERR_SERVER, InternalServerError),
    (st.IK_ERR_WORKLOAD_FAILED, ReadinessError),
    (st.IK_ERR_CONNECTION, APIConnectionError),
    (st.IK_ERR_TIMEOUT, APITimeoutError),
    (st.IK_ERR_READINESS_TIMEOUT, ReadinessTimeoutError),
    (st.IK_ERR_CANCELLED, _Cancelled),
    (st.IK_ERR_PANIC, InferenceKeyError),
    (st.IK_ERR_UNKNOWN, InferenceKeyError),
]


def test_status_numbers_are_the_abi_values() -> None:
    assert [n for n, _ in STATUS_TABLE] == [
        1000, 1001, 1002, 1003, 1004, 1005, 1100, 1200, 1300, 1400, 1401, 1500,
        1600, 1700, 1800, 1801, 1802, 1900, 2000, 2001, 2100, 9000, 9999,
    ]  # fmt: skip


@pytest.mark.parametrize(("status", "cls"), STATUS_TABLE)
def test_every_status_maps_to_its_class(status: int, cls: type[InferenceKeyError]) -> None:
    err = _error_from_native(status, 0, "some_code", "msg", "req_7", None)
    assert type(err) is cls
    assert (err.message, err.code, err.request_id, err.status_code) == (
        "msg",
        "some_code",
        "req_7",
        None,
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (1005, InferenceKeyError),
        (1099, InferenceKeyError),
        (1150, ConfigurationError),
        (1201, AuthError),
        (1301, PermissionDenied),
        (1450, ValidationError),
        (1501, NotFoundError),
        (1601, ConflictError),
        (1701, RateLimitError),
        (1850, ApiError),
        (1803, ApiError),
        (1999, APIConnectionError),
        (2002, APITimeoutError),
        (2101, _Cancelled),
        (2250, WebhookSignatureError),
        (2300, InferenceKeyError),
        (9001, InferenceKeyError),
        (0, InferenceKeyError),
        (-1, InferenceKeyError),
        (5, InferenceKeyError),
        (123456, InferenceKeyError),
    ],
)
def test_unknown_statuses_fall_back_to_their_block(
    status: int, cls: type[InferenceKeyError]
) -> None:
    assert type(_error_from_native(status, 0, "c", "m", None, None)) is cls


def test_http_status_and_empty_strings() -> None:
    err = _error_from_native(st.IK_ERR_NOT_FOUND, 404, "not_found", "gone", "", None)
    assert (err.status_code, err.request_id) == (404, None)
    assert str(err) == "not found: gone"
    assert _error_from_native(st.IK_ERR_API, 0, "", "m", None, None).code is None


def test_default_codes_when_the_core_sends_none() -> None:
    assert _error_from_native(st.IK_ERR_PANIC, 0, "", "panicked", None, None).code == (
        "internal_panic"
    )
    assert _error_from_native(st.IK_ERR_CANCELLED, 0, "", "c", None, None).code == "cancelled"
    assert _error_from_native(2150, 0, "", "c", None, None).code == "cancelled"
    assert _error_from_native(st.IK_ERR_DRIFT, 0, "", "d", None, None).code == "drift_detected"


def test_panic_keeps_the_core_code() -> None:
    err = _error_from_native(st.IK_ERR_PANIC, 0, "internal_panic", "the core panicked", None, None)
    assert type(err) is InferenceKeyError
    assert str(err) == "inferencekey error [internal_panic]: the core panicked"


def test_cancelled_is_an_internal_signal_that_is_still_an_sdk_error() -> None:
    err = _error_from_native(st.IK_ERR_CANCELLED, 0, "cancelled", "cancelled", None, None)
    assert isinstance(err, _Cancelled)
    assert isinstance(err, InferenceKeyError)
    assert not isinstance(err, (ApiError, APIConnectionError))


def test_details_of_a_drift_error() -> None:
    details = {
        "changes": [
            {"field": "name", "live": "A", "desired": "B", "patchable": True},
            {"field": "task_type", "live": "text2text", "desired": "embedding", "patchable": False},
            "not-an-object",
        ],
        "field": "task_type",
    }
    err = _error_from_native(
        st.IK_ERR_DRIFT, 0, "immutable_field", 'workload "x" drifted from spec: name', None, details
    )
    assert isinstance(err, DriftError)
    assert err.field == "task_type"
    assert err.changes == (
        FieldChange(field="name", live="A", desired="B", patchable=True),
        FieldChange(field="task_type", live="text2text", desired="embedding", patchable=False),
    )


def test_details_of_validation_rate_limit_and_readiness_errors() -> None:
    v = _error_from_native(1400, 422, "invalid_field", "bad", "req_1", {"field": "task_type"})
    assert isinstance(v, ValidationError) and v.field == "task_type"
    a = _error_from_native(1000, 0, "invalid_argument", "bad", None, {"field": "max_tokens"})
    assert isinstance(a, ValidationError) and a.field == "max_tokens"

    r = _error_from_native(1700, 429, "rate_limited", "slow", None, {"retry_after": 120})
    assert isinstance(r, RateLimitError) and r.retry_after == 120.0
    assert isinstance(r.retry_after, float)
    for odd in ("soon", None, True, -1, float("nan"), [1]):
        odd_err = _error_from_native(1700, 429, "rate_limited", "s", None, {"retry_after": odd})
        assert isinstance(odd_err, RateLimitError) and odd_err.retry_after is None
    assert _error_from_native(1700, 429, "r", "s", None, {"retry_after": "2.5"}).retry_after == 2.5  # type: ignore[attr-defined]

    event = {"phase": "error", "message": "exited", "elapsed_ms": 2310, "log_tail": "boom\n"}
    re_ = _error_from_native(1802, 0, "workload_failed", "failed", None, {"last_event": event})
    assert isinstance(re_, ReadinessError)
    assert re_.last_event == ReadinessEvent(
        phase="error", message="exited", elapsed_ms=2310, log_tail="boom\n"
    )
    assert re_.log_tail == "boom\n"
    re2 = _error_from_native(
        1802, 0, "workload_failed", "f", None, {"last_event": event, "log_tail": "explicit"}
    )
    assert isinstance(re2, ReadinessError) and re2.log_tail == "explicit"

    rt = _error_from_native(
        2001, 0, "readiness_timeout", "late", None, {"last_event": {"phase": "bootstrapping"}}
    )
    assert isinstance(rt, ReadinessTimeoutError)
    assert rt.last_event is not None and rt.last_event.phase == "bootstrapping"


def test_malformed_details_never_hide_the_error() -> None:
    for details in (
        {"changes": "nope", "field": 3, "last_event": "x"},
        {"changes": [{"field": None, "patchable": "yes"}]},
        [],
        "string",
    ):
        err = _error_from_native(1401, 0, "drift_detected", "m", None, details)  # type: ignore[arg-type]
        assert isinstance(err, DriftError)
        assert err.message == "m"


def test_details_are_ignored_by_classes_without_those_attributes() -> None:
    err = _error_from_native(1500, 404, "not_found", "m", None, {"field": "x", "retry_after": 3})
    assert type(err) is NotFoundError
    assert not hasattr(err, "field") and not hasattr(err, "retry_after")


def test_native_messages_are_scrubbed_again() -> None:
    err = _error_from_native(1200, 401, "invalid_credential", f"bad {SDK_TOKEN}", None, None)
    assert "0011" not in str(err)
    assert str(err) == "authentication failed: bad ik_sdk_1a2b3c4d\u2026"

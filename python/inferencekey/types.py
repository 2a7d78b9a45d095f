"""Public data types: the mutable ``WorkloadSpec`` and the immutable records and results.

Results come from the trusted core as already-validated JSON (c-abi rule 11), so their
``_from_native`` constructors skip pydantic validation and fill the instance directly: that
keeps the per-call overhead of ``generate_text`` and ``embed`` to a few microseconds. The
same classes still validate normally when users build them (e.g. in their own tests).

``WorkloadSpec`` only checks *types*; the spec rules (empty fields, canonical slug, secrets,
conflicts) live in the Rust core so that every binding enforces them identically. A wrong type
raises ``inferencekey.ValidationError`` (``invalid_field``), never pydantic's own error.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, NoReturn, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as _PydanticValidationError

from .enums import Backend, EnsureAction, ExecutionPolicy, JobKind, TaskType
from .errors import ConfigurationError, FrozenInstanceError, ValidationError, scrub_secrets

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray
    from typing_extensions import Self

__all__ = [
    "EmbedResult",
    "EndpointRef",
    "EnsureResult",
    "FieldChange",
    "JobRef",
    "NumpyEmbedResult",
    "ReadinessEvent",
    "RerankItem",
    "RerankResult",
    "TextChunk",
    "TextResult",
    "Timeout",
    "Usage",
    "Workload",
    "WorkloadSpec",
]

_M = TypeVar("_M", bound=BaseModel)
_E = TypeVar("_E", bound=enum.Enum)
_new = object.__new__


def _slot_setter(name: str) -> Any:
    """The setter of ``BaseModel``'s own slot ``name``: it skips the generic attribute lookup
    that ``object.__setattr__`` repeats on every call."""
    for klass in BaseModel.__mro__:
        if name in vars(klass):
            return vars(klass)[name].__set__
    raise AttributeError(name)  # pragma: no cover - a pydantic without these slots


_set_dict = _slot_setter("__dict__")
_set_fields_set = _slot_setter("__pydantic_fields_set__")
_set_extra = _slot_setter("__pydantic_extra__")
_set_private = _slot_setter("__pydantic_private__")


def _build(cls: type[_M], values: dict[str, Any], private: dict[str, Any] | None = None) -> _M:
    """An instance from trusted values holding every field: what ``model_construct`` does,
    minus its per-field default and alias handling (~5x faster). Tests check the result
    equals a validated instance, so a pydantic change that breaks this fails loudly."""
    obj = _new(cls)
    _set_dict(obj, values)
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, private)
    return obj


# --------------------------------------------------------------------------------------------
# Lenient decoding of core JSON: odd values become None (or a default), never an exception.


def _str(value: object) -> str | None:
    """A string, or a number converted to its decimal string (wire §1: ids may be numbers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        if isinstance(value, float):
            return int(value) if math.isfinite(value) else default
        if isinstance(value, str):
            number = float(value)
            return int(number) if math.isfinite(number) else default
    except ValueError:
        pass
    return default


def _float(value: object, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return default


def _enum_or_str(cls: type[_E], value: object) -> _E | str | None:
    text = _str(value)
    if text is None:
        return None
    member = cls._value2member_map_.get(text)
    return member if isinstance(member, cls) else text


def _dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def _datetime(value: object) -> datetime | None:
    """RFC 3339 (any fraction length, ``Z`` or offset; no offset = UTC) on every Python from
    3.10, whose ``fromisoformat`` rejects ``Z``. Anything unparsable is ``None``."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    m = _DATETIME_RE.fullmatch(value.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    fraction = m.group(7)
    micros = int((fraction + "000000")[:6]) if fraction else 0
    try:
        tz = timezone.utc
        if m.group(9):
            offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
            tz = timezone(-offset if m.group(9) == "-" else offset)
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------------------------
# WorkloadSpec


_SPEC_TYPE_NAMES: Final = {
    "name": "a string",
    "slug": "a string",
    "model": "a string",
    "backend": "a Backend or a string",
    "task_type": "a TaskType, a string or None",
    "execution_policy": "an ExecutionPolicy, a string or None",
    "config": "a dict with string keys holding JSON values, or None",
    "execution_policy_config": "a dict with string keys holding JSON values, or None",
}


def unknown_field_error(names: list[str], known: list[str]) -> ValidationError:
    """The error for keys that are not ``WorkloadSpec`` fields (constructor, attribute,
    workloads file), naming each and suggesting the closest known field.

    Args:
        names: The unknown keys.
        known: The field names.

    Returns:
        A ``ValidationError`` (``invalid_field``) whose ``field`` is the first unknown key.
    """
    import difflib  # only on this error path: it costs memory and import time

    parts = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        parts.append(f'"{name}"' + (f' (did you mean "{close[0]}"?)' if close else ""))
    noun = "field" if len(parts) == 1 else "fields"
    message = f"unknown WorkloadSpec {noun} {', '.join(parts)}"
    if not any("did you mean" in p for p in parts):
        message += f"; the fields are {', '.join(known)}"
    return ValidationError(message, code="invalid_field", field=names[0] if names else None)


def _spec_error(exc: _PydanticValidationError) -> ValidationError:
    """Our ``ValidationError`` for pydantic's first complaint. Names the field and the type
    received, never the value (it could be a pasted secret)."""
    errors = exc.errors(include_url=False)
    unknown = [
        str(e["loc"][0])
        for e in errors
        if e.get("type") in ("extra_forbidden", "no_such_attribute") and e.get("loc")
    ]
    if unknown:
        return unknown_field_error(unknown, list(WorkloadSpec.model_fields))
    first = errors[0]
    loc = first.get("loc") or ("spec",)
    field = str(loc[0])
    expected = _SPEC_TYPE_NAMES.get(field, "a string or None")
    got = type(first.get("input")).__name__
    return ValidationError(
        f"{field} must be {expected}, got {got}", code="invalid_field", field=field
    )


def _check_json(value: object, path: str) -> None:
    """Rejects values ``json.dumps`` cannot turn into valid JSON (sets, NaN, non-str keys)."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(
                f"{path} must hold finite numbers", code="invalid_field", field=path
            )
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    f"{path} keys must be strings", code="invalid_field", field=path
                )
            _check_json(item, f"{path}.{key}")
        return
    raise ValidationError(
        f"{path} must hold JSON values, got {type(value).__name__}",
        code="invalid_field",
        field=path,
    )


class WorkloadSpec(BaseModel):
    """The desired state of one workload, identified by its explicit ``slug``.

    Mutable and built with keyword arguments. Types are checked on construction and on
    assignment; the spec rules (non-blank fields, canonical slug, no secrets, no conflicts)
    are checked by ``ensure()`` and ``plan()`` before any request, or by
    ``inferencekey.management.validate_spec()``. An optional field left ``None`` means
    "don't care": it is neither sent nor compared, never cleared.

    Attributes:
        name: The display name; not blank.
        slug: The workload's identity and idempotency key: lower-case ASCII letters and digits
            in groups joined by ``-``, 1 to 63 characters. Never rewritten.
        model: The model to serve (``model_name`` on the wire).
        backend: A ``Backend``, or the canonical slug of a custom backend.
        project: The project, overriding the client's; not sent.
        description: Free text (``""`` is set, and compared).
        command: The serving command, merged into ``config``.
        vllm_version: The vLLM version, merged into ``config``.
        task_type: What the workload serves; unset means ``text2text``. It cannot be
            changed once the workload exists.
        config: Backend configuration (JSON values), compared as a subset of the live one.
        execution_policy: How the workload is scheduled.
        execution_policy_config: The policy's settings, compared as a subset.
        worker_id: The worker to place the workload on.
        gpu_resource_id: The GPU resource to use.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        strict=True, validate_assignment=True, extra="forbid", defer_build=True
    )

    name: str
    slug: str
    model: str
    backend: Backend | str
    project: str | None = None
    description: str | None = None
    command: str | None = None
    vllm_version: str | None = None
    task_type: TaskType | str | None = None
    config: dict[str, Any] | None = None
    execution_policy: ExecutionPolicy | str | None = None
    execution_policy_config: dict[str, Any] | None = None
    worker_id: str | None = None
    gpu_resource_id: str | None = None

    def __init__(
        self,
        *,
        name: str,
        slug: str,
        model: str,
        backend: Backend | str,
        project: str | None = None,
        description: str | None = None,
        command: str | None = None,
        vllm_version: str | None = None,
        task_type: TaskType | str | None = None,
        config: dict[str, Any] | None = None,
        execution_policy: ExecutionPolicy | str | None = None,
        execution_policy_config: dict[str, Any] | None = None,
        worker_id: str | None = None,
        gpu_resource_id: str | None = None,
        **unknown: NoReturn,
    ) -> None:
        """Builds a spec; each argument sets the attribute of the same name.

        Raises:
            ValidationError: An argument has the wrong type, or is not a field (a misspelt
                keyword gets the closest field suggested); ``code`` is ``invalid_field``.
        """
        # ``**unknown`` turns a misspelt keyword into our error with a suggestion, rather than
        # Python's TypeError; typed ``NoReturn`` so that type checkers still flag it.
        if unknown:
            raise unknown_field_error(list(unknown), list(type(self).model_fields))
        super().__init__(
            name=name,
            slug=slug,
            model=model,
            backend=backend,
            project=project,
            description=description,
            command=command,
            vllm_version=vllm_version,
            task_type=task_type,
            config=config,
            execution_policy=execution_policy,
            execution_policy_config=execution_policy_config,
            worker_id=worker_id,
            gpu_resource_id=gpu_resource_id,
        )

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Runs for construction, model_validate and assignment alike. The error is raised
        # outside the except block so pydantic's error (which holds the input) is not chained.
        try:
            return handler(data)
        except _PydanticValidationError as exc:
            error = _spec_error(exc)
        raise error

    @field_validator("config", "execution_policy_config")
    @classmethod
    def _json_dict(
        cls, value: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        if value is not None:
            _check_json(value, info.field_name or "config")
        return value

    def _to_native(self) -> dict[str, Any]:
        """The ABI's spec JSON: Python field names, wire strings for enums, ``None`` omitted
        (unset means "don't care", never "clear")."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value is None:
                continue
            out[key] = value.value if isinstance(value, enum.Enum) else value
        return out

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        return ((k, v) for k, v in super().__repr_args__() if v is not None)

    def __repr__(self) -> str:
        return scrub_secrets(super().__repr__())

    def __str__(self) -> str:
        return scrub_secrets(super().__str__())


# --------------------------------------------------------------------------------------------
# Records


class _Frozen(BaseModel):
    """Immutable records: setting or deleting a field raises our ``FrozenInstanceError``
    (a ``ValidationError`` and an ``AttributeError``), never pydantic's own error."""

    # Built on first validation, not at import: the core's results are filled in by
    # ``_from_native`` without validating, so a program that only calls endpoints never
    # builds a validator or serializer (import time, and memory: see benches/bench_import.py).
    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True, defer_build=True)

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
            return
        except _PydanticValidationError:
            error = _frozen_error(self, name, "set")
        raise error

    def __delattr__(self, name: str) -> None:
        try:
            super().__delattr__(name)
            return
        except _PydanticValidationError:
            error = _frozen_error(self, name, "delete")
        raise error


def _frozen_error(record: BaseModel, name: str, verb: str) -> FrozenInstanceError:
    return FrozenInstanceError(
        f"{type(record).__name__} is immutable: cannot {verb} {name!r}; "
        "use model_copy(update={...}) for a changed copy",
        code="frozen_instance",
        field=name,
    )


class Timeout(_Frozen):
    """Per-attempt request timeout and connect timeout, in seconds.

    There is deliberately no "no timeout": zero, negative, NaN and infinite values raise
    ``ConfigurationError`` (``invalid_option``), as do unknown fields.

    Attributes:
        request: Seconds one attempt may take, the whole exchange; for a stream, until the
            response headers and then between two events.
        connect: Seconds to connect.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        frozen=True, strict=True, extra="forbid", defer_build=True
    )

    request: float = 60.0
    connect: float = 5.0

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            result = handler(data)
        except _PydanticValidationError as exc:
            first = exc.errors(include_url=False)[0]
            name = str((first.get("loc") or ("timeout",))[0])
            message = (
                f"Timeout.{name} is not an option (use request= and connect=)"
                if first.get("type") == "extra_forbidden"
                else f"Timeout.{name} must be a positive finite number of seconds"
            )
            error = ConfigurationError(message, code="invalid_option")
        else:
            for name in ("request", "connect"):
                seconds = getattr(result, name)
                if not (math.isfinite(seconds) and seconds > 0):
                    raise ConfigurationError(
                        f"Timeout.{name} must be a positive finite number of seconds, "
                        f"got {seconds!r}",
                        code="invalid_option",
                    )
            return result
        raise error


class Usage(_Frozen):
    """Token counts of one call, as the server reported them.

    Attributes:
        prompt_tokens: Tokens in the input.
        completion_tokens: Tokens generated (0 for embeddings).
        total_tokens: All tokens of the call.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        # On every text call. The core's usage (three ints, in field order) becomes the model's
        # own dict; anything else goes through the lenient conversion.
        if data.keys() == _USAGE_FIELDS:
            prompt, completion, total = data.values()
            if prompt.__class__ is completion.__class__ is total.__class__ is int:
                return _build(cls, data)
        prompt = data.get("prompt_tokens", 0)
        completion = data.get("completion_tokens", 0)
        total = data.get("total_tokens", 0)
        if not (prompt.__class__ is completion.__class__ is total.__class__ is int):
            prompt, completion, total = _int(prompt), _int(completion), _int(total)
        return _build(
            cls,
            {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total},
        )


_USAGE_FIELDS: Final = frozenset(Usage.model_fields)
# Bound once (a lookup on a model class goes through its metaclass's `__getattr__` hook).
_usage_from_native: Final = Usage._from_native


def _usage(value: object) -> Usage | None:
    return _usage_from_native(value) if isinstance(value, dict) else None


class EndpointRef(_Frozen):
    """Where a workload is served: what ``DataClient.endpoint()`` needs.

    Attributes:
        project_slug: The project.
        workload_slug: The workload's slug.
    """

    project_slug: str
    workload_slug: str

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        return _build(
            cls,
            {
                "project_slug": _str(data.get("project_slug")) or "",
                "workload_slug": _str(data.get("workload_slug")) or "",
            },
        )


class JobRef(_Frozen):
    """A submitted job; its result reaches the workload's webhooks, not this object.

    Attributes:
        job_id: The platform's id of the job; deliveries carry it (``X-InferenceKey-Job-Id``).
        kind: What the job runs (the wire name, also when an alias was given).
        request_id: The submission's ``X-Request-Id``, for support.
    """

    job_id: str
    kind: JobKind | str
    request_id: str | None = None

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        return _build(
            cls,
            {
                "job_id": _str(data.get("job_id")) or "",
                "kind": _enum_or_str(JobKind, data.get("kind")) or "",
                "request_id": _str(data.get("request_id")),
            },
        )


class FieldChange(_Frozen):
    """One field that drifted from the spec or, on a create, one field that is sent.

    Attributes:
        field: The spec field name, or ``config.<path>`` (``execution_policy_config.<path>``)
            for a nested key.
        live: The server's value; ``None`` on a create or when absent.
        desired: The spec's value.
        patchable: Whether an update can change it (``False`` only for ``task_type``).
    """

    field: str
    live: Any = None
    desired: Any = None
    patchable: bool = True

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        patchable = data.get("patchable", True)
        return _build(
            cls,
            {
                "field": _str(data.get("field")) or "",
                "live": data.get("live"),
                "desired": data.get("desired"),
                "patchable": patchable if isinstance(patchable, bool) else True,
            },
        )


# Module-level on purpose: an underscore ClassVar makes pydantic < 2.8 add a post-init hook.
_WORKLOAD_ENUMS: Final[Mapping[str, type[enum.Enum]]] = {
    "task_type": TaskType,
    "backend": Backend,
    "execution_policy": ExecutionPolicy,
}


class Workload(_Frozen):
    """A workload as the server reports it.

    Decoded leniently: every field except ``slug`` may be ``None``, values no enum knows
    stay plain ``str``, and unparsable timestamps become ``None``.

    Attributes:
        id: The server's id.
        project_id: The project's id.
        project_slug: The project's slug.
        slug: The workload's slug.
        name: The display name.
        description: Free text.
        task_type: What the workload serves.
        backend: The serving backend.
        model: The model (``model_name`` on the wire).
        config: Backend configuration, including keys the server added.
        worker_id: The worker it is placed on.
        gpu_resource_id: The GPU resource it uses.
        execution_policy: How it is scheduled.
        execution_policy_config: The policy's settings.
        phase: The rollout phase (``scheduling``, ..., ``ready``, ``error``).
        created_at: When it was created.
        updated_at: When it was last changed.
        raw: The record as the server sent it.
    """

    id: str | None = None
    project_id: str | None = None
    project_slug: str | None = None
    slug: str
    name: str | None = None
    description: str | None = None
    task_type: TaskType | str | None = None
    backend: Backend | str | None = None
    model: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    worker_id: str | None = None
    gpu_resource_id: str | None = None
    execution_policy: ExecutionPolicy | str | None = None
    execution_policy_config: dict[str, Any] | None = None
    phase: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("task_type", "backend", "execution_policy", mode="before")
    @classmethod
    def _known_member(cls, value: Any, info: ValidationInfo) -> Any:
        # Validated input gets the same enum-or-str result as decoded input.
        if isinstance(value, str) and not isinstance(value, enum.Enum):
            return _enum_or_str(_WORKLOAD_ENUMS[info.field_name or "backend"], value)
        return value

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        g = data.get
        model = g("model")
        if model is None:
            model = g("model_name")
        return _build(
            cls,
            {
                "id": _str(g("id")),
                "project_id": _str(g("project_id")),
                "project_slug": _str(g("project_slug")),
                "slug": _str(g("slug")) or "",
                "name": _str(g("name")),
                "description": _str(g("description")),
                "task_type": _enum_or_str(TaskType, g("task_type")),
                "backend": _enum_or_str(Backend, g("backend")),
                "model": _str(model),
                "config": _dict(g("config")) or {},
                "worker_id": _str(g("worker_id")),
                "gpu_resource_id": _str(g("gpu_resource_id")),
                "execution_policy": _enum_or_str(ExecutionPolicy, g("execution_policy")),
                "execution_policy_config": _dict(g("execution_policy_config")),
                "phase": _str(g("phase")),
                "created_at": _datetime(g("created_at")),
                "updated_at": _datetime(g("updated_at")),
                "raw": _dict(g("raw")) or {},
            },
        )


class EnsureResult(EndpointRef):
    """What ``ensure()`` or ``plan()`` did. Still an ``EndpointRef``, so it can be handed to
    ``DataClient.endpoint()``.

    Attributes:
        project_slug: The server's project slug, else the project of the request.
        workload_slug: The workload's slug; the server's, should it have assigned another on
            create.
        action: ``created``, ``updated``, ``unchanged``, ``planned``, ``drift_ignored`` or
            ``drift_warned``.
        changes: On create (or a planned one), one entry per field sent; otherwise the
            drifted fields.
        workload_id: The workload's server id, when known.
        workload: The record the server returned or listed; ``None`` for a planned create.
        planned_operation: For ``planned``, whether ``ensure`` would ``"create"`` or
            ``"update"``; else ``None``.
    """

    action: EnsureAction
    changes: tuple[FieldChange, ...] = ()
    workload_id: str | None = None
    workload: Workload | None = None
    planned_operation: Literal["create", "update"] | None = None

    @property
    def changed(self) -> bool:
        """True when the server was written to (``created`` or ``updated``)."""
        return self.action in (EnsureAction.CREATED, EnsureAction.UPDATED)

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        changes = data.get("changes")
        workload = data.get("workload")
        planned = data.get("planned_operation")
        if not isinstance(changes, list):
            changes = []
        return _build(
            cls,
            {
                "project_slug": _str(data.get("project_slug")) or "",
                "workload_slug": _str(data.get("workload_slug")) or "",
                # The core only emits known actions; an unknown one still stays a str.
                "action": cast(EnsureAction, _enum_or_str(EnsureAction, data.get("action"))),
                "changes": tuple(
                    FieldChange._from_native(c) for c in changes if isinstance(c, dict)
                ),
                "workload_id": _str(data.get("workload_id")),
                "workload": Workload._from_native(workload) if isinstance(workload, dict) else None,
                "planned_operation": planned if planned in ("create", "update") else None,
            },
        )


class ReadinessEvent(_Frozen):
    """One readiness frame of a workload's rollout.

    Attributes:
        phase: ``scheduling``, ``provisioning``, ``bootstrapping``, ``ready`` or ``error``
            (other server values are kept as they are).
        message: A human-readable status.
        elapsed_ms: Milliseconds since the rollout started, as the server counts them
            (0 when not sent).
        step: The step within the phase, if the server names one.
        log_tail: The last lines of the workload process's output, redacted, if sent.
    """

    phase: str
    message: str = ""
    elapsed_ms: int = 0
    step: str | None = None
    log_tail: str | None = None

    @property
    def terminal(self) -> bool:
        """True for ``ready`` and ``error``, which end a rollout."""
        return self.phase in ("ready", "error")

    @classmethod
    def _from_native(cls, data: dict[str, Any], _part: bytes = b"") -> Self:
        return _build(
            cls,
            {
                "phase": _str(data.get("phase")) or "",
                "message": _str(data.get("message")) or "",
                "elapsed_ms": _int(data.get("elapsed_ms")),
                "step": _str(data.get("step")),
                "log_tail": _str(data.get("log_tail")),
            },
        )


# --------------------------------------------------------------------------------------------
# Data-plane results, with a lazily built ``raw``.


class _RawResult(_Frozen):
    """Base of results that expose the decoded response body as ``raw``.

    ``raw`` is kept privately and resolved on first access: the core may hand it over as a
    dict, as the response body's JSON text (decoded on access), or, for embeddings, with the vectors
    left out of ``data[]`` (filled back in from ``embeddings`` on access) so that a large body
    is decoded once (sdk-behaviour §3.2). It is still part of ``model_dump()`` and of equality.
    """

    _raw: Any = PrivateAttr(default=None)
    _raw_ready: bool = PrivateAttr(default=False)

    @computed_field(repr=False)  # type: ignore[prop-decorator]
    @property
    def raw(self) -> dict[str, Any]:
        """The decoded response body (built on first access)."""
        private = cast("dict[str, Any]", self.__pydantic_private__)
        if private["_raw_ready"]:
            return cast("dict[str, Any]", private["_raw"])
        value = self._resolve_raw(private["_raw"])
        private["_raw"] = value
        private["_raw_ready"] = True
        return value

    def _resolve_raw(self, source: object) -> dict[str, Any]:
        if isinstance(source, bytes):
            try:
                source = json.loads(source)
            except ValueError:
                return {}
        return source if isinstance(source, dict) else {}

    @classmethod
    def _raw_private(cls, source: object) -> dict[str, Any]:
        return {"_raw": source, "_raw_ready": isinstance(source, dict)}

    @model_validator(mode="wrap")
    @classmethod
    def _accept_raw(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # ``raw`` is not a field (it is lazy), so user-built instances pass it through here.
        if not isinstance(data, dict):
            return handler(data)
        raw = data.get("raw")
        result = handler({k: v for k, v in data.items() if k != "raw"})
        private = result.__pydantic_private__
        private["_raw"] = dict(raw) if isinstance(raw, Mapping) else {}
        private["_raw_ready"] = True
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        return (
            type(self) is type(other) and self.__dict__ == other.__dict__ and self.raw == other.raw
        )


class TextResult(_RawResult):
    """A chat completion.

    Attributes:
        text: The generated text.
        model: The model that really served the request.
        finish_reason: Why generation stopped (``stop``, ``length``, ...), if reported.
        usage: Token usage, if reported.
        request_id: The request id of the exchange, if known.
        raw: The decoded response body, built on first access.
    """

    text: str
    model: str
    finish_reason: str | None = None
    usage: Usage | None = None
    request_id: str | None = None

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            text: str,
            model: str,
            finish_reason: str | None = None,
            usage: Usage | None = None,
            request_id: str | None = None,
            raw: Mapping[str, Any] | None = None,
        ) -> None: ...

    @classmethod
    def _from_native(cls, data: dict[str, Any], part: bytes = b"") -> Self:
        # ``part`` is the response body when the core sends it as a binary part.
        ref = data.pop("raw_part", None)
        usage = data.get("usage")
        if (
            ref.__class__ is dict
            and data.keys() == _TEXT_FIELDS
            and (usage is None or (usage.__class__ is dict and usage.keys() == _USAGE_FIELDS))
        ):
            # On every text call: the core's result (every field written, typed by its
            # schema), less the body's place, becomes the model's own dict.
            if usage is not None:
                data["usage"] = _build(Usage, usage)
            return _build(cls, data, {"_raw": part, "_raw_ready": False})
        raw = part if ref.__class__ is dict else data.get("raw")
        g = data.get
        return _build(
            cls,
            {
                "text": g("text") or "",
                "model": g("model") or "",
                "finish_reason": g("finish_reason"),
                "usage": _usage(usage),
                "request_id": g("request_id"),
            },
            {"_raw": raw, "_raw_ready": raw.__class__ is dict},
        )


_TEXT_FIELDS: Final = frozenset(TextResult.model_fields)
_CHUNK_FIELDS: Final = frozenset(("text", "finish_reason"))


class TextChunk(_RawResult):
    """One streamed piece of a chat completion.

    Attributes:
        text: The text of this piece (may be empty).
        finish_reason: Set on the last chunk.
        raw: The decoded response body, built on first access.
    """

    text: str
    finish_reason: str | None = None

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            text: str,
            finish_reason: str | None = None,
            raw: Mapping[str, Any] | None = None,
        ) -> None: ...

    @classmethod
    def _from_native(cls, data: dict[str, Any], part: bytes = b"") -> Self:
        # ``part`` is the event's JSON when the core sends it as a binary part (decoded only
        # if ``raw`` is read).
        raw = part if data.pop("raw_part", None).__class__ is dict else data.pop("raw", None)
        private = {"_raw": raw, "_raw_ready": raw.__class__ is dict}
        text = data.get("text")
        if text.__class__ is not str or data.keys() != _CHUNK_FIELDS:
            data = {"text": text or "", "finish_reason": data.get("finish_reason")}
        return _build(cls, data, private)


class _Shape:
    """Stands in for a big vector list in ``repr``."""

    __slots__ = ("_text",)

    def __init__(self, vectors: list[list[float]]) -> None:
        dims = {len(v) for v in vectors[:64]}
        width = f"{dims.pop()}" if len(dims) == 1 else "?"
        self._text = f"<{len(vectors)} x {width} floats>" if vectors else "<0 vectors>"

    def __repr__(self) -> str:
        return self._text


def _unpack_vectors(packed: dict[str, Any], part: bytes) -> list[list[float]]:
    """Vectors packed in a binary part (named by ``{"offset","length","dtype","rows","cols"}``,
    its bytes in ``part``): row-major float64, little-endian (the byte order of every platform
    the wheel is built for). Exact, and about ten times faster than parsing the same numbers
    from JSON text."""
    rows, cols = int(packed["rows"]), int(packed["cols"])
    values = memoryview(part)
    if rows < 0 or cols < 0 or len(values) != rows * cols * 8:
        raise ValueError("packed embeddings do not match their shape")
    if not cols:
        return [[] for _ in range(rows)]
    # Row by row from the buffer: no flat list of every value to slice again (~17% fewer
    # instructions at 2048 x 1024).
    floats = values.cast("d")
    return [cast("list[float]", floats[i : i + cols].tolist()) for i in range(0, rows * cols, cols)]


class EmbedResult(_RawResult):
    """Embedding vectors, in input order.

    Attributes:
        embeddings: One vector per input.
        model: The model that served the request.
        usage: Token usage, if reported.
        raw: The decoded response body, built on first access.
    """

    embeddings: list[list[float]]
    model: str
    usage: Usage | None = None

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            embeddings: list[list[float]],
            model: str,
            usage: Usage | None = None,
            raw: Mapping[str, Any] | None = None,
        ) -> None: ...

    @classmethod
    def _from_native(cls, data: dict[str, Any], part: bytes = b"") -> Self:
        embeddings = data.get("embeddings")
        if embeddings.__class__ is dict:
            embeddings = _unpack_vectors(cast("dict[str, Any]", embeddings), part)
        elif not isinstance(embeddings, list):
            embeddings = []
        raw = data.get("raw")
        return _build(
            cls,
            {
                "embeddings": embeddings,
                "model": data.get("model") or "",
                "usage": _usage(data.get("usage")),
            },
            # Even a dict may lack its vectors, so it is always resolved on first access.
            {"_raw": raw, "_raw_ready": False},
        )

    def _resolve_raw(self, source: object) -> dict[str, Any]:
        raw = super()._resolve_raw(source)
        items = raw.get("data")
        if isinstance(items, list):
            vectors = self.embeddings
            for position, item in enumerate(items):
                if isinstance(item, dict) and item.get("embedding") is None:
                    index = item.get("index")
                    if not (isinstance(index, int) and 0 <= index < len(vectors)):
                        index = position
                    if index < len(vectors):
                        item["embedding"] = vectors[index]
        return raw

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():
            yield key, (_Shape(value) if key == "embeddings" else value)


def _numpy() -> Any:
    """numpy, imported on first use: it is an optional dependency."""
    try:
        import numpy
    except ImportError:
        raise ConfigurationError(
            "as_numpy=True needs numpy, which is not installed (pip install numpy)",
            code="missing_dependency",
        ) from None
    return numpy


def _vector_array(data: dict[str, Any], part: bytes) -> NDArray[numpy.float64]:
    """The vectors of an embed result as a read-only ``(rows, cols)`` float64 array. Packed
    vectors are viewed in place (``part`` is its base: no copy); vectors sent as JSON lists
    (never by the current core) are copied into a new array."""
    np = _numpy()
    embeddings = data.get("embeddings")
    if embeddings.__class__ is dict:
        packed = cast("dict[str, Any]", embeddings)
        rows, cols = int(packed["rows"]), int(packed["cols"])
        if rows < 0 or cols < 0 or len(part) != rows * cols * 8:
            raise ValueError("packed embeddings do not match their shape")
        # Row-major float64, little-endian; a view of immutable bytes is read-only.
        return cast("NDArray[numpy.float64]", np.frombuffer(part, "<f8").reshape(rows, cols))
    vectors = embeddings if isinstance(embeddings, list) else []
    width = len(vectors[0]) if vectors else 0
    if any(not isinstance(v, list) or len(v) != width for v in vectors):
        raise ValidationError(
            "the embeddings have different lengths: they do not form a 2-D array",
            field="embeddings",
            code="ragged_embeddings",
        )
    array = np.array(vectors, dtype=np.float64).reshape(len(vectors), width)
    array.flags.writeable = False
    return cast("NDArray[numpy.float64]", array)


class NumpyEmbedResult:
    """Embedding vectors as one numpy array: what ``embed(..., as_numpy=True)`` returns.

    The array views the packed vectors as the binding took them from the core's result
    buffer: no further copy and no Python float per value. It is read-only
    (``array.copy()`` makes a writable one).

    Attributes:
        embeddings: A read-only ``(inputs, dimensions)`` float64 array, one row per input, in
            input order.
        model: The model that served the request.
        usage: Token usage, if reported.
    """

    __slots__ = ("embeddings", "model", "usage")

    embeddings: NDArray[numpy.float64]
    model: str
    usage: Usage | None

    def __init__(
        self, *, embeddings: NDArray[numpy.float64], model: str, usage: Usage | None = None
    ) -> None:
        """Wraps an array of vectors, as ``embed(..., as_numpy=True)`` does.

        Args:
            embeddings: The vectors, one row per input.
            model: The model that served the request.
            usage: Token usage, if reported.
        """
        self.embeddings = embeddings
        self.model = model
        self.usage = usage

    @classmethod
    def _from_native(cls, data: dict[str, Any], part: bytes = b"") -> NumpyEmbedResult:
        return cls(
            embeddings=_vector_array(data, part),
            model=data.get("model") or "",
            usage=_usage(data.get("usage")),
        )

    def __repr__(self) -> str:
        shape = getattr(self.embeddings, "shape", None)
        return f"NumpyEmbedResult(shape={shape}, model={self.model!r}, usage={self.usage!r})"


class RerankItem(_Frozen):
    """One ranked document.

    Attributes:
        index: Its position in the ``documents`` argument.
        relevance_score: Its relevance to the query; higher is more relevant.
        document: Its text, if the server returned it.
    """

    index: int
    relevance_score: float
    document: str | None = None

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        document = data.get("document")
        if isinstance(document, dict):
            document = document.get("text")
        return _build(
            cls,
            {
                "index": _int(data.get("index")),
                "relevance_score": _float(data.get("relevance_score")),
                "document": document if isinstance(document, str) else None,
            },
        )


class RerankResult(_RawResult):
    """Documents ranked best first (at most ``top_n``).

    Attributes:
        results: The ranked documents, best first.
        model: The model that served the request, if reported.
        usage: Token usage, if reported.
        raw: The decoded response body, built on first access.
    """

    results: list[RerankItem]
    model: str | None = None
    usage: Usage | None = None

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            results: list[RerankItem],
            model: str | None = None,
            usage: Usage | None = None,
            raw: Mapping[str, Any] | None = None,
        ) -> None: ...

    @classmethod
    def _from_native(cls, data: dict[str, Any]) -> Self:
        results = data.get("results")
        raw = data.get("raw")
        return _build(
            cls,
            {
                "results": [RerankItem._from_native(r) for r in results if isinstance(r, dict)]
                if isinstance(results, list)
                else [],
                "model": _str(data.get("model")),
                "usage": _usage(data.get("usage")),
            },
            cls._raw_private(raw),
        )

"""Public enums: ``str`` enums whose values are the wire strings (sdk-behaviour §1).

Every parameter that takes one of these also takes the plain string, and a value decoded from
the server that no enum knows stays a plain ``str`` (wire §4): a new server value must never
fail a call.
"""

from __future__ import annotations

import enum
from typing import TypeVar

__all__ = [
    "Backend",
    "EnsureAction",
    "ExecutionPolicy",
    "JobKind",
    "OnDrift",
    "TaskType",
    "decode_enum",
    "to_wire",
]


class _WireEnum(str, enum.Enum):
    """A ``str`` enum that prints as its wire value on every Python version.

    Python 3.11 changed ``str()``/``format()`` of mixed-in enums to ``Class.MEMBER``; pinning
    both here keeps ``str(Backend.VLLM) == f"{Backend.VLLM}" == "vllm"`` on 3.10-3.13.
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return str(self.value).__format__(format_spec)


class Backend(_WireEnum):
    """Native serving backends.

    Any other canonical slug (lower-case letters and digits joined by ``-``) names a custom
    backend, passed as a plain string.
    """

    OLLAMA = "ollama"
    VLLM = "vllm"
    VLLM_OMNI = "vllm-omni"
    SGLANG = "sglang"
    LLAMACPP = "llamacpp"
    STABLE_DIFFUSION_CPP = "stablediffusioncpp"


class TaskType(_WireEnum):
    """What a workload serves. Fixed at creation: ``task_type`` cannot be patched."""

    TEXT2TEXT = "text2text"
    EMBEDDING = "embedding"
    TEXT2IMAGE = "text2image"
    TEXT2VIDEO = "text2video"
    TEXT2AUDIO = "text2audio"
    IMAGE2IMAGE = "image2image"
    IMAGE2VIDEO = "image2video"
    AUDIO2TEXT = "audio2text"
    OMNI = "omni"
    RERANKER = "reranker"
    CLASSIFICATION = "classification"
    REWARD = "reward"
    FORECAST = "forecast"


class OnDrift(_WireEnum):
    """What ``ensure()`` does when the live workload differs from the spec.

    ``RECONCILE`` (the default) patches it; ``FAIL`` raises ``DriftError``; ``DRY_RUN``
    writes nothing and reports the plan; ``WARN`` issues a ``DriftWarning`` and logs;
    ``IGNORE`` leaves it silently.
    """

    RECONCILE = "reconcile"
    FAIL = "fail"
    DRY_RUN = "dry_run"
    WARN = "warn"
    IGNORE = "ignore"


class ExecutionPolicy(_WireEnum):
    """How a workload's capacity is managed: ``fixed``, ``scheduled`` or ``autoscaling``."""

    FIXED = "fixed"
    SCHEDULED = "scheduled"
    AUTOSCALING = "autoscaling"


class EnsureAction(_WireEnum):
    """What ``ensure()`` or ``plan()`` did (``EnsureResult.action``)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    PLANNED = "planned"
    DRIFT_IGNORED = "drift_ignored"
    DRIFT_WARNED = "drift_warned"


class JobKind(_WireEnum):
    """What an async job (``Endpoint.submit_job``) runs.

    The aliases the platform accepts (``chat_completions``, ``reranking``,
    ``images_generations``) may be passed as plain strings.
    """

    CHAT = "chat"
    EMBEDDINGS = "embeddings"
    RERANK = "rerank"
    AUDIO_SPEECH = "audio_speech"
    AUDIO_GENERATE = "audio_generate"
    AUDIO_TRANSCRIPTIONS = "audio_transcriptions"
    IMAGES = "images"
    IMAGES_EDITS = "images_edits"
    IMAGES_VARIATIONS = "images_variations"
    FORECAST = "forecast"


_E = TypeVar("_E", bound=_WireEnum)


def to_wire(value: object, *, field: str, allowed: type[_WireEnum] | None = None) -> str:
    """Returns the wire string of an enum member or plain string parameter.

    Args:
        value: An enum member or a string.
        field: The parameter's name, for the error.
        allowed: For closed sets (such as ``OnDrift``), the enum whose values are the only
            ones accepted; ``None`` accepts any string (``Backend`` is open).

    Returns:
        The wire string.

    Raises:
        ValidationError: ``value`` is not a string, or not one of ``allowed``
            (``invalid_argument``).
    """
    wire = value.value if isinstance(value, enum.Enum) else value
    if not isinstance(wire, str):
        from .errors import ValidationError

        raise ValidationError(
            f"{field} must be a string, got {type(value).__name__}",
            code="invalid_argument",
            field=field,
        )
    if allowed is not None and wire not in allowed._value2member_map_:
        from .errors import ValidationError

        choices = ", ".join(str(m.value) for m in allowed)
        raise ValidationError(
            f"{field} must be one of {choices}", code="invalid_argument", field=field
        )
    return wire


def decode_enum(cls: type[_E], value: str) -> _E | str:
    """Maps a server string to its member, keeping the plain string when no member knows it.

    Args:
        cls: The enum.
        value: The server's string.

    Returns:
        The member whose value is ``value``, else ``value`` itself.
    """
    member = cls._value2member_map_.get(value)
    return member if isinstance(member, cls) else value

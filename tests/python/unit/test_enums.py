from __future__ import annotations

import enum
import json

import pytest

from inferencekey.enums import (
    Backend,
    EnsureAction,
    ExecutionPolicy,
    OnDrift,
    TaskType,
    decode_enum,
    to_wire,
)
from inferencekey.errors import ValidationError

EXPECTED: dict[type[enum.Enum], dict[str, str]] = {
    Backend: {
        "OLLAMA": "ollama",
        "VLLM": "vllm",
        "VLLM_OMNI": "vllm-omni",
        "SGLANG": "sglang",
        "LLAMACPP": "llamacpp",
        "STABLE_DIFFUSION_CPP": "stablediffusioncpp",
    },
    TaskType: {
        name: name.lower()
        for name in [
            "TEXT2TEXT",
            "EMBEDDING",
            "TEXT2IMAGE",
            "TEXT2VIDEO",
            "TEXT2AUDIO",
            "IMAGE2IMAGE",
            "IMAGE2VIDEO",
            "AUDIO2TEXT",
            "OMNI",
            "RERANKER",
            "CLASSIFICATION",
            "REWARD",
            "FORECAST",
        ]
    },
    OnDrift: {
        "RECONCILE": "reconcile",
        "FAIL": "fail",
        "DRY_RUN": "dry_run",
        "WARN": "warn",
        "IGNORE": "ignore",
    },
    ExecutionPolicy: {"FIXED": "fixed", "SCHEDULED": "scheduled", "AUTOSCALING": "autoscaling"},
    EnsureAction: {
        name: name.lower()
        for name in ("CREATED", "UPDATED", "UNCHANGED", "PLANNED", "DRIFT_IGNORED", "DRIFT_WARNED")
    },
}

ALL_MEMBERS = [member for cls in EXPECTED for member in cls]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", list(EXPECTED))
def test_members_and_values_match_the_spec(cls: type[enum.Enum]) -> None:
    assert {m.name: m.value for m in cls} == EXPECTED[cls]


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=str)
def test_member_is_its_wire_string(member: enum.Enum) -> None:
    value = member.value
    assert isinstance(member, str)
    assert member == value
    assert str(member) == value
    assert f"{member}" == value
    assert format(member, "") == value
    assert "{}".format(member) == value  # noqa: UP032 - str.format is its own code path
    assert f"{member:>20}" == f"{value:>20}"
    assert json.dumps(member) == json.dumps(value)
    assert hash(member) == hash(value)
    assert type(member)(value) is member


def test_repr_names_the_member() -> None:
    assert repr(Backend.VLLM) == "<Backend.VLLM: 'vllm'>"


def test_task_type_has_thirteen_members() -> None:
    assert len(TaskType) == 13


def test_to_wire_accepts_members_and_plain_strings() -> None:
    assert to_wire(Backend.VLLM_OMNI, field="backend") == "vllm-omni"
    assert type(to_wire(Backend.VLLM_OMNI, field="backend")) is str
    assert to_wire("my-backend", field="backend") == "my-backend"
    assert to_wire(OnDrift.DRY_RUN, field="on_drift", allowed=OnDrift) == "dry_run"
    assert to_wire("warn", field="on_drift", allowed=OnDrift) == "warn"


@pytest.mark.parametrize("value", [3, None, b"vllm", 1.5, ["vllm"]])
def test_to_wire_refuses_non_strings(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        to_wire(value, field="on_drift")
    assert info.value.code == "invalid_argument"
    assert info.value.field == "on_drift"
    assert str(info.value).startswith("validation error: on_drift must be a string")


def test_to_wire_with_allowed_refuses_unknown_values() -> None:
    with pytest.raises(ValidationError) as info:
        to_wire("sometimes", field="on_drift", allowed=OnDrift)
    assert info.value.code == "invalid_argument"
    assert "reconcile, fail, dry_run, warn, ignore" in info.value.message
    with pytest.raises(ValidationError):
        to_wire(Backend.VLLM, field="on_drift", allowed=OnDrift)


def test_decode_enum_keeps_unknown_values_as_plain_strings() -> None:
    assert decode_enum(TaskType, "embedding") is TaskType.EMBEDDING
    assert decode_enum(Backend, "vllm-omni") is Backend.VLLM_OMNI
    custom = decode_enum(Backend, "acme-engine")
    assert custom == "acme-engine"
    assert type(custom) is str
    assert decode_enum(ExecutionPolicy, "FIXED") == "FIXED"

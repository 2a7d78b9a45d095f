"""Errors a first run meets in plain Python: a misspelt ``WorkloadSpec`` field (constructor,
attribute, ``model_validate``) gets "did you mean", and mutating an immutable record or result
raises our ``FrozenInstanceError``, never pydantic's own ``ValidationError``."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pydantic
import pytest

from inferencekey.errors import FrozenInstanceError, InferenceKeyError, ValidationError
from inferencekey.types import (
    EndpointRef,
    FieldChange,
    ReadinessEvent,
    RerankItem,
    Timeout,
    Usage,
    WorkloadSpec,
)


def spec(**extra: Any) -> WorkloadSpec:
    return WorkloadSpec(name="Bot", slug="bot", model="m", backend="vllm", **extra)


# --------------------------------------------------------------------------------------------
# Unknown WorkloadSpec fields


def test_a_misspelt_keyword_names_the_field_and_suggests_the_closest() -> None:
    with pytest.raises(ValidationError) as info:
        spec(comand="serve")
    err = info.value
    assert type(err) is ValidationError
    assert err.code == "invalid_field" and err.field == "comand"
    assert 'unknown WorkloadSpec field "comand"' in err.message
    assert 'did you mean "command"?' in err.message
    assert "must be" not in err.message  # not the old type complaint
    assert err.__context__ is None and err.__cause__ is None


def test_a_misspelt_attribute_names_the_field_and_suggests_the_closest() -> None:
    s = spec()
    with pytest.raises(ValidationError) as info:
        s.comand = "x"  # type: ignore[attr-defined]
    assert info.value.field == "comand"
    assert 'did you mean "command"?' in info.value.message
    assert "got str" not in info.value.message
    assert not isinstance(info.value.__context__, pydantic.ValidationError)
    with pytest.raises(ValidationError, match='did you mean "task_type"'):
        s.tasktype = "text2text"  # type: ignore[attr-defined]
    # Known fields still assign and type-check as before.
    s.command = "serve"
    assert s.command == "serve"
    with pytest.raises(ValidationError, match="command must be a string or None, got int"):
        s.command = 1  # type: ignore[assignment]


def test_model_validate_gets_the_same_suggestion() -> None:
    data = {"name": "B", "slug": "b", "model": "m", "backend": "vllm", "vllm_verison": "0.6"}
    with pytest.raises(
        ValidationError, match='"vllm_verison" \\(did you mean "vllm_version"\\?\\)'
    ):
        WorkloadSpec.model_validate(data)


def test_every_unknown_field_is_named_and_far_ones_list_the_fields() -> None:
    with pytest.raises(ValidationError) as info:
        spec(comand="x", zzzz=1)
    message = info.value.message
    assert 'fields "comand" (did you mean "command"?), "zzzz"' in message, message
    with pytest.raises(ValidationError) as info:
        spec(zzzz=1)
    assert "did you mean" not in info.value.message
    assert "the fields are name, slug, model, backend" in info.value.message


# --------------------------------------------------------------------------------------------
# Immutable records


RECORDS: list[tuple[Any, str]] = [
    (Timeout(request=5.0), "request"),
    (Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3), "total_tokens"),
    (EndpointRef(project_slug="acme", workload_slug="bot"), "workload_slug"),
    (FieldChange(field="model", live="a", desired="b"), "desired"),
    (ReadinessEvent(phase="ready"), "phase"),
    (RerankItem(index=0, relevance_score=1.0), "relevance_score"),
]


@pytest.mark.parametrize(("record", "field"), RECORDS, ids=lambda v: type(v).__name__)
def test_mutating_a_record_raises_our_frozen_error(record: Any, field: str) -> None:
    before = getattr(record, field)
    for mutate in (
        lambda: setattr(record, field, before),
        lambda: setattr(record, "no_such_field", 1),
        lambda: delattr(record, field),
    ):
        with pytest.raises(FrozenInstanceError) as info:
            mutate()
        err = info.value
        # Ours (either except clause catches it) and never pydantic's.
        assert isinstance(err, ValidationError) and isinstance(err, InferenceKeyError)
        assert isinstance(err, AttributeError)
        assert not isinstance(err, pydantic.ValidationError)
        assert err.__context__ is None
        assert err.code == "frozen_instance"
        assert f"{type(record).__name__} is immutable" in err.message
        assert "model_copy(update=" in err.message
        assert str(err).startswith("validation error: ")
    assert getattr(record, field) == before
    # The documented way to a changed copy still works.
    assert record.model_copy(update={field: before}) == record


def test_text_result_is_immutable_too() -> None:
    from inferencekey.types import TextResult

    result = TextResult(text="hi", model="m")
    assert result.raw is None or isinstance(result.raw, dict)  # private state still settable
    with pytest.raises(FrozenInstanceError, match="TextResult is immutable") as info:
        result.text = "x"  # type: ignore[misc]
    assert info.value.field == "text"


def test_frozen_error_pickles_and_copies() -> None:
    with pytest.raises(FrozenInstanceError) as info:
        Timeout().request = 1.0  # type: ignore[misc]
    for clone in (pickle.loads(pickle.dumps(info.value)), copy.copy(info.value)):
        assert type(clone) is FrozenInstanceError
        assert (clone.message, clone.code, clone.field) == (
            info.value.message,
            "frozen_instance",
            "request",
        )

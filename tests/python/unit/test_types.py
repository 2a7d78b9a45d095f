from __future__ import annotations

import array
import copy
import json
import math
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from inferencekey.enums import Backend, EnsureAction, ExecutionPolicy, TaskType
from inferencekey.errors import ConfigurationError, FrozenInstanceError, ValidationError
from inferencekey.types import (
    EmbedResult,
    EndpointRef,
    EnsureResult,
    FieldChange,
    ReadinessEvent,
    RerankItem,
    RerankResult,
    TextChunk,
    TextResult,
    Timeout,
    Usage,
    Workload,
    WorkloadSpec,
)

SDK_TOKEN = "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

MINIMAL: dict[str, Any] = {
    "name": "Support Bot",
    "slug": "support-bot",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "backend": Backend.VLLM,
}

# --------------------------------------------------------------------------------------------
# WorkloadSpec


def test_spec_to_native_uses_wire_strings_and_omits_none() -> None:
    spec = WorkloadSpec(
        **MINIMAL,
        command="vllm serve x",
        task_type=TaskType.TEXT2TEXT,
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config={"min_replicas": 0, "max_replicas": 2},
        config={"engine": {"max_running_requests": 8}, "tags": ["a", None]},
        description="",
    )
    native = spec._to_native()
    assert native == {
        "name": "Support Bot",
        "slug": "support-bot",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "backend": "vllm",
        "description": "",
        "command": "vllm serve x",
        "task_type": "text2text",
        "config": {"engine": {"max_running_requests": 8}, "tags": ["a", None]},
        "execution_policy": "autoscaling",
        "execution_policy_config": {"min_replicas": 0, "max_replicas": 2},
    }
    for key in ("backend", "task_type", "execution_policy"):
        assert type(native[key]) is str
    assert json.loads(json.dumps(native)) == native


def test_spec_minimal_and_custom_backend() -> None:
    spec = WorkloadSpec(name="n", slug="s", model="m", backend="my-engine")
    assert spec._to_native() == {"name": "n", "slug": "s", "model": "m", "backend": "my-engine"}
    assert spec.task_type is None and spec.config is None and spec.project is None
    assert WorkloadSpec(**MINIMAL).backend is Backend.VLLM


def test_spec_keeps_project_as_a_field() -> None:
    spec = WorkloadSpec(**MINIMAL, project="acme")
    assert spec._to_native()["project"] == "acme"


def test_spec_is_mutable_and_checks_types_on_assignment() -> None:
    spec = WorkloadSpec(**MINIMAL)
    spec.model = "other"
    spec.task_type = "embedding"
    spec.description = None
    assert spec._to_native()["model"] == "other"
    assert spec._to_native()["task_type"] == "embedding"
    with pytest.raises(ValidationError) as info:
        spec.name = 3  # type: ignore[assignment]
    assert info.value.code == "invalid_field"
    assert info.value.field == "name"
    assert spec.name == "Support Bot"


def test_spec_rules_are_left_to_the_core() -> None:
    # Empty, blank, non-canonical and secret-bearing values must reach the core, which raises
    # its own typed errors (empty_field, invalid_slug, secret_in_spec, ...).
    spec = WorkloadSpec(name="", slug="Support Bot", model="  ", backend="")
    assert spec._to_native() == {"name": "", "slug": "Support Bot", "model": "  ", "backend": ""}
    WorkloadSpec(**MINIMAL, command=f"serve --token {SDK_TOKEN}")
    WorkloadSpec(**MINIMAL, task_type="not-a-task", execution_policy="sometimes")


@pytest.mark.parametrize(
    ("field", "value", "got"),
    [
        ("name", 3, "int"),
        ("slug", None, "NoneType"),
        ("model", b"m", "bytes"),
        ("backend", 7, "int"),
        ("description", 1.5, "float"),
        ("task_type", 2, "int"),
        ("config", "x", "str"),
        ("config", [("a", 1)], "list"),
        ("worker_id", 42, "int"),
        ("execution_policy_config", 1, "int"),
    ],
)
def test_spec_bad_types_raise_our_validation_error(field: str, value: object, got: str) -> None:
    kwargs = {**MINIMAL, field: value}
    with pytest.raises(ValidationError) as info:
        WorkloadSpec(**kwargs)
    err = info.value
    assert not isinstance(err, pydantic.ValidationError)
    assert err.code == "invalid_field"
    assert err.field == field
    assert err.message.startswith(f"{field} must be ")
    assert err.message.endswith(f"got {got}")
    assert str(err).startswith("validation error: ")
    # pydantic's error (which holds the input) is neither chained nor kept as context.
    assert err.__cause__ is None and err.__context__ is None


def test_spec_error_never_echoes_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        WorkloadSpec(**{**MINIMAL, "name": [SDK_TOKEN]})
    assert "ik_sdk" not in str(info.value) and "ik_sdk" not in repr(info.value)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({1: "a"}, "config"),
        ({"a": {2: "b"}}, "config.a"),
        ({"a": {1, 2}}, "config.a"),
        ({"a": float("nan")}, "config.a"),
        ({"a": [1, float("inf")]}, "config.a[1]"),
        ({"a": object()}, "config.a"),
    ],
)
def test_spec_config_must_be_json(config: dict[Any, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        WorkloadSpec(**MINIMAL, config=config)
    assert info.value.code == "invalid_field"
    assert info.value.field == field


def test_spec_config_accepts_json_values() -> None:
    config = {"a": [1, 2.5, True, None, "x", {"b": []}], "t": (1, 2)}
    assert WorkloadSpec(**MINIMAL, config=config).config == config


def test_spec_unknown_and_missing_fields() -> None:
    # An unknown keyword is our ValidationError naming it (test_misspelt_and_frozen.py has the
    # suggestions); a missing one stays Python's TypeError.
    with pytest.raises(ValidationError, match='unknown WorkloadSpec field "min_vram_gb"'):
        WorkloadSpec(**MINIMAL, min_vram_gb=24)
    with pytest.raises(TypeError):
        WorkloadSpec(name="n", slug="s", model="m")  # type: ignore[call-arg]
    # model_validate goes through the same keyword-only __init__.
    with pytest.raises(TypeError):
        WorkloadSpec.model_validate({"name": "n", "slug": "s", "model": "m"})
    with pytest.raises(ValidationError, match='"provider"'):
        WorkloadSpec.model_validate({**MINIMAL, "provider": "aws"})
    with pytest.raises(ValidationError) as info:
        WorkloadSpec.model_validate({**MINIMAL, "name": 1})
    assert (info.value.code, info.value.field) == ("invalid_field", "name")


def test_spec_repr_is_concise_and_scrubbed() -> None:
    spec = WorkloadSpec(**MINIMAL, command=f"serve --key {SDK_TOKEN}", config={"k": SDK_TOKEN})
    for text in (repr(spec), str(spec)):
        assert "0011223344" not in text
        assert "ik_sdk_1a2b3c4d\u2026" in text
        assert "worker_id" not in text
    assert repr(spec).startswith("WorkloadSpec(name='Support Bot', slug='support-bot'")


def test_spec_copy_and_pickle() -> None:
    spec = WorkloadSpec(**MINIMAL, config={"a": 1})
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert copy.deepcopy(spec) == spec


# --------------------------------------------------------------------------------------------
# Records from native JSON

WORKLOAD_JSON: dict[str, Any] = {
    "id": "wl_01j30ex245d5g9z8dwennmh1wp",
    "project_id": "proj_01j3k4mh5b4jejh9j9qdftv68j",
    "project_slug": "acme",
    "slug": "support-bot",
    "name": "Support Bot",
    "description": "Customer support assistant",
    "task_type": "text2text",
    "backend": "vllm",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "config": {"command": "vllm serve x", "vllm_version": "0.6.3"},
    "worker_id": None,
    "gpu_resource_id": None,
    "execution_policy": "fixed",
    "execution_policy_config": None,
    "phase": "provisioning",
    "created_at": "2026-07-25T10:15:03.412Z",
    "updated_at": "2026-07-25T10:15:03.412Z",
    "raw": {"id": "wl_01j30ex245d5g9z8dwennmh1wp", "slug": "support-bot", "x_extra": 1},
}


def test_workload_from_native() -> None:
    w = Workload._from_native(WORKLOAD_JSON)
    assert w.id == "wl_01j30ex245d5g9z8dwennmh1wp"
    assert w.task_type is TaskType.TEXT2TEXT
    assert w.backend is Backend.VLLM
    assert w.execution_policy is ExecutionPolicy.FIXED
    assert w.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert w.created_at == datetime(2026, 7, 25, 10, 15, 3, 412000, tzinfo=timezone.utc)
    assert w.raw == WORKLOAD_JSON["raw"]
    assert w.config == {"command": "vllm serve x", "vllm_version": "0.6.3"}
    assert w.execution_policy_config is None
    assert "raw=" not in repr(w)


def test_workload_is_lenient() -> None:
    w = Workload._from_native(
        {
            "slug": 7,
            "id": 123,
            "project_id": 4.5,
            "name": True,
            "task_type": "text2hologram",
            "backend": "acme-engine",
            "execution_policy": "sometimes",
            "model_name": "wire-name",
            "config": None,
            "execution_policy_config": [1],
            "created_at": "yesterday",
            "updated_at": 1785060903,
            "phase": "warming",
        }
    )
    assert (w.slug, w.id, w.project_id, w.name) == ("7", "123", "4.5", None)
    assert w.task_type == "text2hologram" and type(w.task_type) is str
    assert w.backend == "acme-engine" and type(w.backend) is str
    assert w.execution_policy == "sometimes" and type(w.execution_policy) is str
    assert w.model == "wire-name"
    assert w.config == {} and w.execution_policy_config is None
    assert w.created_at is None and w.updated_at is None
    assert w.phase == "warming"
    assert w.raw == {}
    empty = Workload._from_native({})
    assert empty.slug == "" and empty.name is None and empty.config == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-25T10:15:03Z", datetime(2026, 7, 25, 10, 15, 3, tzinfo=timezone.utc)),
        ("2026-07-25T10:15:03.4Z", datetime(2026, 7, 25, 10, 15, 3, 400000, tzinfo=timezone.utc)),
        (
            "2026-07-25t10:15:03.123456789z",
            datetime(2026, 7, 25, 10, 15, 3, 123456, tzinfo=timezone.utc),
        ),
        ("2026-07-25 10:15:03", datetime(2026, 7, 25, 10, 15, 3, tzinfo=timezone.utc)),
        (
            "2026-07-25T12:15:03+02:00",
            datetime(2026, 7, 25, 12, 15, 3, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2026-07-25T05:45:03.5-04:30",
            datetime(2026, 7, 25, 5, 45, 3, 500000, tzinfo=timezone(-timedelta(hours=4.5))),
        ),
        ("2026-13-25T10:15:03Z", None),
        ("2026-07-25T10:15:60Z", None),
        ("2026-07-25T10:15:03+25:00", None),
        ("2026-07-25", None),
        ("", None),
        (None, None),
        (17, None),
    ],
)
def test_workload_timestamps(text: object, expected: datetime | None) -> None:
    w = Workload._from_native({"slug": "s", "created_at": text})
    assert w.created_at == expected
    if expected is not None:
        assert w.created_at is not None and w.created_at.utcoffset() is not None


def test_workload_validated_by_users_decodes_enums_too() -> None:
    w = Workload(slug="s", task_type="embedding", backend="acme", created_at="2026-07-25T10:15:03Z")  # type: ignore[arg-type]
    assert w.task_type is TaskType.EMBEDDING
    assert w.backend == "acme"
    assert w.created_at == datetime(2026, 7, 25, 10, 15, 3, tzinfo=timezone.utc)


ENSURE_JSON: dict[str, Any] = {
    "project_slug": "acme",
    "workload_slug": "support-bot",
    "action": "updated",
    "changes": [
        {"field": "name", "live": "Old", "desired": "Support Bot", "patchable": True},
        {"field": "config.engine.max_running_requests", "live": 4, "desired": 8, "patchable": True},
    ],
    "workload_id": "wl_01j30ex245d5g9z8dwennmh1wp",
    "workload": WORKLOAD_JSON,
    "planned_operation": None,
}


def test_ensure_result_from_native() -> None:
    r = EnsureResult._from_native(ENSURE_JSON)
    assert isinstance(r, EndpointRef)
    assert (r.project_slug, r.workload_slug) == ("acme", "support-bot")
    assert r.action is EnsureAction.UPDATED
    assert r.changed
    assert r.changes[1] == FieldChange(
        field="config.engine.max_running_requests", live=4, desired=8, patchable=True
    )
    assert isinstance(r.changes, tuple)
    assert r.workload == Workload._from_native(WORKLOAD_JSON)
    assert r.planned_operation is None


@pytest.mark.parametrize(
    ("action", "changed"),
    [
        ("created", True),
        ("updated", True),
        ("unchanged", False),
        ("planned", False),
        ("drift_ignored", False),
        ("drift_warned", False),
    ],
)
def test_ensure_result_changed(action: str, changed: bool) -> None:
    r = EnsureResult._from_native({**ENSURE_JSON, "action": action})
    assert r.changed is changed
    assert isinstance(r.action, EnsureAction)


def test_planned_create() -> None:
    r = EnsureResult._from_native(
        {
            "project_slug": "acme",
            "workload_slug": "support-bot",
            "action": "planned",
            "changes": [{"field": "name", "live": None, "desired": "Support Bot"}],
            "workload_id": None,
            "workload": None,
            "planned_operation": "create",
        }
    )
    assert r.planned_operation == "create"
    assert r.workload is None and r.workload_id is None
    assert r.changes[0].patchable is True and r.changes[0].live is None


def test_endpoint_ref_from_native() -> None:
    ref = EndpointRef._from_native({"project_slug": "acme", "workload_slug": "bot"})
    assert ref == EndpointRef(project_slug="acme", workload_slug="bot")


@pytest.mark.parametrize(
    ("phase", "terminal"),
    [
        ("scheduling", False),
        ("provisioning", False),
        ("bootstrapping", False),
        ("ready", True),
        ("error", True),
        ("new", False),
    ],
)
def test_readiness_event(phase: str, terminal: bool) -> None:
    ev = ReadinessEvent._from_native(
        {"phase": phase, "message": "m", "elapsed_ms": 40, "step": "model_load", "log_tail": None}
    )
    assert ev.terminal is terminal
    assert (ev.elapsed_ms, ev.step, ev.log_tail) == (40, "model_load", None)


def test_readiness_event_defaults() -> None:
    ev = ReadinessEvent._from_native({"phase": "ready", "message": "ok"})
    assert ev == ReadinessEvent(phase="ready", message="ok")
    assert ev.elapsed_ms == 0 and ev.step is None
    assert ReadinessEvent._from_native({"phase": "ready", "elapsed_ms": "12"}).elapsed_ms == 12


# --------------------------------------------------------------------------------------------
# The fast constructors build exactly what validation builds

FAST_CASES: list[tuple[type[pydantic.BaseModel], dict[str, Any]]] = [
    (Usage, {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
    (EndpointRef, {"project_slug": "acme", "workload_slug": "bot"}),
    (FieldChange, {"field": "name", "live": "a", "desired": "b", "patchable": False}),
    (
        ReadinessEvent,
        {"phase": "error", "message": "m", "elapsed_ms": 5, "step": "s", "log_tail": "t"},
    ),
    (RerankItem, {"index": 2, "relevance_score": 0.5, "document": "d"}),
    (Workload, {k: v for k, v in WORKLOAD_JSON.items()}),
    (EnsureResult, ENSURE_JSON),
]


@pytest.mark.parametrize(("cls", "data"), FAST_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_fast_construction_equals_validation(
    cls: type[pydantic.BaseModel], data: dict[str, Any]
) -> None:
    fast = cls._from_native(data)  # type: ignore[attr-defined]
    checked = cls.model_validate(fast.model_dump())
    assert fast == checked
    assert fast.model_dump() == checked.model_dump()
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_fields_set == set(cls.model_fields)
    assert repr(fast) == repr(checked)
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert copy.deepcopy(fast) == fast
    with pytest.raises(FrozenInstanceError):  # ours, never pydantic's
        setattr(fast, next(iter(cls.model_fields)), None)


# --------------------------------------------------------------------------------------------
# Data-plane results

TEXT_JSON: dict[str, Any] = {
    "text": "\u00a1Hola!",
    "model": "SmolLM2-135M-Instruct",
    "finish_reason": "stop",
    "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30},
    "request_id": "req_01j3",
    "raw": {"id": "chatcmpl-01j3", "choices": [{"message": {"content": "\u00a1Hola!"}}]},
}


def test_text_result_from_native() -> None:
    r = TextResult._from_native(TEXT_JSON)
    assert (r.text, r.model, r.finish_reason, r.request_id) == (
        "\u00a1Hola!",
        "SmolLM2-135M-Instruct",
        "stop",
        "req_01j3",
    )
    assert r.usage == Usage(prompt_tokens=21, completion_tokens=9, total_tokens=30)
    assert r.raw == TEXT_JSON["raw"]
    assert r.model_dump()["raw"] == TEXT_JSON["raw"]
    assert "raw" not in repr(r)
    bare = TextResult._from_native({"text": None, "model": "m", "usage": None})
    assert (bare.text, bare.usage, bare.finish_reason, bare.request_id, bare.raw) == (
        "",
        None,
        None,
        None,
        {},
    )


def test_text_result_raw_from_a_binary_part_is_decoded_lazily() -> None:
    body = json.dumps(TEXT_JSON["raw"]).encode()
    native = {k: v for k, v in TEXT_JSON.items() if k != "raw"}
    # What ``_ffi.take_result`` gives: the JSON, which names the part, and the part's bytes.
    head = {**native, "raw_part": {"offset": 512, "length": len(body), "dtype": "utf8"}}
    r = TextResult._from_native(head, body)
    assert r.__pydantic_private__ is not None and not r.__pydantic_private__["_raw_ready"]
    assert r.raw == TEXT_JSON["raw"]
    assert r.raw is r.raw
    assert r == TextResult._from_native(TEXT_JSON)
    broken = {**native, "raw_part": {"offset": 512, "length": 9, "dtype": "utf8"}}
    assert TextResult._from_native(broken, b"{not json").raw == {}


def test_results_built_by_users_accept_raw() -> None:
    r = TextResult(text="hi", model="m", raw={"a": 1})
    assert r.raw == {"a": 1}
    assert TextResult(text="hi", model="m").raw == {}
    again = TextResult.model_validate(r.model_dump())
    assert again == r
    assert TextResult.model_validate_json(r.model_dump_json()) == r
    assert TextChunk(text="x", raw={"b": 2}).raw == {"b": 2}
    with pytest.raises(pydantic.ValidationError):
        TextResult(text=1, model="m")  # type: ignore[arg-type]


def test_text_chunk_from_native() -> None:
    c = TextChunk._from_native({"text": " capital", "finish_reason": None, "raw": {"id": "x"}})
    assert (c.text, c.finish_reason, c.raw) == (" capital", None, {"id": "x"})
    last = TextChunk._from_native({"text": None, "finish_reason": "stop", "raw": {}})
    assert (last.text, last.finish_reason) == ("", "stop")


def _vectors(rows: int, cols: int) -> list[list[float]]:
    return [[math.sin(r * cols + c) / 7 for c in range(cols)] for r in range(rows)]


def _embed_raw(vectors: list[list[float]], with_vectors: bool) -> dict[str, Any]:
    data = [
        {"object": "embedding", "index": i, **({"embedding": v} if with_vectors else {})}
        for i, v in enumerate(vectors)
    ]
    return {"object": "list", "model": "e5", "data": data, "usage": {"prompt_tokens": 8}}


def test_embed_result_from_native() -> None:
    vectors = _vectors(2, 3)
    r = EmbedResult._from_native(
        {
            "embeddings": vectors,
            "model": "e5",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
            "raw": _embed_raw(vectors, True),
        }
    )
    assert r.embeddings is vectors
    assert r.usage == Usage(prompt_tokens=8, completion_tokens=0, total_tokens=8)
    assert r.raw == _embed_raw(vectors, True)


def test_embed_raw_vectors_are_filled_back_in() -> None:
    vectors = _vectors(3, 4)
    raw = _embed_raw(vectors, False)
    raw["data"].reverse()  # out of order on the wire; `index` says where each belongs
    raw["data"][0]["embedding"] = None
    r = EmbedResult._from_native({"embeddings": vectors, "model": "e5", "usage": None, "raw": raw})
    expected = _embed_raw(vectors, True)
    expected["data"].reverse()
    assert r.raw == expected
    assert r.raw["data"][0]["embedding"] is vectors[2]


def test_embed_packed_vectors_decode_exactly() -> None:
    vectors = _vectors(5, 7)
    flat = array.array("d", [x for row in vectors for x in row]).tobytes()
    packed = {"offset": 512, "length": len(flat), "dtype": "f64le", "rows": 5, "cols": 7}
    head = {"embeddings": packed, "model": "e5", "usage": None}
    r = EmbedResult._from_native(head, flat)
    assert r.embeddings == vectors
    assert r.raw == {}
    # A shape that does not match the part's bytes is refused.
    for wrong in ({"rows": 4}, {"cols": 8}):
        bad = {**head, "embeddings": {**packed, **wrong}}
        with pytest.raises(ValueError):
            EmbedResult._from_native(bad, flat)
    with pytest.raises(ValueError):
        EmbedResult._from_native(head, flat[:-8])
    empty = {**head, "embeddings": {"offset": 512, "length": 0, "rows": 2, "cols": 0}}
    assert EmbedResult._from_native(empty, b"").embeddings == [
        [],
        [],
    ]


def test_embed_repr_is_concise() -> None:
    vectors = _vectors(256, 384)
    r = EmbedResult._from_native(
        {"embeddings": vectors, "model": "e5", "usage": None, "raw": _embed_raw(vectors, False)}
    )
    text = repr(r)
    assert text == "EmbedResult(embeddings=<256 x 384 floats>, model='e5', usage=None)"
    assert str(r) == "embeddings=<256 x 384 floats> model='e5' usage=None"
    assert repr(EmbedResult(embeddings=[], model="m")).startswith("EmbedResult(embeddings=<0 ")


def test_results_pickle_and_compare_with_lazy_raw() -> None:
    vectors = _vectors(2, 2)
    lazy = EmbedResult._from_native(
        {"embeddings": vectors, "model": "e5", "usage": None, "raw": _embed_raw(vectors, False)}
    )
    clone = pickle.loads(pickle.dumps(lazy))
    assert clone == lazy
    assert clone.raw == _embed_raw(vectors, True)
    assert EmbedResult(embeddings=vectors, model="e5", raw=_embed_raw(vectors, True)) == lazy
    assert lazy != EmbedResult(embeddings=vectors, model="e5")
    assert lazy != TextResult(text="", model="e5")


def test_rerank_result_from_native() -> None:
    r = RerankResult._from_native(
        {
            "results": [
                {"index": 0, "relevance_score": 0.923, "document": "How to reset a password"},
                {"index": 1, "relevance_score": 0.1, "document": {"text": "Billing FAQ"}},
                {"index": 2, "relevance_score": 0.05, "document": None},
                "junk",
            ],
            "model": None,
            "usage": {"prompt_tokens": 14, "total_tokens": 14},
            "raw": {"results": []},
        }
    )
    assert r.results == [
        RerankItem(index=0, relevance_score=0.923, document="How to reset a password"),
        RerankItem(index=1, relevance_score=0.1, document="Billing FAQ"),
        RerankItem(index=2, relevance_score=0.05, document=None),
    ]
    assert r.model is None
    assert r.raw == {"results": []}


# --------------------------------------------------------------------------------------------
# Timeout


def test_timeout_defaults_and_frozen() -> None:
    t = Timeout()
    assert (t.request, t.connect) == (60.0, 5.0)
    assert Timeout(request=30, connect=2).request == 30.0
    with pytest.raises(FrozenInstanceError):
        t.request = 1.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(t)) == t


@pytest.mark.parametrize(
    "kwargs",
    [
        {"request": 0},
        {"request": -1.0},
        {"connect": 0.0},
        {"request": math.nan},
        {"connect": math.inf},
        {"request": None},
        {"request": "30"},
        {"request": True},
        {"read": 3.0},
    ],
)
def test_timeout_refuses_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Timeout(**kwargs)
    assert info.value.code == "invalid_option"
    assert str(info.value).startswith("configuration error: Timeout.")

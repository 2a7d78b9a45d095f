"""The committed JSON Schemas (``include/inferencekey.schema.json``, c-abi rule 11) against the
JSON the C ABI really reads and writes: every request sent here is checked against its
function's ``request`` schema before it is sent, and every result, stream item, stream
metadata, error detail and log record that comes back against its ``result``/``items`` schema.
Calls go straight through the ABI (cffi), as a binding in another language would make them,
to the local platform with real CPU models behind it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from inferencekey import DataClient, InferenceKeyError, ManagementClient, _logging
from inferencekey._ffi import NULL, ffi, lib, pair, raise_error, take_result
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(180)

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "include" / "inferencekey.schema.json").read_text()
)
CHAT, EMBED, RERANK = "abi-chat", "abi-embed", "abi-rerank"
SPECS: dict[str, dict[str, Any]] = {
    CHAT: {"name": "Chat", "slug": CHAT, "model": "HuggingFaceTB/SmolLM2-135M", "backend": "vllm"},
    EMBED: {
        "name": "Embed",
        "slug": EMBED,
        "model": "intfloat/multilingual-e5-small",
        "backend": "vllm",
        "task_type": "embedding",
    },
    RERANK: {
        "name": "Rerank",
        "slug": RERANK,
        "model": "BAAI/bge-reranker-base",
        "backend": "vllm",
        "task_type": "reranker",
    },
}


def schema_of(function: str, part: str) -> dict[str, Any]:
    entry = SCHEMA["functions"][function]
    assert part in entry, f"{function} has no {part} schema"
    return {**entry[part], "$defs": SCHEMA["$defs"]}


def conforms(function: str, part: str, document: Any) -> Any:
    jsonschema.Draft202012Validator(schema_of(function, part)).validate(document)
    return document


def violates(function: str, part: str, document: Any) -> bool:
    return not jsonschema.Draft202012Validator(schema_of(function, part)).is_valid(document)


def request_args(function: str, request: dict[str, Any], *, check: bool = True) -> tuple[Any, ...]:
    """``req, req_len[, cancel]`` for ``function``, the request first checked against its
    schema unless ``check`` is false."""
    body = json.dumps(conforms(function, "request", request) if check else request).encode()
    # Operations take a cancel token; the dev server's calls do not.
    return (body, len(body)) if function.startswith("ik_dev_") else (body, len(body), NULL)


def call(function: str, handle: Any, request: dict[str, Any] | None = None) -> Any:
    """``function(handle, [req, req_len, [cancel,]] &out, &out_len, &err)``: the result's JSON,
    checked against the function's schema (and the request first, against its own)."""
    args = (handle, *request_args(function, request)) if request is not None else (handle,)
    if function in EVENT_REPORTERS:
        args = (*args, EVENT_CALLBACK, NULL)
    out, out_len, err = ffi.new("char **"), ffi.new("size_t *"), ffi.new("ik_error **")
    status = getattr(lib, function)(*args, out, out_len, err)
    if status:
        raise_error(status, err[0])
    head, _parts = take_result(out[0], out_len[0], None, pair)
    return conforms(function, "result", head)


#: Functions that also report events through an `on_event` callback (`events` schema).
EVENT_REPORTERS = {"ik_management_client_wait_until_ready"}
#: The events the last such call reported (what its `on_event` got, each checked).
EVENTS: list[Any] = []


def _on_event(_user_data: Any, _status: int, text: Any, length: int, _err: Any) -> None:
    event = json.loads(ffi.unpack(text, length))
    lib.ik_buffer_free(text)  # the callback owns it (ABI 3)
    EVENTS.append(conforms("ik_management_client_wait_until_ready", "events", event))


EVENT_CALLBACK = ffi.callback("ik_callback", _on_event)


def call_async(function: str, handle: Any, request: dict[str, Any]) -> tuple[Any, Any]:
    """``function`` (an ``_async`` twin) with a callback: the JSON the callback got, checked,
    and for a stream opener the open stream (else ``None``)."""
    done, got = threading.Event(), {}

    def on_done(_user_data: Any, status: int, text: Any, length: int, err: Any) -> None:
        # The callback owns both (ABI 3); here it keeps the outcome and frees them.
        got["status"] = status
        got["result"] = take_result(text, length, None, pair)[0] if text != NULL else None
        if err != NULL:
            lib.ik_error_free(err)
        done.set()

    callback = ffi.callback("ik_callback", on_done)
    stream = ffi.new("ik_stream **") if "items" in SCHEMA["functions"][function] else None
    err = ffi.new("ik_error **")
    opened = (stream,) if stream is not None else ()
    args = request_args(function, request)
    status = getattr(lib, function)(handle, *args, *opened, callback, NULL, err)
    if status:
        raise_error(status, err[0])
    assert done.wait(60), f"{function}: no callback"
    assert got["status"] == 0, got
    return conforms(function, "result", got["result"]), stream[0] if stream is not None else None


def drain(opener: str, handle: Any, request: dict[str, Any]) -> tuple[list[Any], Any]:
    """Opens a stream, reads it to the end: its items and its metadata, each checked."""
    stream, err = ffi.new("ik_stream **"), ffi.new("ik_error **")
    status = getattr(lib, opener)(handle, *request_args(opener, request), stream, err)
    if status:
        raise_error(status, err[0])
    return read_to_end(opener, stream[0])


def read_to_end(opener: str, stream: Any) -> tuple[list[Any], Any]:
    """Every item of an open stream and then its metadata, each checked; frees the stream."""
    out, out_len, err = ffi.new("char **"), ffi.new("size_t *"), ffi.new("ik_error **")
    items: list[Any] = []
    try:
        while True:
            status = lib.ik_stream_next(stream, out, out_len, err)
            if status:
                raise_error(status, err[0])
            if out[0] == NULL:
                break
            try:
                items.append(conforms(opener, "items", json.loads(ffi.unpack(out[0], out_len[0]))))
            finally:
                lib.ik_buffer_free(out[0])
        return items, call("ik_stream_metadata", stream)
    finally:
        lib.ik_stream_free(stream)


@pytest.fixture(scope="module")
def clients(dev: DevServer) -> Iterator[tuple[ManagementClient, DataClient]]:
    with dev.management_client() as mgmt, dev.data_client() as data:
        yield mgmt, data


@pytest.fixture(scope="module")
def ready(clients: tuple[ManagementClient, DataClient]) -> Iterator[dict[str, Any]]:
    """The module's real workloads, ensured through the ABI: each `EnsureResult`."""
    mgmt, _ = clients
    created = {
        slug: call(
            "ik_management_client_ensure", mgmt._ptr, {"spec": spec, "on_drift": "reconcile"}
        )
        for slug, spec in SPECS.items()
    }
    for slug in SPECS:
        mgmt.wait_until_ready(slug, timeout=90, silent=True)
    yield created
    for slug in SPECS:
        mgmt.delete(slug)


def test_control_plane_requests_and_results_match_the_schema(
    clients: tuple[ManagementClient, DataClient], ready: dict[str, Any]
) -> None:
    mgmt, _ = clients
    assert {r["action"] for r in ready.values()} <= {"created", "unchanged"}
    spec = SPECS[CHAT]
    ptr = mgmt._ptr
    assert call("ik_management_client_ensure", ptr, {"spec": spec})["action"] == "unchanged"
    drifted = {**spec, "description": "drifted"}
    plan = call("ik_management_client_plan", ptr, {"spec": drifted, "project": None})
    assert plan["action"] == "planned" and plan["changes"][0]["field"] == "description"
    listed = call("ik_management_client_list", ptr, {"project": None})
    assert {w["slug"] for w in listed} >= set(SPECS)
    assert call("ik_management_client_get", ptr, {"workload_slug": CHAT})["slug"] == CHAT
    EVENTS.clear()
    event = call(
        "ik_management_client_wait_until_ready", ptr, {"workload_slug": CHAT, "timeout_s": 30}
    )
    assert EVENTS and EVENTS[-1] == event, "on_event saw every event, the terminal one last"
    assert event["phase"] == "ready"
    events, meta = drain(
        "ik_management_client_readiness_events", ptr, {"workload_slug": CHAT, "timeout_s": 30}
    )
    assert events and events[-1]["phase"] == "ready" and meta["last_event"] == events[-1]
    assert "…" in call("ik_management_client_describe", ptr)["token"]
    # A workload made and removed for the delete result (no process: no CPU stand-in).
    cheap = {
        "name": "Gone",
        "slug": "abi-gone",
        "model": "stabilityai/sd-turbo",
        "backend": "stablediffusioncpp",
        "task_type": "text2image",
    }
    assert call("ik_management_client_ensure", ptr, {"spec": cheap})["action"] == "created"
    assert call("ik_management_client_delete", ptr, {"workload_slug": "abi-gone"}) == {
        "deleted": True
    }
    assert call("ik_management_client_delete", ptr, {"workload_slug": "abi-gone"}) == {
        "deleted": False
    }


def test_data_plane_requests_and_results_match_the_schema(
    dev: DevServer, clients: tuple[ManagementClient, DataClient], ready: dict[str, Any]
) -> None:
    _, data = clients
    chat, embed, rerank = (data.endpoint(slug) for slug in (CHAT, EMBED, RERANK))
    text = call(
        "ik_endpoint_generate_text",
        chat._ptr,
        {
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
            "temperature": 0,
            "top_p": 0.9,
            "stop": ["\n\n"],
            "seed": 7,
            "options": {"timeout_s": 60},
        },
    )
    assert text["text"].strip() and text["raw_part"]["length"] > 0
    chunks, meta = drain(
        "ik_endpoint_generate_text_stream", chat._ptr, {"prompt": "Hi", "max_tokens": 6}
    )
    assert chunks and chunks[-1]["finish_reason"] in {"stop", "length"}
    assert meta["request_id"]
    opener = "ik_endpoint_generate_text_stream_async"
    opened, stream = call_async(opener, chat._ptr, {"prompt": "Hi", "max_tokens": 4})
    assert opened["request_id"] and opened["usage"] is None
    chunks, meta = read_to_end(opener, stream)
    assert chunks and meta["request_id"] == opened["request_id"]
    embedded, _ = call_async("ik_endpoint_embed_async", embed._ptr, {"input": "one"})
    assert embedded["embeddings"]["rows"] == 1
    vectors = call("ik_endpoint_embed", embed._ptr, {"input": ["one", "two"]})
    assert (vectors["embeddings"]["rows"], vectors["embeddings"]["cols"]) == (2, 384)
    ranked = call(
        "ik_endpoint_rerank",
        rerank._ptr,
        {"query": "a cat", "documents": ["a kitten", "tax law"], "top_n": 2},
    )
    assert len(ranked["results"]) == 2
    assert call("ik_data_client_describe", data._ptr)["project"] == dev.project
    assert call("ik_endpoint_describe", chat._ptr)["workload_slug"] == CHAT


def test_the_dev_server_s_results_match_the_schema(dev: DevServer) -> None:
    ptr = dev._handle.ptr
    creds = call("ik_dev_server_create_project", ptr, {"slug": "abi-schema", "name": "ABI"})
    assert creds["project"]["slug"] == "abi-schema"
    minted = call(
        "ik_dev_server_mint_token",
        ptr,
        {"project": "abi-schema", "kind": "live", "grants": ["abi-schema/*"]},
    )
    assert minted["token"].startswith("ik_live_")
    # ik_dev_server_start's `info` is read by DevServer itself; its config is checked here.
    conforms("ik_dev_server_start", "request", {"port": 0, "rate_limit_per_minute": 60})


def test_error_details_and_log_records_match_the_schema(
    clients: tuple[ManagementClient, DataClient],
    ready: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {"name": "x", "slug": "Not Canonical", "model": "m", "backend": "vllm"}
    assert violates("ik_workload_spec_validate", "request", bad)
    body = json.dumps(bad).encode()
    err = ffi.new("ik_error **")
    assert lib.ik_workload_spec_validate(body, len(body), err) != 0
    try:
        details = json.loads(ffi.string(lib.ik_error_details_json(err[0])))
    finally:
        lib.ik_error_free(err[0])
    assert conforms("ik_error_details_json", "result", details)["field"] == "slug"

    records: list[str] = []
    monkeypatch.setattr(_logging, "emit_native_record", lambda _level, text: records.append(text))
    caplog.set_level(logging.DEBUG, logger="inferencekey")
    _logging.sync_native_level()  # what every call of the package does first
    mgmt, _ = clients
    call("ik_management_client_get", mgmt._ptr, {"workload_slug": CHAT})
    assert records, "no log record reached the callback"
    for record in records:
        conforms("ik_log_set_callback", "result", json.loads(record))


def test_requests_the_library_refuses_for_shape_the_schema_refuses_too(
    clients: tuple[ManagementClient, DataClient],
) -> None:
    mgmt, data = clients
    endpoints = [data.endpoint(slug) for slug in (CHAT, EMBED, RERANK)]  # alive to the end
    chat, embed, rerank = (endpoint._ptr for endpoint in endpoints)
    spec = SPECS[CHAT]
    cases: list[tuple[str, Any, dict[str, Any], str]] = [
        ("ik_management_client_ensure", mgmt._ptr, {"spec": spec, "surprise": 1}, "invalid_json"),
        (
            "ik_management_client_ensure",
            mgmt._ptr,
            {"spec": {**spec, "replicas": 2}},
            "invalid_json",
        ),
        (
            "ik_management_client_ensure",
            mgmt._ptr,
            {"spec": spec, "on_drift": "often"},
            "invalid_json",
        ),
        ("ik_endpoint_generate_text", chat, {"prompt": "x", "max_tokens": 0}, "invalid_argument"),
        ("ik_endpoint_generate_text", chat, {"messages": []}, "invalid_argument"),
        ("ik_endpoint_generate_text", chat, {"prompt": "x", "stop": [1]}, "invalid_argument"),
        ("ik_endpoint_embed", embed, {"input": []}, "invalid_argument"),
        ("ik_endpoint_rerank", rerank, {"query": "q", "documents": []}, "invalid_argument"),
    ]
    for function, handle, request, code in cases:
        assert violates(function, "request", request), request
        args = request_args(function, request, check=False)
        out, out_len, err = ffi.new("char **"), ffi.new("size_t *"), ffi.new("ik_error **")
        status = getattr(lib, function)(handle, *args, out, out_len, err)
        assert status != 0, request
        with pytest.raises(InferenceKeyError) as info:
            raise_error(status, err[0])
        assert info.value.code == code, (request, info.value)
    # What the library accepts, the schema accepts (`call` checks each request it sends).
    assert not violates("ik_endpoint_embed", "request", {"input": ""})


def test_the_schema_describes_the_loaded_library_s_abi() -> None:
    assert SCHEMA["abi_version"] == int(lib.ik_abi_version())

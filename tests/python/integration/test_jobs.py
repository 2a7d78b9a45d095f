"""Jobs and webhooks end to end: ``submit_job`` against the real local platform with real CPU
models, deliveries received by the ``WebhookReceiver`` fixture and verified with
``inferencekey.webhooks.verify``.

The module runs its own platform with the retry schedule scaled down (``webhook_retry_scale``)
so that retries happen within the test. (The platform's side -- every submit-rule 400,
redirects, the 3 s deadline, durability across SIGKILL -- is tested in
``crates/inferencekey-dev/tests/jobs.rs``.) The sync and async submissions are both exercised
explicitly, so no ``flavour`` twin is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from inferencekey import (
    ApiError,
    AsyncDataClient,
    DataClient,
    JobKind,
    JobRef,
    ValidationError,
    WorkloadSpec,
)
from inferencekey.testing import DevServer, WebhookDelivery, WebhookReceiver

pytestmark = pytest.mark.timeout(300)

CHAT, EMBED, RERANK = "jobs-chat", "jobs-embed", "jobs-rerank"
# Retries at 60 s, 5 min, 15 min, 1 h, 6 h become 0.03, 0.15, 0.45, 1.8 and 10.8 s.
SCALE = 0.0005


@pytest.fixture(scope="module")
def platform() -> Iterator[DevServer]:
    with DevServer(webhook_retry_scale=SCALE) as dev:
        with dev.management_client() as mgmt:
            specs = [
                WorkloadSpec(
                    name="Chat",
                    slug=CHAT,
                    model="meta-llama/Llama-3.1-8B-Instruct",
                    backend="vllm",
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
            ]
            for spec in specs:
                mgmt.ensure(spec)
            for spec in specs:
                mgmt.wait_until_ready(spec.slug, timeout=240)
        yield dev


@pytest.fixture(scope="module")
def data(platform: DevServer) -> Iterator[DataClient]:
    with platform.data_client() as client:
        yield client


@pytest.fixture
def receiver(platform: DevServer) -> Iterator[tuple[WebhookReceiver, list[str]]]:
    """A receiver subscribed to all three workloads; unsubscribed afterwards."""
    with WebhookReceiver() as r:
        added = [(slug, platform.add_webhook(slug, r.url)) for slug in (CHAT, EMBED, RERANK)]
        secrets = {d.secret for _, d in added}
        assert len(secrets) == 3  # each destination has its own secret
        r.secret = added[0][1].secret
        yield r, [d.secret for _, d in added]
        for slug, destination in added:
            platform.remove_webhook(slug, destination.id)


def delivery_for(r: WebhookReceiver, job: JobRef, secret: str) -> WebhookDelivery:
    """Waits for `job`'s verified delivery (verifying with that destination's secret)."""
    r.secret = secret
    [delivery] = r.wait_for(1, where=lambda d: d.event is not None and d.event.job_id == job.job_id)
    return delivery


def test_a_chat_job_is_delivered_signed_with_the_sync_routes_shape(
    data: DataClient, receiver: tuple[WebhookReceiver, list[str]]
) -> None:
    r, secrets = receiver
    ep = data.endpoint(CHAT)
    job = ep.submit_job(
        "chat_completions",  # an alias: sent as its wire name
        {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8, "stream": True},
        context={"order": 7},
    )
    assert job.kind is JobKind.CHAT
    assert len(job.job_id) == 36 and job.request_id
    delivery = delivery_for(r, job, secrets[0])
    event = delivery.event
    assert event.event == "job.completed"
    assert event.context == {"order": 7}
    assert delivery.headers["x-inferencekey-event"] == "job"
    assert delivery.headers["x-inferencekey-job-id"] == job.job_id
    assert event.data.status == "completed"
    output = event.data.output
    # `stream: true` is ignored: one chat completion, as generate_text's raw response.
    assert output["object"] == "chat.completion"
    assert isinstance(output["choices"][0]["message"]["content"], str)
    assert output["choices"][0]["finish_reason"] in ("stop", "length")
    assert event.data.usage is not None and event.data.usage.completion_tokens > 0
    sync = ep.generate_text(prompt="Say hi", max_tokens=8)
    assert set(sync.raw) <= set(output) | {"system_fingerprint"}


def test_embeddings_and_rerank_jobs_from_the_async_client(
    platform: DevServer, receiver: tuple[WebhookReceiver, list[str]]
) -> None:
    r, secrets = receiver

    async def submit() -> tuple[JobRef, JobRef]:
        async with AsyncDataClient(
            project=platform.project, base_url=platform.base_url, api_key=platform.api_key
        ) as client:
            embed = await client.endpoint(EMBED).submit_job(
                JobKind.EMBEDDINGS, {"input": ["a cat", "a feline", "a car"]}
            )
            rerank = await client.endpoint(RERANK).submit_job(
                "reranking",
                {"query": "reset my password", "documents": ["Billing FAQ", "Reset a password"]},
            )
            return embed, rerank

    embed_job, rerank_job = asyncio.run(submit())
    embedded = delivery_for(r, embed_job, secrets[1]).event.data.output
    assert [d["index"] for d in embedded["data"]] == [0, 1, 2]
    assert {len(d["embedding"]) for d in embedded["data"]} == {384}
    ranked = delivery_for(r, rerank_job, secrets[2]).event.data.output
    assert ranked["results"][0]["index"] == 1  # the password document ranks first


def test_a_failing_receiver_gets_the_scaled_retries_then_the_delivery_fails(
    platform: DevServer, data: DataClient
) -> None:
    with WebhookReceiver(respond=503) as r:
        destination = platform.add_webhook(EMBED, r.url)
        r.secret = destination.secret
        try:
            job = data.endpoint(EMBED).submit_job("embeddings", {"input": ["retry me"]})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                log = [d for d in platform.webhook_deliveries(EMBED) if d["job_id"] == job.job_id]
                if log and log[0]["status"] != "pending":
                    break
                time.sleep(0.2)
            assert log[0]["status"] == "failed", log
            assert log[0]["attempts"] == 6  # the first try and five retries
            attempts = [d for d in r.deliveries if d.body and job.job_id.encode() in d.body]
            assert len(attempts) == 6
            # Each attempt is signed afresh and verifies; the receiver refused them all.
            assert all(d.event is not None and d.answered == 503 for d in attempts)
            stamps = [
                int(d.headers["x-inferencekey-signature"][2:].split(",")[0]) for d in attempts
            ]
            assert stamps == sorted(stamps) and stamps[-1] - stamps[0] >= 10  # 10.8 s last gap
        finally:
            platform.remove_webhook(EMBED, destination.id)


def test_kinds_the_platform_cannot_run_and_refused_submissions(data: DataClient) -> None:
    ep = data.endpoint(CHAT)
    with pytest.raises(ApiError) as info:
        ep.submit_job(JobKind.AUDIO_SPEECH, {"input": "hello", "voice": "alloy"})
    assert info.value.status_code == 501
    assert "audio_speech" in info.value.message
    # The platform's own 400 (a kind the workload's task cannot run) reaches the caller.
    with pytest.raises(ValidationError) as refused:
        ep.submit_job("embeddings", {"input": ["x"]})
    assert refused.value.status_code == 400
    # Local checks send nothing.
    with pytest.raises(ValidationError) as local:
        ep.submit_job("chat", b"bytes", content_type="application/octet-stream")
    assert local.value.status_code is None


def test_destinations_are_listed_without_secrets_and_limited(platform: DevServer) -> None:
    from inferencekey import InferenceKeyError

    added: list[Any] = []
    try:
        for n in range(10):
            added.append(platform.add_webhook(RERANK, f"http://127.0.0.1:9/{n}"))
        listed = platform.webhooks(RERANK)
        assert [d["url"] for d in listed] == [d.url for d in added]
        assert all("secret" not in d for d in listed)
        assert added[0].secret not in repr(added[0])
        with pytest.raises(InferenceKeyError) as eleventh:
            platform.add_webhook(RERANK, "http://127.0.0.1:9/10")
        assert eleventh.value.status_code == 400
        with pytest.raises(InferenceKeyError) as twice:
            platform.add_webhook(RERANK, added[0].url)
        assert twice.value.status_code in (400, 409)
        with pytest.raises(InferenceKeyError) as remote:
            platform.remove_webhook(RERANK, added[0].id)
            platform.add_webhook(RERANK, "http://example.com/hook")
        assert remote.value.status_code == 400
        added.pop(0)
    finally:
        for d in added:
            platform.remove_webhook(RERANK, d.id)

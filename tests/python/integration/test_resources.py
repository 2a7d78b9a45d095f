"""Native resources are released: memory stays flat over many calls of every operation
(c-abi §7, "an RSS-growth loop over every operation"), and versions agree across layers.

The RSS loop runs twice, ``[sync]`` and ``[async]``: in the async run every operation goes
through the async clients (``support/asyncio_twin.py``), so the callback path (futures,
pending-call table, stream handles) is checked for leaks too. Not twinned:
``test_versions_agree_across_layers`` reads versions from the C ABI and uses no client.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator

import pytest
from support.asyncio_twin import Maker

import inferencekey
from inferencekey import DataClient, ManagementClient, NotFoundError, WorkloadSpec
from inferencekey._ffi import ABI_VERSION, ffi, lib, native_version

ROUNDS = 100
# A coarse guard: allocator noise and lazily grown pools stay well under it, while leaking a
# response body or an embedding result per call (≥ 40 KB) exceeds it. Small native leaks are
# the C suite's job (ASan and valgrind count every byte).
MAX_GROWTH_BYTES = 4 * 1024 * 1024


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def workloads(sync_mgmt: ManagementClient) -> Iterator[dict[str, WorkloadSpec]]:
    specs = {
        "chat": WorkloadSpec(name="RSS chat", slug="rss-chat", model="m", backend="vllm"),
        "embed": WorkloadSpec(
            name="RSS embed", slug="rss-embed", model="e", backend="ollama", task_type="embedding"
        ),
        "rerank": WorkloadSpec(
            name="RSS rerank", slug="rss-rerank", model="r", backend="ollama", task_type="reranker"
        ),
    }
    for spec in specs.values():
        sync_mgmt.ensure(spec)
    for spec in specs.values():
        sync_mgmt.wait_until_ready(spec.slug, timeout=120, silent=True)
    yield specs
    for spec in specs.values():
        sync_mgmt.delete(spec.slug)


def _operations(
    make_mgmt: Maker[ManagementClient],
    make_data: Maker[DataClient],
    mgmt: ManagementClient,
    data: DataClient,
    specs: dict[str, WorkloadSpec],
) -> dict[str, Callable[[], object]]:
    chat = data.endpoint("rss-chat")
    embed = data.endpoint("rss-embed")
    rerank = data.endpoint("rss-rerank")

    def stream_closed_early() -> None:
        with chat.generate_text_stream(prompt="Count to ten", max_tokens=8) as stream:
            next(stream)

    def not_found() -> None:
        with pytest.raises(NotFoundError):
            mgmt.get("rss-absent")

    def client_lifecycle() -> None:
        with make_mgmt.dev_client() as client:
            repr(client)
        make_data.dev_client().endpoint("rss-chat").close()

    return {
        "ensure": lambda: mgmt.ensure(specs["chat"]),
        "plan": lambda: mgmt.plan(specs["chat"]),
        "list": mgmt.list,
        "get": lambda: mgmt.get("rss-chat"),
        "error": not_found,
        "readiness": lambda: mgmt.wait_until_ready("rss-chat", timeout=30, silent=True),
        "generate": lambda: chat.generate_text(prompt="Hi", max_tokens=1),
        "stream": stream_closed_early,
        "embed": lambda: embed.embed(input=["a cat", "a feline", "a car"]),
        "rerank": lambda: rerank.rerank(query="cat", documents=["a cat", "a car"]),
        "lifecycle": client_lifecycle,
    }


@pytest.mark.timeout(600)
def test_memory_stays_flat_over_every_operation(
    make_mgmt: Maker[ManagementClient],
    make_data: Maker[DataClient],
    mgmt: ManagementClient,
    data: DataClient,
    workloads: dict[str, WorkloadSpec],
) -> None:
    operations = _operations(make_mgmt, make_data, mgmt, data, workloads)
    growth: dict[str, int] = {}
    for name, op in operations.items():
        for _ in range(10):  # warm-up: pools, caches, lazily created runtime threads
            op()
        gc.collect()
        before = _rss()
        for _ in range(ROUNDS):
            op()
        gc.collect()
        growth[name] = _rss() - before
    leaking = {name: delta for name, delta in growth.items() if delta > MAX_GROWTH_BYTES}
    assert not leaking, f"RSS grew by more than {MAX_GROWTH_BYTES} bytes: {leaking}"


def test_versions_agree_across_layers() -> None:
    assert native_version() == inferencekey.__version__
    assert int(lib.ik_abi_version()) == ABI_VERSION
    assert ffi.string(lib.ik_version()).decode() == inferencekey.__version__

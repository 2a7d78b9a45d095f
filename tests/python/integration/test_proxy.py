"""Proxies from the environment (``HTTP_PROXY`` and friends, as most HTTP clients read them):
blocking calls go through the proxy too, not only async ones and streams.

A scripted server stands for the proxy: it sees the request in absolute form and answers it.
The platform host does not exist, so only a proxied request can succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from support import faults

from inferencekey import DataClient
from inferencekey.aio import AsyncDataClient

pytestmark = pytest.mark.timeout(60)

KEY = faults.well_formed("live")
BASE = "http://platform.invalid:8080"
CHAT = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "via proxy"}}],
}
PATH = f"{BASE}/endpoint/acme/bot/v1/chat/completions"


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[faults.ScriptedServer]:
    server = faults.ScriptedServer([faults.Reply(body=CHAT)])
    server.start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    yield server
    server.stop()


def test_blocking_calls_use_the_proxy_from_the_environment(
    proxy: faults.ScriptedServer,
) -> None:
    with DataClient(project="acme", base_url=BASE, api_key=KEY) as client:
        assert client.endpoint("bot").generate_text(prompt="hi").text == "via proxy"
    assert [(seen.method, seen.path) for seen in proxy.requests] == [("POST", PATH)]


def test_async_calls_use_the_proxy_from_the_environment(proxy: faults.ScriptedServer) -> None:
    async def call() -> str:
        async with AsyncDataClient(project="acme", base_url=BASE, api_key=KEY) as client:
            return (await client.endpoint("bot").generate_text(prompt="hi")).text

    assert asyncio.run(call()) == "via proxy"
    assert [(seen.method, seen.path) for seen in proxy.requests] == [("POST", PATH)]

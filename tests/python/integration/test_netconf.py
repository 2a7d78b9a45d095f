"""Enterprise networking and openai-python's conventions: TLS trust (a private CA through
``ca_bundle=`` and ``SSL_CERT_FILE``), ``default_headers`` / ``extra_headers``, per-call
``timeout=``, and the read-only ``base_url`` / ``project`` / ``timeout`` / ``max_retries``.

Every test taking ``make_mgmt`` / ``make_data`` runs ``[sync]`` (blocking calls: the core's own
HTTP/1.1 path) and ``[async]`` (reqwest), so both transports are covered by one body.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import faults
from support.asyncio_twin import Maker

from inferencekey import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    DataClient,
    ManagementClient,
    Timeout,
)

trustme = pytest.importorskip("trustme")

pytestmark = pytest.mark.timeout(60)

KEY = faults.well_formed("live")
SDK = faults.well_formed("sdk")
CHAT = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}}],
}
PROXY_VARIABLES = [
    name
    for upper in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    for name in (upper, upper.lower())
]


@pytest.fixture(autouse=True)
def _direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy: blocking calls take the core's own HTTP/1.1 path."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


# --------------------------------------------------------------------------------------------
# TLS with a private CA


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def https(ca: trustme.CA) -> Iterator[faults.ScriptedServer]:
    """A scripted HTTPS server on loopback, its certificate issued by the private CA."""
    server = faults.ScriptedServer([faults.Reply(body=CHAT)])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    with server:
        yield server


def https_url(server: faults.ScriptedServer) -> str:
    return f"https://127.0.0.1:{server.port}"


def test_a_private_ca_is_not_trusted_by_default(
    make_data: Maker[DataClient], https: faults.ScriptedServer
) -> None:
    endpoint = make_data(project="acme", base_url=https_url(https), api_key=KEY).endpoint("bot")
    started = time.monotonic()
    with pytest.raises(APIConnectionError) as info:
        endpoint.generate_text(prompt="hi")
    assert info.value.code == "tls_certificate"
    message = str(info.value)
    assert "certificate" in message and "UnknownIssuer" in message, message
    assert "ca_bundle" in message and "SSL_CERT_FILE" in message, message
    assert not https.requests
    # Not retried: an untrusted certificate stays untrusted (the backoff would be >= 0.375 s).
    assert time.monotonic() - started < 0.35


def test_ca_bundle_trusts_the_private_ca(
    make_data: Maker[DataClient],
    make_mgmt: Maker[ManagementClient],
    https: faults.ScriptedServer,
    ca_pem: Path,
) -> None:
    data = make_data(project="acme", base_url=https_url(https), api_key=KEY, ca_bundle=ca_pem)
    assert data.endpoint("bot").generate_text(prompt="hi").text == "hello"
    # A str path works too, and from_env takes it as well.
    data = make_data.from_env(project="acme", base_url=https_url(https), ca_bundle=str(ca_pem))
    assert data.endpoint("bot", api_key=KEY).generate_text(prompt="hi").text == "hello"
    # A control-plane client: the same roots (the reply is not a list; only TLS matters).
    mgmt = make_mgmt(sdk_token=SDK, base_url=https_url(https), project="acme", ca_bundle=ca_pem)
    with pytest.raises(Exception) as info:
        mgmt.list()
    assert not isinstance(info.value, APIConnectionError), info.value
    assert https.requests[-1].path == "/api/projects/acme/workloads"


def test_bad_ca_bundles_are_configuration_errors(
    make_data: Maker[DataClient], tmp_path: Path
) -> None:
    (tmp_path / "text.pem").write_text("not a certificate\n")
    (tmp_path / "broken.pem").write_text(
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"
    )
    for path, says in [
        (tmp_path / "missing.pem", "cannot be read"),
        (tmp_path / "text.pem", "no PEM certificate"),
        (tmp_path / "broken.pem", "not valid PEM"),
        (tmp_path, "cannot be read"),
    ]:
        with pytest.raises(ConfigurationError) as info:
            make_data(project="acme", api_key=KEY, ca_bundle=path)
        assert info.value.code == "invalid_ca_bundle"
        assert says in str(info.value) and str(path) in str(info.value), str(info.value)


SSL_CERT_FILE_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from inferencekey import DataClient, InferenceKeyError
    from inferencekey.aio import AsyncDataClient

    url, key = sys.argv[1], sys.argv[2]
    out = {}
    try:
        endpoint = DataClient(project="acme", base_url=url, api_key=key).endpoint("bot")
        out["sync"] = endpoint.generate_text(prompt="hi").text
    except InferenceKeyError as e:
        out["sync"] = [type(e).__name__, e.code, str(e)]

    async def main():
        client = AsyncDataClient(project="acme", base_url=url, api_key=key)
        return (await client.endpoint("bot").generate_text(prompt="hi")).text

    try:
        out["async"] = asyncio.run(main())
    except InferenceKeyError as e:
        out["async"] = [type(e).__name__, e.code, str(e)]
    print(json.dumps(out))
    """
)


def run_child(url: str, env_extra: dict[str, str]) -> dict[str, object]:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in PROXY_VARIABLES and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", SSL_CERT_FILE_CHILD, url, KEY],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_ssl_cert_file_is_honoured_by_both_transports(
    https: faults.ScriptedServer, ca_pem: Path, tmp_path: Path
) -> None:
    assert run_child(https_url(https), {"SSL_CERT_FILE": str(ca_pem)}) == {
        "sync": "hello",
        "async": "hello",
    }
    # SSL_CERT_DIR: a directory of PEM files.
    (tmp_path / "ca.pem").write_bytes(ca_pem.read_bytes())
    assert run_child(https_url(https), {"SSL_CERT_DIR": str(tmp_path)}) == {
        "sync": "hello",
        "async": "hello",
    }
    # Without it: refused by both, with the hint.
    refused = run_child(https_url(https), {})
    for flavour in ("sync", "async"):
        name, code, message = refused[flavour]  # type: ignore[misc]
        assert (name, code) == ("APIConnectionError", "tls_certificate"), refused
        assert "SSL_CERT_FILE" in message


def test_an_unusable_ssl_cert_file_is_a_configuration_error(
    https: faults.ScriptedServer, tmp_path: Path
) -> None:
    refused = run_child(https_url(https), {"SSL_CERT_FILE": str(tmp_path / "missing.pem")})
    for flavour in ("sync", "async"):
        name, code, message = refused[flavour]  # type: ignore[misc]
        assert (name, code) == ("ConfigurationError", "tls"), refused
        assert "SSL_CERT_FILE" in message and "missing.pem" in message, message


def test_roots_from_the_environment_are_read_only_for_https(tmp_path: Path) -> None:
    """SSL_CERT_FILE is set machine-wide on many hosts: a client of an http:// server (the
    local platform) neither reads it nor fails on it."""
    with faults.ScriptedServer([faults.Reply(body=CHAT), faults.Reply(body=CHAT)]) as plain:
        got = run_child(plain.url, {"SSL_CERT_FILE": str(tmp_path / "missing.pem")})
    assert got == {"sync": "hello", "async": "hello"}


# --------------------------------------------------------------------------------------------
# default_headers and extra_headers


def answer(seen: faults.Seen) -> faults.Reply:
    """A well-formed answer for each data-plane route."""
    if seen.path.endswith("/embeddings"):
        return faults.Reply(body={"data": [{"index": 0, "embedding": [0.5]}], "model": "m"})
    if seen.path.endswith("/rerank"):
        return faults.Reply(body={"results": [{"index": 0, "relevance_score": 0.5}]})
    return faults.Reply(body=CHAT)


def chat_server() -> faults.ScriptedServer:
    return faults.ScriptedServer(answer)


def test_headers_merge_per_call_over_defaults_over_ours(make_data: Maker[DataClient]) -> None:
    with chat_server() as server:
        client = make_data(
            project="acme",
            base_url=server.url,
            api_key=KEY,
            default_headers={"X-Team": "search", "X-Trace": "default", "User-Agent": "app/2"},
        )
        endpoint = client.endpoint("bot")
        endpoint.generate_text(prompt="hi")
        endpoint.generate_text(prompt="hi", extra_headers={"x-trace": "call-1", "X-Team": None})
        endpoint.embed(input="hi", extra_headers={"X-Only": "embed"})
        with client.with_options(default_headers={"X-Team": "ranking"}) as other:
            other.endpoint("bot").rerank(query="q", documents=["d"])
    first, second, third, fourth = (r.headers for r in server.requests)
    assert (first["x-team"], first["x-trace"], first["user-agent"]) == (
        "search",
        "default",
        "app/2",
    )
    assert first["authorization"] == f"Bearer {KEY}"
    assert first["content-type"] == "application/json"
    assert second["x-trace"] == "call-1" and "x-team" not in second
    assert third["x-only"] == "embed" and third["x-trace"] == "default"
    assert fourth["x-team"] == "ranking" and fourth["x-trace"] == "default"
    assert "x-only" not in fourth


def test_management_calls_take_extra_headers(make_mgmt: Maker[ManagementClient]) -> None:
    with faults.ScriptedServer([faults.Reply(body=[])]) as server:
        mgmt = make_mgmt(
            sdk_token=SDK, base_url=server.url, project="acme", default_headers={"X-A": "1"}
        )
        assert mgmt.list(extra_headers={"X-B": "2"}) == []
        assert mgmt.delete("gone", extra_headers={"X-A": "3"}) is False
    listed, deleted = (r.headers for r in server.requests)
    assert (listed["x-a"], listed["x-b"]) == ("1", "2")
    assert deleted["x-a"] == "3" and "x-b" not in deleted
    assert listed["authorization"] == f"Bearer {SDK}"


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Authorization": "Bearer hunter2"}, '"Authorization" cannot be set'),
        ({"host": "hunter2.example"}, '"host" cannot be set'),
        ({"Content-Length": "7"}, '"Content-Length" cannot be set'),
        ({"Transfer-Encoding": "chunked"}, '"Transfer-Encoding" cannot be set'),
        ({"Connection": "close"}, '"Connection" cannot be set'),
        ({"X-A": "hunter2\r\nInjected: yes"}, "not a valid header value"),
        ({"X-A": "hunter2-é"}, "non-ASCII"),
        ({"X A": "hunter2"}, "not a valid header name"),
        ({"X-A": 7}, "must be a string, got a number"),
        (["X-A", "hunter2"], "must be a mapping"),
    ],
)
def test_refused_headers(make_data: Maker[DataClient], headers: object, says: str) -> None:
    with chat_server() as server:
        with pytest.raises(ConfigurationError) as info:
            make_data(project="acme", base_url=server.url, api_key=KEY, default_headers=headers)
        assert info.value.code == "invalid_header"
        assert says in str(info.value) and "hunter2" not in str(info.value), str(info.value)
        endpoint = make_data(project="acme", base_url=server.url, api_key=KEY).endpoint("bot")
        with pytest.raises(ConfigurationError) as info:
            endpoint.generate_text(prompt="hi", extra_headers=headers)  # type: ignore[arg-type]
        assert info.value.code == "invalid_header"
        assert says in str(info.value) and "hunter2" not in str(info.value)
        assert not server.requests, "nothing was sent"


def test_header_values_never_reach_the_logs(make_data: Maker[DataClient]) -> None:
    with chat_server() as server, faults.captured_logs() as logs:
        endpoint = make_data(
            project="acme",
            base_url=server.url,
            api_key=KEY,
            default_headers={"X-Api-Key": "secret-default-123", "Cookie": "sid=secret-cookie"},
        ).endpoint("bot")
        endpoint.generate_text(prompt="hi", extra_headers={"X-Session-Token": "secret-call-456"})
        with pytest.raises(ConfigurationError):
            endpoint.generate_text(prompt="hi", extra_headers={"Authorization": "secret-789"})
    assert server.requests[0].headers["x-api-key"] == "secret-default-123"
    assert logs.lines, "the attempt was logged"
    text = "\n".join(logs.lines) + repr([r.__dict__ for r in logs.records])
    assert "secret" not in text


# --------------------------------------------------------------------------------------------
# Per-call timeout


def test_per_call_timeout_overrides_the_clients(make_data: Maker[DataClient]) -> None:
    with faults.ScriptedServer([faults.Reply(body=CHAT, delay=1.0)]) as server:
        endpoint = make_data(
            project="acme", base_url=server.url, api_key=KEY, timeout=30.0, max_retries=0
        ).endpoint("bot")
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            endpoint.generate_text(prompt="hi", timeout=0.3)
        assert time.monotonic() - started < 0.9
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            endpoint.embed(input="hi", timeout=Timeout(request=0.3, connect=0.2))
        assert time.monotonic() - started < 0.9
        # The client's own timeout is unchanged for the next call.
        assert endpoint.generate_text(prompt="hi").text == "hello"


def test_per_call_timeout_on_the_control_plane(make_mgmt: Maker[ManagementClient]) -> None:
    with faults.ScriptedServer([faults.Reply(body=[], delay=1.0)]) as server:
        mgmt = make_mgmt(sdk_token=SDK, base_url=server.url, project="acme", max_retries=0)
        with pytest.raises(APITimeoutError):
            mgmt.list(timeout=0.3)
        with pytest.raises(ConfigurationError) as info:
            mgmt.list(timeout=-1)
        assert info.value.code == "invalid_option"
        assert mgmt.list() == []


# --------------------------------------------------------------------------------------------
# Read-only properties


def test_public_read_only_properties(
    make_mgmt: Maker[ManagementClient], make_data: Maker[DataClient]
) -> None:
    mgmt = make_mgmt(
        sdk_token=SDK, base_url="http://127.0.0.1:9/", project="acme", timeout=12, max_retries=4
    )
    assert mgmt.base_url == "http://127.0.0.1:9"
    assert mgmt.project == "acme"
    assert mgmt.timeout == Timeout(request=12.0, connect=5.0)
    assert mgmt.max_retries == 4
    other = mgmt.with_options(timeout=Timeout(request=3, connect=1), max_retries=0)
    assert (other.timeout, other.max_retries) == (Timeout(request=3.0, connect=1.0), 0)
    assert mgmt.timeout.request == 12.0
    data = make_data(project="p", base_url="https://example.test/ik", api_key=KEY)
    assert (data.base_url, data.project, data.max_retries) == ("https://example.test/ik", "p", 2)
    assert data.timeout == Timeout(request=60.0, connect=5.0)
    no_project = make_mgmt(sdk_token=SDK)
    assert no_project.project is None
    for client in (mgmt, data):
        for name in ("base_url", "project", "timeout", "max_retries"):
            with pytest.raises(AttributeError):
                setattr(client, name, None)


def test_streams_take_extra_headers_and_timeout(make_data: Maker[DataClient]) -> None:
    events = (
        'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    sse = faults.Reply(200, events, {"Content-Type": "text/event-stream"})
    with faults.ScriptedServer([sse, faults.Reply(200, events, delay=1.0)]) as server:
        endpoint = make_data(
            project="acme",
            base_url=server.url,
            api_key=KEY,
            max_retries=0,
            default_headers={"X-Team": "t", "Accept": "text/event-stream, */*"},
        ).endpoint("bot")
        stream = endpoint.generate_text_stream(prompt="x", extra_headers={"X-Call": "s"})
        assert [c.text for c in stream] == ["a", ""]
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            endpoint.generate_text_stream(prompt="x", timeout=0.3)
        assert time.monotonic() - started < 0.9
    seen = server.requests[0].headers
    assert (seen["x-team"], seen["x-call"]) == ("t", "s")
    assert seen["accept"] == "text/event-stream, */*"


def test_readiness_calls_take_extra_headers(make_mgmt: Maker[ManagementClient]) -> None:
    events = 'data: {"phase":"ready","message":"up","elapsed_ms":1}\n\ndata: [DONE]\n\n'
    reply = faults.Reply(200, events, {"Content-Type": "text/event-stream"})
    with faults.ScriptedServer([reply]) as server:
        mgmt = make_mgmt(sdk_token=SDK, base_url=server.url, project="acme")
        ready = mgmt.wait_until_ready("bot", silent=True, extra_headers={"X-Wait": "1"})
        assert ready.phase == "ready"
    assert server.requests[0].headers["x-wait"] == "1"
    assert server.requests[0].path.endswith("/workloads/bot/readiness-events")

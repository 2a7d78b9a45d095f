"""Every error class, reached through a real HTTP exchange (acceptance point 5).

Where the local platform can produce the answer, it does: 401, each 403 code, 400, 422, 404,
429 (a platform started with a rate limit), 503 (a crashed workload, a starting workload),
502 (a fake upstream answering garbage or breaking off), 504 (a fake upstream that hangs).
The SDK never sends some requests (a token of the other plane, no token, a create whose 409
survives the re-list); for those the platform's real answer is captured with a raw HTTP
client and replayed to the SDK by a scripted server. A silent socket server stands for a
server that never answers, and a closed port for a refused connection.

Each error is checked for its class, ``status_code``, ``code``, ``message`` and
``request_id`` (``req_…``, the platform's ``X-Request-Id``).

Every test here runs twice, ``[sync]`` and ``[async]`` (its async twin: the same body on the
async clients, see ``support/asyncio_twin.py``): clients come from the ``mgmt`` / ``data``
fixtures and the ``make_mgmt`` / ``make_data`` factories. The workloads and the strict platform
are set up once, with sync clients.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import faults
from support.asyncio_twin import Maker

from inferencekey import (
    APIConnectionError,
    ApiError,
    APITimeoutError,
    AuthError,
    ConflictError,
    DataClient,
    InferenceKeyError,
    InternalServerError,
    ManagementClient,
    NotFoundError,
    PermissionDenied,
    RateLimitError,
    ReadinessError,
    ValidationError,
    WorkloadSpec,
)
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(120)

SLOW, GARBAGE, BROKEN, CRASHED = "err-slow", "err-garbage", "err-broken", "err-crashed"
EMBED_FAKE = "err-embed-fake"
HANG = "err-hang"
PREFIX = {
    AuthError: "authentication failed: ",
    ValidationError: "validation error: ",
    NotFoundError: "not found: ",
}


def assert_error(
    err: BaseException,
    cls: type[InferenceKeyError],
    status: int | None,
    code: str,
    *,
    request_id: bool | str = True,
) -> None:
    """Class (exactly), status, code, a prefix-free message, the request id and ``str``."""
    assert type(err) is cls, repr(err)
    assert isinstance(err, InferenceKeyError)
    assert err.status_code == status
    assert err.code == code
    assert err.message and err.message == err.message.strip()
    text = str(err)
    if request_id is True:
        assert err.request_id is not None and faults.REQUEST_ID_RE.match(err.request_id), err
    elif isinstance(request_id, str):
        assert err.request_id == request_id
    else:
        assert err.request_id is None
    if err.request_id:
        assert text.endswith(f" (request_id: {err.request_id})")
    if cls in PREFIX:
        prefix = PREFIX[cls]
    elif cls is PermissionDenied:
        prefix = f"permission denied [{code}]: "
    elif cls is APITimeoutError:
        prefix = "timed out: "
    elif cls is APIConnectionError:
        prefix = "connection error: "
    else:
        assert isinstance(err, ApiError)
        prefix = f"api error (status {status}) [{code}]: " if status else f"api error [{code}]: "
    assert text.startswith(prefix + err.message), text
    assert not err.message.startswith(prefix)


def replay_of(reply: httpx.Response) -> faults.Reply:
    """The platform's real answer, to be served again to the SDK by a scripted server."""
    headers = {"X-Request-Id": reply.headers["x-request-id"]}
    for name in ("www-authenticate", "retry-after"):
        if name in reply.headers:
            headers[name] = reply.headers[name]
    return faults.Reply(reply.status_code, reply.content, headers)


# --------------------------------------------------------------------------------------------
# Fixtures: fake upstreams on the session platform; a strict platform for 429 and 504.


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("err-records")


@pytest.fixture(scope="module")
def err_workloads(sync_mgmt: ManagementClient, records: Path) -> Iterator[None]:
    ready = [
        faults.fake_spec(SLOW, "slow_chat.py", "--record", str(records / "slow.jsonl")),
        faults.fake_spec(GARBAGE, "garbage_chat.py", "--record", str(records / "garbage.jsonl")),
        faults.fake_spec(BROKEN, "broken_stream.py", "--record", str(records / "broken.jsonl")),
        faults.fake_spec(EMBED_FAKE, "slow_chat.py", task_type="embedding"),
    ]
    crashed = faults.fake_spec(CRASHED, "exit_at_start.py")
    for spec in [*ready, crashed]:
        sync_mgmt.ensure(spec)
    for spec in ready:
        sync_mgmt.wait_until_ready(spec.slug, timeout=60, silent=True)
    with pytest.raises(ReadinessError) as info:
        sync_mgmt.wait_until_ready(CRASHED, timeout=60, silent=True)
    assert "simulated crash" in (info.value.log_tail or "")
    yield
    for spec in [*ready, crashed]:
        sync_mgmt.delete(spec.slug)


@pytest.fixture(scope="module")
def strict(records: Path) -> Iterator[DevServer]:
    """A platform with a rate limit (60/min per token: Retry-After 1 s once a bucket is empty)
    and a 1 s upstream timeout, with a hanging fake upstream (records to ``hang.jsonl``)."""
    record = records / "hang.jsonl"
    with DevServer(rate_limit_per_minute=60, upstream_timeout_s=1.0) as dev:
        mgmt = ManagementClient(
            sdk_token=dev.mint_sdk_token("workload:read", "workload:write"),
            base_url=dev.base_url,
            project=dev.project,
        )
        for spec in (
            faults.fake_spec(HANG, "hang_chat.py", "--record", str(record)),
            faults.fake_spec(SLOW, "slow_chat.py"),
        ):
            mgmt.ensure(spec)
            mgmt.wait_until_ready(spec.slug, timeout=60, silent=True)
        yield dev


# --------------------------------------------------------------------------------------------
# 401


def test_401_unknown_sdk_token(make_mgmt: Maker[ManagementClient], dev: DevServer) -> None:
    client = make_mgmt(
        sdk_token=faults.well_formed("sdk"), base_url=dev.base_url, project=dev.project
    )
    with pytest.raises(AuthError) as info:
        client.list()
    assert_error(info.value, AuthError, 401, "invalid_credential")


def test_401_unknown_live_key(
    make_data: Maker[DataClient], dev: DevServer, err_workloads: None
) -> None:
    data = make_data(project=dev.project, base_url=dev.base_url)
    endpoint = data.endpoint(SLOW, api_key=faults.well_formed("live"))
    with pytest.raises(AuthError) as info:
        endpoint.generate_text(prompt="hi")
    assert_error(info.value, AuthError, 401, "invalid_credential")


def test_401_missing_credential_from_the_platform_maps_to_auth_error(
    make_mgmt: Maker[ManagementClient], dev: DevServer
) -> None:
    """The SDK always sends a token; the platform's answer without one is replayed to it."""
    raw = httpx.get(f"{dev.base_url}/api/projects/{dev.project}/workloads")
    assert raw.status_code == 401
    assert raw.json()["error"]["code"] == "missing_credential"
    assert raw.headers["www-authenticate"] == 'Bearer realm="inferencekey"'
    with faults.ScriptedServer([replay_of(raw)]) as server:
        client = make_mgmt(sdk_token=faults.well_formed("sdk"), base_url=server.url, project="acme")
        with pytest.raises(AuthError) as info:
            client.list()
    assert_error(
        info.value, AuthError, 401, "missing_credential", request_id=raw.headers["x-request-id"]
    )
    assert len(server.requests) == 1  # 401 is not retried


# --------------------------------------------------------------------------------------------
# 403


def test_403_wrong_credential_type_is_checked_locally(
    make_mgmt: Maker[ManagementClient], make_data: Maker[DataClient], dev: DevServer
) -> None:
    with pytest.raises(PermissionDenied) as info:
        make_mgmt(sdk_token=dev.api_key, base_url=dev.base_url, project=dev.project)
    assert_error(info.value, PermissionDenied, None, "wrong_credential_type", request_id=False)
    assert "the management plane requires an ik_sdk_ token" in info.value.message
    with pytest.raises(PermissionDenied) as info:
        make_data.dev_client().endpoint(SLOW, api_key=dev.sdk_token)
    assert_error(info.value, PermissionDenied, None, "wrong_credential_type", request_id=False)


@pytest.mark.parametrize("plane", ["control", "data"])
def test_403_wrong_credential_type_from_the_platform_maps_to_permission_denied(
    make_mgmt: Maker[ManagementClient], make_data: Maker[DataClient], dev: DevServer, plane: str
) -> None:
    """The platform's own 403 for a token of the other plane (which the SDK refuses to send),
    captured raw and replayed to the SDK."""
    if plane == "control":
        url, token = f"{dev.base_url}/api/projects/{dev.project}/workloads", dev.api_key
    else:
        url, token = f"{dev.base_url}/endpoint/{dev.project}/{SLOW}/v1/models", dev.sdk_token
    raw = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert raw.status_code == 403
    assert raw.json()["error"]["code"] == "wrong_credential_type"
    with faults.ScriptedServer([replay_of(raw)]) as server:
        if plane == "control":
            client = make_mgmt(
                sdk_token=faults.well_formed("sdk"), base_url=server.url, project="acme"
            )
            with pytest.raises(PermissionDenied) as info:
                client.list()
        else:
            data = make_data(
                project="acme", base_url=server.url, api_key=faults.well_formed("live")
            )
            with pytest.raises(PermissionDenied) as info:
                data.endpoint(SLOW).generate_text(prompt="hi")
    assert_error(
        info.value,
        PermissionDenied,
        403,
        "wrong_credential_type",
        request_id=raw.headers["x-request-id"],
    )


def test_403_project_scope_mismatch(
    make_mgmt: Maker[ManagementClient],
    make_data: Maker[DataClient],
    dev: DevServer,
    mgmt: ManagementClient,
) -> None:
    """The message names the token's real project (the platform says it in
    ``error.details.token_project``) and the one the path asked for."""
    with pytest.raises(PermissionDenied) as info:
        mgmt.list(project="err-other-project")
    assert_error(info.value, PermissionDenied, 403, "project_scope_mismatch")
    assert f'project "{dev.project}"' in info.value.message, info.value.message
    assert '"err-other-project"' in info.value.message, info.value.message
    other = dev.create_project("err-beta")
    client = make_mgmt(sdk_token=other["sdk_token"], base_url=dev.base_url, project=dev.project)
    with pytest.raises(PermissionDenied) as info:
        client.list()
    assert_error(info.value, PermissionDenied, 403, "project_scope_mismatch")
    assert 'project "err-beta"' in info.value.message, info.value.message
    assert client.list(project="err-beta") == []
    data = make_data(project=dev.project, base_url=dev.base_url, api_key=other["api_key"])
    with pytest.raises(PermissionDenied) as info:
        data.endpoint(SLOW).generate_text(prompt="hi")
    assert_error(info.value, PermissionDenied, 403, "project_scope_mismatch")
    assert 'project "err-beta"' in info.value.message, info.value.message


def test_403_scope_insufficient_on_the_control_plane(
    make_mgmt: Maker[ManagementClient], dev: DevServer, err_workloads: None
) -> None:
    reader = make_mgmt(
        sdk_token=dev.mint_sdk_token("workload:read"), base_url=dev.base_url, project=dev.project
    )
    assert SLOW in [w.slug for w in reader.list()]
    with pytest.raises(PermissionDenied) as info:
        reader.ensure(faults.fake_spec("err-never-created", "slow_chat.py"))
    assert_error(info.value, PermissionDenied, 403, "scope_insufficient")
    assert "workload:write" in info.value.message
    with pytest.raises(PermissionDenied) as info:
        reader.delete(SLOW)
    assert_error(info.value, PermissionDenied, 403, "scope_insufficient")
    assert SLOW in [w.slug for w in reader.list()]

    writer = make_mgmt(
        sdk_token=dev.mint_sdk_token("workload:read", "workload:write"),
        base_url=dev.base_url,
        project=dev.project,
    )
    spec = faults.fake_spec("err-assigned", "slow_chat.py")
    spec.worker_id = "worker-7"
    with pytest.raises(PermissionDenied) as info:
        writer.ensure(spec)
    assert_error(info.value, PermissionDenied, 403, "scope_insufficient")
    assert "assignment:write" in info.value.message
    assert "err-assigned" not in [w.slug for w in writer.list()]


def test_403_scope_insufficient_on_the_data_plane_hides_existence(
    make_data: Maker[DataClient], dev: DevServer, err_workloads: None
) -> None:
    data = make_data(project=dev.project, base_url=dev.base_url, api_key=dev.mint_key(SLOW))
    assert data.endpoint(SLOW).generate_text(prompt="hi").text
    for other in (GARBAGE, "err-does-not-exist"):  # existing or not: the same 403
        with pytest.raises(PermissionDenied) as info:
            data.endpoint(other).generate_text(prompt="hi")
        assert_error(info.value, PermissionDenied, 403, "scope_insufficient")


# --------------------------------------------------------------------------------------------
# 400 / 422


def test_400_task_type_mismatch(data: DataClient, err_workloads: None) -> None:
    calls = [
        lambda: data.endpoint(SLOW).embed(input="x"),
        lambda: data.endpoint(SLOW).rerank(query="q", documents=["d"]),
        lambda: data.endpoint(EMBED_FAKE).generate_text(prompt="hi"),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as info:
            call()
        assert_error(info.value, ValidationError, 400, "task_type_mismatch")


def test_400_invalid_request_names_the_field(data: DataClient, err_workloads: None) -> None:
    with pytest.raises(ValidationError) as info:
        data.endpoint(SLOW).generate_text(prompt="hi", extra_body={"stream_options": 5})
    assert_error(info.value, ValidationError, 400, "invalid_request")
    assert info.value.field == "stream_options"


def test_422_invalid_field_from_the_platform(mgmt: ManagementClient) -> None:
    """A custom backend of 64 characters passes the SDK's pattern check (no length limit);
    the platform caps it at 63."""
    spec = WorkloadSpec(
        name="Long backend",
        slug="err-long-backend",
        model="m",
        backend="b" * 64,
        task_type="text2image",
    )
    with pytest.raises(ValidationError) as info:
        mgmt.ensure(spec)
    assert_error(info.value, ValidationError, 422, "invalid_field")
    assert info.value.field == "backend"
    with pytest.raises(NotFoundError):
        mgmt.get("err-long-backend")


# --------------------------------------------------------------------------------------------
# 404 / 409


def test_404_not_found(mgmt: ManagementClient, data: DataClient) -> None:
    with pytest.raises(NotFoundError) as info:
        mgmt.readiness_events("err-never-existed", timeout=10)
    assert_error(info.value, NotFoundError, 404, "not_found")
    with pytest.raises(NotFoundError) as info:
        mgmt.wait_until_ready("err-never-existed", timeout=10, silent=True)
    assert_error(info.value, NotFoundError, 404, "not_found")
    # The project-wide key's grant covers any slug, so existence is the next check.
    with pytest.raises(NotFoundError) as info:
        data.endpoint("err-never-existed").generate_text(prompt="hi")
    assert_error(info.value, NotFoundError, 404, "not_found")


def test_get_of_a_missing_slug_raises_not_found(mgmt: ManagementClient) -> None:
    with pytest.raises(NotFoundError) as info:
        mgmt.get("err-never-existed")
    assert info.value.code == "not_found"
    assert "err-never-existed" in info.value.message


def test_409_slug_conflict_from_the_platform_maps_to_conflict_error(
    make_mgmt: Maker[ManagementClient], dev: DevServer, mgmt: ManagementClient
) -> None:
    """ensure() copes with a 409 by listing again; only a 409 whose re-list still misses the
    slug raises. The platform's real 409 is captured and replayed in that situation."""
    body = {
        "name": "Conflict",
        "slug": "err-conflict",
        "task_type": "text2image",
        "backend": "stablediffusioncpp",
        "model_name": "m",
    }
    url = f"{dev.base_url}/api/projects/{dev.project}/workloads"
    auth = {"Authorization": f"Bearer {dev.sdk_token}"}
    try:
        assert httpx.post(url, json=body, headers=auth).status_code == 201
        raw = httpx.post(url, json=body, headers=auth)
    finally:
        mgmt.delete("err-conflict")
    assert raw.status_code == 409
    assert raw.json()["error"]["code"] == "slug_conflict"
    script = [faults.Reply(200, []), replay_of(raw), faults.Reply(200, [])]
    with faults.ScriptedServer(script) as server:
        client = make_mgmt(sdk_token=faults.well_formed("sdk"), base_url=server.url, project="acme")
        spec = WorkloadSpec(
            name="Conflict",
            slug="err-conflict",
            model="m",
            backend="stablediffusioncpp",
            task_type="text2image",
        )
        with pytest.raises(ConflictError) as info:
            client.ensure(spec)
    assert_error(
        info.value, ConflictError, 409, "slug_conflict", request_id=raw.headers["x-request-id"]
    )
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/api/projects/acme/workloads"),
        ("POST", "/api/projects/acme/workloads"),
        ("GET", "/api/projects/acme/workloads"),
    ]


# --------------------------------------------------------------------------------------------
# 429


def _empty_bucket(call: Any) -> None:
    """Calls until the token's bucket is empty: a 429, then the next success (which leaves
    the bucket at ~0 tokens, so a call in the next ~0.9 s is refused)."""
    refused = False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            call()
        except RateLimitError:
            refused = True
            time.sleep(0.02)
        else:
            if refused:
                return
    raise AssertionError("the rate limit never answered 429")


def test_429_raised_at_once_when_no_retry_is_left(
    make_mgmt: Maker[ManagementClient], strict: DevServer
) -> None:
    client = make_mgmt(
        sdk_token=strict.mint_sdk_token("workload:read"),
        base_url=strict.base_url,
        project=strict.project,
        max_retries=0,
    )
    _empty_bucket(client.list)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        client.list()
    assert time.monotonic() - started < 0.5
    assert_error(info.value, RateLimitError, 429, "rate_limited")
    assert info.value.retry_after == 1.0


def test_429_is_retried_after_retry_after_then_succeeds(
    make_mgmt: Maker[ManagementClient], strict: DevServer
) -> None:
    token = strict.mint_sdk_token("workload:read")
    drain = make_mgmt(
        sdk_token=token, base_url=strict.base_url, project=strict.project, max_retries=0
    )
    client = drain.with_options(max_retries=2)
    _empty_bucket(drain.list)
    with faults.captured_logs() as logs:
        started = time.monotonic()
        workloads = client.list()
        elapsed = time.monotonic() - started
    assert HANG in [w.slug for w in workloads]
    attempts = faults.attempt_records(logs.records)
    assert [a["status"] for a in attempts] == [429, 200]
    assert elapsed >= 1.0  # Retry-After: 1, honoured exactly
    retries = [r for r in logs.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 1 and retries[0].ik_fields["delay_s"] == 1.0  # type: ignore[attr-defined]


def test_429_on_a_post_with_retry_after_is_retried(
    make_data: Maker[DataClient], strict: DevServer
) -> None:
    data = make_data(
        project=strict.project,
        base_url=strict.base_url,
        api_key=strict.mint_key(SLOW),
        max_retries=0,
    )
    fast: dict[str, Any] = {"prompt": "hi", "extra_body": {"fake_delay": 0}}
    _empty_bucket(lambda: data.endpoint(SLOW).generate_text(**fast))
    endpoint = data.with_options(max_retries=2).endpoint(SLOW)  # same key, same bucket
    with faults.captured_logs() as logs:
        started = time.monotonic()
        result = endpoint.generate_text(**fast)
        elapsed = time.monotonic() - started
    assert result.text == "a slow but correct answer"
    assert [a["status"] for a in faults.attempt_records(logs.records)] == [429, 200]
    assert elapsed >= 1.0


def test_429_retried_until_retries_run_out_then_raised(make_mgmt: Maker[ManagementClient]) -> None:
    reply = faults.Reply(
        429,
        faults.error_body("rate_limited", "slow down"),
        {"Retry-After": "1", "X-Request-Id": "req_" + "0" * 26},
    )
    with faults.ScriptedServer([reply]) as server:
        client = make_mgmt(
            sdk_token=faults.well_formed("sdk"), base_url=server.url, project="acme", max_retries=1
        )
        with pytest.raises(RateLimitError) as info:
            client.list()
    assert_error(info.value, RateLimitError, 429, "rate_limited", request_id="req_" + "0" * 26)
    assert info.value.retry_after == 1.0
    first, second = server.requests
    assert second.at - first.at >= 1.0


def test_retry_after_ms_wins_and_is_honoured_for_a_post(make_data: Maker[DataClient]) -> None:
    reply = faults.Reply(
        429,
        faults.error_body("rate_limited", "slow down"),
        {"Retry-After": "30", "retry-after-ms": "300"},
    )
    with faults.ScriptedServer([reply]) as server:
        endpoint = make_data(
            project="acme", base_url=server.url, api_key=faults.well_formed("live"), max_retries=2
        ).endpoint("x")
        with pytest.raises(RateLimitError) as info:
            endpoint.generate_text(prompt="hi")
    assert info.value.retry_after == pytest.approx(0.3)
    assert len(server.requests) == 3
    gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)]
    assert all(0.3 <= gap < 5 for gap in gaps), gaps


def test_retry_after_above_60_s_raises_at_once(make_mgmt: Maker[ManagementClient]) -> None:
    reply = faults.Reply(
        429, faults.error_body("rate_limited", "come back later"), {"Retry-After": "120"}
    )
    with faults.ScriptedServer([reply]) as server:
        client = make_mgmt(
            sdk_token=faults.well_formed("sdk"), base_url=server.url, project="acme", max_retries=2
        )
        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            client.list()
    assert time.monotonic() - started < 1.0
    assert info.value.retry_after == 120.0
    assert len(server.requests) == 1


# --------------------------------------------------------------------------------------------
# 5xx


def test_503_workload_failed_is_not_retried_for_a_post(
    data: DataClient, err_workloads: None
) -> None:
    with faults.captured_logs() as logs, pytest.raises(InternalServerError) as info:
        data.endpoint(CRASHED).generate_text(prompt="hi")
    assert_error(info.value, InternalServerError, 503, "workload_failed")
    assert "err-crashed" in info.value.message
    assert [a["status"] for a in faults.attempt_records(logs.records)] == [503]
    with pytest.raises(InternalServerError) as info:  # status errors raise at the open
        data.endpoint(CRASHED).generate_text_stream(prompt="hi")
    assert_error(info.value, InternalServerError, 503, "workload_failed")


def test_503_workload_not_ready_says_how_to_wait(
    mgmt: ManagementClient, data: DataClient, unique_slug: str
) -> None:
    """A data call before the workload is ready (no retries left): the message says to wait,
    naming the management call and the command, for unary calls and streams alike."""
    sleep = "/bin/sleep" if Path("/bin/sleep").exists() else "/usr/bin/sleep"
    spec = WorkloadSpec(
        name="Never ready",
        slug=unique_slug,
        model="local/sleep",
        backend="vllm",
        task_type="text2text",
        command=f"{sleep} 600",
    )
    try:
        mgmt.ensure(spec)
        endpoint = data.with_options(max_retries=0).endpoint(unique_slug)
        for call in (
            lambda: endpoint.generate_text(prompt="hi"),
            lambda: endpoint.generate_text_stream(prompt="hi"),
        ):
            with pytest.raises(InternalServerError) as info:
                call()
            assert_error(info.value, InternalServerError, 503, "workload_not_ready")
            message = info.value.message
            assert f'wait_until_ready("{unique_slug}")' in message, message
            assert f"inferencekey wait {unique_slug}" in message, message
            assert message.count("wait_until_ready") == 1, message
    finally:
        mgmt.delete(unique_slug)


def test_503_workload_not_ready_is_retried_until_the_workload_serves(
    mgmt: ManagementClient, data: DataClient
) -> None:
    """generate_text right after ensure, before any wait: the 503s carry Retry-After, so the
    SDK waits and retries until the real model has loaded."""
    slug = "err-warming-up"
    spec = WorkloadSpec(
        name="Warming", slug=slug, model="HuggingFaceTB/SmolLM2-135M-Instruct", backend="llamacpp"
    )
    try:
        mgmt.ensure(spec)
        with faults.captured_logs() as logs:
            started = time.monotonic()
            result = (
                data.with_options(max_retries=6)
                .endpoint(slug)
                .generate_text(prompt="Say hi.", max_tokens=2)
            )
            elapsed = time.monotonic() - started
    finally:
        mgmt.delete(slug)
    assert "SmolLM2" in result.model and result.usage is not None
    statuses = [a["status"] for a in faults.attempt_records(logs.records)]
    assert statuses[0] == 503 and statuses[-1] == 200, statuses
    assert set(statuses[:-1]) == {503}
    assert elapsed >= 2.0 * (len(statuses) - 1) * 0.99  # Retry-After: 2 before each retry


def test_502_upstream_garbage(data: DataClient, err_workloads: None, records: Path) -> None:
    before = len(faults.read_records(records / "garbage.jsonl"))
    with pytest.raises(InternalServerError) as info:
        data.endpoint(GARBAGE).generate_text(prompt="hi")
    assert_error(info.value, InternalServerError, 502, "upstream_error")
    with pytest.raises(InternalServerError) as info:
        data.endpoint(GARBAGE).generate_text_stream(prompt="hi")
    assert_error(info.value, InternalServerError, 502, "upstream_error")
    # POSTs are not retried on 502 (the request reached the server).
    assert len(faults.read_records(records / "garbage.jsonl")) == before + 2


def test_502_upstream_breaks_off(data: DataClient, err_workloads: None) -> None:
    with pytest.raises(InternalServerError) as info:
        data.endpoint(BROKEN).generate_text(prompt="hi")
    assert_error(info.value, InternalServerError, 502, "upstream_error")


def test_stream_broken_mid_way_raises_the_error_event(
    data: DataClient, err_workloads: None
) -> None:
    stream = data.endpoint(BROKEN).generate_text_stream(prompt="hi")
    first = next(stream)
    assert first.text == "partial "
    with pytest.raises(ApiError) as info:
        next(stream)
    assert_error(
        info.value, ApiError, None, "upstream_interrupted", request_id=stream.request_id or True
    )
    assert list(stream) == []


def test_stream_that_ends_without_done_or_finish_reason_is_truncated(
    make_data: Maker[DataClient],
) -> None:
    events = 'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
    reply = faults.Reply(
        200, events, {"Content-Type": "text/event-stream", "X-Request-Id": "req_" + "1" * 26}
    )
    with faults.ScriptedServer([reply]) as server:
        endpoint = make_data(
            project="acme", base_url=server.url, api_key=faults.well_formed("live")
        ).endpoint("x")
        stream = endpoint.generate_text_stream(prompt="hi")
        assert next(stream).text == "a"
        with pytest.raises(APIConnectionError) as info:
            next(stream)
    assert_error(
        info.value, APIConnectionError, None, "stream_truncated", request_id="req_" + "1" * 26
    )


def test_504_upstream_timeout(
    make_data: Maker[DataClient], strict: DevServer, records: Path
) -> None:
    endpoint = make_data(
        project=strict.project, base_url=strict.base_url, api_key=strict.mint_key(HANG)
    ).endpoint(HANG)
    record = records / "hang.jsonl"
    before = len(faults.read_records(record))
    started = time.monotonic()
    with pytest.raises(InternalServerError) as info:
        endpoint.generate_text(prompt="hi")
    assert time.monotonic() - started < 1.0 + 1.0
    assert_error(info.value, InternalServerError, 504, "upstream_timeout")
    assert len(faults.read_records(record)) == before + 1  # not retried


def test_500_on_a_get_is_retried_then_the_last_answer_is_raised(
    make_mgmt: Maker[ManagementClient],
) -> None:
    replies = [
        faults.Reply(
            500, faults.error_body("internal_error", f"boom {n}"), {"X-Request-Id": f"req_{n * 26}"}
        )
        for n in "789"
    ]
    with faults.ScriptedServer(replies) as server:
        client = make_mgmt(
            sdk_token=faults.well_formed("sdk"), base_url=server.url, project="acme", max_retries=2
        )
        with pytest.raises(InternalServerError) as info:
            client.list()
    assert_error(
        info.value, InternalServerError, 500, "internal_error", request_id="req_" + "9" * 26
    )
    assert info.value.message == "boom 9"
    assert len(server.requests) == 3
    first, second, third = (r.at for r in server.requests)
    assert second - first >= 0.5 * 0.75 and third - second >= 1.0 * 0.75  # backoff


def test_undecodable_2xx_body_is_an_api_error(make_data: Maker[DataClient]) -> None:
    reply = faults.Reply(200, b"<html>not json", {"X-Request-Id": "req_" + "3" * 26})
    with faults.ScriptedServer([reply]) as server:
        endpoint = make_data(
            project="acme", base_url=server.url, api_key=faults.well_formed("live")
        ).endpoint("x")
        with pytest.raises(ApiError) as info:
            endpoint.generate_text(prompt="hi")
    assert_error(info.value, ApiError, 200, "invalid_response", request_id="req_" + "3" * 26)


# --------------------------------------------------------------------------------------------
# No answer at all


@pytest.fixture
def silent() -> Iterator[faults.SilentServer]:
    with faults.SilentServer() as server:
        yield server


def _assert_timeout(err: BaseException, started: float, timeout: float) -> None:
    elapsed = time.monotonic() - started
    assert timeout * 0.95 <= elapsed < timeout + 1.0, elapsed
    assert isinstance(err, TimeoutError)
    assert_error(err, APITimeoutError, None, "timeout", request_id=False)


def test_hung_server_post_times_out_within_timeout_plus_one_second(
    make_data: Maker[DataClient],
    silent: faults.SilentServer,
) -> None:
    endpoint = make_data(
        project="acme", base_url=silent.url, api_key=faults.well_formed("live"), timeout=1.0
    ).endpoint("x")
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        endpoint.generate_text(prompt="hi")
    _assert_timeout(info.value, started, 1.0)
    assert silent.connections == 1  # the POST reached the server: not retried


def test_hung_server_stream_times_out_within_timeout_plus_one_second(
    make_data: Maker[DataClient],
    silent: faults.SilentServer,
) -> None:
    endpoint = make_data(
        project="acme", base_url=silent.url, api_key=faults.well_formed("live"), timeout=1.0
    ).endpoint("x")
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        endpoint.generate_text_stream(prompt="hi")
    _assert_timeout(info.value, started, 1.0)


def test_hung_server_get_times_out_within_timeout_plus_one_second(
    make_mgmt: Maker[ManagementClient],
    silent: faults.SilentServer,
) -> None:
    client = make_mgmt(
        sdk_token=faults.well_formed("sdk"), base_url=silent.url, project="acme", timeout=1.0
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        client.list()
    _assert_timeout(info.value, started, 1.0)
    assert b"GET /api/projects/acme/workloads" in silent.received


def test_stream_times_out_between_two_events(data: DataClient, err_workloads: None) -> None:
    """The request timeout covers the wait for the headers, then each gap between events."""
    endpoint = data.with_options(timeout=0.5).endpoint(SLOW)
    stream = endpoint.generate_text_stream(
        prompt="hi", extra_body={"fake_delay": 0.3, "fake_chunks": 3}
    )
    assert [c.text for c in stream] == ["part0 ", "part1 ", "part2 ", ""]  # gaps < timeout
    stream = endpoint.generate_text_stream(
        prompt="hi", extra_body={"fake_delay": 2.0, "fake_chunks": 1}
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        next(stream)
    assert 0.45 <= time.monotonic() - started < 0.5 + 1.0
    assert info.value.code == "timeout" and info.value.status_code is None


def test_connection_refused(
    make_mgmt: Maker[ManagementClient], make_data: Maker[DataClient]
) -> None:
    url = faults.refused_url()
    client = make_mgmt(
        sdk_token=faults.well_formed("sdk"), base_url=url, project="acme", max_retries=1
    )
    endpoint = make_data(
        project="acme", base_url=url, api_key=faults.well_formed("live"), max_retries=1
    ).endpoint("x")
    for call in (
        client.list,
        lambda: endpoint.generate_text(prompt="hi"),
        lambda: endpoint.generate_text_stream(prompt="hi"),
    ):
        with faults.captured_logs() as logs, pytest.raises(APIConnectionError) as info:
            call()
        assert not isinstance(info.value, APITimeoutError)
        assert_error(info.value, APIConnectionError, None, "connection_failed", request_id=False)
        # Never reached the server, so even the POST is retried once.
        assert sum(r.getMessage().startswith("retrying") for r in logs.records) == 1
        # What to check: the platform, the base URL (named), and how to start one.
        message = info.value.message
        assert "refused" in message.lower(), message
        assert f"(tried {url}/" in message, message
        assert "inferencekey dev" in message and "INFERENCEKEY_BASE_URL" in message, message
        assert message.count("is the platform running") == 1, message

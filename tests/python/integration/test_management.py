"""The rest of ``ManagementClient`` against the real local platform: ``get``, ``list``,
``delete``, ``plan``, closing, configuration (constructor and ``from_env``), slug arguments and
``with_options``. Requests that must (not) reach the server are checked through the
``RecordingProxy`` tap (``tapped``/``proxy`` fixtures).

Every test here runs twice, ``[sync]`` and ``[async]`` (its async twin: the same body on
``AsyncManagementClient``, see ``support/asyncio_twin.py``); clients are made through the
``make_mgmt`` factory, never by calling ``ManagementClient`` directly.
"""

from __future__ import annotations

import math
import platform
import re
from typing import Any

import pytest
from support.asyncio_twin import Maker, is_instance
from support.recording import RecordingProxy
from support.specs import cheap_spec, list_path, snapshot

import inferencekey
from inferencekey import (
    ConfigurationError,
    EndpointRef,
    EnsureAction,
    InferenceKeyError,
    ManagementClient,
    NotFoundError,
    PermissionDenied,
    Timeout,
    ValidationError,
    Workload,
    WorkloadSpec,
)
from inferencekey._ffi import native_version
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(60)

ENV_VARS = (
    "INFERENCEKEY_BASE_URL",
    "INFERENCEKEY_PROJECT",
    "INFERENCEKEY_SDK_TOKEN",
    "INFERENCEKEY_API_KEY",
    "INFERENCEKEY_LOG",
)
MISSING_TOKEN = (
    "configuration error: No ik_sdk_ token configured. Pass sdk_token= or set "
    "INFERENCEKEY_SDK_TOKEN."
)
MISSING_PROJECT = (
    "configuration error: No project configured. Set INFERENCEKEY_PROJECT, pass project=, "
    "or set spec.project."
)
DEFAULT_BASE_URL = "https://api.inferencekey.com"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``INFERENCEKEY_*`` variable set, whatever the outer environment holds."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def described(client: ManagementClient) -> str:
    """``repr`` shows the resolved base URL, project and redacted token (sdk §8)."""
    return repr(client)


# --- get / list / delete -------------------------------------------------------------------


def test_get_returns_the_workload(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    spec = cheap_spec(unique_slug)
    created = mgmt.ensure(spec)
    workload = tapped.get(unique_slug)
    assert proxy.requests == [("GET", list_path(dev))]  # list + exact slug match
    assert isinstance(workload, Workload)
    assert workload.slug == unique_slug
    assert workload.id == created.workload_id
    assert workload.project_slug == dev.project
    assert (workload.name, workload.model, workload.description) == (
        spec.name,
        spec.model,
        spec.description,
    )
    assert workload.config == spec.config
    assert workload.created_at is not None and workload.updated_at is not None
    assert workload.raw["slug"] == unique_slug and workload.raw["model_name"] == spec.model


def test_get_absent_raises_not_found(mgmt: ManagementClient, unique_slug: str) -> None:
    mgmt.ensure(cheap_spec(f"{unique_slug}-other"))  # a near-miss slug must not match
    with pytest.raises(NotFoundError) as caught:
        mgmt.get(unique_slug)
    assert type(caught.value) is NotFoundError
    assert unique_slug in str(caught.value)


def test_list_holds_every_workload_oldest_first(mgmt: ManagementClient, unique_slug: str) -> None:
    first, second = f"{unique_slug}-a", f"{unique_slug}-b"
    mgmt.ensure(cheap_spec(first))
    mgmt.ensure(cheap_spec(second))
    workloads = mgmt.list()
    assert all(isinstance(w, Workload) for w in workloads)
    slugs = [w.slug for w in workloads]
    assert slugs.count(first) == 1 and slugs.count(second) == 1
    assert slugs.index(first) < slugs.index(second)
    listed = workloads[slugs.index(first)]
    assert listed == mgmt.get(first)


def test_list_and_get_take_a_project_argument(
    dev: DevServer, make_mgmt: Maker[ManagementClient], unique_slug: str
) -> None:
    other = dev.create_project(f"p-{unique_slug}"[:63])
    project = other["project"]["slug"]
    # A token of the other project, with the client's default project being the session one.
    with make_mgmt(
        sdk_token=other["sdk_token"], base_url=dev.base_url, project=dev.project
    ) as client:
        assert client.list(project=project) == []  # a new project has none
        result = client.ensure(cheap_spec(unique_slug), project=project)
        assert isinstance(result, EndpointRef)  # what DataClient.endpoint() needs
        assert result.project_slug == project
        assert [w.slug for w in client.list(project=project)] == [unique_slug]
        assert client.get(unique_slug, project=project).project_slug == project
        assert client.delete(unique_slug, project=project) is True


def test_delete_true_then_false(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    created = mgmt.ensure(cheap_spec(unique_slug))
    assert tapped.delete(unique_slug) is True
    assert proxy.requests == [
        ("GET", list_path(dev)),
        ("DELETE", f"/api/workloads/{created.workload_id}"),
    ]
    with pytest.raises(NotFoundError):
        mgmt.get(unique_slug)
    proxy.clear()
    assert tapped.delete(unique_slug) is False
    assert proxy.requests == [("GET", list_path(dev))]  # absent: nothing to delete


def test_delete_that_loses_a_race_returns_false(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    created = mgmt.ensure(cheap_spec(unique_slug))

    def someone_else_deletes_first(method: str, path: str) -> None:
        if method == "DELETE":
            assert mgmt.delete(unique_slug) is True

    proxy.hold = someone_else_deletes_first
    assert tapped.delete(unique_slug) is False  # the DELETE got 404: already gone
    proxy.hold = None
    assert proxy.requests == [
        ("GET", list_path(dev)),
        ("DELETE", f"/api/workloads/{created.workload_id}"),
    ]


# --- what goes on the wire ---------------------------------------------------------------


def test_every_request_carries_the_wire_headers(
    dev: DevServer, tapped: ManagementClient, proxy: RecordingProxy, unique_slug: str
) -> None:
    tapped.ensure(cheap_spec(unique_slug))
    tapped.ensure(cheap_spec(unique_slug, name="Renamed"))
    list(tapped.readiness_events(unique_slug, timeout=10))
    tapped.delete(unique_slug)
    methods = [m for m, _ in proxy.requests]
    assert methods == ["GET", "POST", "GET", "PATCH", "GET", "GET", "DELETE"]
    agent = re.compile(
        rf"inferencekey-python/{re.escape(inferencekey.__version__)} "
        rf"\(core {re.escape(native_version())}; linux; {re.escape(platform.machine())}\)"
    )
    for (method, path), headers in zip(proxy.requests, proxy.headers, strict=True):
        where = f"{method} {path}"
        assert headers.get("authorization") == f"Bearer {dev.sdk_token}", where
        assert agent.fullmatch(headers.get("user-agent", "")), (where, headers.get("user-agent"))
        sse = path.endswith("/readiness-events")
        assert headers.get("accept") == ("text/event-stream" if sse else "application/json"), where
        if method in ("POST", "PATCH"):
            assert headers.get("content-type") == "application/json", where
        else:
            assert "content-type" not in headers and headers.get("content-length", "0") == "0"
        assert dev.sdk_token not in path  # tokens never travel in the URL


def test_path_segments_are_percent_encoded(
    dev: DevServer, tapped: ManagementClient, proxy: RecordingProxy
) -> None:
    # Not slugs, so the server refuses them -- but only after they arrived intact.
    for project in ("a b/c", "\u00e9", "x?y#z", "%41"):
        with pytest.raises((PermissionDenied, NotFoundError)):
            tapped.list(project=project)
    assert [path for _, path in proxy.requests] == [
        "/api/projects/a%20b%2Fc/workloads",
        "/api/projects/%C3%A9/workloads",
        "/api/projects/x%3Fy%23z/workloads",
        "/api/projects/%2541/workloads",
    ]


# --- plan ----------------------------------------------------------------------------------


def test_plan_never_writes(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    absent = tapped.plan(cheap_spec(unique_slug))
    assert (absent.action, absent.planned_operation) == (EnsureAction.PLANNED, "create")
    with pytest.raises(NotFoundError):
        mgmt.get(unique_slug)

    mgmt.ensure(cheap_spec(unique_slug))
    before = mgmt.get(unique_slug)
    in_sync = tapped.plan(cheap_spec(unique_slug))
    assert in_sync.action == EnsureAction.UNCHANGED
    drifted = tapped.plan(cheap_spec(unique_slug, name="Renamed", task_type="text2video"))
    assert (drifted.action, drifted.planned_operation) == (EnsureAction.PLANNED, "update")
    assert [(c.field, c.patchable) for c in drifted.changes] == [
        ("name", True),
        ("task_type", False),
    ]
    assert snapshot(mgmt.get(unique_slug)) == snapshot(before)
    assert proxy.requests == [("GET", list_path(dev))] * 3


# --- closing -------------------------------------------------------------------------------


def _every_call(client: ManagementClient, slug: str) -> list[Any]:
    spec = cheap_spec(slug)
    return [
        lambda: client.list(),
        lambda: client.get(slug),
        lambda: client.ensure(spec),
        lambda: client.plan(spec),
        lambda: client.delete(slug),
        lambda: client.readiness_events(slug, timeout=5),
        lambda: client.wait_until_ready(slug, timeout=5, silent=True),
        lambda: client.with_options(max_retries=0),
    ]


def test_context_manager_closes_the_client(
    dev: DevServer, make_mgmt: Maker[ManagementClient], proxy: RecordingProxy, unique_slug: str
) -> None:
    with make_mgmt(sdk_token=dev.sdk_token, base_url=proxy.url, project=dev.project) as client:
        assert isinstance(client.list(), list)
    proxy.clear()
    for call in _every_call(client, unique_slug):
        with pytest.raises(InferenceKeyError) as caught:
            call()
        assert type(caught.value) is InferenceKeyError
        assert caught.value.code == "client_closed"
    assert proxy.requests == []
    assert "closed" in repr(client)


def test_close_is_idempotent_and_final(make_mgmt: Maker[ManagementClient]) -> None:
    client = make_mgmt.dev_client()
    client.list()
    client.close()
    client.close()
    with pytest.raises(InferenceKeyError) as caught:
        client.list()
    assert caught.value.code == "client_closed"


# --- configuration -------------------------------------------------------------------------


def test_from_env_reads_every_setting(
    dev: DevServer, make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("INFERENCEKEY_BASE_URL", dev.base_url)
    clean_env.setenv("INFERENCEKEY_PROJECT", dev.project)
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", dev.sdk_token)
    with make_mgmt.from_env() as client:
        assert isinstance(client.list(), list)  # the env token, URL and project work
        text = described(client)
    assert dev.base_url in text and repr(dev.project) in text
    assert dev.sdk_token not in text and "ik_sdk_" in text


def test_from_env_explicit_beats_env(
    dev: DevServer, make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("INFERENCEKEY_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    clean_env.setenv("INFERENCEKEY_PROJECT", "no-such-project")
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", "ik_sdk_deadbeef_" + "1" * 64)
    with make_mgmt.from_env(
        sdk_token=dev.sdk_token, base_url=dev.base_url, project=dev.project
    ) as client:
        assert isinstance(client.list(), list)
        text = described(client)
    assert dev.base_url in text and "127.0.0.1:9'" not in text
    assert repr(dev.project) in text


def test_from_env_default_base_url(
    make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", "ik_sdk_1a2b3c4d_" + "0" * 64)
    with make_mgmt.from_env(project="acme") as client:
        assert DEFAULT_BASE_URL in described(client)


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_from_env_blank_counts_as_unset(
    dev: DevServer, make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch, blank: str
) -> None:
    # Blank env values fall back to the default ...
    clean_env.setenv("INFERENCEKEY_BASE_URL", blank)
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", dev.sdk_token)
    with make_mgmt.from_env(project=dev.project) as client:
        assert DEFAULT_BASE_URL in described(client)
    # ... and blank explicit arguments fall back to the environment, trimmed.
    clean_env.setenv("INFERENCEKEY_BASE_URL", f"  {dev.base_url}  ")
    clean_env.setenv("INFERENCEKEY_PROJECT", f" {dev.project} ")
    with make_mgmt.from_env(base_url=blank, project=blank, sdk_token=blank) as client:
        assert isinstance(client.list(), list)
        assert f"'{dev.base_url}" in described(client)
    # A blank env token is no token.
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", blank)
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt.from_env()
    assert caught.value.code == "missing_token"


def test_base_url_path_and_trailing_slash(
    dev: DevServer, make_mgmt: Maker[ManagementClient], proxy: RecordingProxy
) -> None:
    token = f"  {dev.sdk_token}\n"  # tokens are trimmed too
    with make_mgmt(sdk_token=token, base_url=proxy.url + "/", project=dev.project) as c:
        assert isinstance(c.list(), list)
    # Paths are relative to the base URL, which may carry a path of its own.
    with (
        make_mgmt(
            sdk_token=dev.sdk_token, base_url=proxy.url + "/gateway/", project=dev.project
        ) as client,
        pytest.raises(NotFoundError),
    ):  # the local platform has no such prefix
        client.list()
    assert proxy.requests == [
        ("GET", list_path(dev)),
        ("GET", "/gateway" + list_path(dev)),
    ]


def test_missing_token(make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt.from_env(project="acme")
    assert caught.value.code == "missing_token"
    assert str(caught.value) == MISSING_TOKEN


def test_constructor_never_reads_the_environment(
    dev: DevServer, make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", dev.sdk_token)
    clean_env.setenv("INFERENCEKEY_BASE_URL", dev.base_url)
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt(sdk_token=None)
    assert caught.value.code == "missing_token"
    assert str(caught.value) == MISSING_TOKEN
    with make_mgmt(sdk_token=dev.sdk_token, project=dev.project) as client:
        assert DEFAULT_BASE_URL in described(client)


def test_management_never_reads_the_data_key(
    dev: DevServer, make_mgmt: Maker[ManagementClient], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("INFERENCEKEY_API_KEY", dev.api_key)
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt.from_env(base_url=dev.base_url, project=dev.project)
    assert caught.value.code == "missing_token"


def test_missing_project_raises_at_the_call(
    dev: DevServer,
    make_mgmt: Maker[ManagementClient],
    clean_env: pytest.MonkeyPatch,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    clean_env.setenv("INFERENCEKEY_SDK_TOKEN", dev.sdk_token)
    with make_mgmt.from_env(base_url=proxy.url) as client:  # constructing is fine
        spec = cheap_spec(unique_slug)
        calls = [
            lambda: client.list(),
            lambda: client.get(unique_slug),
            lambda: client.ensure(spec),
            lambda: client.plan(spec),
            lambda: client.delete(unique_slug),
            lambda: client.wait_until_ready(unique_slug, timeout=5, silent=True),
        ]
        for call in calls:
            with pytest.raises(ConfigurationError) as caught:
                call()
            assert caught.value.code == "missing_project"
            assert str(caught.value) == MISSING_PROJECT
        assert proxy.requests == []
        # The project may come from the call, or from the spec.
        assert client.plan(spec, project=dev.project).action == EnsureAction.PLANNED
        with_project = cheap_spec(unique_slug, project=dev.project)
        assert client.plan(with_project).action == EnsureAction.PLANNED


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://127.0.0.1:8080",
        "127.0.0.1:8080",
        "http://",
        "https://api.inferencekey.com/?x=1",
        "https://api.inferencekey.com/#top",
        "not a url",
    ],
)
def test_invalid_base_url(make_mgmt: Maker[ManagementClient], base_url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt(sdk_token="ik_sdk_1a2b3c4d_" + "0" * 64, base_url=base_url)
    assert caught.value.code == "invalid_base_url"


BAD_TIMEOUTS: list[Any] = [0, 0.0, -1.0, math.nan, math.inf, None]


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=repr)
def test_invalid_timeout(make_mgmt: Maker[ManagementClient], timeout: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt.dev_client(timeout=timeout)
    assert caught.value.code == "invalid_option"


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=repr)
def test_invalid_wait_timeout(mgmt: ManagementClient, unique_slug: str, timeout: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        mgmt.wait_until_ready(unique_slug, timeout=timeout, silent=True)
    assert caught.value.code == "invalid_option"
    with pytest.raises(ConfigurationError) as caught:
        mgmt.readiness_events(unique_slug, timeout=timeout)
    assert caught.value.code == "invalid_option"


def test_invalid_timeout_object(make_mgmt: Maker[ManagementClient]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt.dev_client(timeout=Timeout(request=0.0))
    assert caught.value.code == "invalid_option"


@pytest.mark.parametrize("max_retries", [11, -1])
def test_invalid_max_retries(make_mgmt: Maker[ManagementClient], max_retries: int) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_mgmt.dev_client(max_retries=max_retries)
    assert caught.value.code == "invalid_option"


def test_valid_edge_options_work(make_mgmt: Maker[ManagementClient]) -> None:
    for options in (
        {"max_retries": 0},
        {"max_retries": 10},
        {"timeout": Timeout(request=10.0, connect=1.0)},
        {"timeout": 0.5},
    ):
        with make_mgmt.dev_client(**options) as client:
            assert isinstance(client.list(), list)


# --- slug arguments ------------------------------------------------------------------------


def test_non_canonical_slug_argument(
    mgmt: ManagementClient, tapped: ManagementClient, proxy: RecordingProxy
) -> None:
    # (argument name, call): the message names the argument and the canonical form.
    calls = [
        ("workload_slug", lambda s: tapped.get(s)),
        ("workload_slug", lambda s: tapped.delete(s)),
        ("workload_slug", lambda s: tapped.readiness_events(s, timeout=5)),
        ("workload_slug", lambda s: tapped.wait_until_ready(s, timeout=5, silent=True)),
        ("slug", lambda s: tapped.ensure(cheap_spec("x").model_copy(update={"slug": s}))),
        ("slug", lambda s: tapped.plan(cheap_spec("x").model_copy(update={"slug": s}))),
    ]
    for name, call in calls:
        with pytest.raises(ValidationError) as caught:
            call("Support Bot")
        assert type(caught.value) is ValidationError
        assert caught.value.code == "invalid_slug"
        assert str(caught.value) == (
            f'validation error: {name} "Support Bot" is not canonical; use "support-bot"'
        )
    with pytest.raises(ValidationError) as caught:
        tapped.get(" support-bot")  # never trimmed, never rewritten
    assert caught.value.code == "invalid_slug"
    assert proxy.requests == []  # refused before any request


def test_ensure_with_a_non_canonical_spec_slug_is_refused(
    tapped: ManagementClient, proxy: RecordingProxy
) -> None:
    spec = WorkloadSpec(name="Support Bot", slug="Support_Bot!", model="m", backend="vllm")
    with pytest.raises(ValidationError) as caught:
        tapped.ensure(spec)
    assert caught.value.code == "invalid_slug"
    assert 'use "support-bot"' in str(caught.value)
    assert proxy.requests == []


# --- with_options --------------------------------------------------------------------------


def test_with_options_returns_a_working_client(
    make_mgmt: Maker[ManagementClient], mgmt: ManagementClient, unique_slug: str
) -> None:
    base = make_mgmt.dev_client()
    clone = base.with_options(timeout=10.0, max_retries=0)
    assert is_instance(clone, ManagementClient) and clone is not base
    assert repr(clone) == repr(base)
    result = clone.ensure(cheap_spec(unique_slug))
    assert result.action == EnsureAction.CREATED
    assert clone.get(unique_slug).id == result.workload_id
    clone.close()
    assert base.get(unique_slug).id == result.workload_id  # closing the clone keeps the base
    with pytest.raises(InferenceKeyError) as caught:
        clone.list()
    assert caught.value.code == "client_closed"
    only_retries = base.with_options(max_retries=1)
    assert isinstance(only_retries.list(), list)
    only_retries.close()
    base.close()


def test_with_options_checks_its_options(mgmt: ManagementClient) -> None:
    for options in ({"timeout": 0.0}, {"timeout": math.nan}, {"max_retries": 11}):
        with pytest.raises(ConfigurationError) as caught:
            mgmt.with_options(**options)
        assert caught.value.code == "invalid_option"

"""``ensure()`` against the real local platform, for every ``OnDrift`` mode times
{absent, in sync, drifted}, watching which HTTP requests reached the server.

The management client under test talks to the platform through a ``RecordingProxy`` (the
``tapped`` fixture): a tap that forwards everything and records ``(method, path)``, so each
test asserts exactly the requests that were sent -- and that none was a write for ``DRY_RUN``,
and for ``FAIL``/``WARN``/``IGNORE`` on drift. Setting up the "present" situations goes
straight to the platform (``mgmt``) and is not recorded.

Every test here runs twice, ``[sync]`` and ``[async]`` (its async twin: the same body on
``AsyncManagementClient``, see ``support/asyncio_twin.py``).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from support.asyncio_twin import Maker, warned_at_caller
from support.recording import RecordingProxy
from support.specs import cheap_spec, list_path, snapshot

from inferencekey import (
    DriftError,
    DriftWarning,
    EnsureAction,
    EnsureResult,
    ManagementClient,
    NotFoundError,
    OnDrift,
    PermissionDenied,
    Workload,
    WorkloadSpec,
)
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(60)


def drifted_spec(slug: str) -> WorkloadSpec:
    """``cheap_spec`` with three drifted fields: name, model and one nested config key."""
    return cheap_spec(
        slug,
        name=f"Live {slug} v2",
        model="stabilityai/sdxl-turbo",
        config={"steps": 8, "sampler": {"name": "euler", "eta": 0.5}},
    )


def ensure_recorded(
    client: ManagementClient, spec: WorkloadSpec, on_drift: OnDrift
) -> tuple[EnsureResult | None, DriftError | None, list[DriftWarning]]:
    """Runs ``ensure`` and returns (result, DriftError, DriftWarnings emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = client.ensure(spec, on_drift=on_drift), None
        except DriftError as exc:
            result, error = None, exc
    drift = [w.message for w in caught if isinstance(w.message, DriftWarning)]
    # stacklevel=2: the warning points at the line that called ensure(), not into the SDK
    # (for an async client: the line that awaited it).
    assert all(
        warned_at_caller(w, client, __file__) for w in caught if isinstance(w.message, DriftWarning)
    )
    return result, error, drift


def as_tuples(result_changes: Any) -> list[tuple[str, Any, Any, bool]]:
    return [(c.field, c.live, c.desired, c.patchable) for c in result_changes]


MODES = [OnDrift.RECONCILE, OnDrift.FAIL, OnDrift.DRY_RUN, OnDrift.WARN, OnDrift.IGNORE]
SITUATIONS = ["absent", "in-sync", "drifted"]
MATRIX = [(s, m) for s in SITUATIONS for m in MODES]


@pytest.mark.parametrize(("situation", "mode"), MATRIX, ids=[f"{s}-{m.value}" for s, m in MATRIX])
def test_ensure_matrix(
    situation: str,
    mode: OnDrift,
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slug = unique_slug
    base = cheap_spec(slug)
    before: Workload | None = None
    if situation != "absent":
        assert mgmt.ensure(base).action == EnsureAction.CREATED
        before = mgmt.get(slug)
    desired = drifted_spec(slug) if situation == "drifted" else base
    assert proxy.requests == []

    caplog.set_level(logging.WARNING, logger="inferencekey")
    result, error, drift_warnings = ensure_recorded(tapped, desired, mode)

    LIST = ("GET", list_path(dev))
    CREATE = ("POST", list_path(dev))
    sent = proxy.requests
    drift_changes = [
        ("name", f"Live {slug}", f"Live {slug} v2", True),
        ("model", "stabilityai/sd-turbo", "stabilityai/sdxl-turbo", True),
        ("config.steps", 4, 8, True),
    ]

    if situation == "absent" and mode is OnDrift.DRY_RUN:
        assert sent == [LIST]
        assert error is None and result is not None
        assert result.action == EnsureAction.PLANNED
        assert result.planned_operation == "create"
        assert result.workload is None and result.workload_id is None
        fields = {c.field: c for c in result.changes}
        assert all(c.live is None for c in result.changes)
        assert fields["name"].desired == base.name
        assert fields["model"].desired == base.model
        with pytest.raises(NotFoundError):
            mgmt.get(slug)  # nothing was created
    elif situation == "absent":
        assert sent == [LIST, CREATE]
        assert error is None and result is not None
        assert result.action == EnsureAction.CREATED
        assert result.changed
        assert result.planned_operation is None
        # Create changes are left open by the spec beyond "what is sent, with live=None".
        assert all(c.live is None for c in result.changes)
        fields = {c.field: c.desired for c in result.changes}
        assert fields["name"] == base.name and fields["model"] == base.model
        live = mgmt.get(slug)
        assert result.workload_id == live.id and result.workload is not None
        assert result.workload.id == live.id
        assert (live.name, live.model, live.backend, live.task_type, live.description) == (
            base.name,
            base.model,
            "stablediffusioncpp",
            "text2image",
            base.description,
        )
        assert live.config == base.config
    elif situation == "in-sync":
        assert sent == [LIST]
        assert error is None and result is not None
        assert result.action == EnsureAction.UNCHANGED
        assert result.changes == ()
        assert not result.changed
        assert before is not None and result.workload_id == before.id
        assert result.workload is not None and snapshot(result.workload) == snapshot(before)
        assert snapshot(mgmt.get(slug)) == snapshot(before)
    elif mode is OnDrift.RECONCILE:
        assert before is not None
        assert sent == [LIST, ("PATCH", f"/api/workloads/{before.id}")]
        assert error is None and result is not None
        assert result.action == EnsureAction.UPDATED
        assert as_tuples(result.changes) == drift_changes
        after = mgmt.get(slug)
        assert (after.name, after.model, after.config) == (
            desired.name,
            desired.model,
            desired.config,
        )
        assert after.id == before.id and result.workload_id == before.id
        assert result.workload is not None and result.workload.name == desired.name
    else:  # drifted, and no write allowed
        assert before is not None
        assert sent == [LIST], f"{mode.value} must not write on drift"
        assert snapshot(mgmt.get(slug)) == snapshot(before)
        if mode is OnDrift.FAIL:
            assert result is None and error is not None
            assert type(error) is DriftError and error.code == "drift_detected"
            assert as_tuples(error.changes) == drift_changes
            assert str(error) == (
                f'validation error: workload "{slug}" drifted from spec: name, model, config.steps'
            )
        else:
            assert error is None and result is not None
            assert as_tuples(result.changes) == drift_changes
            assert result.workload_id == before.id
            assert result.workload is not None  # the listed record, as it still is
            assert snapshot(result.workload) == snapshot(before)
            if mode is OnDrift.DRY_RUN:
                assert result.action == EnsureAction.PLANNED
                assert result.planned_operation == "update"
            elif mode is OnDrift.WARN:
                assert result.action == EnsureAction.DRIFT_WARNED
            else:
                assert result.action == EnsureAction.DRIFT_IGNORED

    warned = situation == "drifted" and mode is OnDrift.WARN
    if warned:
        assert len(drift_warnings) == 1
        assert as_tuples(drift_warnings[0].changes) == drift_changes
        assert slug in str(drift_warnings[0])
        records = [
            r
            for r in caplog.records
            if r.name == "inferencekey.reconcile" and r.levelno == logging.WARNING
        ]
        assert records, "WARN must also log at WARNING on inferencekey.reconcile"
        assert slug in records[0].getMessage()
    else:
        assert drift_warnings == []
    if result is not None:
        assert result.workload_slug == slug
        assert result.project_slug == dev.project


def test_second_identical_ensure_sends_only_the_list(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    spec = cheap_spec(unique_slug)
    first = tapped.ensure(spec)
    assert proxy.requests == [("GET", list_path(dev)), ("POST", list_path(dev))]
    proxy.clear()
    second = tapped.ensure(spec)
    assert proxy.requests == [("GET", list_path(dev))]
    assert (first.action, second.action) == (EnsureAction.CREATED, EnsureAction.UNCHANGED)
    assert first.workload_id == second.workload_id
    assert [w.slug for w in mgmt.list()].count(unique_slug) == 1


@pytest.fixture
def lists_meet(dev: DevServer, proxy: RecordingProxy) -> Iterator[threading.Barrier]:
    """Holds the first two list requests at the proxy until both have arrived, so that two
    concurrent ``ensure()`` calls both see the workload absent and both try to create it."""
    barrier = threading.Barrier(2, timeout=20)
    held = 0
    lock = threading.Lock()
    path = list_path(dev)

    def hold(method: str, request_path: str) -> None:
        nonlocal held
        if method != "GET" or request_path != path:
            return
        with lock:
            held += 1
            mine = held
        if mine <= 2:
            barrier.wait()

    proxy.hold = hold
    yield barrier
    proxy.hold = None


def test_concurrent_identical_ensure_makes_one_workload(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    lists_meet: threading.Barrier,
    unique_slug: str,
) -> None:
    spec = cheap_spec(unique_slug)
    results: list[EnsureResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(tapped.ensure(spec))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(r.action.value for r in results) == ["created", "unchanged"]
    assert results[0].workload_id == results[1].workload_id
    assert [w.slug for w in mgmt.list()].count(unique_slug) == 1
    # Both listed, both created; the loser got 409 and listed once more (sdk §4.3).
    LIST, CREATE = ("GET", list_path(dev)), ("POST", list_path(dev))
    assert sorted(proxy.requests) == sorted([LIST, LIST, CREATE, CREATE, LIST])
    assert proxy.requests[:2] == [LIST, LIST]


def test_task_type_drift_under_reconcile_is_refused(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    mgmt.ensure(cheap_spec(unique_slug))
    before = mgmt.get(unique_slug)
    # text2video has no stand-in either; the task type drifts, and so does the name.
    with pytest.raises(DriftError) as caught:
        tapped.ensure(cheap_spec(unique_slug, task_type="text2video", name="Renamed"))
    error = caught.value
    assert type(error) is DriftError and error.code == "immutable_field"
    # Every drifted field, patchable or not; nothing written, not even the patchable name.
    assert as_tuples(error.changes) == [
        ("name", f"Live {unique_slug}", "Renamed", True),
        ("task_type", "text2image", "text2video", False),
    ]
    assert str(error) == (
        f'validation error: workload "{unique_slug}" drifted from spec: name, task_type; '
        "task_type cannot be patched: delete the workload or change the slug"
    )
    assert proxy.requests == [("GET", list_path(dev))]
    assert snapshot(mgmt.get(unique_slug)) == snapshot(before)


@pytest.mark.parametrize("mode", [m for m in MODES if m is not OnDrift.RECONCILE], ids=str)
def test_task_type_drift_in_the_other_modes(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
    mode: OnDrift,
) -> None:
    mgmt.ensure(cheap_spec(unique_slug))
    before = mgmt.get(unique_slug)
    result, error, drift_warnings = ensure_recorded(
        tapped, cheap_spec(unique_slug, task_type="text2video"), mode
    )
    expected = [("task_type", "text2image", "text2video", False)]
    if mode is OnDrift.FAIL:
        assert error is not None and error.code == "drift_detected"
        assert as_tuples(error.changes) == expected
    else:
        assert error is None and result is not None
        assert as_tuples(result.changes) == expected
        assert (
            result.action
            == {
                OnDrift.DRY_RUN: EnsureAction.PLANNED,
                OnDrift.WARN: EnsureAction.DRIFT_WARNED,
                OnDrift.IGNORE: EnsureAction.DRIFT_IGNORED,
            }[mode]
        )
    assert len(drift_warnings) == (1 if mode is OnDrift.WARN else 0)
    assert proxy.requests == [("GET", list_path(dev))]
    assert snapshot(mgmt.get(unique_slug)) == snapshot(before)


def test_ensure_decisions_are_logged_at_info(
    dev: DevServer,
    make_mgmt: Maker[ManagementClient],
    proxy: RecordingProxy,
    unique_slug: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # sdk §11: INFO carries each ensure decision (action, changed fields).
    caplog.set_level(logging.INFO, logger="inferencekey")
    with make_mgmt(sdk_token=dev.sdk_token, base_url=proxy.url, project=dev.project) as client:
        client.ensure(cheap_spec(unique_slug))
        client.ensure(cheap_spec(unique_slug, name="Renamed"))
    decisions = [
        r.getMessage()
        for r in caplog.records
        if r.name == "inferencekey.reconcile" and r.levelno == logging.INFO
    ]
    assert len(decisions) == 2, decisions
    assert unique_slug in decisions[0] and "created" in decisions[0]
    assert "updated" in decisions[1] and "name" in decisions[1]


def test_logging_configured_after_the_client_still_gets_ensure_decisions(
    tapped: ManagementClient, unique_slug: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The usual order: a client made at import time, logging set up later in main(). The
    # records come from the core, which must learn about the new level.
    caplog.set_level(logging.INFO, logger="inferencekey")
    tapped.ensure(cheap_spec(unique_slug))
    decisions = [
        r.getMessage()
        for r in caplog.records
        if r.name == "inferencekey.reconcile" and r.levelno == logging.INFO
    ]
    assert decisions and unique_slug in decisions[0] and "created" in decisions[0]


def test_every_declared_field_round_trips_without_false_drift(
    dev: DevServer, tapped: ManagementClient, proxy: RecordingProxy, unique_slug: str
) -> None:
    # Every optional field set: what the server stores and lists back must compare equal, or
    # every later ensure() would "fix" a drift that is not there.
    spec = cheap_spec(
        unique_slug,
        command="sd-server-not-installed --steps 4",  # not on PATH: nothing runs
        vllm_version="0.6.3",
        execution_policy="autoscaling",
        execution_policy_config={"min_replicas": 0, "max_replicas": 2, "window": {"s": 30}},
        worker_id="wk_01j3a7d9f2h4k6m8p0r2t4v6x8",
        gpu_resource_id="gpu_01j3a7d9f2h4k6m8p0r2t4v6x8",
        description="",
    )
    assert tapped.ensure(spec).action == EnsureAction.CREATED
    proxy.clear()
    again = tapped.ensure(spec, on_drift=OnDrift.FAIL)
    assert again.action == EnsureAction.UNCHANGED, as_tuples(again.changes)
    assert proxy.requests == [("GET", list_path(dev))]
    live = again.workload
    assert live is not None
    assert live.config == {**spec.config, "command": spec.command, "vllm_version": "0.6.3"}
    assert (live.execution_policy, live.worker_id, live.gpu_resource_id) == (
        "autoscaling",
        spec.worker_id,
        spec.gpu_resource_id,
    )
    assert live.execution_policy_config == spec.execution_policy_config


def test_execution_policy_change_is_patched(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    created = mgmt.ensure(cheap_spec(unique_slug, execution_policy="fixed"))
    desired = cheap_spec(
        unique_slug,
        execution_policy="scheduled",
        execution_policy_config={"cron": "0 8 * * 1-5", "duration_s": 3600},
    )
    result = tapped.ensure(desired)
    assert result.action == EnsureAction.UPDATED
    # The policy change comes first; how a null live policy config vs a declared one is
    # itemised is not pinned by the spec, so only the field family is checked.
    assert result.changes[0].field == "execution_policy"
    assert all(c.field.startswith("execution_policy") for c in result.changes)
    assert proxy.requests == [
        ("GET", list_path(dev)),
        ("PATCH", f"/api/workloads/{created.workload_id}"),
    ]
    live = mgmt.get(unique_slug)
    assert live.execution_policy == "scheduled"
    assert live.execution_policy_config == desired.execution_policy_config
    proxy.clear()
    assert tapped.ensure(desired).action == EnsureAction.UNCHANGED
    assert proxy.requests == [("GET", list_path(dev))]


def test_patch_of_a_workload_deleted_meanwhile_raises_not_found(
    dev: DevServer,
    mgmt: ManagementClient,
    tapped: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    created = mgmt.ensure(cheap_spec(unique_slug))

    def delete_first(method: str, path: str) -> None:
        if method == "PATCH":  # the list saw it; delete it before the PATCH lands
            assert mgmt.delete(unique_slug) is True

    proxy.hold = delete_first
    with pytest.raises(NotFoundError) as caught:
        tapped.ensure(drifted_spec(unique_slug))
    proxy.hold = None
    assert type(caught.value) is NotFoundError and caught.value.status_code == 404
    assert proxy.requests == [
        ("GET", list_path(dev)),
        ("PATCH", f"/api/workloads/{created.workload_id}"),
    ]
    with pytest.raises(NotFoundError):  # ensure never re-creates on its own
        mgmt.get(unique_slug)


def test_project_resolution_order(
    dev: DevServer, make_mgmt: Maker[ManagementClient], proxy: RecordingProxy, unique_slug: str
) -> None:
    other = dev.create_project(f"q-{unique_slug}"[:63])
    project = other["project"]["slug"]
    with make_mgmt(
        sdk_token=other["sdk_token"], base_url=proxy.url, project="client-default"
    ) as client:
        # spec.project beats the client's project ...
        result = client.ensure(cheap_spec(unique_slug, project=project))
        assert (result.action, result.project_slug) == (EnsureAction.CREATED, project)
        # ... and project= beats spec.project.
        planned = client.plan(cheap_spec(unique_slug, project="spec-project"), project=project)
        assert planned.action == EnsureAction.UNCHANGED
    path = f"/api/projects/{project}/workloads"
    assert proxy.requests == [("GET", path), ("POST", path), ("GET", path)]


def test_read_only_token_can_plan_but_not_create(
    dev: DevServer,
    mgmt: ManagementClient,
    make_mgmt: Maker[ManagementClient],
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    token = dev.mint_sdk_token("workload:read")
    with make_mgmt(sdk_token=token, base_url=proxy.url, project=dev.project) as client:
        assert client.plan(cheap_spec(unique_slug)).action == EnsureAction.PLANNED
        with pytest.raises(PermissionDenied) as caught:
            client.ensure(cheap_spec(unique_slug))
    assert caught.value.code == "scope_insufficient" and caught.value.status_code == 403
    assert proxy.requests == [
        ("GET", list_path(dev)),
        ("GET", list_path(dev)),
        ("POST", list_path(dev)),  # refused by the server, not retried
    ]
    with pytest.raises(NotFoundError):
        mgmt.get(unique_slug)

"""``ensure()`` against the real local platform, for every ``OnDrift`` mode times
{absent, in sync, drifted}, watching which HTTP requests reached the server.

The management client under test talks to the platform through a ``RecordingProxy`` (the
``tapped`` fixture): a tap that forwards everything and records ``(method, path)``, so each
test asserts exactly the requests that were sent -- and that none was a write for ``DRY_RUN``,
and for ``FAIL``/``WARN``/``IGNORE`` on drift. Setting up the "present" situations goes
straight to the platform (``mgmt``) and is not recorded.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from inferencekey import (
    DriftError,
    DriftWarning,
    EnsureAction,
    EnsureResult,
    ManagementClient,
    NotFoundError,
    OnDrift,
    Workload,
    WorkloadSpec,
)
from inferencekey.testing import DevServer
from support.recording import RecordingProxy

pytestmark = pytest.mark.timeout(60)


def cheap_spec(slug: str, **overrides: Any) -> WorkloadSpec:
    """A spec that costs the platform nothing to run.

    ``text2image`` has no CPU stand-in on the local platform and no ``command`` is given, so
    the platform stores, lists, patches and deletes the workload like any other but starts no
    process: its readiness goes straight to phase ``error``. That is deliberate -- these are
    control-plane tests, and a ``text2text`` spec would start a SmolLM2 server (~180 MB RSS,
    ~1 s of CPU) for each of the dozens of workloads below, on a 2-core CI machine.
    """
    values: dict[str, Any] = {
        "name": f"Live {slug}",
        "slug": slug,
        "model": "stabilityai/sd-turbo",
        "backend": "stablediffusioncpp",
        "task_type": "text2image",
        "description": "control-plane test workload",
        "config": {"steps": 4, "sampler": {"name": "euler", "eta": 0.5}},
    }
    values.update(overrides)
    return WorkloadSpec(**values)


def drifted_spec(slug: str) -> WorkloadSpec:
    """``cheap_spec`` with three drifted fields: name, model and one nested config key."""
    return cheap_spec(
        slug,
        name=f"Live {slug} v2",
        model="stabilityai/sdxl-turbo",
        config={"steps": 8, "sampler": {"name": "euler", "eta": 0.5}},
    )


def list_path(dev: DevServer) -> str:
    return f"/api/projects/{dev.project}/workloads"


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
    return result, error, drift


def as_tuples(result_changes: Any) -> list[tuple[str, Any, Any, bool]]:
    return [(c.field, c.live, c.desired, c.patchable) for c in result_changes]


def snapshot(workload: Workload) -> dict[str, Any]:
    """What a write would change, including the server's ``updated_at``."""
    return {
        "name": workload.name,
        "model": workload.model,
        "config": workload.config,
        "description": workload.description,
        "task_type": workload.task_type,
        "updated_at": workload.updated_at,
    }


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
                f'validation error: workload "{slug}" drifted from spec: '
                "name, model, config.steps"
            )
        else:
            assert error is None and result is not None
            assert as_tuples(result.changes) == drift_changes
            assert result.workload_id == before.id
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
    # text2video has no stand-in either; the only drift is the task type.
    with pytest.raises(DriftError) as caught:
        tapped.ensure(cheap_spec(unique_slug, task_type="text2video"))
    error = caught.value
    assert type(error) is DriftError and error.code == "immutable_field"
    assert as_tuples(error.changes) == [("task_type", "text2image", "text2video", False)]
    assert "task_type" in str(error) and "delete" in str(error)
    assert proxy.requests == [("GET", list_path(dev))]
    assert snapshot(mgmt.get(unique_slug)) == snapshot(before)

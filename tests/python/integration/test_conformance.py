"""Every case of ``tests/conformance/ensure.json`` (the repository's copy of the shared
vectors), replayed through the Python package (so
through the C ABI and the native core), each case its own test.

The server is a :class:`~support.replay.ReplayServer`: the vectors define it. Each case builds
``WorkloadSpec(**spec)``, calls ``ensure(spec, on_drift=...)`` on a ``ManagementClient`` pointed
at the replay server, and checks the requests (method, path, body) and the outcome against
``expect``. The ``dry_run`` cases run a second time through ``plan(spec)``.

Every case runs twice, ``[sync]`` and ``[async]``: the client comes from the ``make_mgmt``
factory, so the async run replays it through ``AsyncManagementClient``
(``support/asyncio_twin.py``); so do the replay server's self-checks, which need a client.
Not twinned, as they use no client: ``test_vectors_are_all_collected`` and
``test_json_equal_rules`` (checks of the vector file and of the comparison helper).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.asyncio_twin import Maker
from support.httpio import dumps, json_equal
from support.replay import ReplayServer

from inferencekey import (
    DriftError,
    DriftWarning,
    EnsureAction,
    EnsureResult,
    FieldChange,
    InferenceKeyError,
    ManagementClient,
    WorkloadSpec,
)

pytestmark = pytest.mark.timeout(30)

VECTORS = Path(__file__).parents[2] / "conformance/ensure.json"
#: The shared vectors the copy follows, where a checkout has them beside it.
SHARED = Path(__file__).parents[3].parent / "shared/conformance/ensure.json"
TOKEN = "ik_sdk_1a2b3c4d_" + "0" * 64


def _load() -> list[dict[str, Any]]:
    document = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert document["version"] == 1, f"unknown vector format {document['version']!r}"
    cases: list[dict[str, Any]] = document["cases"]
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


CASES = _load()
DRY_RUN_CASES = [c for c in CASES if c["on_drift"] == "dry_run"]


def test_vectors_are_all_collected() -> None:
    # Guards against a vector file that silently shrinks to nothing (e.g. a wrong path that
    # still parses): the spec set has cases for every on_drift mode.
    assert {c["on_drift"] for c in CASES} == {"reconcile", "fail", "dry_run", "warn", "ignore"}
    assert len(DRY_RUN_CASES) >= 1


class Outcome:
    """What one call did: its result or its error, and the warnings it emitted."""

    def __init__(self, call: Callable[[], EnsureResult]) -> None:
        self.result: EnsureResult | None = None
        self.error: InferenceKeyError | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.result = call()
            except InferenceKeyError as exc:
                self.error = exc
        self.drift_warnings = [w.message for w in caught if issubclass(w.category, DriftWarning)]


def _spec(case: dict[str, Any]) -> WorkloadSpec:
    try:
        return WorkloadSpec(**case["spec"])
    except Exception as exc:  # the vectors hold only specs the type layer must accept
        pytest.fail(
            f"WorkloadSpec(**spec) rejected the spec of case {case['name']!r}: "
            f"{type(exc).__name__}: {exc} -- a bug in the type layer, not in the case"
        )


def _changes_as_json(changes: tuple[FieldChange, ...]) -> list[dict[str, Any]]:
    return [
        {"field": c.field, "live": c.live, "desired": c.desired, "patchable": c.patchable}
        for c in changes
    ]


def _assert_changes(got: tuple[FieldChange, ...], want: list[dict[str, Any]]) -> None:
    got_json = _changes_as_json(got)
    assert json_equal(got_json, want), (
        f"changes differ:\n  got  {dumps(got_json)}\n  want {dumps(want)}"
    )
    for change in got:  # json_equal ignores bool/number only for numbers; be strict here
        assert isinstance(change.patchable, bool)


def _replay(
    make_mgmt: Maker[ManagementClient],
    case: dict[str, Any],
    call: Callable[[ManagementClient, WorkloadSpec], Any],
) -> Outcome:
    spec = _spec(case)
    with ReplayServer(case["exchanges"]) as server:
        with make_mgmt(sdk_token=TOKEN, base_url=server.url, project=case["project"]) as client:
            outcome = Outcome(lambda: call(client, spec))
        # Requests first: a wrong request explains a wrong outcome better than the reverse.
        server.verify()
    return outcome


def _assert_outcome(outcome: Outcome, expect: dict[str, Any], *, warns: bool) -> None:
    error = expect["error"]
    if error is not None:
        assert outcome.error is not None, (
            f"expected {error['class']} ({error['code']}), but the call returned {outcome.result!r}"
        )
        assert type(outcome.error).__name__ == error["class"], (
            f"expected {error['class']}, got {type(outcome.error).__name__}: {outcome.error}"
        )
        if error["code"] is not None:
            assert outcome.error.code == error["code"], str(outcome.error)
        if expect["changes"] is not None:
            assert isinstance(outcome.error, DriftError), "only a DriftError carries changes"
            _assert_changes(outcome.error.changes, expect["changes"])
    else:
        assert outcome.error is None, f"unexpected {type(outcome.error).__name__}: {outcome.error}"
        result = outcome.result
        assert isinstance(result, EnsureResult)
        assert result.action == EnsureAction(expect["action"])
        assert type(result.action) is EnsureAction
        if expect["action"] == "planned":
            assert result.planned_operation == expect["planned_operation"]
        assert result.workload_slug == expect["workload_slug"]
        if expect["changes"] is not None:
            _assert_changes(result.changes, expect["changes"])
    if warns:
        assert len(outcome.drift_warnings) == 1, "expected exactly one DriftWarning"
        warning = outcome.drift_warnings[0]
        assert isinstance(warning, DriftWarning)
        if expect["changes"] is not None:
            _assert_changes(warning.changes, expect["changes"])
    else:
        assert outcome.drift_warnings == [], f"unexpected DriftWarning: {outcome.drift_warnings}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_ensure(make_mgmt: Maker[ManagementClient], case: dict[str, Any]) -> None:
    outcome = _replay(
        make_mgmt, case, lambda client, spec: client.ensure(spec, on_drift=case["on_drift"])
    )
    _assert_outcome(outcome, case["expect"], warns=case["expect"]["warning"])


@pytest.mark.parametrize("case", DRY_RUN_CASES, ids=[c["name"] for c in DRY_RUN_CASES])
def test_plan(make_mgmt: Maker[ManagementClient], case: dict[str, Any]) -> None:
    # plan(spec) is exactly ensure(spec, on_drift=DRY_RUN): same requests, same outcome.
    outcome = _replay(make_mgmt, case, lambda client, spec: client.plan(spec))
    _assert_outcome(outcome, case["expect"], warns=case["expect"]["warning"])


# --- the replay server itself must be able to fail a case --------------------------------


def _case(name: str) -> dict[str, Any]:
    return json.loads(json.dumps(next(c for c in CASES if c["name"] == name)))


def _run_raw(
    make_mgmt: Maker[ManagementClient], case: dict[str, Any]
) -> tuple[ReplayServer, Outcome]:
    spec = _spec(case)
    server = ReplayServer(case["exchanges"])
    try:
        with make_mgmt(sdk_token=TOKEN, base_url=server.url, project="acme") as client:
            outcome = Outcome(lambda: client.ensure(spec, on_drift=case["on_drift"]))
    finally:
        server.close()
    return server, outcome


def test_replay_fails_a_different_body(make_mgmt: Maker[ManagementClient]) -> None:
    case = _case("absent-reconcile-creates")
    case["exchanges"][1]["request"]["body"]["name"] = "Another Name"
    server, _ = _run_raw(make_mgmt, case)
    with pytest.raises(AssertionError, match=r"request #2 \(POST .*body"):
        server.verify()


def test_replay_fails_a_request_beyond_the_list(make_mgmt: Maker[ManagementClient]) -> None:
    case = _case("absent-reconcile-creates")
    del case["exchanges"][1]
    server, outcome = _run_raw(make_mgmt, case)
    assert outcome.error is not None  # answered 418, never retried
    assert [r[0] for r in server.received] == ["GET", "POST"]
    with pytest.raises(AssertionError, match="beyond the 1 exchange"):
        server.verify()


def test_replay_fails_an_unused_exchange(make_mgmt: Maker[ManagementClient]) -> None:
    case = _case("in-sync-reconcile-unchanged")
    case["exchanges"].append(case["exchanges"][0])
    server, _ = _run_raw(make_mgmt, case)
    with pytest.raises(AssertionError, match="only 1 of 2 exchange"):
        server.verify()


def test_json_equal_rules() -> None:
    assert json_equal({"a": 1, "b": [1, 2.0]}, {"b": [1.0, 2], "a": 1.0})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal(True, 1)
    assert not json_equal({"a": None}, {})
    assert not json_equal("1", 1)


def test_suffixed_slug_is_logged_naming_both_slugs(
    make_mgmt: Maker[ManagementClient], caplog: pytest.LogCaptureFixture
) -> None:
    # sdk §4.3: a 2xx create under another slug is reported, with a WARNING naming both.
    case = _case("create-suffixed-slug")
    sent = case["spec"]["slug"]
    got = case["exchanges"][-1]["response"]["body"]["slug"]
    assert sent != got
    caplog.set_level(logging.WARNING, logger="inferencekey")
    outcome = _replay(
        make_mgmt, case, lambda client, spec: client.ensure(spec, on_drift=case["on_drift"])
    )
    assert outcome.result is not None and outcome.result.workload_slug == got
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("inferencekey") and r.levelno == logging.WARNING
    ]
    # One record names both (``sent`` is a prefix of ``got``, so look for it without ``got``).
    assert any(got in m and sent in m.replace(got, "") for m in warned), warned


@pytest.mark.skipif(not SHARED.is_file(), reason="no shared/ beside this checkout to compare with")
def test_the_repository_copy_matches_the_shared_vectors() -> None:
    """The copy in ``tests/conformance`` is the shared one, byte for byte: a change there must
    be copied here."""
    assert VECTORS.read_bytes() == SHARED.read_bytes(), f"copy {SHARED} to {VECTORS}"

"""Readiness against the real local platform: ``readiness_events()`` and
``wait_until_ready()`` with a workload that becomes ready (the SmolLM2 chat stand-in), one
whose command fails, and one that never becomes ready.

Only one real model runs here (module-scoped, deleted afterwards). The failing and the
never-ready workloads run tiny commands (``sh`` and ``sleep``): the platform runs a
``config.command`` whose first word is a path as is (crates/inferencekey-dev/src/runner).

Every test here runs twice, ``[sync]`` and ``[async]`` (its async twin: the same body on
``AsyncManagementClient``, see ``support/asyncio_twin.py``). The chat workload's first rollout
is followed by a sync and an async stream at the same time, so both twins of the rollout test
check a real model load.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.asyncio_twin import Clients, Maker, is_instance
from support.recording import RecordingProxy

from inferencekey import (
    APITimeoutError,
    ManagementClient,
    NotFoundError,
    ReadinessError,
    ReadinessEvent,
    ReadinessStream,
    ReadinessTimeoutError,
    WorkloadSpec,
)
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(120)

PHASES = {"scheduling", "provisioning", "bootstrapping", "ready", "error"}
FAILING_COMMAND = "/bin/sh -c 'echo boom >&2; exit 3'"
SLEEP = shutil.which("sleep") or "/bin/sleep"


def command_spec(slug: str, command: str) -> WorkloadSpec:
    return WorkloadSpec(
        name=f"Readiness {slug}",
        slug=slug,
        model="local/command",
        backend="vllm",
        task_type="text2text",
        command=command,
    )


#: The events of the chat workload's first rollout, seen from its creation on, by flavour.
FIRST_ROLLOUT: dict[str, list[ReadinessEvent]] = {}


@pytest.fixture(scope="module")
def chat(sync_mgmt: ManagementClient, dev: DevServer) -> Iterator[str]:
    """A real chat workload (SmolLM2-135M on the llama.cpp stand-in); its slug. Its first
    rollout is followed from creation to the end, by a sync and an async client at the same
    time, and kept in ``FIRST_ROLLOUT["sync"]`` / ``["async"]``."""
    slug = f"readiness-chat-{int(time.time() * 1000) % 10**9}"
    sync_mgmt.ensure(
        WorkloadSpec(
            name="Readiness chat",
            slug=slug,
            model="HuggingFaceTB/SmolLM2-135M-Instruct",
            backend="llamacpp",
            task_type="text2text",
        )
    )
    with Clients("async") as clients:
        twin = clients.management(
            sdk_token=dev.sdk_token, base_url=dev.base_url, project=dev.project
        )
        clients_by_flavour = {"sync": sync_mgmt, "async": twin}
        # Both streams open right after the create, and are read at the same time.
        streams = {f: c.readiness_events(slug, timeout=90) for f, c in clients_by_flavour.items()}

        def follow(flavour: str) -> None:
            with streams[flavour] as events:
                FIRST_ROLLOUT[flavour] = list(events)

        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(follow, f) for f in streams]:
                done.result()
        twin.close()
    yield slug
    sync_mgmt.delete(slug)


@pytest.fixture
def failing(sync_mgmt: ManagementClient, unique_slug: str) -> Iterator[str]:
    """A workload whose command writes to stderr and exits with status 3."""
    sync_mgmt.ensure(command_spec(unique_slug, FAILING_COMMAND))
    yield unique_slug
    sync_mgmt.delete(unique_slug)


@pytest.fixture
def never_ready(sync_mgmt: ManagementClient, unique_slug: str) -> Iterator[str]:
    """A workload whose process runs but never answers ``/health`` (deleted afterwards,
    which stops the process)."""
    sync_mgmt.ensure(command_spec(unique_slug, f"{SLEEP} 600"))
    yield unique_slug
    sync_mgmt.delete(unique_slug)


def assert_well_formed(events: list[ReadinessEvent]) -> None:
    assert events, "a readiness stream yields at least the snapshot frame"
    assert all(isinstance(e, ReadinessEvent) for e in events)
    assert all(e.phase in PHASES for e in events), [e.phase for e in events]
    assert events[-1].terminal
    assert not any(e.terminal for e in events[:-1]), "nothing follows a terminal event"


# --- readiness_events ----------------------------------------------------------------------


def test_readiness_events_end_with_the_terminal_error_event(
    mgmt: ManagementClient, failing: str
) -> None:
    with mgmt.readiness_events(failing, timeout=30) as events:
        assert is_instance(events, ReadinessStream)
        collected = list(events)  # an error event is yielded, not raised
    assert_well_formed(collected)
    last = collected[-1]
    assert last.phase == "error"
    assert "status 3" in last.message
    assert last.log_tail is not None and "boom" in last.log_tail
    assert list(events) == []  # the stream is over


def test_readiness_events_follow_a_real_rollout_to_ready(chat: str, flavour: str) -> None:
    events = FIRST_ROLLOUT[flavour]
    assert_well_formed(events)
    assert events[-1].phase == "ready", [(e.phase, e.message, e.log_tail) for e in events]
    order = ["scheduling", "provisioning", "bootstrapping", "ready"]
    ranks = [order.index(e.phase) for e in events]
    assert ranks == sorted(ranks), "phases only move forward within one rollout"
    # Joined just after the create, the stream still sees the model being loaded.
    assert any(e.phase == "bootstrapping" and e.step == "model_load" for e in events)
    elapsed = [e.elapsed_ms for e in events]
    assert elapsed == sorted(elapsed)


def test_readiness_events_of_a_ready_workload(mgmt: ManagementClient, chat: str) -> None:
    mgmt.wait_until_ready(chat, timeout=90, silent=True)
    with mgmt.readiness_events(chat, timeout=30) as events:
        collected = list(events)
    # The server sends the snapshot (ready) and closes: exactly one event.
    assert [e.phase for e in collected] == ["ready"]
    assert_well_formed(collected)


def test_readiness_events_unknown_workload_raises_at_the_call(
    mgmt: ManagementClient, unique_slug: str
) -> None:
    with pytest.raises(NotFoundError):
        mgmt.readiness_events(unique_slug, timeout=10)


def test_readiness_stream_reconnects_after_a_dropped_connection(
    dev: DevServer,
    mgmt: ManagementClient,
    make_mgmt: Maker[ManagementClient],
    proxy: RecordingProxy,
    unique_slug: str,
) -> None:
    # Fails 2 s after it starts, so the first connection is dropped well before the end.
    mgmt.ensure(command_spec(unique_slug, "/bin/sh -c 'sleep 2; echo late >&2; exit 4'"))
    proxy.cut_streams = 1  # the first stream ends right after its first frame
    path = f"/api/projects/{dev.project}/workloads/{unique_slug}/readiness-events"
    try:
        with (
            make_mgmt(sdk_token=dev.sdk_token, base_url=proxy.url, project=dev.project) as client,
            pytest.raises(ReadinessError) as caught,
        ):
            client.wait_until_ready(unique_slug, timeout=30, silent=True)
    finally:
        mgmt.delete(unique_slug)
    assert caught.value.log_tail is not None and "late" in caught.value.log_tail
    assert proxy.requests == [("GET", path), ("GET", path)]


def test_readiness_reconnects_back_off_while_no_event_arrives(
    dev: DevServer, make_mgmt: Maker[ManagementClient], proxy: RecordingProxy, never_ready: str
) -> None:
    # Every stream is dropped right after its headers: no event ever arrives, so the waits
    # between connections grow 1 s, 2 s, 4 s (wire §6.5): connects at 0, 1 and 3 s, and the
    # next one (7 s) would be past the 3.5 s deadline.
    proxy.cut_streams, proxy.cut_after_frames = 100, 0
    path = f"/api/projects/{dev.project}/workloads/{never_ready}/readiness-events"
    started = time.monotonic()
    with (
        make_mgmt(sdk_token=dev.sdk_token, base_url=proxy.url, project=dev.project) as client,
        pytest.raises(ReadinessTimeoutError),
    ):
        client.wait_until_ready(never_ready, timeout=3.5, silent=True)
    assert time.monotonic() - started <= 3.5 + 1.0
    assert proxy.requests == [("GET", path)] * 3


def test_wait_ends_when_the_workload_is_deleted_meanwhile(
    mgmt: ManagementClient, never_ready: str
) -> None:
    deleter = threading.Timer(0.5, mgmt.delete, args=(never_ready,))
    deleter.start()
    started = time.monotonic()
    try:
        # The server ends the stream; the reconnect gets 404, which ends the wait.
        with pytest.raises(NotFoundError):
            mgmt.wait_until_ready(never_ready, timeout=30, silent=True)
    finally:
        deleter.join()
    assert time.monotonic() - started < 5, "a deleted workload must not be waited on"


def test_an_update_starts_a_new_rollout(mgmt: ManagementClient, failing: str) -> None:
    with pytest.raises(ReadinessError):
        mgmt.wait_until_ready(failing, timeout=30, silent=True)
    # A changed command restarts the workload: the old error is not reported again.
    updated = mgmt.ensure(command_spec(failing, f"{SLEEP} 600"))
    assert updated.action == "updated" and updated.workload is not None
    assert updated.workload.phase == "scheduling"
    with pytest.raises(ReadinessTimeoutError) as caught:
        mgmt.wait_until_ready(failing, timeout=1.0, silent=True)
    assert caught.value.last_event is not None and not caught.value.last_event.terminal
    # A new name alone does not restart it (wire §6.3).
    renamed = command_spec(failing, f"{SLEEP} 600").model_copy(update={"name": "Renamed"})
    result = mgmt.ensure(renamed)
    assert result.action == "updated" and result.workload is not None
    assert result.workload.phase == "bootstrapping"


def test_a_falsy_callable_still_receives_progress(
    mgmt: ManagementClient, failing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    class Collector(list[ReadinessEvent]):
        """Empty (so falsy) when the wait starts; ``on_progress`` must still be used."""

        def __call__(self, event: ReadinessEvent) -> None:
            self.append(event)

    collector = Collector()
    with pytest.raises(ReadinessError) as caught:
        mgmt.wait_until_ready(failing, timeout=30, on_progress=collector)
    assert collector and collector[-1] == caught.value.last_event
    assert capsys.readouterr() == ("", "")


def test_wait_until_ready_unknown_workload(mgmt: ManagementClient, unique_slug: str) -> None:
    started = time.monotonic()
    with pytest.raises(NotFoundError):
        mgmt.wait_until_ready(unique_slug, timeout=30, silent=True)
    assert time.monotonic() - started < 5  # a 404 ends the wait, it is not retried


def test_readiness_events_deadline(mgmt: ManagementClient, never_ready: str) -> None:
    started = time.monotonic()
    seen: list[ReadinessEvent] = []
    # Opening succeeds; iterating is what runs into the deadline.
    with (
        pytest.raises(ReadinessTimeoutError),
        mgmt.readiness_events(never_ready, timeout=1.5) as events,
    ):
        for event in events:
            seen.append(event)
    assert time.monotonic() - started <= 1.5 + 1.0
    assert seen and not any(e.terminal for e in seen)


def test_closing_a_readiness_stream_is_prompt(mgmt: ManagementClient, never_ready: str) -> None:
    events = mgmt.readiness_events(never_ready, timeout=60)
    first = next(events)
    assert first.phase in PHASES and not first.terminal
    started = time.monotonic()
    events.close()
    assert time.monotonic() - started < 1.0
    assert list(events) == []


# --- wait_until_ready ----------------------------------------------------------------------


def test_wait_until_ready_returns_the_ready_event(
    mgmt: ManagementClient, chat: str, capsys: pytest.CaptureFixture[str]
) -> None:
    received: list[ReadinessEvent] = []
    event = mgmt.wait_until_ready(chat, timeout=90, on_progress=received.append)
    assert isinstance(event, ReadinessEvent)
    assert event.phase == "ready" and event.terminal
    assert event.message
    assert received and received[-1] == event
    assert_well_formed(received)
    assert capsys.readouterr() == ("", "")  # on_progress replaces the default output


def test_wait_until_ready_raises_readiness_error_with_the_log_tail(
    mgmt: ManagementClient, failing: str
) -> None:
    received: list[ReadinessEvent] = []
    started = time.monotonic()
    with pytest.raises(ReadinessError) as caught:
        mgmt.wait_until_ready(failing, timeout=60, on_progress=received.append)
    assert time.monotonic() - started < 15, "a failed workload must not make the wait hang"
    error = caught.value
    assert type(error) is ReadinessError
    assert error.code == "workload_failed"
    assert error.log_tail is not None and "boom" in error.log_tail
    assert error.last_event is not None and error.last_event.phase == "error"
    assert received and received[-1] == error.last_event
    assert failing in str(error)


def test_wait_until_ready_times_out(mgmt: ManagementClient, never_ready: str) -> None:
    timeout = 1.5
    started = time.monotonic()
    with pytest.raises(ReadinessTimeoutError) as caught:
        mgmt.wait_until_ready(never_ready, timeout=timeout, silent=True)
    elapsed = time.monotonic() - started
    assert elapsed <= timeout + 1.0, f"took {elapsed:.2f}s for a {timeout}s deadline"
    assert elapsed >= timeout - 0.1, f"gave up after {elapsed:.2f}s, before the deadline"
    error = caught.value
    assert isinstance(error, TimeoutError) and isinstance(error, APITimeoutError)
    assert error.last_event is not None and not error.last_event.terminal
    assert str(error).startswith("timed out: ")


class Boom(Exception):
    pass


def test_on_progress_exception_propagates(mgmt: ManagementClient, chat: str) -> None:
    boom = Boom("stop waiting")

    def explode(event: ReadinessEvent) -> None:
        raise boom

    with pytest.raises(Boom) as caught:
        mgmt.wait_until_ready(chat, timeout=90, on_progress=explode)
    assert caught.value is boom


def test_on_progress_exception_aborts_the_wait(mgmt: ManagementClient, never_ready: str) -> None:
    calls: list[ReadinessEvent] = []

    def explode(event: ReadinessEvent) -> None:
        calls.append(event)
        raise Boom(event.phase)

    started = time.monotonic()
    with pytest.raises(Boom):
        mgmt.wait_until_ready(never_ready, timeout=60, on_progress=explode)
    assert time.monotonic() - started < 5, "the wait must stop at the first raising callback"
    assert len(calls) == 1


def test_silent_prints_nothing(
    mgmt: ManagementClient, chat: str, failing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mgmt.wait_until_ready(chat, timeout=90, silent=True).phase == "ready"
    with pytest.raises(ReadinessError):
        mgmt.wait_until_ready(failing, timeout=60, silent=True)
    assert capsys.readouterr() == ("", "")


def test_default_progress_goes_to_stderr(
    mgmt: ManagementClient, chat: str, failing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mgmt.wait_until_ready(chat, timeout=90)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines and all(line.startswith(f"{chat}: ") for line in lines), err
    assert "ready" in lines[-1]

    with pytest.raises(ReadinessError):
        mgmt.wait_until_ready(failing, timeout=60)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    # Not a TTY: one line per phase or step change, ending with the error.
    assert lines and all(line.startswith(f"{failing}: ") for line in lines), err
    assert lines[-1].startswith(f"{failing}: error")
    assert len(lines) == len(set(lines))

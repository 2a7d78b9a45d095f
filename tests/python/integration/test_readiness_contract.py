"""The ``wait_until_ready`` contract, the same through three doors: the sync
``ManagementClient``, the async ``AsyncManagementClient`` and the C ABI's
``ik_management_client_wait_until_ready`` (ABI 3; driven here through the package's cffi
objects, a test-only use). Every case runs three times and must give the same outcome: the
same error class (Python) / status (C) and code, and the same progress events in order.

Fault injector: :class:`support.readiness.FakeReadinessServer`, a scripted readiness stream
on loopback (wire §6.5): each connection gets scripted frames, then EOF, silence or
``[DONE]``, or an error status. It records every connection and whether the client closed it.
The core reconnects after 1 s, 2 s, 4 s, then every 5 s when a stream ends before a terminal
phase, always within the caller's deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from support.faults import error_body
from support.readiness import FakeReadinessServer, Script, event

from inferencekey import (
    ApiError,
    AsyncManagementClient,
    InferenceKeyError,
    ManagementClient,
    NotFoundError,
    ReadinessError,
    ReadinessEvent,
    ReadinessTimeoutError,
)
from inferencekey._ffi import ffi, lib

pytestmark = pytest.mark.timeout(60)

SDK = "ik_sdk_1a2b3c4d_" + "0" * 64
SLUG = "bot"
PATH = f"/api/projects/acme/workloads/{SLUG}/readiness-events"
BOUND = 10.0  # generous slack on every deadline: a hang bound, not a performance claim

PROVISIONING = event("provisioning", "port 41873 reserved")
LOADING = event("bootstrapping", "loading the model", step="model_load")
READY = event("ready", "serving")
FAILED = event(
    "error", "process exited with status 1", log_tail="error: unknown argument --max-model-len\n"
)


# --------------------------------------------------------------------------------------------
# The three drivers


@dataclass
class Failure:
    """A failed wait: the Python exception (sync, async) or the C status, and what both carry."""

    error: InferenceKeyError | None
    status: int | None
    code: str | None
    http_status: int | None
    last_event: dict[str, Any] | None
    log_tail: str | None


@dataclass
class Outcome:
    ready: dict[str, Any] | None
    failure: Failure | None
    progress: list[dict[str, Any]]
    elapsed: float

    @property
    def phases(self) -> list[str]:
        return [e["phase"] for e in self.progress]


def _event_dict(e: ReadinessEvent) -> dict[str, Any]:
    return {
        "phase": e.phase,
        "message": e.message,
        "elapsed_ms": e.elapsed_ms,
        "step": e.step,
        "log_tail": e.log_tail,
    }


def _python_failure(exc: InferenceKeyError) -> Failure:
    last = getattr(exc, "last_event", None)
    return Failure(
        exc,
        None,
        exc.code,
        getattr(exc, "status_code", None),
        None if last is None else _event_dict(last),
        getattr(exc, "log_tail", None),
    )


def wait_sync(url: str, timeout: float) -> Outcome:
    seen: list[dict[str, Any]] = []
    started = time.monotonic()
    with ManagementClient(sdk_token=SDK, base_url=url, project="acme") as client:
        try:
            ready = client.wait_until_ready(
                SLUG, timeout=timeout, on_progress=lambda e: seen.append(_event_dict(e))
            )
        except InferenceKeyError as exc:
            return Outcome(None, _python_failure(exc), seen, time.monotonic() - started)
    return Outcome(_event_dict(ready), None, seen, time.monotonic() - started)


def wait_async(url: str, timeout: float) -> Outcome:
    seen: list[dict[str, Any]] = []

    async def wait() -> ReadinessEvent:
        async with AsyncManagementClient(sdk_token=SDK, base_url=url, project="acme") as client:
            return await client.wait_until_ready(
                SLUG, timeout=timeout, on_progress=lambda e: seen.append(_event_dict(e))
            )

    started = time.monotonic()
    try:
        ready = asyncio.run(wait())
    except InferenceKeyError as exc:
        return Outcome(None, _python_failure(exc), seen, time.monotonic() - started)
    return Outcome(_event_dict(ready), None, seen, time.monotonic() - started)


def _abi(name: str) -> Any:
    """An export of the native library; a plain failure (not a skip) when this build lacks it."""
    fn = getattr(lib, name, None)
    if fn is None:
        pytest.fail(f"{name} is not exported by this build (ABI {lib.ik_abi_version()}; needs 3)")
    return fn


def _read_error(status: int, err: Any) -> Failure:
    """Reads an ``ik_error`` through the accessors, then frees it."""
    assert err != ffi.NULL, f"status {status} without an ik_error"
    try:
        assert lib.ik_error_status(err) == status
        details_ptr = lib.ik_error_details_json(err)
        details = json.loads(ffi.string(details_ptr)) if details_ptr != ffi.NULL else {}
        http = int(lib.ik_error_http_status(err))
        return Failure(
            None,
            status,
            ffi.string(lib.ik_error_code(err)).decode(),
            http or None,
            details.get("last_event"),
            details.get("log_tail"),
        )
    finally:
        lib.ik_error_free(err)


def wait_c(
    url: str, timeout: float, *, cancel: Any = None, on_event: Callable[[], None] | None = None
) -> Outcome:
    """``ik_management_client_wait_until_ready`` with an ``on_event`` callback (ABI 3)."""
    wait_fn = _abi("ik_management_client_wait_until_ready")
    buffer_free = _abi("ik_buffer_free")
    seen: list[dict[str, Any]] = []

    def collect(_user_data: Any, status: int, data: Any, size: int, err: Any) -> None:
        try:
            assert status == 0 and err == ffi.NULL, (status, err)
            seen.append(json.loads(ffi.unpack(data, size)))
        finally:
            buffer_free(data)  # on_event owns the event's buffer
        if on_event is not None:
            on_event()

    callback = ffi.callback("ik_callback", collect)
    cfg = json.dumps({"base_url": url, "sdk_token": SDK, "project": "acme"}).encode()
    client_out, err = ffi.new("ik_management_client **"), ffi.new("ik_error **")
    status = lib.ik_management_client_new(cfg, len(cfg), client_out, err)
    assert status == 0, _read_error(status, err[0])
    client = client_out[0]
    req = json.dumps({"workload_slug": SLUG, "timeout_s": timeout}).encode()
    out, out_len = ffi.new("char **"), ffi.new("size_t *")
    started = time.monotonic()
    try:
        status = wait_fn(
            client, req, len(req), cancel or ffi.NULL, callback, ffi.NULL, out, out_len, err
        )
        elapsed = time.monotonic() - started
    finally:
        lib.ik_management_client_free(client)
    if status:
        return Outcome(None, _read_error(status, err[0]), seen, elapsed)
    try:
        ready = json.loads(ffi.unpack(out[0], out_len[0]))
    finally:
        buffer_free(out[0])
    return Outcome(ready, None, seen, elapsed)


DRIVERS: dict[str, Callable[[str, float], Outcome]] = {
    "sync": wait_sync,
    "async": wait_async,
    "c": wait_c,
}


@pytest.fixture(params=list(DRIVERS))
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass(frozen=True)
class Expect:
    """An expected failure: the Python class (exactly), the C status, the code."""

    cls: type[InferenceKeyError]
    status: int
    code: str


WORKLOAD_FAILED = Expect(ReadinessError, 1802, "workload_failed")
TIMED_OUT = Expect(ReadinessTimeoutError, 2001, "readiness_timeout")
STREAM_ENDED = Expect(ApiError, 1800, "stream_ended")
NOT_FOUND = Expect(NotFoundError, 1500, "not_found")


def failed(driver: str, outcome: Outcome, expect: Expect) -> Failure:
    """Asserts that the wait failed as ``expect`` says; the failure, for further checks."""
    failure = outcome.failure
    assert failure is not None, f"returned {outcome.ready} (events {outcome.phases})"
    if driver == "c":
        assert failure.status == expect.status, failure
    else:
        assert type(failure.error) is expect.cls, repr(failure.error)
    assert failure.code == expect.code, failure
    return failure


def run(driver: str, scripts: list[Script], timeout: float) -> tuple[Outcome, FakeReadinessServer]:
    with FakeReadinessServer(scripts) as server:
        outcome = DRIVERS[driver](server.url, timeout)
    assert all(c.path == PATH for c in server.streams), [c.path for c in server.streams]
    assert not server.errors
    return outcome, server


# --------------------------------------------------------------------------------------------
# Outcomes


def test_ready_after_provisioning_and_loading(driver: str) -> None:
    """Frames ``provisioning``, ``bootstrapping`` (step ``model_load``), ``ready``: the wait
    returns the ``ready`` event and the progress callback saw all three, in order."""
    frames = [(0.0, PROVISIONING), (0.05, LOADING), (0.05, READY)]
    outcome, server = run(driver, [Script(frames)], timeout=10)
    assert outcome.failure is None, outcome.failure
    assert outcome.ready is not None
    assert (outcome.ready["phase"], outcome.ready["message"]) == ("ready", "serving")
    assert outcome.phases == ["provisioning", "bootstrapping", "ready"]
    assert outcome.progress[1]["step"] == "model_load"
    assert len(server.streams) == 1


def test_error_phase_raises_workload_failed_with_the_log_tail(driver: str) -> None:
    """Frames ``provisioning``, then ``error`` with a ``log_tail``: ``ReadinessError`` /
    ``IK_ERR_WORKLOAD_FAILED`` (1802), code ``workload_failed``, carrying the log tail and
    the error event; the progress callback saw both events."""
    outcome, server = run(driver, [Script([(0.0, PROVISIONING), (0.05, FAILED)])], timeout=10)
    failure = failed(driver, outcome, WORKLOAD_FAILED)
    assert failure.log_tail == FAILED["log_tail"]
    assert failure.last_event is not None
    assert failure.last_event["phase"] == "error"
    assert outcome.phases == ["provisioning", "error"]
    assert len(server.streams) == 1


def test_a_silent_stream_times_out_with_the_last_event(driver: str) -> None:
    """Frame ``bootstrapping``, then the connection stays open and silent: after the 1.5 s
    deadline, ``ReadinessTimeoutError`` / ``IK_ERR_READINESS_TIMEOUT`` (2001), code
    ``readiness_timeout``, ``last_event`` the ``bootstrapping`` frame; and the client lets go
    of the stream."""
    timeout = 1.5
    outcome, server = run(driver, [Script([(0.0, LOADING)], end="hang")], timeout=timeout)
    failure = failed(driver, outcome, TIMED_OUT)
    assert failure.last_event is not None
    assert failure.last_event["phase"] == "bootstrapping"
    assert outcome.phases == ["bootstrapping"]
    assert timeout - 0.1 <= outcome.elapsed <= timeout + BOUND, outcome.elapsed
    assert len(server.streams) == 1


def test_a_dropped_stream_reconnects_and_recovers(driver: str) -> None:
    """The first connection sends ``bootstrapping`` and ends (EOF: no terminal frame, no
    ``[DONE]``); the second sends ``ready``. The wait reconnects after about 1 s and returns
    the ``ready`` event: two connections, both events seen."""
    scripts = [Script([(0.0, LOADING)], end="close"), Script([(0.0, READY)])]
    outcome, server = run(driver, scripts, timeout=10)
    assert outcome.failure is None, outcome.failure
    assert outcome.ready is not None and outcome.ready["phase"] == "ready"
    assert outcome.phases == ["bootstrapping", "ready"]
    assert len(server.streams) == 2
    gap = server.streams[1].opened_at - server.streams[0].opened_at
    assert 0.9 <= gap <= 1 + BOUND, f"reconnected after {gap:.2f} s (wire §6.5: 1 s)"


def test_a_stream_dropped_every_time_times_out(driver: str) -> None:
    """Every connection sends ``bootstrapping`` and ends without a terminal frame; with a
    2.5 s deadline the wait keeps reconnecting, never sooner than 1 s after a drop, and then
    raises ``ReadinessTimeoutError`` / ``readiness_timeout`` at the deadline. (How many
    reconnects fit is not pinned: the core restarts its 1-2-4-5 s backoff after a connection
    that delivered an event, so today three connections fit, at 0, 1 and 2 s.)"""
    timeout = 2.5
    outcome, server = run(driver, [Script([(0.0, LOADING)], end="close")], timeout=timeout)
    failure = failed(driver, outcome, TIMED_OUT)
    assert failure.last_event is not None
    assert failure.last_event["phase"] == "bootstrapping"
    assert timeout - 0.1 <= outcome.elapsed <= timeout + BOUND, outcome.elapsed
    opened = [c.opened_at for c in server.streams]
    assert len(opened) >= 2, "never reconnected"
    assert min(b - a for a, b in itertools.pairwise(opened)) >= 0.9, opened
    assert outcome.phases == ["bootstrapping"] * len(opened)


def test_done_before_a_terminal_phase_is_stream_ended(driver: str) -> None:
    """Frame ``provisioning``, then ``data: [DONE]``: the stream ended without a terminal
    phase and the server said it is finished, so the wait neither reconnects nor waits for
    its deadline: ``ApiError`` / ``IK_ERR_API`` (1800), code ``stream_ended``."""
    outcome, server = run(driver, [Script([(0.0, PROVISIONING)], end="done")], timeout=10)
    failed(driver, outcome, STREAM_ENDED)
    assert outcome.phases == ["provisioning"]
    assert outcome.elapsed < BOUND, outcome.elapsed
    assert len(server.streams) == 1


def test_not_found_when_opening(driver: str) -> None:
    """The server answers the stream request with 404 and a JSON error body (wire §3):
    ``NotFoundError`` / ``IK_ERR_NOT_FOUND`` (1500), code ``not_found``, HTTP status 404;
    no event, no retry."""
    body = error_body("not_found", "no workload 'bot' in project 'acme'")
    outcome, server = run(driver, [Script(status=404, body=body)], timeout=10)
    failure = failed(driver, outcome, NOT_FOUND)
    assert failure.http_status == 404
    assert outcome.progress == []
    assert len(server.streams) == 1


# --------------------------------------------------------------------------------------------
# Cancellation: each door has its own way; each must let go of the stream


HANGING = [Script([(0.0, PROVISIONING), (0.05, LOADING)], end="hang")]


class Boom(Exception):
    pass


def test_sync_an_exception_from_on_progress_propagates_and_closes_the_stream() -> None:
    """``on_progress`` raises on the second event: that very exception propagates out of
    ``wait_until_ready`` and the server sees the client close the connection."""
    boom = Boom("stop waiting")
    seen: list[str] = []

    def progress(e: ReadinessEvent) -> None:
        seen.append(e.phase)
        if len(seen) == 2:
            raise boom

    with FakeReadinessServer(HANGING) as server:
        client = ManagementClient(sdk_token=SDK, base_url=server.url, project="acme")
        with client, pytest.raises(Boom) as raised:
            client.wait_until_ready(SLUG, timeout=30, on_progress=progress)
        assert raised.value is boom
        assert server.connection(0).client_closed.wait(BOUND), "the stream was never closed"
    assert seen == ["provisioning", "bootstrapping"]
    assert len(server.streams) == 1


def test_async_cancelling_the_task_raises_cancelled_error_and_closes_the_stream() -> None:
    """The awaiting task is cancelled after the first event: awaiting it raises
    ``asyncio.CancelledError`` and the server sees the client close the connection."""
    seen: list[str] = []

    async def main(url: str) -> None:
        first = asyncio.Event()

        def progress(e: ReadinessEvent) -> None:
            seen.append(e.phase)
            first.set()

        async with AsyncManagementClient(sdk_token=SDK, base_url=url, project="acme") as client:
            task = asyncio.create_task(
                client.wait_until_ready(SLUG, timeout=30, on_progress=progress)
            )
            await asyncio.wait_for(first.wait(), BOUND)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, BOUND)

    with FakeReadinessServer(HANGING) as server:
        asyncio.run(main(server.url))
        assert server.connection(0).client_closed.wait(BOUND), "the stream was never closed"
    assert seen[0] == "provisioning"
    assert len(server.streams) == 1


def test_c_ik_cancel_from_another_thread_returns_cancelled() -> None:
    """``ik_cancel_cancel`` from another thread after the first event: the blocking call
    returns ``IK_ERR_CANCELLED`` (2100), code ``cancelled``, and the server sees the client
    close the connection."""
    first = threading.Event()
    token = lib.ik_cancel_new()

    def canceller() -> None:
        if first.wait(BOUND):
            lib.ik_cancel_cancel(token)

    thread = threading.Thread(target=canceller, daemon=True)
    thread.start()
    try:
        with FakeReadinessServer(HANGING) as server:
            outcome = wait_c(server.url, 30, cancel=token, on_event=first.set)
            assert server.connection(0).client_closed.wait(BOUND), "the stream was never closed"
    finally:
        first.set()
        thread.join(BOUND)
        lib.ik_cancel_free(token)
    assert outcome.failure is not None, f"returned {outcome.ready}"
    assert (outcome.failure.status, outcome.failure.code) == (2100, "cancelled")
    assert outcome.phases[0] == "provisioning"
    assert outcome.elapsed < BOUND, outcome.elapsed

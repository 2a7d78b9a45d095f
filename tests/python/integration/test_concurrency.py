"""Threads and fork (acceptance point 8).

The GIL is released during I/O: 8 threads calling a workload whose answer takes 200 ms (a
fake upstream that serves requests concurrently) finish in well under twice one call's time.
A client used before ``os.fork()`` works in the child, also while another thread of the parent
has a call in flight and through ``multiprocessing`` with the fork start method; a stream open
at fork time is refused in the child.

Async twins. The tests of one client (or endpoint, or stream kind) shared by threads run
twice, ``[sync]`` and ``[async]``: in the async run the threads share one async client, so
their calls are concurrent tasks on its event loop (``support/asyncio_twin.py``). Sync-only,
with their async counterparts:

- ``test_the_gil_is_free_while_a_call_waits``: GIL release is a property of a *blocking* call;
  an async call never blocks -- ``test_async.py::test_the_event_loop_keeps_running_while_``
  ``requests_wait`` checks that the loop keeps running while 8 calls wait.
- ``test_clients_used_before_fork_work_in_the_child``,
  ``test_fork_while_another_thread_has_a_call_in_flight``,
  ``test_multiprocessing_with_the_fork_start_method``: a sync client crosses ``fork()``; an
  async client must not (sdk §10: used only in the process and loop that first used it). Their
  counterparts below, ``test_async_*``: while the parent runs async clients on its loop (idle,
  or with a call in flight), a forked child (plain ``fork``, or ``multiprocessing``) makes its
  own async clients on its own loop, and they work; the parent's keep working.
- ``test_a_stream_open_at_fork_is_refused_in_the_child``: the ``forked`` error is specified for
  sync streams only; an async stream, like its client, is never used across ``fork()``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import faults
from support.asyncio_twin import Clients

from inferencekey import (
    AsyncDataClient,
    AsyncManagementClient,
    DataClient,
    Endpoint,
    InferenceKeyError,
    ManagementClient,
    TextResult,
)
from inferencekey.testing import DevServer

pytestmark = [
    pytest.mark.timeout(120),
    # Python 3.12+ warns about fork() in a process with threads; forking is the point here.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

SLOW = "cc-slow"
ANSWER = "a slow but correct answer"
DELAY = 0.2


@pytest.fixture(scope="module")
def slow_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cc") / "slow.jsonl"


@pytest.fixture(scope="module")
def sync_slow(
    sync_mgmt: ManagementClient, sync_data: DataClient, slow_record: Path
) -> Iterator[Endpoint]:
    """A workload answering every chat completion after 200 ms, many at a time; its endpoint
    on the session's sync data client."""
    sync_mgmt.ensure(
        faults.fake_spec(SLOW, "slow_chat.py", "--delay", str(DELAY), "--record", str(slow_record))
    )
    sync_mgmt.wait_until_ready(SLOW, timeout=60, silent=True)
    endpoint = sync_data.endpoint(SLOW)
    endpoint.generate_text(prompt="warm-up")  # connections and upstream warmed up
    yield endpoint
    sync_mgmt.delete(SLOW)


@pytest.fixture
def slow(sync_slow: Endpoint, data: DataClient) -> Endpoint:
    """The same workload's endpoint on the test's (sync or async) data client."""
    return data.endpoint(SLOW)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Threads


def test_eight_threads_run_in_parallel(slow: Endpoint) -> None:
    single = min(_timed(lambda: slow.generate_text(prompt="one")) for _ in range(2))
    assert single >= DELAY

    barrier = threading.Barrier(8)
    results: list[TextResult] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(slow.generate_text(prompt="many"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    total = time.perf_counter() - started
    assert not errors, errors
    assert [r.text for r in results] == [ANSWER] * 8
    assert len({r.request_id for r in results}) == 8
    # Serialised they would take 8 x single; in parallel about one call's time. Half the
    # serial time leaves room for a loaded 2-core machine and still fails if calls serialise.
    assert total < 4 * single, (total, single)


def test_the_gil_is_free_while_a_call_waits(sync_slow: Endpoint) -> None:
    """A pure-Python thread keeps running while another thread blocks in a call."""
    slow = sync_slow
    stop = threading.Event()
    ticks = [0]

    def spin() -> None:
        while not stop.is_set():
            ticks[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        before = ticks[0]
        slow.generate_text(prompt="hold on", extra_body={"fake_delay": 0.5})
        during = ticks[0] - before
    finally:
        stop.set()
        spinner.join()
    # Measured against the same loop in the same process with nothing blocking.
    baseline_start = ticks[0]
    stop.clear()
    spinner = threading.Thread(target=spin)
    spinner.start()
    time.sleep(0.1)
    stop.set()
    spinner.join()
    per_100ms = ticks[0] - baseline_start
    assert during > per_100ms, (during, per_100ms)  # 0.5 s of call > 0.1 s of free running


def test_streams_in_parallel_threads(slow: Endpoint) -> None:
    kwargs: dict[str, Any] = {"prompt": "s", "extra_body": {"fake_delay": 0.1, "fake_chunks": 3}}

    def consume() -> list[str]:
        with slow.generate_text_stream(**kwargs) as stream:
            return [chunk.text for chunk in stream]

    single = _timed(consume)
    outputs: list[list[str]] = []
    threads = [threading.Thread(target=lambda: outputs.append(consume())) for _ in range(6)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    total = time.perf_counter() - started
    assert outputs == [["part0 ", "part1 ", "part2 ", ""]] * 6
    assert total < 2 * single, (total, single)


def test_one_management_client_shared_by_threads(mgmt: ManagementClient, slow: Endpoint) -> None:
    found: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            found.append(mgmt.get(SLOW).slug)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert found == [SLOW] * 8


# --------------------------------------------------------------------------------------------
# Fork


def _in_child(work: Callable[[], bool], timeout: float = 30) -> tuple[int, str]:
    """Runs ``work`` in a forked child; returns its exit status and what it reported."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 3
        try:
            os.close(read_fd)
            ok = work()
            report = "ok" if ok else "work() returned False"
            status = 0 if ok else 1
        except BaseException as exc:
            report = f"{type(exc).__name__}: {exc}"
            status = 2
        finally:
            try:
                os.write(write_fd, report.encode()[:4000])
            finally:
                os._exit(status)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    while True:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            raise AssertionError("the child hung")
        time.sleep(0.02)
    with os.fdopen(read_fd, "rb") as pipe:
        report = pipe.read().decode(errors="replace")
    return os.waitstatus_to_exitcode(wait_status), report


def test_clients_used_before_fork_work_in_the_child(
    sync_mgmt: ManagementClient, sync_slow: Endpoint
) -> None:
    mgmt, slow = sync_mgmt, sync_slow
    fast: dict[str, Any] = {"prompt": "in the parent", "extra_body": {"fake_delay": 0}}
    assert slow.generate_text(**fast).text == ANSWER
    assert mgmt.get(SLOW).slug == SLOW

    def child() -> bool:
        result = slow.generate_text(prompt="in the child", extra_body={"fake_delay": 0})
        return result.text == ANSWER and mgmt.get(SLOW).slug == SLOW

    assert _in_child(child) == (0, "ok")
    assert slow.generate_text(**fast).text == ANSWER  # the parent keeps working
    assert mgmt.get(SLOW).slug == SLOW


def test_fork_while_another_thread_has_a_call_in_flight(
    sync_slow: Endpoint, slow_record: Path
) -> None:
    slow = sync_slow
    outcome: list[object] = []
    requests_before = len(faults.read_records(slow_record))

    def long_call() -> None:
        try:
            outcome.append(slow.generate_text(prompt="long", extra_body={"fake_delay": 1.5}))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=long_call)
    thread.start()
    # Fork only once the long request has reached the workload.
    assert faults.wait_for(
        lambda: len(faults.read_records(slow_record)) > requests_before, timeout=10
    )

    def child() -> bool:
        result = slow.generate_text(prompt="child", extra_body={"fake_delay": 0})
        return result.text == ANSWER

    started = time.monotonic()
    assert _in_child(child, timeout=20) == (0, "ok")
    assert time.monotonic() - started < 1.4  # did not wait for the parent's call
    thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], TextResult), outcome
    assert outcome[0].text == ANSWER


def test_a_stream_open_at_fork_is_refused_in_the_child(sync_slow: Endpoint) -> None:
    stream = sync_slow.generate_text_stream(
        prompt="s", extra_body={"fake_delay": 0.05, "fake_chunks": 3}
    )

    def child() -> bool:
        try:
            next(stream)
        except InferenceKeyError as exc:
            return exc.code == "forked"
        return False

    assert _in_child(child) == (0, "ok")
    assert [chunk.text for chunk in stream] == ["part0 ", "part1 ", "part2 ", ""]


def _call_in_child(endpoint: Endpoint, queue: Any, n: int) -> None:
    result = endpoint.generate_text(prompt=f"child {n}", extra_body={"fake_delay": 0})
    queue.put((n, result.text, result.request_id))


def test_multiprocessing_with_the_fork_start_method(sync_slow: Endpoint) -> None:
    slow = sync_slow
    slow.generate_text(prompt="parent first", extra_body={"fake_delay": 0})
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    processes = [ctx.Process(target=_call_in_child, args=(slow, queue, n)) for n in range(3)]
    for process in processes:
        process.start()
    answers = sorted(queue.get(timeout=30) for _ in processes)
    for process in processes:
        process.join(30)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert [(n, text) for n, text, _ in answers] == [(n, ANSWER) for n in range(3)]
    assert len({request_id for _, _, request_id in answers}) == 3
    assert slow.generate_text(prompt="parent after", extra_body={"fake_delay": 0}).text == ANSWER


# --------------------------------------------------------------------------------------------
# Fork, async clients: the counterparts of the fork tests above (sdk §10)


def _async_clients(dev: DevServer, tag: str) -> bool:
    """On a new event loop: new async clients, one chat completion and one ``get``."""

    async def go() -> bool:
        async with (
            AsyncDataClient(project=dev.project, base_url=dev.base_url, api_key=dev.api_key) as d,
            AsyncManagementClient(
                sdk_token=dev.sdk_token, base_url=dev.base_url, project=dev.project
            ) as m,
        ):
            result = await d.endpoint(SLOW).generate_text(prompt=tag, extra_body={"fake_delay": 0})
            workload = await m.get(SLOW)
        return result.text == ANSWER and workload.slug == SLOW

    return asyncio.run(go())


def _parent_clients(clients: Clients, dev: DevServer) -> tuple[Endpoint, ManagementClient]:
    """Async clients on the parent's event loop (a thread of its own), behind the sync
    interface so the parent can call them from this thread."""
    data = clients.data(project=dev.project, base_url=dev.base_url, api_key=dev.api_key)
    mgmt = clients.management(sdk_token=dev.sdk_token, base_url=dev.base_url, project=dev.project)
    return data.endpoint(SLOW), mgmt


def test_async_clients_made_in_a_forked_child_work(dev: DevServer, sync_slow: Endpoint) -> None:
    fast: dict[str, Any] = {"prompt": "in the parent", "extra_body": {"fake_delay": 0}}
    with Clients("async") as clients:
        slow, mgmt = _parent_clients(clients, dev)
        # The parent's loop is running, its clients have a runtime and pooled connections.
        assert slow.generate_text(**fast).text == ANSWER
        assert mgmt.get(SLOW).slug == SLOW

        assert _in_child(lambda: _async_clients(dev, "in the child")) == (0, "ok")
        assert slow.generate_text(**fast).text == ANSWER  # the parent keeps working
        assert mgmt.get(SLOW).slug == SLOW
        mgmt.close()


def test_async_fork_while_the_parent_loop_has_a_call_in_flight(
    dev: DevServer, sync_slow: Endpoint, slow_record: Path
) -> None:
    with Clients("async") as clients:
        slow, _ = _parent_clients(clients, dev)
        assert slow.generate_text(prompt="warm-up", extra_body={"fake_delay": 0}).text == ANSWER
        outcome: list[object] = []
        requests_before = len(faults.read_records(slow_record))

        def long_call() -> None:
            try:
                outcome.append(slow.generate_text(prompt="long", extra_body={"fake_delay": 1.5}))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=long_call)
        thread.start()
        # Fork only once the long request (a task on the parent's loop) has reached the workload.
        assert faults.wait_for(
            lambda: len(faults.read_records(slow_record)) > requests_before, timeout=10
        )
        started = time.monotonic()
        assert _in_child(lambda: _async_clients(dev, "child"), timeout=20) == (0, "ok")
        assert time.monotonic() - started < 1.4  # did not wait for the parent's call
        thread.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], TextResult), outcome
        assert outcome[0].text == ANSWER


def _async_call_in_child(base_url: str, project: str, api_key: str, queue: Any, n: int) -> None:
    async def go() -> TextResult:
        async with AsyncDataClient(project=project, base_url=base_url, api_key=api_key) as data:
            return await data.endpoint(SLOW).generate_text(
                prompt=f"child {n}", extra_body={"fake_delay": 0}
            )

    result = asyncio.run(go())
    queue.put((n, result.text, result.request_id))


def test_async_multiprocessing_with_the_fork_start_method(
    dev: DevServer, sync_slow: Endpoint
) -> None:
    fast: dict[str, Any] = {"prompt": "parent", "extra_body": {"fake_delay": 0}}
    with Clients("async") as clients:
        slow, _ = _parent_clients(clients, dev)
        assert slow.generate_text(**fast).text == ANSWER
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        args = (dev.base_url, dev.project, dev.api_key, queue)
        processes = [ctx.Process(target=_async_call_in_child, args=(*args, n)) for n in range(3)]
        for process in processes:
            process.start()
        answers = sorted(queue.get(timeout=30) for _ in processes)
        for process in processes:
            process.join(30)
        assert [p.exitcode for p in processes] == [0, 0, 0]
        assert [(n, text) for n, text, _ in answers] == [(n, ANSWER) for n in range(3)]
        assert len({request_id for _, _, request_id in answers}) == 3
        assert slow.generate_text(**fast).text == ANSWER


# --------------------------------------------------------------------------------------------
# Interrupts

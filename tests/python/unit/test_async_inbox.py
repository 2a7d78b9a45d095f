"""How completions reach an event loop (``inferencekey._async``). Through the core's
completion queue (c-abi rule 18b): each loop watches its descriptor and takes the completions
itself, so no library thread runs Python. Through the delivery thread (rule 18a), for a loop
that cannot watch descriptors and for readiness waits: the thread copies each completion out
and queues it in the loop's inbox, waking the loop once per burst, not once per completion;
the loop settles them in the order they completed.

The queue's cases run in a fresh interpreter (a subprocess): the process's first async call
makes the queue, and whether a delivery thread ever started is a property of the process.
Their calls go to a port nothing listens on (no server needed: a refused connection completes
a call as any answer does)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from inferencekey import _async

NULL = _async.NULL


def _deliver(keys: list[int]) -> None:
    """Completes ``keys`` as the core's delivery thread does: success, no result buffer."""
    for key in keys:
        _async._on_complete(_async.ffi.cast("void *", key), 0, NULL, 0, NULL)


def test_a_burst_of_completions_wakes_the_loop_once_and_keeps_their_order() -> None:
    async def go() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        schedule = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return schedule(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        inbox = _async._inbox(loop)
        settled: list[int] = []
        futures = []
        keys = [next(_async._keys) for _ in range(50)]
        for key in keys:
            future: asyncio.Future[Any] = loop.create_future()
            future.add_done_callback(lambda _f, key=key: settled.append(key))
            futures.append(future)
            with _async._pending_lock:
                _async._pending[key] = (inbox, future, None)
        # The loop is busy (this coroutine does not yield) while all 50 complete.
        thread = threading.Thread(target=_deliver, args=(keys,))
        thread.start()
        thread.join()
        assert not any(f.done() for f in futures)
        assert await asyncio.gather(*futures) == [None] * 50
        assert settled == keys
        return settled, wakeups

    _, wakeups = asyncio.run(go())
    assert wakeups == 1


def test_a_completion_for_a_closed_loop_is_freed_not_queued() -> None:
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    inbox = _async._inbox(loop)
    key = next(_async._keys)
    with _async._pending_lock:
        _async._pending[key] = (inbox, future, None)
    loop.close()
    _deliver([key])
    assert inbox.items == [] and not inbox.scheduled
    assert key not in _async._pending


def test_the_delivery_thread_copies_the_result_out_and_the_loop_only_settles(
    monkeypatch: Any,
) -> None:
    """The result buffer is copied out and freed on the delivery thread: the loop's thread
    makes no native call per completion (each would hand the GIL to that thread)."""
    copied_on: list[str] = []

    def take_result(ptr: Any, length: int, part: Any, make: Any) -> Any:
        copied_on.append(threading.current_thread().name)
        return make({"text": "hi"}, b"body")

    monkeypatch.setattr(_async._ffi, "take_result", take_result)

    async def go() -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        key = next(_async._keys)
        with _async._pending_lock:
            _async._pending[key] = (_async._inbox(loop), future, "raw_part")
        dummy = _async.ffi.cast("char *", 1)  # never read: take_result is replaced

        def deliver() -> None:
            _async._on_complete(_async.ffi.cast("void *", key), 0, dummy, 2, NULL)

        thread = threading.Thread(target=deliver, name="delivery")
        thread.start()
        thread.join()
        return await future

    assert asyncio.run(go()) == ({"text": "hi"}, b"body")
    assert copied_on == ["delivery"]


_PRELUDE = """
import asyncio, os, sys, threading
from inferencekey import APIConnectionError, AsyncDataClient
from inferencekey import _async

KEY = "ik_live_1a2b3c4d_" + "0" * 64

def threads():
    names = []
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/comm") as f:
            names.append(f.read().strip())
    return names

async def refused(calls):
    \"\"\"`calls` concurrent calls to a closed port: the errors each one raised.\"\"\"
    async with AsyncDataClient(
        project="acme", base_url="http://127.0.0.1:1", api_key=KEY, max_retries=0
    ) as data:
        ep = data.endpoint("bot")
        results = await asyncio.gather(
            *(ep.generate_text(prompt="hi") for _ in range(calls)), return_exceptions=True
        )
    assert all(isinstance(r, APIConnectionError) for r in results), results
    return len(results)
"""


def _run(script: str) -> str:
    """Runs ``script`` after the prelude in a fresh interpreter; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


linux_only = pytest.mark.skipif(
    not os.path.isdir("/proc/self/task"), reason="reads thread names from /proc"
)


@linux_only
def test_completions_are_taken_by_the_loop_and_no_library_thread_runs_python() -> None:
    out = _run(
        """
        decoded_on = set()
        outcome = _async._outcome
        def recording(*args):
            decoded_on.add(threading.get_ident())
            return outcome(*args)
        _async._outcome = recording

        async def main():
            total = 0
            for _ in range(5):
                total += await refused(40)
            return total, threading.get_ident()

        total, loop_thread = asyncio.run(main())
        assert total == 200
        assert decoded_on == {loop_thread}, decoded_on
        assert _async._queue is not None
        assert "inferencekey-cb" not in threads(), threads()
        print("ok")
        """
    )
    assert out.strip() == "ok"


@linux_only
def test_loops_in_several_threads_each_settle_their_own_calls() -> None:
    """Every loop watches the one queue: whichever wakes takes all waiting completions and
    sends other loops theirs. Each call still ends once, on its own loop."""
    out = _run(
        """
        def worker(results, i):
            results[i] = asyncio.run(refused(50))

        for _ in range(3):
            results = [0] * 4
            workers = [threading.Thread(target=worker, args=(results, i)) for i in range(4)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(60)
            assert results == [50] * 4, results
        assert not _async._pending, len(_async._pending)
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_loops_starting_together_all_watch_the_one_queue() -> None:
    """The first loops of a process race to make its queue (the native call releases the
    GIL): one makes it, and every loop, the racers included, watches it."""
    out = _run(
        """
        start = threading.Barrier(8)
        callbacks = [None] * 8

        def worker(i):
            async def main():
                start.wait()
                await refused(1)
                callbacks[i] = _async._inbox(asyncio.get_running_loop()).callback
            asyncio.run(main())

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert callbacks == [_async._queued] * 8, callbacks
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_a_loop_that_cannot_watch_descriptors_is_served_by_the_delivery_thread() -> None:
    out = _run(
        """
        class NoReaders(asyncio.SelectorEventLoop):
            def add_reader(self, fd, callback, *args):
                raise NotImplementedError

        loop = NoReaders()
        try:
            assert loop.run_until_complete(refused(20)) == 20
            assert _async._inbox(loop).callback is _async._trampoline
        finally:
            loop.close()
        assert asyncio.run(refused(20)) == 20  # an ordinary loop still uses the queue
        assert _async._inboxes and any(
            i.callback is _async._queued for i in _async._inboxes.values()
        )
        print("ok")
        """
    )
    assert out.strip() == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_makes_its_own_queue_and_its_calls_complete() -> None:
    out = _run(
        """
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12+)
        assert asyncio.run(refused(10)) == 10
        parent_queue = _async._queue
        pid = os.fork()
        if pid == 0:
            try:
                assert asyncio.run(refused(10)) == 10
                assert _async._queue is not None and _async._queue is not parent_queue
                os._exit(0)
            except BaseException as exc:
                print("child:", repr(exc), file=sys.stderr)
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert asyncio.run(refused(10)) == 10  # the parent's queue still serves it
        assert _async._queue is parent_queue
        print("ok")
        """
    )
    assert out.strip() == "ok"

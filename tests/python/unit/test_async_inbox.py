"""How completions reach an event loop (``inferencekey._async``): the delivery thread copies
each out and queues it in the loop's inbox, waking the loop once per burst, not once per
completion; the loop settles them in the order they completed."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

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

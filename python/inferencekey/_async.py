"""Awaiting the ABI's ``_async`` functions: no thread is held per request in flight.

Completions reach the awaiting loop through the core's completion queue (c-abi rule 18b),
bound to :data:`_queued`: a worker that finishes a call queues it and, when the queue was
empty, makes the queue's descriptor readable; each loop watches that descriptor
(``add_reader``) and takes every waiting completion in one native call, decoding and settling
them on its own thread, in order. No library thread takes the GIL per completion. A loop that
cannot watch descriptors, and a call whose events must stay ordered with its completion (a
readiness wait), use :data:`_trampoline` instead: the core calls it on its delivery thread
(c-abi rule 18a), which copies the outcome out, queues it in the loop's inbox and wakes the
loop (``loop.call_soon_threadsafe``) when that inbox was empty.
Cancelling the awaiting task cancels the request in the core (its connection is closed) and
``asyncio.CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, cast

from . import _ffi, _logging
from .errors import _Cancelled

__all__ = ["call_result", "native", "open_stream", "wait_with_events"]

ffi = _ffi.ffi
NULL = _ffi.NULL


class _Queue:
    """This process's completion queue: the native handle and its descriptor."""

    __slots__ = ("fd", "ptr")

    def __init__(self, callback: Any) -> None:
        self.ptr = _ffi.call_into(_ffi.lib.ik_completion_queue_new, "ik_completion_queue", callback)
        fd, err = ffi.new("int *"), ffi.new("ik_error **")
        status = _ffi.lib.ik_completion_queue_fd(self.ptr, fd, err)
        if status:
            _ffi.raise_error(status, err[0])
        self.fd: int = fd[0]


class _Taker:
    """What one loop drains the queue into: an array of completions and the out-parameters.
    One per loop, since loops on other threads drain at the same time (the GIL is released
    during the native call)."""

    __slots__ = ("count", "err", "items")

    #: Completions taken per native call.
    BATCH = 128

    def __init__(self) -> None:
        self.items = ffi.new("ik_completion[]", self.BATCH)
        self.count = ffi.new("size_t *")
        self.err = ffi.new("ik_error **")


class _Inbox:
    """One event loop's completions on their way to it from another thread: the sender
    appends, and asks the loop to drain only when the inbox was empty. A burst of completions
    then costs the loop one wake-up (one ``call_soon_threadsafe`` and self-pipe write) rather
    than one each. ``callback`` is what the loop's calls complete through: :data:`_queued`
    when the loop watches the queue's descriptor, else :data:`_trampoline`."""

    __slots__ = ("callback", "items", "loop", "queue", "scheduled", "taker")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the inbox is the value of a weak-keyed map of loops.
        self.loop = weakref.ref(loop)
        self.items: list[tuple[Any, ...]] = []
        self.scheduled = False
        self.taker = _Taker()
        self.queue = _watch_queue(loop, self)
        self.callback = _trampoline if self.queue is None else _queued


# user_data is an integer key into `_pending`: the loop's inbox, the future, and the key under
# which the result names a binary part (if any).
_Entry = tuple[_Inbox, "asyncio.Future[tuple[Any, bytes] | None]", "str | None"]
_pending: dict[int, _Entry] = {}
_pending_lock = threading.Lock()
_keys = itertools.count(1)
_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()
_queue: _Queue | None = None
_queue_refused = False
_queue_lock = threading.Lock()

_last_inbox: _Inbox | None = None


def _inbox(loop: asyncio.AbstractEventLoop) -> _Inbox:
    global _last_inbox
    inbox = _last_inbox
    if inbox is None or inbox.loop() is not loop:
        inbox = _inboxes.get(loop)
        if inbox is None:
            inbox = _inboxes[loop] = _Inbox(loop)
        _last_inbox = inbox
    return inbox


def _watch_queue(loop: asyncio.AbstractEventLoop, inbox: _Inbox) -> _Queue | None:
    """The process's queue, made on first use, with ``loop`` watching its descriptor; ``None``
    when the loop cannot watch descriptors (a proactor loop) or the queue cannot be made."""
    global _queue, _queue_refused
    if _queue is None and not _queue_refused:
        # Loops starting together on several threads make one queue (a second binding of
        # `_queued` is refused: that loop would fall back to the delivery thread).
        with _queue_lock:
            if _queue is None and not _queue_refused:
                try:
                    _queue = _Queue(_queued)
                except Exception:  # no descriptor to be had: the delivery thread serves
                    _queue_refused = True
    queue = _queue
    if queue is None:
        return None
    try:
        loop.add_reader(queue.fd, _drain_queue, inbox)
    except (NotImplementedError, RuntimeError):
        return None
    return queue


def _forget_pending_in_child() -> None:
    # The parent's calls are not the child's to complete, and a parent thread may have held
    # the lock when it forked (sdk §10: async clients do not cross fork()). The parent's
    # queue is unusable here: a loop still watching its descriptor stops at its next wake.
    global _pending_lock, _last_inbox, _queue, _queue_lock, _queue_refused
    _pending.clear()
    _inboxes.clear()
    _spare_cancels.clear()
    _last_inbox = None
    _queue = None
    _queue_refused = False
    _queue_lock = threading.Lock()
    _pending_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pending_in_child)


def _free_outcome(json_ptr: Any, err: Any) -> None:
    if json_ptr != NULL:
        _ffi.lib.ik_buffer_free(json_ptr)
    if err != NULL:
        _ffi.lib.ik_error_free(err)


def _drain_queue(inbox: _Inbox) -> None:
    """On a loop's thread, when the queue's descriptor is readable: takes every waiting
    completion, in order, settling this loop's and sending other loops' to their inboxes."""
    queue = inbox.queue
    if queue is None or queue is not _queue:  # a forked child's loop watching the parent's
        loop = inbox.loop()
        if loop is not None and queue is not None:
            loop.remove_reader(queue.fd)
        return
    taker = inbox.taker
    items, count, err = taker.items, taker.count, taker.err
    while True:
        status = _drain(queue.ptr, items, taker.BATCH, count, err)
        if status:
            _ffi.raise_error(status, err[0])
        taken = count[0]
        with _pending_lock:
            entries = [
                _pending.pop(int(_cast("uintptr_t", items[i].user_data)), None)
                for i in range(taken)
            ]
        for i, entry in enumerate(entries):
            item = items[i]
            if entry is None:
                _free_outcome(item.json, item.err)
                continue
            target, future, part = entry
            outcome = _outcome(item.status, item.json, item.json_len, item.err, part)
            if target is inbox:
                _settle(future, outcome)
            else:
                _post(target, future, outcome)
        if taken < taker.BATCH:
            return


_drain = _ffi.lib.ik_completion_queue_drain
_cast = ffi.cast


def _on_complete(user_data: Any, status: int, json_ptr: Any, json_len: int, err: Any) -> None:
    """Runs on the core's delivery thread: copies the outcome out (freeing the native buffers)
    and queues it for the awaiting loop, waking the loop only if its inbox was empty."""
    with _pending_lock:
        entry = _pending.pop(int(ffi.cast("uintptr_t", user_data)), None)
    if entry is None or sys.is_finalizing():
        _free_outcome(json_ptr, err)
        return
    inbox, future, part = entry
    _post(inbox, future, _outcome(status, json_ptr, json_len, err, part))


def _post(inbox: _Inbox, future: asyncio.Future[Any], outcome: Any) -> None:
    """From another thread: queues ``outcome`` for ``inbox``'s loop, waking the loop only if
    the inbox was empty."""
    loop = inbox.loop()
    if loop is None or loop.is_closed():
        return  # nobody is waiting
    with _pending_lock:
        inbox.items.append((future, outcome))
        if inbox.scheduled:
            return  # the loop has yet to drain: it will take this one too
        inbox.scheduled = True
    try:
        loop.call_soon_threadsafe(_drain_inbox, inbox)
    except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
        with _pending_lock:
            inbox.items = []
            inbox.scheduled = False


#: Called on the delivery thread (rule 18a).
_trampoline = ffi.callback(_ffi.CALLBACK_TYPE, _on_complete)
#: Bound to the completion queue: its completions are drained by the loops. The same
#: function, so that it serves too if the queue is ever freed with completions in it.
_queued = ffi.callback(_ffi.CALLBACK_TYPE, _on_complete)


def _outcome(
    status: int, json_ptr: Any, json_len: int, err: Any, part: str | None
) -> BaseException | tuple[Any, bytes] | None:
    """A completion's decoded result and binary parts, its error, or ``None`` at the end of
    a stream; the native buffers are freed."""
    try:
        if status:
            return _ffi.take_error(status, err)
        if json_ptr == NULL:
            return None
        return _ffi.take_result(json_ptr, json_len, part, _ffi.pair)
    except BaseException as exc:  # the awaiting call raises it, rather than never ending
        return exc


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    """On the future's loop: completes it with ``outcome`` (unless it was cancelled)."""
    if future.done():
        return
    if isinstance(outcome, _Cancelled):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _drain_inbox(inbox: _Inbox) -> None:
    """On the loop's thread: settle every completion posted so far, in order."""
    with _pending_lock:
        items, inbox.items = inbox.items, []
        inbox.scheduled = False
    for future, outcome in items:
        _settle(future, outcome)


# Tokens of finished calls, never cancelled, for the next calls: a token costs two native
# calls and a finalizer to make and free, and a finished call no longer reads it.
_spare_cancels: list[_ffi.Cancel] = []
_SPARE_CANCELS_MAX = 256


async def native(
    fn: Callable[..., int],
    *args: Any,
    after: tuple[Any, ...] = (),
    part: str | None = None,
    cancel: _ffi.Cancel | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    threaded: bool = False,
) -> tuple[Any, bytes] | None:
    """Starts one native operation, ``fn(*args, cancel, *after, cb, user_data, err)``, and
    awaits its decoded result and binary parts (``None`` at the end of a stream). ``loop`` is
    the running loop, when the caller has it already; ``threaded`` completes it through the
    delivery thread rather than the queue. One coroutine from the caller's to the core's:
    each level of ``await`` costs every call a frame and a resumption."""
    _logging.sync_native_level()
    if loop is None:
        loop = asyncio.get_running_loop()
    future: asyncio.Future[tuple[Any, bytes] | None] = loop.create_future()
    spare = cancel is None
    if cancel is None:
        cancel = _spare_cancels.pop() if _spare_cancels else _ffi.Cancel()
    key = next(_keys)
    inbox = _inbox(loop)
    with _pending_lock:
        _pending[key] = (inbox, future, part)
    # The start call writes `err` before it returns, on this thread: its out-slot is reused.
    err = _ffi.out_params()[2]
    callback = _trampoline if threaded else inbox.callback
    status = fn(*args, cancel.ptr, *after, callback, ffi.cast("void *", key), err)
    if status:
        with _pending_lock:
            _pending.pop(key, None)
        if spare and len(_spare_cancels) < _SPARE_CANCELS_MAX:
            _spare_cancels.append(cancel)
        _ffi.raise_error(status, err[0])
    try:
        outcome = await future
    except asyncio.CancelledError:
        cancel.cancel()  # aborts the exchange in the core and closes its connection
        raise
    except BaseException:
        if spare and len(_spare_cancels) < _SPARE_CANCELS_MAX:
            _spare_cancels.append(cancel)
        raise
    if spare and len(_spare_cancels) < _SPARE_CANCELS_MAX:
        _spare_cancels.append(cancel)
    return outcome


def call_result(
    fn: Any,
    ptr: Any,
    request: dict[str, Any],
    part: str | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Coroutine[Any, Any, tuple[Any, bytes]]:
    """Awaits an operation's decoded result JSON and its binary parts. A unary operation
    never ends with ``None``: its ``json`` is NULL only on failure (``ik_callback``)."""
    body = _ffi.encode(request)
    call = native(fn, ptr, body, len(body), part=part, loop=loop)
    return cast("Coroutine[Any, Any, tuple[Any, bytes]]", call)


async def open_stream(fn: Any, ptr: Any, request: dict[str, Any]) -> tuple[Any, Any]:
    """Opens a stream: the handle exists at once, the exchange completes through the callback
    with the stream's metadata."""
    body = _ffi.encode(request)
    out = ffi.new("ik_stream **")
    try:
        opened = await native(fn, ptr, body, len(body), after=(out,))
    except BaseException:
        if out[0] != NULL:
            _ffi.lib.ik_stream_free(out[0])
        raise
    return out[0], None if opened is None else opened[0]


async def wait_with_events(
    fn: Any, ptr: Any, request: dict[str, Any], on_event: Callable[[Any], object] | None
) -> Any:
    """An operation that reports events before it completes (``ik_management_client_
    wait_until_ready_async``): ``on_event`` runs on the loop with each decoded event, in
    order and before the result; an exception from it stops the call and is raised."""
    body = _ffi.encode(request)
    loop = asyncio.get_running_loop()
    cancel = _ffi.Cancel()
    relay = _ffi.EventRelay(on_event, cancel)

    def hop(event: Any) -> None:  # on the delivery thread
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(relay, event)

    with _ffi.event_sink(hop) as events:
        try:
            outcome = await native(
                fn,
                ptr,
                body,
                len(body),
                after=(_ffi.event_trampoline, events),
                cancel=cancel,
                # Its events come through the delivery thread: so does its completion, after them.
                threaded=True,
            )
        except BaseException:
            relay.reraise()
            raise
    relay.reraise()
    return None if outcome is None else outcome[0]

"""Awaiting the ABI's ``_async`` functions: no thread is held per request in flight.

The core calls one module-level trampoline on its delivery thread, handing over the result
buffer and error (c-abi rule 18a). The trampoline copies the outcome out, frees it, queues it
in the awaiting loop's inbox, and wakes the loop (``loop.call_soon_threadsafe``) when that
inbox was empty: the loop then settles every queued completion in one go, in order.
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


class _Inbox:
    """One event loop's completions on their way to it: the delivery thread appends, and asks
    the loop to drain only when the inbox was empty. A burst of completions then costs the loop
    one wake-up (one ``call_soon_threadsafe`` and self-pipe write) rather than one each."""

    __slots__ = ("items", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the inbox is the value of a weak-keyed map of loops.
        self.loop = weakref.ref(loop)
        self.items: list[tuple[Any, ...]] = []
        self.scheduled = False


# user_data is an integer key into `_pending`: the loop's inbox, the future, and the key under
# which the result names a binary part (if any).
_Entry = tuple[_Inbox, "asyncio.Future[tuple[Any, bytes] | None]", "str | None"]
_pending: dict[int, _Entry] = {}
_pending_lock = threading.Lock()
_keys = itertools.count(1)
_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()


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


def _forget_pending_in_child() -> None:
    # The parent's calls are not the child's to complete, and a parent thread may have held
    # the lock when it forked (sdk §10: async clients do not cross fork()).
    global _pending_lock, _last_inbox
    _pending.clear()
    _inboxes.clear()
    _spare_cancels.clear()
    _last_inbox = None
    _pending_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pending_in_child)


def _free_outcome(json_ptr: Any, err: Any) -> None:
    if json_ptr != NULL:
        _ffi.lib.ik_buffer_free(json_ptr)
    if err != NULL:
        _ffi.lib.ik_error_free(err)


def _on_complete(user_data: Any, status: int, json_ptr: Any, json_len: int, err: Any) -> None:
    """Runs on the core's delivery thread: copies the outcome out (freeing the native buffers)
    and queues it for the awaiting loop, waking the loop only if its inbox was empty. Copying
    here leaves the loop's thread no native call per completion, so no point at which it
    gives up the GIL to this thread and waits to get it back."""
    with _pending_lock:
        entry = _pending.pop(int(ffi.cast("uintptr_t", user_data)), None)
    if entry is None or sys.is_finalizing():
        _free_outcome(json_ptr, err)
        return
    inbox, future, part = entry
    outcome = _outcome(status, json_ptr, json_len, err, part)
    loop = inbox.loop()
    if loop is None or loop.is_closed():
        return  # nobody is waiting
    with _pending_lock:
        inbox.items.append((future, outcome))
        if inbox.scheduled:
            return  # the loop has yet to drain: it will take this one too
        inbox.scheduled = True
    try:
        loop.call_soon_threadsafe(_drain, inbox)
    except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
        with _pending_lock:
            inbox.items = []
            inbox.scheduled = False


_trampoline = ffi.callback(_ffi.CALLBACK_TYPE, _on_complete)


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


def _drain(inbox: _Inbox) -> None:
    """On the loop's thread: settle every completion queued so far, in order."""
    with _pending_lock:
        items, inbox.items = inbox.items, []
        inbox.scheduled = False
    for future, outcome in items:
        if future.done():
            continue
        if isinstance(outcome, _Cancelled):
            future.cancel()
        elif isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


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
) -> tuple[Any, bytes] | None:
    """Starts one native operation, ``fn(*args, cancel, *after, cb, user_data, err)``, and
    awaits its decoded result and binary parts (``None`` at the end of a stream). ``loop`` is
    the running loop, when the caller has it already. One coroutine from the caller's to the
    core's: each level of ``await`` costs every call a frame and a resumption."""
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
    status = fn(*args, cancel.ptr, *after, _trampoline, ffi.cast("void *", key), err)
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
                fn, ptr, body, len(body), after=(_ffi.event_trampoline, events), cancel=cancel
            )
        except BaseException:
            relay.reraise()
            raise
    relay.reraise()
    return None if outcome is None else outcome[0]

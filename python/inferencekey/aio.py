"""Async clients: :class:`AsyncManagementClient`, :class:`AsyncDataClient`, :class:`AsyncEndpoint`.

Same methods, arguments, results and errors as the sync clients, driven by the ABI's
``_async`` functions: no thread is held per request in flight. The native runtime completes
each call through one module-level trampoline, which hops to the awaiting event loop with
``loop.call_soon_threadsafe``. Cancelling the awaiting task cancels the request in the core
(the connection is closed) and ``asyncio.CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import _ffi, _logging
from ._client import DATA, MANAGEMENT, NativeClient, describe, native_config, opt_str, slug_arg
from ._ffi import NULL, ffi, lib
from .data import chat_request, embed_request, rerank_request
from .enums import OnDrift
from .errors import InferenceKeyError, _Cancelled
from .management import (
    ensure_request,
    is_ready,
    progress_reporter,
    readiness_request,
    slug_request,
    stream_ended,
    warn_if_drifted,
)
from .types import (
    EmbedResult,
    EnsureResult,
    ReadinessEvent,
    RerankResult,
    TextChunk,
    TextResult,
    Timeout,
    Usage,
    Workload,
    WorkloadSpec,
    _usage,
)

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Completion plumbing: user_data is an integer key into `_pending`.

_pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[bytes | None]]] = {}
_pending_lock = threading.Lock()
_keys = itertools.count(1)


def _forget_pending_in_child() -> None:
    # The parent's calls are not the child's to complete, and a parent thread may have held
    # the lock when it forked (sdk §10: async clients do not cross fork()).
    global _pending_lock
    _pending.clear()
    _pending_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pending_in_child)


def _on_complete(user_data: Any, status: int, json: Any, json_len: int, err: Any) -> None:
    """Runs on a native runtime thread: copy the outcome out, then hop to the loop."""
    with _pending_lock:
        entry = _pending.pop(int(ffi.cast("uintptr_t", user_data)), None)
    if entry is None or sys.is_finalizing():
        return
    loop, future = entry
    outcome: bytes | BaseException | None
    if status:
        outcome = _ffi.error_from_borrowed(status, err)
    else:
        outcome = None if json == NULL else bytes(ffi.unpack(json, json_len))
    # A loop closed meanwhile has nobody waiting.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, outcome)


def _quiesce_at_exit() -> None:
    """Stops completions before the interpreter finalizes, then lets any callback already
    waiting for the GIL finish (a finalizing CPython would end that thread mid-call, which
    aborts the process). Costs nothing when no async call is in flight."""
    lib.ik_shutdown()
    deadline = time.monotonic() + 0.5
    while _pending and time.monotonic() < deadline:
        time.sleep(0.01)


atexit.register(_quiesce_at_exit)

_trampoline = ffi.callback(
    "void(void *, int32_t, const char *, size_t, const ik_error *)", _on_complete
)


def _settle(future: asyncio.Future[bytes | None], outcome: bytes | BaseException | None) -> None:
    if future.done():
        return
    if isinstance(outcome, _Cancelled):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def _native(start: Callable[[Any, Any, Any, Any], int]) -> bytes | None:
    """Starts one native operation via ``start(cancel, cb, user_data, err)`` and awaits it."""
    _logging.sync_native_level()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bytes | None] = loop.create_future()
    cancel = _ffi.Cancel()
    key = next(_keys)
    with _pending_lock:
        _pending[key] = (loop, future)
    err = ffi.new("ik_error **")
    status = start(cancel.ptr, _trampoline, ffi.cast("void *", key), err)
    if status:
        with _pending_lock:
            _pending.pop(key, None)
        _ffi.raise_error(status, err[0])
    try:
        return await future
    except asyncio.CancelledError:
        cancel.cancel()  # aborts the exchange in the core and closes its connection
        raise


async def _call_result(fn: Any, ptr: Any, request: dict[str, Any]) -> tuple[Any, bytes]:
    """The decoded result JSON and its binary parts."""
    body = _ffi.encode(request)
    raw = await _native(lambda cancel, cb, ud, err: fn(ptr, body, len(body), cancel, cb, ud, err))
    return (None, b"") if raw is None else _ffi.split_result(raw)


async def _call_json(fn: Any, ptr: Any, request: dict[str, Any]) -> Any:
    return (await _call_result(fn, ptr, request))[0]


class _LoopBound:
    """A client is bound to the running loop it is first used on (sdk §6)."""

    _loop: asyncio.AbstractEventLoop | None

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop or self._loop.is_closed():
            raise InferenceKeyError(
                "this client belongs to another event loop; create one per loop",
                code="wrong_event_loop",
            )


# --------------------------------------------------------------------------------------------
# Streams


class _AsyncNativeStream(Generic[T]):
    """An async pull iterator over an ``ik_stream``; one consumer."""

    def __init__(self, ptr: Any, decode: Callable[[dict[str, Any]], T], meta: Any) -> None:
        self._handle = _ffi.Handle(ptr, lib.ik_stream_free)
        self._decode = decode
        self._done = False
        self._meta: dict[str, Any] = meta if isinstance(meta, dict) else {}

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._done or self._handle.closed:
            raise StopAsyncIteration
        ptr = self._handle.ptr
        try:
            raw = await _native(
                lambda cancel, cb, ud, err: lib.ik_stream_next_async(ptr, cancel, cb, ud, err)
            )
        except BaseException:
            self._finish()
            raise
        if raw is None:
            self._finish()
            raise StopAsyncIteration
        return self._decode(_ffi._loads(raw))

    def _finish(self) -> None:
        if not self._done and not self._handle.closed:
            meta = _ffi.call(lib.ik_stream_metadata, self._handle.ptr)
            self._meta = meta if isinstance(meta, dict) else self._meta
        self._done = True

    async def aclose(self) -> None:
        """Aborts the connection (if still open) and frees the stream. Idempotent."""
        if not self._handle.closed:
            lib.ik_stream_close(self._handle.ptr)
            self._done = True
            self._handle.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncTextStream(_AsyncNativeStream[TextChunk]):
    """Chunks of a streamed chat completion: ``async for chunk in stream``."""

    async def __aenter__(self) -> AsyncTextStream:
        return self

    @property
    def request_id(self) -> str | None:
        value = self._meta.get("request_id")
        return value if isinstance(value, str) else None

    @property
    def usage(self) -> Usage | None:
        return _usage(self._meta.get("usage"))


class AsyncReadinessStream(_AsyncNativeStream[ReadinessEvent]):
    """Readiness events until a terminal one."""

    async def __aenter__(self) -> AsyncReadinessStream:
        return self


async def _open_stream(fn: Any, ptr: Any, request: dict[str, Any]) -> tuple[Any, Any]:
    """Opens a stream: the handle exists at once, the exchange completes through the callback."""
    body = _ffi.encode(request)
    out = ffi.new("ik_stream **")

    def start(cancel: Any, cb: Any, ud: Any, err: Any) -> int:
        return int(fn(ptr, body, len(body), cancel, out, cb, ud, err))

    try:
        meta = await _native(start)
    except BaseException:
        if out[0] != NULL:
            lib.ik_stream_free(out[0])
        raise
    return out[0], None if meta is None else _ffi._loads(meta)


# --------------------------------------------------------------------------------------------
# Clients


class AsyncManagementClient(NativeClient, _LoopBound):
    """The async twin of :class:`~inferencekey.ManagementClient`."""

    __slots__ = ("_loop",)
    _plane = MANAGEMENT

    def __init__(
        self,
        *,
        sdk_token: str | None,
        base_url: str | None = None,
        project: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        _from_env: bool = False,
    ) -> None:
        super().__init__(
            native_config(
                from_env=_from_env,
                base_url=base_url,
                project=project,
                timeout=timeout,
                max_retries=max_retries,
                max_response_bytes=max_response_bytes,
                max_event_bytes=max_event_bytes,
                sdk_token=sdk_token,
            )
        )
        self._loop = None

    @classmethod
    def from_env(
        cls,
        *,
        sdk_token: str | None = None,
        base_url: str | None = None,
        project: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
    ) -> AsyncManagementClient:
        return cls(
            sdk_token=sdk_token,
            base_url=base_url,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
            _from_env=True,
        )

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
    ) -> AsyncManagementClient:
        """A client with other timeouts, retries or caps, sharing credentials, connections, loop."""
        return self._clone_with_options(timeout, max_retries, max_response_bytes, max_event_bytes)

    async def _call(self, fn: Any, request: dict[str, Any]) -> Any:
        self._check_loop()
        return await _call_json(fn, self._ptr, request)

    async def ensure(
        self,
        spec: WorkloadSpec,
        *,
        on_drift: OnDrift | str = OnDrift.RECONCILE,
        project: str | None = None,
    ) -> EnsureResult:
        request = ensure_request(spec, on_drift, project)
        result = EnsureResult._from_native(
            await self._call(lib.ik_management_ensure_async, request)
        )
        warn_if_drifted(result, stacklevel=3)
        return result

    async def plan(self, spec: WorkloadSpec, *, project: str | None = None) -> EnsureResult:
        request = ensure_request(spec, OnDrift.DRY_RUN, project)
        return EnsureResult._from_native(await self._call(lib.ik_management_plan_async, request))

    async def get(self, workload_slug: str, *, project: str | None = None) -> Workload:
        request = slug_request(workload_slug, project)
        return Workload._from_native(await self._call(lib.ik_management_get_async, request))

    async def list(self, *, project: str | None = None) -> builtins.list[Workload]:
        items = await self._call(
            lib.ik_management_list_async, {"project": opt_str("project", project)}
        )
        return [Workload._from_native(item) for item in items]

    async def delete(self, workload_slug: str, *, project: str | None = None) -> bool:
        request = slug_request(workload_slug, project)
        return bool((await self._call(lib.ik_management_delete_async, request))["deleted"])

    async def readiness_events(
        self, workload_slug: str, *, project: str | None = None, timeout: float = 600.0
    ) -> AsyncReadinessStream:
        request = readiness_request(workload_slug, project, timeout)
        self._check_loop()
        ptr, meta = await _open_stream(lib.ik_management_readiness_events_async, self._ptr, request)
        return AsyncReadinessStream(ptr, ReadinessEvent._from_native, meta)

    async def wait_until_ready(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float = 600.0,
        on_progress: Callable[[ReadinessEvent], object] | None = None,
        silent: bool = False,
    ) -> ReadinessEvent:
        """``on_progress`` runs on the loop thread."""
        report = progress_reporter(workload_slug, on_progress, silent)
        async with await self.readiness_events(
            workload_slug, project=project, timeout=timeout
        ) as events:
            async for event in events:
                if report is not None:
                    report(event)
                if is_ready(workload_slug, event):
                    return event
        raise stream_ended(workload_slug)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        d = self._description
        state = ", closed" if self._handle.closed else ""
        return (
            f"AsyncManagementClient(base_url={d.get('base_url')!r}, "
            f"project={d.get('project')!r}, token={d.get('token')!r}{state})"
        )


class AsyncDataClient(NativeClient, _LoopBound):
    """The async twin of :class:`~inferencekey.DataClient`."""

    __slots__ = ("_loop",)
    _plane = DATA

    def __init__(
        self,
        *,
        project: str | None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
        _from_env: bool = False,
    ) -> None:
        super().__init__(
            native_config(
                from_env=_from_env,
                base_url=base_url,
                project=project,
                timeout=timeout,
                max_retries=max_retries,
                max_response_bytes=max_response_bytes,
                max_event_bytes=max_event_bytes,
                api_key=api_key,
            )
        )
        self._loop = None

    @classmethod
    def from_env(
        cls,
        *,
        project: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | Timeout = 60.0,
        max_retries: int = 2,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
    ) -> AsyncDataClient:
        return cls(
            project=project,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
            _from_env=True,
        )

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        max_response_bytes: int | None = None,
        max_event_bytes: int | None = None,
    ) -> AsyncDataClient:
        """A client with other timeouts, retries or caps, sharing credentials, connections, loop."""
        return self._clone_with_options(timeout, max_retries, max_response_bytes, max_event_bytes)

    def endpoint(self, workload_slug: str, *, api_key: str | None = None) -> AsyncEndpoint:
        """Synchronous: no network. The endpoint shares this client's loop binding."""
        body = _ffi.encode(
            {"workload_slug": slug_arg(workload_slug), "api_key": opt_str("api_key", api_key)}
        )
        ptr = _ffi.call_into(lib.ik_endpoint_new, "ik_endpoint", self._ptr, body, len(body))
        return AsyncEndpoint(_ffi.Handle(ptr, lib.ik_endpoint_free), self)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> AsyncDataClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        d = self._description
        return f"AsyncDataClient(base_url={d.get('base_url')!r}, project={d.get('project')!r})"


class AsyncEndpoint:
    """The async twin of :class:`~inferencekey.Endpoint`."""

    __slots__ = ("_client", "_handle", "_key", "base_url", "project_slug", "workload_slug")

    def __init__(self, handle: _ffi.Handle, client: AsyncDataClient) -> None:
        self._handle = handle
        self._client = client
        info = describe(lib.ik_endpoint_describe, handle.ptr)
        self.project_slug: str = info["project_slug"]
        self.workload_slug: str = info["workload_slug"]
        self.base_url: str = info["base_url"]
        self._key: str = info["api_key"]

    @property
    def _ptr(self) -> Any:
        return self._handle.open_ptr("endpoint")

    async def _call(self, fn: Any, request: dict[str, Any]) -> tuple[Any, bytes]:
        self._client._check_loop()
        return await _call_result(fn, self._ptr, request)

    async def generate_text(
        self,
        *,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> TextResult:
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        return TextResult._from_native(
            *await self._call(lib.ik_endpoint_generate_text_async, request)
        )

    async def generate_text_stream(
        self,
        *,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncTextStream:
        """Opens eagerly (status errors raise here); then ``async for`` / ``async with``."""
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        self._client._check_loop()
        ptr, meta = await _open_stream(
            lib.ik_endpoint_generate_text_stream_async, self._ptr, request
        )
        return AsyncTextStream(ptr, TextChunk._from_native, meta)

    async def embed(
        self, *, input: str | Sequence[str], extra_body: Mapping[str, Any] | None = None
    ) -> EmbedResult:
        request = embed_request(input, extra_body)
        return EmbedResult._from_native(*await self._call(lib.ik_endpoint_embed_async, request))

    async def rerank(
        self,
        *,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> RerankResult:
        request = rerank_request(query, documents, top_n, extra_body)
        result, _ = await self._call(lib.ik_endpoint_rerank_async, request)
        return RerankResult._from_native(result)

    def close(self) -> None:
        self._handle.close()

    def __repr__(self) -> str:
        return (
            f"AsyncEndpoint(project_slug={self.project_slug!r}, "
            f"workload_slug={self.workload_slug!r}, api_key={self._key!r})"
        )

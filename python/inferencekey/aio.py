"""Async clients: :class:`AsyncManagementClient`, :class:`AsyncDataClient`, :class:`AsyncEndpoint`.

Same methods, arguments, results and errors as the sync clients, and the same construction
(``_client``); calls are the ABI's ``_async`` functions, awaited through ``_async``: no
thread is held per request in flight. Cancelling the awaiting task cancels the request in
the core (the connection is closed) and ``asyncio.CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _async
from ._client import (
    ENDPOINT,
    MANAGEMENT,
    DataClientBase,
    EndpointBase,
    ManagementClientBase,
    opt_str,
    with_call_options,
)
from ._streams import AsyncReadinessStream, AsyncTextStream
from .data import chat_request, embed_request, rerank_request
from .enums import OnDrift
from .errors import InferenceKeyError
from .management import (
    ensure_request,
    progress_reporter,
    readiness_request,
    report_decoded,
    slug_request,
    warn_if_drifted,
)
from .types import (
    EmbedResult,
    EnsureResult,
    ReadinessEvent,
    RerankResult,
    TextResult,
    Timeout,
    Workload,
    WorkloadSpec,
)

__all__ = [
    "AsyncDataClient",
    "AsyncEndpoint",
    "AsyncManagementClient",
    "AsyncReadinessStream",
    "AsyncTextStream",
]


class _LoopBound:
    """A client is bound to the running loop it is first used on (sdk §6)."""

    __slots__ = ()

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        bound: asyncio.AbstractEventLoop | None = getattr(self, "_loop", None)
        if bound is None:
            self._loop = loop  # type: ignore[misc]  # a slot of each async client
        elif bound is not loop or bound.is_closed():
            raise InferenceKeyError(
                "this client belongs to another event loop; create one per loop",
                code="wrong_event_loop",
            )


class AsyncManagementClient(ManagementClientBase, _LoopBound):
    """The async twin of :class:`~inferencekey.ManagementClient`."""

    __slots__ = ("_loop",)

    async def _call(self, verb: str, request: dict[str, Any]) -> Any:
        self._check_loop()
        return (await _async.call_result(MANAGEMENT.fn(f"{verb}_async"), self._ptr, request))[0]

    async def ensure(
        self,
        spec: WorkloadSpec,
        *,
        on_drift: OnDrift | str = OnDrift.RECONCILE,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> EnsureResult:
        request = with_call_options(ensure_request(spec, on_drift, project), timeout, extra_headers)
        result = EnsureResult._from_native(await self._call("ensure", request))
        warn_if_drifted(result, stacklevel=3)
        return result

    async def plan(
        self,
        spec: WorkloadSpec,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> EnsureResult:
        request = with_call_options(
            ensure_request(spec, OnDrift.DRY_RUN, project), timeout, extra_headers
        )
        return EnsureResult._from_native(await self._call("plan", request))

    async def get(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> Workload:
        request = with_call_options(slug_request(workload_slug, project), timeout, extra_headers)
        return Workload._from_native(await self._call("get", request))

    async def list(
        self,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> builtins.list[Workload]:
        request = with_call_options(
            {"project": opt_str("project", project)}, timeout, extra_headers
        )
        items = await self._call("list", request)
        return [Workload._from_native(item) for item in items]

    async def delete(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> bool:
        request = with_call_options(slug_request(workload_slug, project), timeout, extra_headers)
        return bool((await self._call("delete", request))["deleted"])

    async def readiness_events(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float = 600.0,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> AsyncReadinessStream:
        request = readiness_request(workload_slug, project, timeout, extra_headers)
        self._check_loop()
        ptr, meta = await _async.open_stream(
            MANAGEMENT.fn("readiness_events_async"), self._ptr, request
        )
        return AsyncReadinessStream(ptr, meta)

    async def wait_until_ready(
        self,
        workload_slug: str,
        *,
        project: str | None = None,
        timeout: float = 600.0,
        on_progress: Callable[[ReadinessEvent], object] | None = None,
        silent: bool = False,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> ReadinessEvent:
        """The core's wait (reconnects, deadline, phase ``error``); ``on_progress`` runs on
        the loop thread, and an exception from it stops the wait and propagates."""
        request = readiness_request(workload_slug, project, timeout, extra_headers)
        report = progress_reporter(workload_slug, on_progress, silent)
        self._check_loop()
        ready = await _async.wait_with_events(
            MANAGEMENT.fn("wait_until_ready_async"), self._ptr, request, report_decoded(report)
        )
        return ReadinessEvent._from_native(ready)

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


class AsyncDataClient(DataClientBase, _LoopBound):
    """The async twin of :class:`~inferencekey.DataClient`."""

    __slots__ = ("_loop",)

    def endpoint(self, workload_slug: str, *, api_key: str | None = None) -> AsyncEndpoint:
        """Synchronous: no network. The endpoint shares this client's loop binding."""
        return AsyncEndpoint(self._new_endpoint(workload_slug, api_key), self)

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


class AsyncEndpoint(EndpointBase):
    """The async twin of :class:`~inferencekey.Endpoint`."""

    __slots__ = ("_client",)

    def __init__(self, handle: Any, client: AsyncDataClient) -> None:
        super().__init__(handle)
        self._client = client

    async def _call(
        self, verb: str, request: dict[str, Any], part: str | None = None
    ) -> tuple[Any, bytes]:
        self._client._check_loop()
        return await _async.call_result(ENDPOINT.fn(f"{verb}_async"), self._ptr, request, part)

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
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> TextResult:
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        with_call_options(request, timeout, extra_headers)
        return TextResult._from_native(*await self._call("generate_text", request, "raw_part"))

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
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> AsyncTextStream:
        """Opens eagerly (status errors raise here); then ``async for`` / ``async with``."""
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        with_call_options(request, timeout, extra_headers)
        self._client._check_loop()
        ptr, meta = await _async.open_stream(
            ENDPOINT.fn("generate_text_stream_async"), self._ptr, request
        )
        return AsyncTextStream(ptr, meta)

    async def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> EmbedResult:
        request = with_call_options(embed_request(input, extra_body), timeout, extra_headers)
        return EmbedResult._from_native(*await self._call("embed", request, "embeddings"))

    async def rerank(
        self,
        *,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> RerankResult:
        request = with_call_options(
            rerank_request(query, documents, top_n, extra_body), timeout, extra_headers
        )
        result, _ = await self._call("rerank", request)
        return RerankResult._from_native(result)

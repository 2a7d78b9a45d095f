"""Async clients: ``AsyncManagementClient``, ``AsyncDataClient``, ``AsyncEndpoint``.

Same methods, arguments, results and errors as the sync clients, and the same construction
(``_client``); calls are the ABI's ``_async`` functions, awaited through ``_async``: no
thread is held per request in flight. Cancelling the awaiting task cancels the request in
the core (the connection is closed) and ``asyncio.CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, overload

from . import _async, _ffi
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
from .data import chat_request, embed_request, job_request, rerank_request
from .enums import JobKind, OnDrift
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
    JobRef,
    NumpyEmbedResult,
    ReadinessEvent,
    RerankResult,
    TextResult,
    Timeout,
    Workload,
    WorkloadSpec,
    _numpy,
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

    def _check_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, checked to be the one this client is bound to."""
        loop = asyncio.get_running_loop()
        bound: asyncio.AbstractEventLoop | None = getattr(self, "_loop", None)
        if bound is None:
            self._loop = loop  # type: ignore[misc]  # a slot of each async client
        elif bound is not loop or bound.is_closed():
            raise InferenceKeyError(
                "this client belongs to another event loop; create one per loop",
                code="wrong_event_loop",
            )
        return loop


class AsyncManagementClient(ManagementClientBase, _LoopBound):
    """The async twin of ``ManagementClient``: the same arguments, results and errors.

    Network methods are coroutines, and no thread is held per request in flight. Cancelling
    the awaiting task cancels the request and closes its connection. The client is bound to
    the event loop it is first used on; ``await client.aclose()`` or ``async with`` releases
    it.
    """

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
        """Makes the workload match ``spec``: creates it, leaves it as it is, or acts on drift.

        Checks the spec locally, lists the project's workloads, then sends at most one create
        or update (one more list if the create conflicts). On drift, ``on_drift`` decides: patch
        (``RECONCILE``), raise (``FAIL``), report only (``DRY_RUN``), warn with a
        ``DriftWarning`` (``WARN``) or ignore (``IGNORE``).

        Args:
            spec: The desired state of the workload.
            on_drift: What to do when the live workload differs from ``spec``.
            project: The project; default ``spec.project``, else the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The action taken, the fields that changed (or would change) and the workload.

        Raises:
            ValidationError: The spec breaks a rule (``empty_field``, ``invalid_slug``,
                ``invalid_field``, ``conflicting_field``) or the server refused it.
            DriftError: Drift under ``OnDrift.FAIL`` (``drift_detected``), or a ``task_type``
                change, which cannot be patched (``immutable_field``).
            ConfigurationError: No project (``missing_project``) or a token in the spec
                (``secret_in_spec``).
            ConflictError: A create conflicted and the slug was still not listed.
            NotFoundError: The workload was deleted while being updated.
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
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
        """Reports what ``ensure`` would do, without writing anything.

        The same as ``ensure(spec, on_drift=OnDrift.DRY_RUN)``: drift and a missing workload
        give the action ``planned`` with the changes.

        Args:
            spec: The desired state of the workload.
            project: The project; default ``spec.project``, else the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            ``unchanged``, or ``planned`` with ``planned_operation`` and the changes.

        Raises:
            ValidationError: The spec breaks a rule (``empty_field``, ``invalid_slug``, ...).
            ConfigurationError: No project (``missing_project``) or a token in the spec
                (``secret_in_spec``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
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
        """Returns the workload whose slug is exactly ``workload_slug``.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The workload as the server lists it.

        Raises:
            NotFoundError: No workload has this slug.
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
        request = with_call_options(slug_request(workload_slug, project), timeout, extra_headers)
        return Workload._from_native(await self._call("get", request))

    async def list(
        self,
        *,
        project: str | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> builtins.list[Workload]:
        """Returns every workload of the project.

        Decoding is lenient: a list element that is not an object, or has no slug, is skipped.

        Args:
            project: The project; default the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The workloads, in the order the server lists them.

        Raises:
            ConfigurationError: No project (``missing_project``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
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
        """Deletes the workload. Irreversible.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            ``True`` if it was removed; ``False`` if it did not exist, or was deleted by someone
            else meanwhile.

        Raises:
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
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
        """Opens the workload's readiness stream.

        The stream is opened here, so an unknown workload or a refused token raises at this
        call. Then ``async for event in stream`` yields every ``ReadinessEvent`` up to and
        including the terminal one (``ready`` or ``error``; an ``error`` event is yielded, not
        raised).
        Dropped connections are reopened until ``timeout``, after which iterating raises
        ``ReadinessTimeoutError``.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: The hard deadline of the whole stream in seconds, reconnects included.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The open stream; close it (or use it as a context manager) to release the connection.

        Raises:
            NotFoundError: The workload does not exist.
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``), or ``timeout`` is not a positive
                finite number (``invalid_option``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
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
        """Waits until the workload is ``ready`` and returns that event.

        Follows the readiness stream, reconnecting when it drops. ``timeout`` is a hard
        deadline for everything (connects, reads, reconnect waits and ``on_progress``): the call
        returns or raises within ``timeout`` + 1 s.

        Args:
            workload_slug: The workload's slug.
            project: The project; default the client's.
            timeout: The deadline in seconds; there is no way to wait forever.
            on_progress: Called on the event loop's thread with each event; an exception
                from it stops the wait and propagates. Without it (and without ``silent``),
                progress is written to stderr.
            silent: Write no progress to stderr.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The ``ready`` event.

        Raises:
            ReadinessError: The workload reached phase ``error`` (``workload_failed``); it
                carries ``last_event`` and the process's ``log_tail``.
            ReadinessTimeoutError: The deadline passed (also a builtin ``TimeoutError``).
            NotFoundError: The workload does not exist.
            ValidationError: The slug is not canonical (``invalid_slug``).
            ConfigurationError: No project (``missing_project``), or ``timeout`` is not a positive
                finite number (``invalid_option``).
            AuthError: The server refused the token (401).
            PermissionDenied: The token may not do this (403).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The client is closed (``client_closed``), or bound to another
                event loop (``wrong_event_loop``).
        """
        request = readiness_request(workload_slug, project, timeout, extra_headers)
        report = progress_reporter(workload_slug, on_progress, silent)
        self._check_loop()
        ready = await _async.wait_with_events(
            MANAGEMENT.fn("wait_until_ready_async"), self._ptr, request, report_decoded(report)
        )
        return ReadinessEvent._from_native(ready)

    async def aclose(self) -> None:
        """Releases the native client, as ``close()`` does."""
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
    """The async twin of ``DataClient``: the same arguments, results and errors.

    ``endpoint()`` stays synchronous and returns an ``AsyncEndpoint``. The client is bound to
    the event loop it is first used on; ``await client.aclose()`` or ``async with`` releases
    it.
    """

    __slots__ = ("_loop",)

    def endpoint(self, workload_slug: str, *, api_key: str | None = None) -> AsyncEndpoint:
        """Returns the endpoint of one workload. No request is sent.

        Args:
            workload_slug: The workload's slug.
            api_key: The workload's ``ik_live_`` key; default the client's ``api_key``.

        Returns:
            An ``AsyncEndpoint`` sharing this client's connection pool and event loop binding.

        Raises:
            ConfigurationError: No key was given here or to the client (``missing_api_key``).
            PermissionDenied: The key is an ``ik_sdk_`` token (``wrong_credential_type``).
            AuthError: The key is malformed or has no known prefix (``wrong_credential_type``).
            ValidationError: The slug is not canonical (``invalid_slug``) or not a string.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        return AsyncEndpoint(self._new_endpoint(workload_slug, api_key), self)

    async def aclose(self) -> None:
        """Releases the native client, as ``close()`` does."""
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


# Bound once: a lookup on the cffi library costs each call several plain lookups' time.
_ASYNC_OPS = {
    verb: ENDPOINT.fn(f"{verb}_async")
    for verb in ("generate_text", "generate_text_stream", "embed", "rerank", "submit_job")
}


class AsyncEndpoint(EndpointBase):
    """The async twin of ``Endpoint``: the same arguments, results and errors, as coroutines.

    Attributes:
        project_slug: The project of the workload.
        workload_slug: The workload this endpoint calls.
        base_url: The ``.../v1`` base URL of the workload, for any OpenAI-compatible client.
    """

    __slots__ = ("_client",)

    def __init__(self, handle: _ffi.Handle, client: AsyncDataClient) -> None:
        """Wraps a native endpoint; use ``AsyncDataClient.endpoint()`` rather than this.

        Args:
            handle: The native endpoint, owned from now on.
            client: The client whose event loop binding the endpoint shares.
        """
        super().__init__(handle)
        self._client = client

    def _call(
        self, verb: str, request: dict[str, Any], part: str | None = None
    ) -> Coroutine[Any, Any, tuple[Any, bytes]]:
        # Not a coroutine itself: what it returns is the one the caller awaits.
        loop = self._client._check_loop()
        return _async.call_result(_ASYNC_OPS[verb], self._ptr, request, part, loop)

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
        """Generates one chat completion (``stream: false``).

        Unset parameters are left out of the request; the arguments are checked before anything
        is sent.

        Args:
            prompt: One user message. Give either ``prompt`` or ``messages``.
            messages: Chat messages, each a mapping with a non-blank ``role`` and a ``content``
                that is a string or a list of content parts; other keys are passed through.
            temperature: Sampling temperature, a finite number.
            max_tokens: The most tokens to generate, at least 1.
            top_p: Nucleus sampling probability, a finite number.
            stop: A stop sequence or a list of them.
            seed: Sampling seed.
            extra_body: Other request keys, merged last (``model``, ``messages`` and ``stream``
                are reserved).
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The completion: ``text``, the ``model`` that served it, ``finish_reason`` and ``usage``.

        Raises:
            ValidationError: Neither or both of ``prompt`` and ``messages``, or an argument out
                of range (``invalid_argument``); or the server refused the request (400/422).
            AuthError: The server refused the key (401).
            PermissionDenied: The key may not call this workload (403).
            NotFoundError: The workload does not exist (404).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx), or a response over ``max_response_bytes``
                (``response_too_large``).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The endpoint is closed (``client_closed``), or its client
                is bound to another event loop (``wrong_event_loop``).
        """
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
        """Starts a streamed chat completion.

        The request is sent here, so an error status raises at this call; then
        ``async for chunk in stream`` yields ``TextChunk`` objects as the server sends
        them. ``timeout`` bounds the wait for the response headers and then for each event.

        Args:
            prompt: One user message. Give either ``prompt`` or ``messages``.
            messages: Chat messages, each a mapping with a non-blank ``role`` and a ``content``
                that is a string or a list of content parts; other keys are passed through.
            temperature: Sampling temperature, a finite number.
            max_tokens: The most tokens to generate, at least 1.
            top_p: Nucleus sampling probability, a finite number.
            stop: A stop sequence or a list of them.
            seed: Sampling seed.
            extra_body: Other request keys, merged last (``model``, ``messages`` and ``stream``
                are reserved).
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The open stream; close it (or use it as a context manager) to abort the connection.

        Raises:
            ValidationError: Neither or both of ``prompt`` and ``messages``, or an argument out
                of range (``invalid_argument``); or the server refused the request (400/422).
            AuthError: The server refused the key (401).
            PermissionDenied: The key may not call this workload (403).
            NotFoundError: The workload does not exist (404).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx), or a response over ``max_response_bytes``
                (``response_too_large``).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The endpoint is closed (``client_closed``), or its client
                is bound to another event loop (``wrong_event_loop``).
        """
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        with_call_options(request, timeout, extra_headers)
        self._client._check_loop()
        ptr, meta = await _async.open_stream(_ASYNC_OPS["generate_text_stream"], self._ptr, request)
        return AsyncTextStream(ptr, meta)

    @overload
    async def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        extra_headers: Mapping[str, str | None] | None = ...,
        as_numpy: Literal[False] = False,
    ) -> EmbedResult: ...

    @overload
    async def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        extra_headers: Mapping[str, str | None] | None = ...,
        as_numpy: Literal[True],
    ) -> NumpyEmbedResult: ...

    async def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        as_numpy: bool = False,
    ) -> EmbedResult | NumpyEmbedResult:
        """Embeds one string or a list of strings.

        Args:
            input: The text, or a non-empty list of texts.
            extra_body: Other request keys, merged last.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.
            as_numpy: Return the vectors as one read-only ``(inputs, dimensions)`` float64
                numpy array viewing the response's packed bytes (no copy, no Python float
                per value) in a ``NumpyEmbedResult``. numpy is an optional dependency.

        Returns:
            One vector per input, in input order: an ``EmbedResult`` of lists, or a
            ``NumpyEmbedResult`` when ``as_numpy`` is true.

        Raises:
            ValidationError: ``input`` is not a string or a non-empty list of strings
                (``invalid_argument``), or the server refused the request (400/422).
            ConfigurationError: ``as_numpy`` is true and numpy is not installed
                (``missing_dependency``); checked before the request is sent.
            AuthError: The server refused the key (401).
            PermissionDenied: The key may not call this workload (403).
            NotFoundError: The workload does not exist (404).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx), or a response over ``max_response_bytes``
                (``response_too_large``).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The endpoint is closed (``client_closed``), or its client
                is bound to another event loop (``wrong_event_loop``).
        """
        request = with_call_options(embed_request(input, extra_body), timeout, extra_headers)
        if as_numpy:
            _numpy()
            return NumpyEmbedResult._from_native(*await self._call("embed", request, "embeddings"))
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
        """Ranks ``documents`` by relevance to ``query``.

        Args:
            query: The query, not blank.
            documents: The documents to rank, a non-empty list of strings.
            top_n: How many of the best to return, at least 1; default all.
            extra_body: Other request keys, merged last.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults; a
                ``None`` value drops a default header.

        Returns:
            The ranked items, best first, each with its index in ``documents``.

        Raises:
            ValidationError: A blank ``query``, empty ``documents`` or a ``top_n`` below 1
                (``invalid_argument``), or the server refused the request (400/422).
            AuthError: The server refused the key (401).
            PermissionDenied: The key may not call this workload (403).
            NotFoundError: The workload does not exist (404).
            ApiError: Any other error answer, after retries (``RateLimitError`` for 429,
                ``InternalServerError`` for 5xx), or a response over ``max_response_bytes``
                (``response_too_large``).
            APIConnectionError: No usable response, after retries; ``APITimeoutError`` when the
                timeout ran out.
            InferenceKeyError: The endpoint is closed (``client_closed``), or its client
                is bound to another event loop (``wrong_event_loop``).
        """
        request = with_call_options(
            rerank_request(query, documents, top_n, extra_body), timeout, extra_headers
        )
        result, _ = await self._call("rerank", request)
        return RerankResult._from_native(result)

    async def submit_job(
        self,
        kind: JobKind | str,
        body: Mapping[str, Any] | bytes,
        *,
        content_type: str | None = None,
        context: Any = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> JobRef:
        """Submits a fire-and-forget job; its result is delivered to the workload's webhooks.

        Args:
            kind: What to run: a ``JobKind`` or its wire name or alias (``"chat"``,
                ``"chat_completions"``, ``"embeddings"``, ``"rerank"``, …).
            body: The route's JSON request (``{"messages": [...]}`` for chat; ``model``
                defaults to the workload's slug), or ``bytes`` for a non-JSON body (multipart
                audio, images) with ``content_type``. Chat takes JSON only.
            content_type: The media type of a ``bytes`` body.
            context: Any JSON value, echoed back in the job's webhook deliveries.
            timeout: Seconds per attempt, or a ``Timeout``, for this call only.
            extra_headers: Headers for this call only, merged over the client's defaults.

        Returns:
            The job's reference (``job_id``), to match its deliveries.

        Raises:
            ValidationError: An unknown kind, a missing or doubled body, bytes without a
                content type or for chat (``invalid_argument``), or the server refused the
                job (400).
            AuthError: The server refused the key (401).
            PermissionDenied: The key may not call this workload (403).
            NotFoundError: The workload does not exist (404).
            ApiError: Any other error answer (``code`` ``http_501`` for a kind this platform
                does not run), after retries.
            APIConnectionError: No usable response; a submission is retried only when it
                cannot have reached the server, so it never runs twice.
            InferenceKeyError: The endpoint is closed (``client_closed``), or its client
                is bound to another event loop (``wrong_event_loop``).
        """
        request = with_call_options(
            job_request(kind, body, content_type, context), timeout, extra_headers
        )
        result, _ = await self._call("submit_job", request)
        return JobRef._from_native(result)

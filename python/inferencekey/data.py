"""The data plane: ``DataClient`` hands out per-workload ``Endpoint`` objects, each
calling its workload with its own ``ik_live_`` key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from . import _ffi
from ._client import ENDPOINT, DataClientBase, EndpointBase, with_call_options
from .errors import ValidationError

# The results' pydantic models and the streams are imported on first use, not here: creating
# a client needs neither (see ``inferencekey.__getattr__``).
if TYPE_CHECKING:
    from ._streams import TextStream
    from .enums import JobKind
    from .types import EmbedResult, JobRef, NumpyEmbedResult, RerankResult, TextResult, Timeout

__all__ = ["DataClient", "Endpoint", "TextStream"]


def __getattr__(name: str) -> Any:
    if name == "TextStream":
        from ._streams import TextStream

        return TextStream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Bound once for the per-call paths: each lookup on the cffi library costs a plain lookup's
# time several times over, and one on a pydantic model class goes through its metaclass's
# `__getattr__` hook, about ten times.
_call_op = _ffi.call_op
_pair = _ffi.pair
_encode = _ffi.encode
_NULL = _ffi.NULL
_generate_text = ENDPOINT.fn("generate_text")
_embed = ENDPOINT.fn("embed")
_rerank = ENDPOINT.fn("rerank")
_submit_job = ENDPOINT.fn("submit_job")
_generate_text_stream = ENDPOINT.fn("generate_text_stream")


def _bind_results() -> None:
    """Imports the result models and binds their decoders over the stand-ins below; once
    done, a call looks up a bound decoder exactly as if it had been bound at import."""
    global _text_result, _embed_result, _rerank_result
    from .types import EmbedResult, RerankResult, TextResult

    _text_result = TextResult._from_native
    _embed_result = EmbedResult._from_native
    _rerank_result = RerankResult._from_native


def _binds_on_first_call(name: str) -> Callable[..., Any]:
    """The stand-in for the module global `name` until the first call binds the decoders."""

    def stand_in(*args: Any) -> Any:
        _bind_results()
        return globals()[name](*args)

    return stand_in


_text_result: Callable[[dict[str, Any], bytes], TextResult] = _binds_on_first_call("_text_result")
_embed_result: Callable[[dict[str, Any], bytes], EmbedResult] = _binds_on_first_call(
    "_embed_result"
)
_rerank_result: Callable[[dict[str, Any]], RerankResult] = _binds_on_first_call("_rerank_result")


class DataClient(DataClientBase):
    """The data plane: calls the workloads of one project, each with its own ``ik_live_`` key.

    ``endpoint()`` hands out cheap ``Endpoint`` objects that share this client's connection
    pool. Thread-safe; share one client per process. ``close()`` (or leaving a ``with``
    block) releases it.
    """

    __slots__ = ()

    def endpoint(self, workload_slug: str, *, api_key: str | None = None) -> Endpoint:
        """Returns the endpoint of one workload. No request is sent.

        Args:
            workload_slug: The workload's slug.
            api_key: The workload's ``ik_live_`` key; default the client's ``api_key``.

        Returns:
            An ``Endpoint`` sharing this client's connection pool.

        Raises:
            ConfigurationError: No key was given here or to the client (``missing_api_key``).
            PermissionDenied: The key is an ``ik_sdk_`` token (``wrong_credential_type``).
            AuthError: The key is malformed or has no known prefix (``wrong_credential_type``).
            ValidationError: The slug is not canonical (``invalid_slug``) or not a string.
            InferenceKeyError: The client is closed (``client_closed``).
        """
        return Endpoint(self._new_endpoint(workload_slug, api_key))

    def __enter__(self) -> DataClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Endpoint(EndpointBase):
    """One workload's OpenAI-compatible endpoint. Thread-safe and cheap; made by
    ``DataClient.endpoint()``.

    Attributes:
        project_slug: The project of the workload.
        workload_slug: The workload this endpoint calls.
        base_url: The ``.../v1`` base URL of the workload, for any OpenAI-compatible client.
    """

    __slots__ = ()

    def _call(self, fn: Any, request: dict[str, Any], part: str | None = None) -> tuple[Any, bytes]:
        """The decoded result JSON and its binary parts."""
        body = _encode(request)
        return _call_op(fn, part, self._handle.open_ptr("endpoint"), body, _pair)

    def generate_text(
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
            InferenceKeyError: The endpoint is closed (``client_closed``).
        """
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        if timeout is not None or extra_headers is not None:
            with_call_options(request, timeout, extra_headers)
        # The per-call path, spelled out: each Python call level costs as much as a syscall.
        body = _encode(request)
        ptr = self._handle.open_ptr("endpoint")
        return _call_op(_generate_text, "raw_part", ptr, body, _text_result)

    def generate_text_stream(
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
    ) -> TextStream:
        """Starts a streamed chat completion.

        The request is sent here, so an error status raises at this call; then
        ``for chunk in stream`` yields ``TextChunk`` objects as the server sends
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
            InferenceKeyError: The endpoint is closed (``client_closed``).
        """
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        with_call_options(request, timeout, extra_headers)
        body = _ffi.encode(request)
        from ._streams import TextStream, open_stream

        return TextStream(open_stream(_generate_text_stream, self._ptr, body, len(body)))

    @overload
    def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        extra_headers: Mapping[str, str | None] | None = ...,
        as_numpy: Literal[False] = False,
    ) -> EmbedResult: ...

    @overload
    def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        extra_headers: Mapping[str, str | None] | None = ...,
        as_numpy: Literal[True],
    ) -> NumpyEmbedResult: ...

    def embed(
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
            InferenceKeyError: The endpoint is closed (``client_closed``).
        """
        request = with_call_options(embed_request(input, extra_body), timeout, extra_headers)
        if as_numpy:
            from .types import NumpyEmbedResult, _numpy

            _numpy()
            return NumpyEmbedResult._from_native(*self._call(_embed, request, "embeddings"))
        return _embed_result(*self._call(_embed, request, "embeddings"))

    def rerank(
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
            InferenceKeyError: The endpoint is closed (``client_closed``).
        """
        request = with_call_options(
            rerank_request(query, documents, top_n, extra_body), timeout, extra_headers
        )
        return _rerank_result(self._call(_rerank, request)[0])

    def submit_job(
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
            context: Any JSON value, echoed back in the job's webhook deliveries (e.g. your
                own order id).
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
            InferenceKeyError: The endpoint is closed (``client_closed``).
        """
        request = with_call_options(
            job_request(kind, body, content_type, context), timeout, extra_headers
        )
        from .types import JobRef

        return JobRef._from_native(self._call(_submit_job, request)[0])


def chat_request(
    prompt: object,
    messages: object,
    temperature: object,
    max_tokens: object,
    top_p: object,
    stop: object,
    seed: object,
    extra_body: object,
) -> dict[str, Any]:
    """The request JSON of ``generate_text``/``generate_text_stream``; only set keys are sent.

    Values are checked by the core (sdk §5); here only the containers.

    Args:
        prompt: The ``prompt=`` argument.
        messages: The ``messages=`` argument.
        temperature: The ``temperature=`` argument.
        max_tokens: The ``max_tokens=`` argument.
        top_p: The ``top_p=`` argument.
        stop: The ``stop=`` argument.
        seed: The ``seed=`` argument.
        extra_body: The ``extra_body=`` argument.

    Returns:
        The request.

    Raises:
        ValidationError: ``messages``, ``stop`` or ``extra_body`` is not a container of the
            right kind (``invalid_argument``).
    """
    request: dict[str, Any] = {}
    if prompt is not None:
        request["prompt"] = prompt
    if messages is not None:
        if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
            raise ValidationError(
                "messages must be a list of mappings", code="invalid_argument", field="messages"
            )
        request["messages"] = [dict(m) if isinstance(m, Mapping) else m for m in messages]
    if temperature is not None:
        request["temperature"] = temperature
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    if top_p is not None:
        request["top_p"] = top_p
    if stop is not None:
        request["stop"] = stop if isinstance(stop, str) else _str_list("stop", stop)
    if seed is not None:
        request["seed"] = seed
    if extra_body is not None:
        request["extra_body"] = _mapping("extra_body", extra_body)
    return request


def embed_request(input: object, extra_body: object) -> dict[str, Any]:
    """The request JSON of ``embed``.

    Args:
        input: The ``input=`` argument.
        extra_body: The ``extra_body=`` argument.

    Returns:
        The request.

    Raises:
        ValidationError: ``input`` is neither a string nor a list, or ``extra_body`` is not a
            mapping (``invalid_argument``).
    """
    request: dict[str, Any] = {
        "input": input if isinstance(input, str) else _str_list("input", input)
    }
    if extra_body is not None:
        request["extra_body"] = _mapping("extra_body", extra_body)
    return request


def rerank_request(
    query: object, documents: object, top_n: object, extra_body: object
) -> dict[str, Any]:
    """The request JSON of ``rerank``.

    Args:
        query: The ``query=`` argument.
        documents: The ``documents=`` argument.
        top_n: The ``top_n=`` argument.
        extra_body: The ``extra_body=`` argument.

    Returns:
        The request.

    Raises:
        ValidationError: ``documents`` is not a list, or ``extra_body`` is not a mapping
            (``invalid_argument``).
    """
    request: dict[str, Any] = {"query": query, "documents": _str_list("documents", documents)}
    if top_n is not None:
        request["top_n"] = top_n
    if extra_body is not None:
        request["extra_body"] = _mapping("extra_body", extra_body)
    return request


def job_request(
    kind: object, body: object, content_type: object, context: object
) -> dict[str, Any]:
    """The request JSON of ``submit_job``: a JSON body as is, bytes as base64.

    Args:
        kind: The ``kind`` argument.
        body: The ``body`` argument.
        content_type: The ``content_type=`` argument.
        context: The ``context=`` argument.

    Returns:
        The request; the core checks the rules (sdk §jobs).

    Raises:
        ValidationError: ``body`` is neither a mapping nor bytes (``invalid_argument``).
    """
    request: dict[str, Any] = {"kind": str(kind) if isinstance(kind, str) else kind}
    if isinstance(body, (bytes, bytearray, memoryview)):
        import base64

        request["body_b64"] = base64.b64encode(body).decode("ascii")
    elif isinstance(body, Mapping):
        request["body"] = dict(body)
    else:
        raise ValidationError(
            f"body must be a mapping (JSON) or bytes, not {type(body).__name__}",
            code="invalid_argument",
            field="body",
        )
    if content_type is not None:
        request["content_type"] = content_type
    if context is not None:
        request["context"] = context
    return request


def _str_list(name: str, value: object) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValidationError(
            f"{name} must be a list of strings", code="invalid_argument", field=name
        )
    return list(value)


def _mapping(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be a mapping", code="invalid_argument", field=name)
    return dict(value)

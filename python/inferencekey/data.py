"""The data plane: :class:`DataClient` hands out per-workload :class:`Endpoint`\\ s, each
calling its workload with its own ``ik_live_`` key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _ffi
from ._client import ENDPOINT, DataClientBase, EndpointBase, with_call_options
from ._streams import TextStream, open_stream
from .errors import ValidationError
from .types import EmbedResult, RerankResult, TextResult, Timeout

__all__ = ["DataClient", "Endpoint", "TextStream"]

# Bound once for the per-call paths: each lookup on the cffi library costs a plain lookup's
# time several times over, and one on a pydantic model class goes through its metaclass's
# `__getattr__` hook, about ten times.
_call_op = _ffi.call_op
_encode = _ffi.encode
_NULL = _ffi.NULL
_generate_text = ENDPOINT.fn("generate_text")
_embed = ENDPOINT.fn("embed")
_rerank = ENDPOINT.fn("rerank")
_text_result = TextResult._from_native
_embed_result = EmbedResult._from_native
_rerank_result = RerankResult._from_native


class DataClient(DataClientBase):
    """A data-plane client for one project. Cheap endpoints share its connection pool."""

    __slots__ = ()

    def endpoint(self, workload_slug: str, *, api_key: str | None = None) -> Endpoint:
        """The endpoint of one workload. No network; the slug and key are checked here."""
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
    """One workload's OpenAI-compatible endpoint. Thread-safe; cheap to create."""

    __slots__ = ()

    def _call(self, fn: Any, request: dict[str, Any], part: str | None = None) -> tuple[Any, bytes]:
        """The decoded result JSON and its binary parts."""
        body = _encode(request)
        return _call_op(fn, part, self._handle.open_ptr("endpoint"), body)

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
        """One chat completion (``stream: false``). ``timeout`` (per attempt) and
        ``extra_headers`` apply to this call only."""
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        if timeout is not None or extra_headers is not None:
            with_call_options(request, timeout, extra_headers)
        # The per-call path, spelled out: each Python call level costs as much as a syscall.
        body = _encode(request)
        ptr = self._handle.open_ptr("endpoint")
        return _text_result(*_call_op(_generate_text, "raw_part", ptr, body))

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
        """A streamed chat completion. Status errors raise here; iterate for chunks.
        ``timeout`` bounds the wait for the headers and then for each event."""
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        with_call_options(request, timeout, extra_headers)
        body = _ffi.encode(request)
        return TextStream(
            open_stream(ENDPOINT.fn("generate_text_stream"), self._ptr, body, len(body))
        )

    def embed(
        self,
        *,
        input: str | Sequence[str],
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
    ) -> EmbedResult:
        """Embeddings of one string or a list of strings, in input order."""
        request = with_call_options(embed_request(input, extra_body), timeout, extra_headers)
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
        """Documents ranked by relevance to ``query``, best first."""
        request = with_call_options(
            rerank_request(query, documents, top_n, extra_body), timeout, extra_headers
        )
        return _rerank_result(self._call(_rerank, request)[0])


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
    """Only set keys are sent; values are checked by the core (sdk §5)."""
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
    request: dict[str, Any] = {
        "input": input if isinstance(input, str) else _str_list("input", input)
    }
    if extra_body is not None:
        request["extra_body"] = _mapping("extra_body", extra_body)
    return request


def rerank_request(
    query: object, documents: object, top_n: object, extra_body: object
) -> dict[str, Any]:
    request: dict[str, Any] = {"query": query, "documents": _str_list("documents", documents)}
    if top_n is not None:
        request["top_n"] = top_n
    if extra_body is not None:
        request["extra_body"] = _mapping("extra_body", extra_body)
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

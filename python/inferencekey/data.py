"""The data plane: :class:`DataClient` hands out per-workload :class:`Endpoint`\\ s, each
calling its workload with its own ``ik_live_`` key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _ffi, _logging
from ._client import DATA, NativeClient, describe, native_config, opt_str, slug_arg
from ._ffi import NULL, lib
from ._streams import TextStream, open_stream
from .errors import ValidationError
from .types import EmbedResult, RerankResult, TextResult, Timeout

_unpack = _ffi.ffi.unpack
_sync_log_level = _logging.sync_native_level
_out_params = _ffi.out_params
_split_result = _ffi.split_result
# Bound once for the per-call paths: each lookup on the cffi library costs a plain lookup's
# time several times over, and one on a pydantic model class goes through its metaclass's
# `__getattr__` hook, about ten times.
_free = lib.ik_string_free
_generate_text = lib.ik_endpoint_generate_text
_embed = lib.ik_endpoint_embed
_rerank = lib.ik_endpoint_rerank
_text_result = TextResult._from_native
_embed_result = EmbedResult._from_native
_rerank_result = RerankResult._from_native


class DataClient(NativeClient):
    """A data-plane client for one project. Cheap endpoints share its connection pool."""

    __slots__ = ()
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
    ) -> DataClient:
        """Explicit arguments win over ``INFERENCEKEY_*`` variables, which win over defaults."""
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
    ) -> DataClient:
        """A client with other timeouts, retries or memory caps, sharing the connection pool."""
        return self._clone_with_options(timeout, max_retries, max_response_bytes, max_event_bytes)

    def endpoint(self, workload_slug: str, *, api_key: str | None = None) -> Endpoint:
        """The endpoint of one workload. No network; the slug and key are checked here."""
        body = _ffi.encode(
            {"workload_slug": slug_arg(workload_slug), "api_key": opt_str("api_key", api_key)}
        )
        ptr = _ffi.call_into(lib.ik_endpoint_new, "ik_endpoint", self._ptr, body, len(body))
        return Endpoint(_ffi.Handle(ptr, lib.ik_endpoint_free))

    def __repr__(self) -> str:
        d = self._description
        return f"DataClient(base_url={d.get('base_url')!r}, project={d.get('project')!r})"

    def __enter__(self) -> DataClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Endpoint:
    """One workload's OpenAI-compatible endpoint. Thread-safe; cheap to create."""

    __slots__ = ("_handle", "_key", "base_url", "project_slug", "workload_slug")

    def __init__(self, handle: _ffi.Handle) -> None:
        self._handle = handle
        info = describe(lib.ik_endpoint_describe, handle.ptr)
        self.project_slug: str = info["project_slug"]
        self.workload_slug: str = info["workload_slug"]
        #: The ``…/v1`` base, for any OpenAI-compatible client.
        self.base_url: str = info["base_url"]
        self._key: str = info["api_key"]

    @property
    def _ptr(self) -> Any:
        return self._handle.open_ptr("endpoint")

    def _call(self, fn: Any, request: dict[str, Any]) -> tuple[Any, bytes]:
        """The decoded result JSON and its binary parts."""
        _sync_log_level()
        body = _ffi.encode(request)
        out, out_len, err = _out_params()
        status = fn(self._handle.open_ptr("endpoint"), body, len(body), NULL, out, out_len, err)
        if status:
            _ffi.raise_error(status, err[0])
        ptr = out[0]
        try:
            return _split_result(_unpack(ptr, out_len[0]))
        finally:
            _free(ptr)

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
    ) -> TextResult:
        """One chat completion (``stream: false``)."""
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        return _text_result(*self._call(_generate_text, request))

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
    ) -> TextStream:
        """A streamed chat completion. Status errors raise here; iterate for chunks."""
        request = chat_request(
            prompt, messages, temperature, max_tokens, top_p, stop, seed, extra_body
        )
        body = _ffi.encode(request)
        return TextStream(
            open_stream(lib.ik_endpoint_generate_text_stream, self._ptr, body, len(body))
        )

    def embed(
        self, *, input: str | Sequence[str], extra_body: Mapping[str, Any] | None = None
    ) -> EmbedResult:
        """Embeddings of one string or a list of strings, in input order."""
        request = embed_request(input, extra_body)
        return _embed_result(*self._call(_embed, request))

    def rerank(
        self,
        *,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> RerankResult:
        """Documents ranked by relevance to ``query``, best first."""
        request = rerank_request(query, documents, top_n, extra_body)
        return _rerank_result(self._call(_rerank, request)[0])

    def close(self) -> None:
        """Releases the native endpoint (and its key) now rather than at garbage collection."""
        self._handle.close()

    def __repr__(self) -> str:
        return (
            f"Endpoint(project_slug={self.project_slug!r}, workload_slug={self.workload_slug!r}, "
            f"api_key={self._key!r})"
        )


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

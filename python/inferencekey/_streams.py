"""Iterators over native streams, sync and async: chat chunks and readiness events. One
consumer each; closing aborts the connection. Both share ``StreamCore`` (the handle,
the metadata, the end and close logic); only how the next item is awaited differs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _ffi
from ._client import STREAM
from .errors import InferenceKeyError
from .types import ReadinessEvent, TextChunk, Usage, _usage

__all__ = [
    "AsyncReadinessStream",
    "AsyncTextStream",
    "ReadinessStream",
    "StreamCore",
    "TextStream",
    "open_stream",
]

T = TypeVar("T")

_next = STREAM.fn("next")
_next_async = STREAM.fn("next_async")
_metadata = STREAM.fn("metadata")
_close = STREAM.fn("close")
_free_stream = STREAM.fn("free")
_NULL = _ffi.NULL
_unpack = _ffi._unpack
_free = _ffi._free


class StreamCore(Generic[T]):
    """An ``ik_stream`` whose items are decoded by ``decode`` (from an item's JSON and its
    binary part, if it names one under ``raw_part``); ``meta`` is its metadata, read from
    the stream when first needed if not given."""

    __slots__ = ("_decode", "_done", "_handle", "_meta", "_pid")

    def __init__(
        self, ptr: Any, decode: Callable[[dict[str, Any], bytes], T], meta: Any = None
    ) -> None:
        self._handle = _ffi.Handle(ptr, _free_stream)
        self._decode = decode
        self._done = False
        self._pid = os.getpid()
        self._meta: dict[str, Any] | None = meta if isinstance(meta, dict) else None

    def _read_metadata(self) -> dict[str, Any]:
        meta = _ffi.call(_metadata, self._handle.ptr)
        return meta if isinstance(meta, dict) else {}

    def _metadata(self) -> dict[str, Any]:
        """The metadata: as last read, or read now (once open, the request id is known)."""
        if self._meta is None:
            self._meta = {} if self._handle.closed else self._read_metadata()
        return self._meta

    def _ptr_for_next(self) -> Any:
        """The handle to read from, or ``None`` when the stream has ended or was closed."""
        if self._done or self._handle.closed:
            return None
        if os.getpid() != self._pid:
            raise InferenceKeyError("this stream was opened before fork()", code="forked")
        return self._handle.ptr

    def _finish(self) -> None:
        if not self._done and not self._handle.closed:
            self._meta = self._read_metadata()
        self._done = True

    def _item(self, item: Any, part: bytes = b"") -> T | None:
        """The decoded item, or ``None`` at the end (which finishes the stream)."""
        if item is None:
            self._finish()
            return None
        return self._decode(item, part)

    def close(self) -> None:
        """Aborts the connection (if still open) and frees the stream. Idempotent."""
        if not self._handle.closed:
            if not self._done:
                _close(self._handle.ptr)
                self._metadata()
            self._done = True
            self._handle.close()

    @property
    def request_id(self) -> str | None:
        """The request id of the exchange, once known (set when the stream opens)."""
        value = self._metadata().get("request_id")
        return value if isinstance(value, str) else None


class _SyncStream(StreamCore[T]):
    """A stream read with ``for`` and closed by ``with``. Each ``next`` is one native call,
    on this thread: the stream's fork check and the log level were settled when it opened
    (the core refuses a stream used in a forked child, with the same ``forked`` code)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        handle = self._handle
        if self._done or handle.closed:
            raise StopIteration
        out, out_len, err = _ffi.out_params()
        try:
            status = _next(handle.ptr, out, out_len, err)
            if status:
                _ffi.raise_error(status, err[0])
            ptr = out[0]
            if ptr == _NULL:
                self._finish()
                raise StopIteration
            # `take_result`, inlined for the one part an item may name (`raw_part`).
            length = out_len[0]
            try:
                # Looked up per item: bound here at import, it would stay the stand-in that
                # binds pydantic-core's reader on first use (`_ffi._bind_json`), a detour on
                # every chunk.
                data = _ffi._loads(_unpack(ptr, length), cache_strings="keys")
                ref = data.get("raw_part")
                if ref.__class__ is dict:
                    offset = ref["offset"]
                    if offset.__class__ is not int or offset <= length:
                        raise InferenceKeyError("a malformed binary part", code="internal")
                    part = _unpack(ptr + offset, ref["length"])
                else:
                    part = b""
            finally:
                _free(ptr)
            return self._decode(data, part)
        except StopIteration:
            raise
        except BaseException:
            self._finish()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _AsyncStream(StreamCore[T]):
    """A stream read with ``async for`` and closed by ``async with``."""

    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        from ._async import native

        ptr = self._ptr_for_next()
        if ptr is None:
            raise StopAsyncIteration
        try:
            raw = await native(_next_async, ptr, part="raw_part")
            item = self._item(None, b"") if raw is None else self._item(raw[0], raw[1])
        except BaseException:
            self._finish()
            raise
        if item is None:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        """Aborts the connection (if still open) and frees the stream. Idempotent."""
        self.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _TextMeta:
    """What text streams add: ``usage`` and their ``repr``."""

    __slots__ = ()
    _done: bool

    if TYPE_CHECKING:

        def _metadata(self) -> dict[str, Any]: ...

    @property
    def usage(self) -> Usage | None:
        """Token usage, once the server has sent it (normally after the last chunk)."""
        return _usage(self._metadata().get("usage"))

    def __repr__(self) -> str:
        request_id = self._metadata().get("request_id")
        return f"{type(self).__name__}(request_id={request_id!r}, done={self._done})"


class TextStream(_TextMeta, _SyncStream[TextChunk]):
    """Chunks of a streamed chat completion, from ``Endpoint.generate_text_stream()``.

    One consumer; not thread-safe. ``close()``, leaving a ``with`` block or garbage
    collection aborts the connection, after which iteration ends. ``request_id`` is known
    from the start, ``usage`` once the server sent it (normally with the last chunk).

    Yields:
        (TextChunk): One chunk per server event that has ``choices``; the last one has a
            ``finish_reason``.

    Raises:
        ApiError: The server sent an ``error`` event (``status_code`` is ``None``, ``code``
            is the event's), or an event over ``max_event_bytes`` (``event_too_large``).
        APIConnectionError: The stream ended without ``[DONE]`` and without a
            ``finish_reason`` (``stream_truncated``); ``APITimeoutError`` when no event came
            within the timeout.
        InferenceKeyError: The stream was opened before ``fork()`` (``forked``).
    """

    __slots__ = ()

    def __init__(self, ptr: Any, meta: Any = None) -> None:
        """Wraps an open native stream (see ``Endpoint.generate_text_stream()``).

        Args:
            ptr: The native ``ik_stream``, owned from now on.
            meta: The stream's metadata if already known; else it is read from the stream.
        """
        super().__init__(ptr, TextChunk._from_native, meta)

    def __enter__(self) -> TextStream:
        return self


class ReadinessStream(_SyncStream[ReadinessEvent]):
    """Readiness events of one workload, from ``ManagementClient.readiness_events()``.

    Ends after the terminal event (``ready`` or ``error``), which is yielded too; an
    ``error`` phase is yielded, not raised. Dropped connections are reopened until the
    deadline. One consumer; ``close()`` or leaving a ``with`` block releases the connection.

    Yields:
        (ReadinessEvent): Each event, the terminal one included.

    Raises:
        ReadinessTimeoutError: The deadline given to ``readiness_events()`` passed.
        InferenceKeyError: The stream was opened before ``fork()`` (``forked``).
    """

    __slots__ = ()

    def __init__(self, ptr: Any, meta: Any = None) -> None:
        """Wraps an open native stream (see ``ManagementClient.readiness_events()``).

        Args:
            ptr: The native ``ik_stream``, owned from now on.
            meta: The stream's metadata if already known; else it is read from the stream.
        """
        super().__init__(ptr, ReadinessEvent._from_native, meta)

    def __enter__(self) -> ReadinessStream:
        return self

    def __repr__(self) -> str:
        return f"ReadinessStream(done={self._done})"


class AsyncTextStream(_TextMeta, _AsyncStream[TextChunk]):
    """The async twin of ``TextStream``, from ``AsyncEndpoint.generate_text_stream()``.

    Read it with ``async for``; ``await stream.aclose()`` or leaving an ``async with`` block
    aborts the connection.

    Yields:
        (TextChunk): One chunk per server event that has ``choices``; the last one has a
            ``finish_reason``.

    Raises:
        ApiError: The server sent an ``error`` event (``status_code`` is ``None``, ``code``
            is the event's), or an event over ``max_event_bytes`` (``event_too_large``).
        APIConnectionError: The stream ended without ``[DONE]`` and without a
            ``finish_reason`` (``stream_truncated``); ``APITimeoutError`` when no event came
            within the timeout.
        InferenceKeyError: The stream was opened before ``fork()`` (``forked``).
    """

    __slots__ = ()

    def __init__(self, ptr: Any, meta: Any = None) -> None:
        """Wraps an open native stream (see ``AsyncEndpoint.generate_text_stream()``).

        Args:
            ptr: The native ``ik_stream``, owned from now on.
            meta: The stream's metadata if already known; else it is read from the stream.
        """
        super().__init__(ptr, TextChunk._from_native, meta)

    async def __aenter__(self) -> AsyncTextStream:
        return self


class AsyncReadinessStream(_AsyncStream[ReadinessEvent]):
    """The async twin of ``ReadinessStream``, from ``AsyncManagementClient.readiness_events()``.

    Read it with ``async for``; ``await stream.aclose()`` or leaving an ``async with`` block
    releases the connection.

    Yields:
        (ReadinessEvent): Each event, the terminal one included.

    Raises:
        ReadinessTimeoutError: The deadline given to ``readiness_events()`` passed.
        InferenceKeyError: The stream was opened before ``fork()`` (``forked``).
    """

    __slots__ = ()

    def __init__(self, ptr: Any, meta: Any = None) -> None:
        """Wraps an open native stream (see ``AsyncManagementClient.readiness_events()``).

        Args:
            ptr: The native ``ik_stream``, owned from now on.
            meta: The stream's metadata if already known; else it is read from the stream.
        """
        super().__init__(ptr, ReadinessEvent._from_native, meta)

    async def __aenter__(self) -> AsyncReadinessStream:
        return self

    def __repr__(self) -> str:
        return f"AsyncReadinessStream(done={self._done})"


def open_stream(fn: Callable[..., int], *args: Any) -> Any:
    """Opens a native stream (blocking).

    Args:
        fn: The native opening function.
        *args: Its arguments, less the trailing error out-pointer.

    Returns:
        The ``ik_stream *``.
    """
    return _ffi.call_into(fn, "ik_stream", *args, _ffi.NULL)

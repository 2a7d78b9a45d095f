"""Iterators over native streams: chat chunks (:class:`TextStream`) and readiness events
(:class:`ReadinessStream`). One consumer each; closing aborts the connection."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import _ffi
from ._ffi import ffi, lib
from .errors import InferenceKeyError
from .types import ReadinessEvent, TextChunk, Usage, _usage

T = TypeVar("T")


class _NativeStream(Generic[T]):
    """A pull iterator over an ``ik_stream``; items are decoded by ``decode``."""

    __slots__ = ("_decode", "_done", "_handle", "_meta", "_pid")

    def __init__(self, ptr: Any, decode: Callable[[dict[str, Any]], T]) -> None:
        self._handle = _ffi.Handle(ptr, lib.ik_stream_free)
        self._decode = decode
        self._done = False
        self._pid = os.getpid()
        self._meta: dict[str, Any] = self._metadata()

    def _metadata(self) -> dict[str, Any]:
        meta = _ffi.call(lib.ik_stream_metadata, self._handle.ptr)
        return meta if isinstance(meta, dict) else {}

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done or self._handle.closed:
            raise StopIteration
        if os.getpid() != self._pid:
            raise InferenceKeyError("this stream was opened before fork()", code="forked")
        try:
            item = _ffi.call(lib.ik_stream_next, self._handle.ptr)
        except BaseException:
            self._finish()
            raise
        if item is None:
            self._finish()
            raise StopIteration
        return self._decode(item)

    def _finish(self) -> None:
        if not self._done and not self._handle.closed:
            self._meta = self._metadata()
        self._done = True

    def close(self) -> None:
        """Aborts the connection (if still open) and frees the stream. Idempotent."""
        if not self._handle.closed:
            if not self._done:
                lib.ik_stream_close(self._handle.ptr)
            self._done = True
            self._handle.close()

    def __enter__(self) -> _NativeStream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TextStream(_NativeStream[TextChunk]):
    """Chunks of a streamed chat completion, as they arrive."""

    __slots__ = ()

    def __init__(self, ptr: Any) -> None:
        super().__init__(ptr, TextChunk._from_native)

    def __enter__(self) -> TextStream:
        return self

    @property
    def request_id(self) -> str | None:
        value = self._meta.get("request_id")
        return value if isinstance(value, str) else None

    @property
    def usage(self) -> Usage | None:
        """Token usage, once the server has sent it (normally after the last chunk)."""
        return _usage(self._meta.get("usage"))

    def __repr__(self) -> str:
        return f"TextStream(request_id={self.request_id!r}, done={self._done})"


class ReadinessStream(_NativeStream[ReadinessEvent]):
    """Readiness events of one workload; ends after the terminal (``ready``/``error``) one."""

    __slots__ = ()

    def __init__(self, ptr: Any) -> None:
        super().__init__(ptr, ReadinessEvent._from_native)

    def __enter__(self) -> ReadinessStream:
        return self

    def __repr__(self) -> str:
        return f"ReadinessStream(done={self._done})"


def open_stream(fn: Callable[..., int], *args: Any) -> Any:
    """Opens a native stream (blocking) and returns the ``ik_stream *``."""
    return _ffi.call_into(fn, "ik_stream", *args, ffi.NULL)

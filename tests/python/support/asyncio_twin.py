"""Async twins of the sync integration tests: the async clients behind the sync interface.

Every integration test written against ``ManagementClient`` / ``DataClient`` / ``Endpoint`` and
their streams runs twice, ``[sync]`` and ``[async]``, without a second copy of its body: in the
``async`` run the client fixtures (``mgmt``, ``data``, ``tapped``, ``make_mgmt``,
``make_data``; ``integration/conftest.py``) hand out *twins* -- a real
``AsyncManagementClient`` / ``AsyncDataClient`` wrapped so that it has the sync interface. Same
test body, same assertions: sdk §6 promises the async clients the sync clients' methods,
arguments, results and errors.

How a twin runs a call. Each :class:`Clients` (one per test) owns one event loop on its own
thread, a :class:`Driver`. A twin method submits ``await <async method>(*args, **kwargs)`` to
that loop and blocks the calling thread until it is done:

- results and exceptions come back unchanged (the very objects the coroutine produced);
- the async clients of a test are bound to that one loop (sdk §6), whichever thread calls;
- calls made from several threads at once (the tests of concurrent use, the proxy's ``hold``
  hooks) become concurrent tasks on the loop -- which also checks that an async client never
  blocks its loop: if it did, those tests would hang;
- streams become sync iterators and context managers that drive ``__anext__`` / ``aclose`` /
  ``__aenter__`` / ``__aexit__`` on the same loop;
- ``endpoint()`` and ``with_options()`` stay synchronous (as in the async API) and return twins;
  a client's ``close()`` / ``with`` map to ``aclose()`` / ``async with``.

A ``DriftWarning`` points at the line that called (awaited) ``ensure()``: for a twin that is
the ``await`` in this module, :data:`AWAIT_SITE` (see :func:`warned_at_caller`).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import warnings
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from inferencekey import (
    AsyncDataClient,
    AsyncEndpoint,
    AsyncManagementClient,
    AsyncReadinessStream,
    AsyncTextStream,
    DataClient,
    Endpoint,
    ManagementClient,
    ReadinessStream,
    TextStream,
)

__all__ = [
    "AWAIT_SITE",
    "FLAVOURS",
    "Clients",
    "Driver",
    "Maker",
    "flavour_of",
    "is_instance",
    "warned_at_caller",
]

T = TypeVar("T")
C = TypeVar("C")

#: The two ways every twinned test runs (the ids of its ``[sync]`` / ``[async]`` runs).
FLAVOURS = ("sync", "async")

#: The sync class each async class stands in for.
ASYNC_OF: dict[type, type] = {
    ManagementClient: AsyncManagementClient,
    DataClient: AsyncDataClient,
    Endpoint: AsyncEndpoint,
    TextStream: AsyncTextStream,
    ReadinessStream: AsyncReadinessStream,
}


async def _await(method: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
    return await method(*args, **kwargs)


#: ``(filename, lineno)`` of the ``await`` through which a twin calls an async method: the
#: caller a warning raised with the SDK's ``stacklevel`` must point at.
AWAIT_SITE = (__file__, max(line for *_, line in _await.__code__.co_lines() if line))


class Driver:
    """One event loop running on its own (daemon) thread; runs coroutines for any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="asyncio-twin-loop", daemon=True
        )
        self._thread.start()

    def run(self, method: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """``await method(*args, **kwargs)`` on the loop; blocks until it is done and returns
        its result or raises its exception (the same object)."""
        if threading.current_thread() is self._thread:
            # e.g. a twin used inside an ``on_progress`` callback (which runs on the loop):
            # waiting here for the loop would wait forever.
            raise RuntimeError("a twin was called from its own event loop thread")
        future = asyncio.run_coroutine_threadsafe(_await(method, args, kwargs), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # interrupted (KeyboardInterrupt, a test timeout): stop the task
            raise

    def close(self) -> None:
        """Cancels what is still running on the loop, stops it and closes it. Idempotent."""
        if self.loop.is_closed():
            return
        if self.loop.is_running():

            async def cancel_all() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=10)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


# --------------------------------------------------------------------------------------------
# Twins


class _Twin:
    """Forwards attribute reads to the async object; coroutine methods run on the driver's
    loop, plain methods run here; async clients, endpoints and streams returned are wrapped."""

    __slots__ = ("_driver", "_target")

    def __init__(self, driver: Driver, target: Any) -> None:
        self._driver = driver
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        if not callable(value):
            return value
        driver = self._driver
        if inspect.iscoroutinefunction(value):

            def call(*args: Any, **kwargs: Any) -> Any:
                return _wrap(driver, driver.run(value, *args, **kwargs))

        else:

            def call(*args: Any, **kwargs: Any) -> Any:
                return _wrap(driver, value(*args, **kwargs))

        call.__name__ = call.__qualname__ = name
        call.__doc__ = value.__doc__
        return call

    def __repr__(self) -> str:
        return repr(self._target)

    def __str__(self) -> str:
        return str(self._target)


class _TwinClient(_Twin):
    """A client: ``close()`` is ``await aclose()``, ``with`` is ``async with``."""

    __slots__ = ()

    def close(self) -> None:
        self._driver.run(self._target.aclose)

    def __enter__(self) -> Any:
        entered = self._driver.run(self._target.__aenter__)
        return self if entered is self._target else _wrap(self._driver, entered)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._driver.run(self._target.__aexit__, exc_type, exc, tb)


class TwinManagementClient(_TwinClient):
    """An ``AsyncManagementClient`` with the interface of ``ManagementClient``."""

    __slots__ = ()


class TwinDataClient(_TwinClient):
    """An ``AsyncDataClient`` with the interface of ``DataClient``."""

    __slots__ = ()


class TwinEndpoint(_Twin):
    """An ``AsyncEndpoint`` with the interface of ``Endpoint`` (``close()`` is synchronous in
    both)."""

    __slots__ = ()


class TwinStream(_Twin):
    """An ``AsyncTextStream`` / ``AsyncReadinessStream`` as a sync iterator and context
    manager: ``next()`` awaits ``__anext__``, ``close()`` awaits ``aclose()``."""

    __slots__ = ()

    def __iter__(self) -> TwinStream:
        return self

    def __next__(self) -> Any:
        try:
            return self._driver.run(self._target.__anext__)
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._driver.run(self._target.aclose)

    def __enter__(self) -> TwinStream:
        entered = self._driver.run(self._target.__aenter__)
        assert entered is self._target, "async with must give the stream itself"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._driver.run(self._target.__aexit__, exc_type, exc, tb)


def _wrap(driver: Driver, value: Any) -> Any:
    if isinstance(value, AsyncManagementClient):
        return TwinManagementClient(driver, value)
    if isinstance(value, AsyncDataClient):
        return TwinDataClient(driver, value)
    if isinstance(value, AsyncEndpoint):
        return TwinEndpoint(driver, value)
    if isinstance(value, (AsyncTextStream, AsyncReadinessStream)):
        return TwinStream(driver, value)
    return value


# --------------------------------------------------------------------------------------------
# Making clients of a flavour


class Clients:
    """Makes clients of one flavour: the sync classes, or twins of the async ones.

    ``with Clients("async") as clients:`` -- leaving the block (or :meth:`close`) stops the
    loop of the twins it made (the clients themselves are closed by their users or freed when
    garbage-collected, as with the sync ones).
    """

    def __init__(self, flavour: str) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
        self.flavour = flavour
        self._driver: Driver | None = None
        self._lock = threading.Lock()

    @property
    def driver(self) -> Driver:
        with self._lock:
            if self._driver is None:
                self._driver = Driver()
            return self._driver

    def _make(self, sync_cls: type, from_env: bool, kwargs: Mapping[str, Any]) -> Any:
        cls: Any = sync_cls if self.flavour == "sync" else ASYNC_OF[sync_cls]
        client = cls.from_env(**kwargs) if from_env else cls(**kwargs)
        return client if self.flavour == "sync" else _wrap(self.driver, client)

    def management(self, **kwargs: Any) -> ManagementClient:
        """``ManagementClient(**kwargs)``, or a twin of ``AsyncManagementClient(**kwargs)``."""
        return cast(ManagementClient, self._make(ManagementClient, False, kwargs))

    def management_from_env(self, **kwargs: Any) -> ManagementClient:
        return cast(ManagementClient, self._make(ManagementClient, True, kwargs))

    def data(self, **kwargs: Any) -> DataClient:
        """``DataClient(**kwargs)``, or a twin of ``AsyncDataClient(**kwargs)``."""
        return cast(DataClient, self._make(DataClient, False, kwargs))

    def data_from_env(self, **kwargs: Any) -> DataClient:
        return cast(DataClient, self._make(DataClient, True, kwargs))

    def close(self) -> None:
        with self._lock:
            driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    def __enter__(self) -> Clients:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Maker(Generic[C]):
    """What the ``make_mgmt`` / ``make_data`` fixtures give: ``make(**kw)`` builds like the sync
    class's constructor, ``make.from_env(**kw)`` like its ``from_env``, and
    ``make.dev_client(**kw)`` like ``DevServer.management_client(**kw)`` /
    ``data_client(**kw)`` -- each in the flavour of the test."""

    def __init__(
        self,
        build: Callable[..., C],
        build_from_env: Callable[..., C],
        dev_defaults: Callable[[], dict[str, Any]],
    ) -> None:
        self._build = build
        self._build_from_env = build_from_env
        self._dev_defaults = dev_defaults

    def __call__(self, **kwargs: Any) -> C:
        return self._build(**kwargs)

    def from_env(self, **kwargs: Any) -> C:
        return self._build_from_env(**kwargs)

    def dev_client(self, **kwargs: Any) -> C:
        return self._build(**{**self._dev_defaults(), **kwargs})


# --------------------------------------------------------------------------------------------
# Assertions that depend on the flavour


def flavour_of(obj: object) -> str:
    """``"async"`` for a twin, else ``"sync"``."""
    return "async" if isinstance(obj, _Twin) else "sync"


def is_instance(obj: object, cls: type) -> bool:
    """``isinstance(obj, cls)`` for a sync object; for a twin, whether it wraps an instance of
    the async counterpart of ``cls`` (``AsyncReadinessStream`` for ``ReadinessStream``, ...)."""
    if isinstance(obj, _Twin):
        return isinstance(obj._target, ASYNC_OF[cls])
    return isinstance(obj, cls)


def warned_at_caller(warning: warnings.WarningMessage, client: object, caller_file: str) -> bool:
    """Whether ``warning`` points at the code that called the SDK (its ``stacklevel``): a line
    of ``caller_file`` for a sync client, the ``await`` of :data:`AWAIT_SITE` for a twin."""
    if isinstance(client, _Twin):
        return (warning.filename, warning.lineno) == AWAIT_SITE
    return warning.filename == caller_file

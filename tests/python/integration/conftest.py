"""Fixtures for tests against the real local platform.

One platform per session (``dev``, in-process through the C ABI, with the CPU stand-ins run by
``$INFERENCEKEY_DEV_PYTHON``); every test uses its own workload slugs (``unique_slug``), so
tests stay independent while sharing it. Generic on purpose: control-plane and data-plane
suites both build on ``dev``, ``mgmt``, ``data`` and ``unique_slug``.

Sync and async twins. The client fixtures -- ``mgmt``, ``data``, ``tapped`` and the factories
``make_mgmt`` / ``make_data`` -- depend on ``flavour``, which is parametrized
``["sync", "async"]``: every test that uses one of them runs twice, ``[sync]`` with the sync
clients and ``[async]`` with the async clients behind the sync interface
(``support/asyncio_twin.py``). Tests never construct ``ManagementClient`` / ``DataClient``
themselves; they call ``make_mgmt(...)`` / ``make_data(...)`` (same arguments as the
constructors), ``make_mgmt.from_env(...)``, or ``make_mgmt.dev_client(...)`` (like
``dev.management_client(...)``).

``sync_mgmt`` and ``sync_data`` are always sync and session-wide: for setting up workloads in
module fixtures, and for the sync side of comparisons in ``test_async.py`` and the CLI tests.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator

import pytest
from support.asyncio_twin import FLAVOURS, Clients, Maker
from support.recording import RecordingProxy

from inferencekey import DataClient, ManagementClient
from inferencekey.testing import DevServer

_counter = itertools.count(1)
_run = uuid.uuid4().hex[:6]


@pytest.fixture(scope="session")
def dev(dev_server: DevServer) -> DevServer:
    """The session's local platform: the package's own ``dev_server`` fixture (its pytest
    plugin), so a session that uses either name starts exactly one platform."""
    return dev_server


@pytest.fixture(scope="session")
def sync_mgmt(dev: DevServer) -> Iterator[ManagementClient]:
    """A sync management client of the session project, talking to the platform directly
    (setup and checks; not twinned)."""
    with dev.management_client() as client:
        yield client


@pytest.fixture(scope="session")
def sync_data(dev: DevServer) -> Iterator[DataClient]:
    """A sync data client of the session project with its project-wide ``ik_live_`` key
    (setup and checks; not twinned)."""
    client = dev.data_client()
    yield client
    client.close()


# --- the flavoured clients --------------------------------------------------------------------


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"async"``: which clients the client fixtures of this run hand out."""
    return str(request.param)


@pytest.fixture
def clients(flavour: str) -> Iterator[Clients]:
    """Makes the test's clients in its flavour; stops the twins' event loop afterwards."""
    with Clients(flavour) as made:
        yield made


@pytest.fixture
def make_mgmt(clients: Clients, request: pytest.FixtureRequest) -> Maker[ManagementClient]:
    """``make_mgmt(**kw)`` = ``ManagementClient(**kw)`` in the test's flavour; also
    ``.from_env(**kw)`` and ``.dev_client(**kw)`` (the session platform's URL, project, token)."""

    def dev_defaults() -> dict[str, object]:
        dev: DevServer = request.getfixturevalue("dev")
        return {"sdk_token": dev.sdk_token, "base_url": dev.base_url, "project": dev.project}

    return Maker(clients.management, clients.management_from_env, dev_defaults)


@pytest.fixture
def make_data(clients: Clients, request: pytest.FixtureRequest) -> Maker[DataClient]:
    """``make_data(**kw)`` = ``DataClient(**kw)`` in the test's flavour; also
    ``.from_env(**kw)`` and ``.dev_client(**kw)`` (the session platform's URL, project, key)."""

    def dev_defaults() -> dict[str, object]:
        dev: DevServer = request.getfixturevalue("dev")
        return {"project": dev.project, "base_url": dev.base_url, "api_key": dev.api_key}

    return Maker(clients.data, clients.data_from_env, dev_defaults)


@pytest.fixture
def mgmt(
    flavour: str, sync_mgmt: ManagementClient, make_mgmt: Maker[ManagementClient]
) -> Iterator[ManagementClient]:
    """A management client of the session project, talking to the platform directly: the
    session's sync client, or a fresh async twin."""
    if flavour == "sync":
        yield sync_mgmt
        return
    with make_mgmt.dev_client() as client:
        yield client


@pytest.fixture
def data(flavour: str, sync_data: DataClient, make_data: Maker[DataClient]) -> Iterator[DataClient]:
    """A data client of the session project with its project-wide ``ik_live_`` key: the
    session's sync client, or a fresh async twin."""
    if flavour == "sync":
        yield sync_data
        return
    client = make_data.dev_client()
    yield client
    client.close()


@pytest.fixture
def unique_slug(request: pytest.FixtureRequest) -> str:
    """A canonical workload slug no other test of the session uses (derived from the test
    name, so the platform's log shows which test made a workload)."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"{stem or 't'}-{_run}{next(_counter)}"


@pytest.fixture
def proxy(dev: DevServer) -> Iterator[RecordingProxy]:
    """A :class:`RecordingProxy` in front of the platform; point clients at ``proxy.url``."""
    with RecordingProxy(dev.base_url) as tap:
        yield tap


@pytest.fixture
def tapped(
    dev: DevServer, proxy: RecordingProxy, make_mgmt: Maker[ManagementClient]
) -> Iterator[ManagementClient]:
    """A management client (of the test's flavour) whose every request goes through ``proxy``
    (and is recorded)."""
    with make_mgmt(sdk_token=dev.sdk_token, base_url=proxy.url, project=dev.project) as client:
        yield client

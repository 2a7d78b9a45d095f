"""Fixtures for tests against the real local platform.

One platform per session (``dev``, in-process through the C ABI, with the CPU stand-ins run by
``$INFERENCEKEY_DEV_PYTHON``); every test uses its own workload slugs (``unique_slug``), so
tests stay independent while sharing it. Generic on purpose: control-plane and data-plane
suites both build on ``dev``, ``mgmt``, ``data`` and ``unique_slug``.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator

import pytest
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
def mgmt(dev: DevServer) -> Iterator[ManagementClient]:
    """A management client of the session project, talking to the platform directly."""
    with dev.management_client() as client:
        yield client


@pytest.fixture(scope="session")
def data(dev: DevServer) -> Iterator[DataClient]:
    """A data client of the session project with its project-wide ``ik_live_`` key."""
    client = dev.data_client()
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
def tapped(dev: DevServer, proxy: RecordingProxy) -> Iterator[ManagementClient]:
    """A management client whose every request goes through ``proxy`` (and is recorded)."""
    with ManagementClient(
        sdk_token=dev.sdk_token, base_url=proxy.url, project=dev.project
    ) as client:
        yield client

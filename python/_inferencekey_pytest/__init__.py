"""The package's pytest plugin (entry point ``pytest11``, name ``inferencekey``): ``dev_server``
and ``webhook_receiver``.

pytest imports every installed plugin at start-up, in every project of the environment. So
this module sits outside the ``inferencekey`` package, whose ``__init__`` loads the native
library, cffi and pydantic, and imports ``inferencekey.testing`` only once a test asks for
the fixture. Disable it with ``-p no:inferencekey``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from inferencekey.testing import DevServer, WebhookReceiver

__all__ = ["dev_server", "webhook_receiver"]


@pytest.fixture(scope="session")
def dev_server() -> Iterator[DevServer]:
    """A local platform shared by the test session.

    Started on first use with ``inferencekey.testing.DevServer``'s defaults (project
    ``acme``, a free loopback port, a temporary data folder, CPU stand-ins run by
    ``$INFERENCEKEY_DEV_PYTHON`` or the running interpreter).

    Yields:
        The running platform; it is stopped, with every workload it started, when the
        session ends.

    Raises:
        inferencekey.ConfigurationError: The platform cannot start.
    """
    from inferencekey.testing import DevServer

    with DevServer() as server:
        yield server


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A loopback webhook endpoint that verifies every delivery with
    ``inferencekey.webhooks.verify``; set its ``secret`` from ``dev_server.add_webhook``.

    Yields:
        The running receiver, closed after the test.
    """
    from inferencekey.testing import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver

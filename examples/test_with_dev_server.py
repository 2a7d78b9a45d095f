"""Testing code that uses the SDK against a real local platform: the ``dev_server`` fixture.

Installing ``inferencekey`` registers a pytest plugin whose session-scoped ``dev_server``
fixture starts the local platform (a :class:`inferencekey.testing.DevServer`) on a free
loopback port with a temporary data folder, and stops it, with every workload, at the end of
the session. No conftest is needed. Run: ``python -m pytest examples/test_with_dev_server.py``
(the CPU stand-ins run with ``$INFERENCEKEY_DEV_PYTHON``, else this interpreter).
"""

import pytest

from inferencekey import DataClient, WorkloadSpec
from inferencekey.testing import DevServer

CHAT = WorkloadSpec(
    name="Test bot",
    slug="test-bot",
    model="meta-llama/Llama-3.1-8B-Instruct",
    backend="vllm",
)


def answer(question: str) -> str:
    """The application code under test: configured only by the environment, as in production."""
    with DataClient.from_env() as data:
        return data.endpoint("test-bot").generate_text(prompt=question, max_tokens=8).text


@pytest.fixture(scope="module")
def chat_workload(dev_server: DevServer) -> str:
    """Declares the chat workload once for the module and waits until it serves."""
    with dev_server.management_client() as mgmt:
        mgmt.ensure(CHAT)
        mgmt.wait_until_ready(CHAT.slug, timeout=120, silent=True)
    return CHAT.slug


def test_application_answers(
    dev_server: DevServer, chat_workload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The platform's INFERENCEKEY_* variables (URL, project, tokens) for code that reads them.
    for name, value in dev_server.env().items():
        monkeypatch.setenv(name, value)
    assert answer("Say hello.").strip()


def test_ensure_is_idempotent(dev_server: DevServer, chat_workload: str) -> None:
    with dev_server.management_client() as mgmt:
        assert mgmt.ensure(CHAT).action == "unchanged"
        plan = mgmt.plan(CHAT)  # writes nothing
        assert plan.planned_operation is None and plan.changes == ()

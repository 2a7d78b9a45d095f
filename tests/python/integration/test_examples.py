"""The programs in ``examples/`` run for real, so they cannot rot.

Each runs in its own process, as a user runs it, with the ``INFERENCEKEY_*`` variables of a
project of its own (``examples``) on the session's local platform: ``apply_workloads.py``
declares the three workloads of ``workloads.toml`` (real CPU stand-ins: SmolLM2 for chat,
multilingual-e5-small for embeddings and rerank), then the data-plane examples call them.
``test_with_dev_server.py`` runs under its own pytest, which starts its own platform through
the package's ``dev_server`` fixture. Only stable properties of model output are asserted.
(``quickstart.py`` and ``declare_workloads.py`` are run by ``examples/run-quickstart.sh``.)

No async twins: the examples are programs, run as they are.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferencekey import ManagementClient
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
PROJECT = "examples"
SLUGS = ["support-bot", "billing", "support-search"]  # as declared in workloads.toml


def clean_env() -> dict[str, str]:
    """The caller's environment without any INFERENCEKEY_* setting (the stand-ins'
    interpreter excepted), so that an example sees only what the test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    if "INFERENCEKEY_DEV_PYTHON" in os.environ:
        env["INFERENCEKEY_DEV_PYTHON"] = os.environ["INFERENCEKEY_DEV_PYTHON"]
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS…`` from the repository's top level, as the examples' docstrings say."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=280
    )


def shown(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


@pytest.fixture(scope="module")
def example_env(dev: DevServer) -> Iterator[dict[str, str]]:
    """The environment of a fresh ``examples`` project; its workloads are deleted afterwards
    (their model processes stop)."""
    creds = dev.create_project(PROJECT)
    env = clean_env()
    env.update(
        INFERENCEKEY_BASE_URL=dev.base_url,
        INFERENCEKEY_PROJECT=creds["project"]["slug"],
        INFERENCEKEY_SDK_TOKEN=creds["sdk_token"],
        INFERENCEKEY_API_KEY=creds["api_key"],
    )
    yield env
    with ManagementClient(
        sdk_token=creds["sdk_token"], base_url=dev.base_url, project=PROJECT
    ) as mgmt:
        for workload in mgmt.list():
            mgmt.delete(workload.slug)


@pytest.fixture(scope="module")
def applied(example_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``apply_workloads.py`` run once for the module (it waits until every workload serves)."""
    return run(example_env, "examples/apply_workloads.py", "examples/workloads.toml")


@pytest.fixture
def workloads(
    applied: subprocess.CompletedProcess[str], example_env: dict[str, str]
) -> dict[str, str]:
    """The example environment, once the workloads serve."""
    assert applied.returncode == 0, shown(applied)
    return example_env


def test_apply_workloads_creates_and_waits_for_every_workload_of_the_file(
    applied: subprocess.CompletedProcess[str], example_env: dict[str, str]
) -> None:
    assert applied.returncode == 0, shown(applied)
    assert applied.stdout.splitlines() == [f"{slug}: created" for slug in SLUGS] + [
        f"{slug}: ready" for slug in SLUGS
    ]
    # The command line reads the same file and finds nothing left to do.
    plan = run(example_env, "-m", "inferencekey", "plan", "-f", "examples/workloads.toml")
    assert plan.returncode == 0, shown(plan)
    assert "Plan: 0 to create, 0 to update, 3 unchanged." in plan.stdout


def test_stream_text_prints_the_streamed_answer(workloads: dict[str, str]) -> None:
    done = run(workloads, "examples/stream_text.py")
    assert done.returncode == 0, shown(done)
    *text, summary = done.stdout.rstrip("\n").split("\n")
    assert "".join(text).strip(), shown(done)
    assert re.fullmatch(r"\[finish_reason: (stop|length), request_id: \S+\]", summary), summary
    assert "request_id: None" not in summary


def test_embed_prints_vectors_and_the_nearest_sentence(workloads: dict[str, str]) -> None:
    done = run(workloads, "examples/embed.py")
    assert done.returncode == 0, shown(done)
    lines = done.stdout.splitlines()
    assert re.match(r"3 vectors of 384 dimensions \(.*e5.*\)$", lines[0]), lines[0]
    # The paraphrase of the first sentence is nearer than the unrelated one.
    assert lines[-1] == (
        "closest to 'The invoice was paid late.': "
        "'The payment for the bill arrived after the due date.'"
    )


def test_rerank_ranks_the_answering_document_first(workloads: dict[str, str]) -> None:
    done = run(workloads, "examples/rerank.py")
    assert done.returncode == 0, shown(done)
    lines = done.stdout.splitlines()
    assert len(lines) == 3, shown(done)
    assert lines[0].startswith("1. ") and "forgotten password" in lines[0]
    scores = [float(line.split()[1]) for line in lines]
    assert scores == sorted(scores, reverse=True)


def test_with_dev_server_example_passes_under_pytest() -> None:
    # No INFERENCEKEY_* variables but the stand-ins' interpreter: the fixture supplies the rest.
    done = run(
        clean_env(),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "examples/test_with_dev_server.py",
    )
    assert done.returncode == 0, shown(done)
    assert re.search(r"^2 passed\b", done.stdout, re.MULTILINE), shown(done)

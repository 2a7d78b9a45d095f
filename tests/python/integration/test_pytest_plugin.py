"""The package's pytest plugin: cheap to load, and its ``dev_server`` fixture still works.

pytest imports every installed plugin at start-up in every project of the environment, so the
plugin must not pull in the native library, cffi or pydantic before a test asks for the
fixture (issue 12). Each check runs in a fresh interpreter: pytest on a throw-away folder, as
any project with the package installed would.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inferencekey import ValidationError
from inferencekey.testing import DevServer

#: What the plugin must not import at start-up: the package itself (its ``__init__`` loads
#: the rest), the native library and the two heavy dependencies.
HEAVY = ("inferencekey", "inferencekey._native", "cffi", "pydantic")


def _plugin_module() -> str:
    """The module the ``pytest11`` entry point named ``inferencekey`` loads."""
    points = [
        ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "inferencekey"
    ]
    assert len(points) == 1, f"pytest11 entry points named inferencekey: {points}"
    return points[0].value


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m in HEAVY or m.startswith("inferencekey."))


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs pytest on ``folder`` in a fresh interpreter, with plugin autoloading as a user has
    it (whatever this session's environment says)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_PLUGINS"}
    }
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_plugin_module_imports_nothing_heavy() -> None:
    module = _plugin_module()
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(result.stdout)
    assert module in loaded
    assert _heavy(loaded) == []


def test_a_pytest_run_that_uses_no_fixture_loads_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(
        textwrap.dedent(
            f"""
            import sys

            def test_probe(pytestconfig):
                assert pytestconfig.pluginmanager.has_plugin("inferencekey")
                heavy = sorted(
                    m for m in sys.modules
                    if m in {HEAVY!r} or m.startswith("inferencekey.")
                )
                assert heavy == []
            """
        ),
        encoding="utf-8",
    )
    result = _pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_dev_server_fixture_starts_a_working_platform(tmp_path: Path) -> None:
    (tmp_path / "test_uses_fixture.py").write_text(
        textwrap.dedent(
            """
            import sys

            from inferencekey.testing import DevServer

            def test_fixture(dev_server):
                assert isinstance(dev_server, DevServer)
                assert "inferencekey._native" in sys.modules
                with dev_server.management_client() as mgmt:
                    assert mgmt.list() == []

            def test_one_platform_per_session(dev_server, request):
                assert request.getfixturevalue("dev_server") is dev_server
            """
        ),
        encoding="utf-8",
    )
    result = _pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout

    # The fixture is the plugin's: without the plugin, pytest does not know it.
    disabled = _pytest(tmp_path, "-p", "no:inferencekey")
    assert disabled.returncode != 0
    assert "fixture 'dev_server' not found" in disabled.stdout


def test_dev_server_refuses_a_bad_project_slug_and_stops() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ValidationError):
        DevServer(project="Not A Slug", port=port)
    # The platform it had started no longer listens.
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass

"""``inferencekey dev`` in the foreground: prints the ``export`` lines, mints workload-scoped
keys for ``inferencekey dev token``, and stops cleanly on SIGINT.

No async twins here: both tests run the ``inferencekey dev`` program in subprocesses and use no
SDK client, so there is nothing sync or async to twin (see ``support/asyncio_twin.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferencekey", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dev_prints_exports_mints_scoped_keys_and_stops_on_sigint(tmp_path: Path) -> None:
    data_dir = tmp_path / "platform"
    dev = subprocess.Popen(
        [sys.executable, "-m", "inferencekey", "dev", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert dev.stdout is not None
        exports = dict(
            dev.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(4)
        )
        assert set(exports) == {
            "INFERENCEKEY_BASE_URL",
            "INFERENCEKEY_PROJECT",
            "INFERENCEKEY_SDK_TOKEN",
            "INFERENCEKEY_API_KEY",
        }
        base, project = exports["INFERENCEKEY_BASE_URL"], exports["INFERENCEKEY_PROJECT"]
        assert project == "acme"
        assert exports["INFERENCEKEY_SDK_TOKEN"].startswith("ik_sdk_")
        assert exports["INFERENCEKEY_API_KEY"].startswith("ik_live_")
        # The printed control token really works against the printed URL.
        listing = httpx.get(
            f"{base}/api/projects/{project}/workloads",
            headers={"Authorization": f"Bearer {exports['INFERENCEKEY_SDK_TOKEN']}"},
        )
        assert listing.status_code == 200 and listing.json() == []

        minted = _run_cli("dev", "token", "--workload", "bot", "--data-dir", str(data_dir))
        assert minted.returncode == 0, minted.stderr
        line = minted.stdout.strip()
        assert line.startswith("export INFERENCEKEY_API_KEY=ik_live_")
        key = line.split("=", 1)[1]

        def models(workload: str) -> httpx.Response:
            return httpx.get(
                f"{base}/endpoint/{project}/{workload}/v1/models",
                headers={"Authorization": f"Bearer {key}"},
            )

        # Granted "bot" only: an absent "bot" is 404, any other workload 403 (grants never
        # reveal existence).
        assert models("bot").status_code == 404
        other = models("other")
        assert other.status_code == 403
        assert other.json()["error"]["code"] == "scope_insufficient"

        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=30) == 0
        assert not (data_dir / "dev-server.json").exists()
        with_stopped = _run_cli("dev", "token", "--workload", "bot", "--data-dir", str(data_dir))
        assert with_stopped.returncode == 1
        assert "start `inferencekey dev` first" in with_stopped.stderr
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()


def test_dev_runs_a_command_with_the_environment_and_passes_its_status(tmp_path: Path) -> None:
    script = (
        "import os, sys; "
        "print(os.environ['INFERENCEKEY_BASE_URL'], os.environ['INFERENCEKEY_PROJECT']); "
        "sys.exit(7)"
    )
    started = time.monotonic()
    result = _run_cli("dev", "--temp", "--port", "0", "--", sys.executable, "-c", script)
    assert result.returncode == 7
    url, project = result.stdout.split()
    assert url.startswith("http://127.0.0.1:") and project == "acme"
    assert time.monotonic() - started < 30
    assert "local platform at" in result.stderr
    assert os.environ.get("INFERENCEKEY_BASE_URL") != url  # the parent's environment is untouched


@pytest.mark.parametrize("command", ["no-such-command-ik", "/nonexistent/bin/tool"])
def test_dev_with_a_command_that_cannot_run_prints_one_line_and_exits_127(command: str) -> None:
    result = _run_cli("dev", "--temp", "--port", "0", "--", command, "--flag")
    assert result.returncode == 127, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "local platform at" not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"inferencekey dev: cannot run {command}: "), lines
    assert "No such file or directory" in lines[0]


def test_dev_refuses_a_host_beyond_loopback_without_allow_remote() -> None:
    # Refused by the platform before it binds: nothing listens on 0.0.0.0.
    result = _run_cli("dev", "--temp", "--port", "0", "--host", "0.0.0.0")
    assert result.returncode == 64, result.stderr  # EX_USAGE; 2 is plan's "changes pending"
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "not a loopback address" in result.stderr and "--allow-remote" in result.stderr
    assert result.stdout == ""


def test_dev_with_allow_remote_listens_beyond_loopback_and_warns() -> None:
    # The command reaches the platform through loopback only (no proxy), never 0.0.0.0.
    script = (
        "import os, sys, urllib.request; "
        "port = os.environ['INFERENCEKEY_BASE_URL'].rsplit(':', 1)[1]; "
        "opener = urllib.request.build_opener(urllib.request.ProxyHandler({})); "
        "print(os.environ['INFERENCEKEY_BASE_URL']); "
        "sys.exit(0 if opener.open(f'http://127.0.0.1:{port}/healthz').status == 200 else 3)"
    )
    result = _run_cli(
        "dev",
        "--temp",
        "--port",
        "0",
        "--host",
        "0.0.0.0",
        "--allow-remote",
        "--",
        sys.executable,
        "-c",
        script,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("http://0.0.0.0:")
    assert "warning: --allow-remote" in result.stderr and "any command" in result.stderr


def test_dev_webhook_add_list_log_remove(tmp_path: Path) -> None:
    data_dir = tmp_path / "platform"
    dev = subprocess.Popen(
        [sys.executable, "-m", "inferencekey", "dev", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert dev.stdout is not None
        exports = dict(
            dev.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(4)
        )
        base, sdk = exports["INFERENCEKEY_BASE_URL"], exports["INFERENCEKEY_SDK_TOKEN"]
        created = httpx.post(
            f"{base}/api/projects/acme/workloads",
            headers={"Authorization": f"Bearer {sdk}"},
            json={"name": "Bot", "slug": "bot", "model_name": "m", "backend": "vllm"},
        )
        assert created.status_code in (200, 201), created.text
        where = ("--data-dir", str(data_dir))
        url = "http://127.0.0.1:9/hook"

        added = _run_cli("dev", "webhook", "add", "bot", url, *where)
        assert added.returncode == 0, added.stderr
        # The secret alone on the last line, so `| tail -1` captures it; nowhere else.
        secret = added.stdout.strip().splitlines()[-1]
        assert secret.startswith("whsec_") and len(secret) == 6 + 64
        assert secret not in added.stderr

        listed = _run_cli("dev", "webhook", "list", "bot", *where)
        assert listed.returncode == 0 and url in listed.stdout
        assert "whsec_" not in listed.stdout

        again = _run_cli("dev", "webhook", "add", "bot", url, *where)
        assert again.returncode == 1 and "whsec_" not in again.stdout + again.stderr
        refused = _run_cli("dev", "webhook", "add", "bot", "http://example.com/hook", *where)
        assert refused.returncode == 1 and refused.stderr.startswith("inferencekey: ")

        log = _run_cli("dev", "webhook", "log", "bot", *where)
        assert log.returncode == 0 and log.stdout == ""

        removed = _run_cli("dev", "webhook", "remove", "bot", url, *where)
        assert removed.returncode == 0, removed.stderr
        assert url not in _run_cli("dev", "webhook", "list", "bot", *where).stdout
        gone = _run_cli("dev", "webhook", "remove", "bot", url, *where)
        assert gone.returncode == 1 and "does not deliver to" in gone.stderr
        usage = _run_cli("dev", "webhook", "add", "bot", *where)
        assert usage.returncode == 64

        # The platform's log never holds a secret.
        logs = "".join(p.read_text(errors="replace") for p in data_dir.rglob("*.log"))
        assert secret not in logs
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()

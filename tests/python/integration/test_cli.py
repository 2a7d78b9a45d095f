"""The ``inferencekey`` command against the real local platform (issue acceptance 4).

The command runs as a subprocess (``python -m inferencekey``) on real TOML files, configured
like a user's shell: ``INFERENCEKEY_BASE_URL`` / ``_PROJECT`` / ``_SDK_TOKEN`` from the session
platform, flags on top. What the platform holds is checked with the session's sync client, and
"no write" with the ``RecordingProxy`` tap.

Workloads are cheap: ``classification`` has no CPU stand-in and no command, so the platform
stores it and puts it straight into phase ``error`` without starting anything. Only the
``--wait`` tests run processes: the ``patient_chat.py`` fake (ready in a fraction of a second)
and ``sleep`` (never ready).

No async twins here, by design: every test runs the ``inferencekey`` program in a subprocess,
and the program is built on the sync ``ManagementClient`` -- there is no async command line to
twin. What the commands do with a client (ensure, plan, get, list, delete, wait) is covered for
the async client by the ``[async]`` runs of ``test_management.py``, ``test_ensure_live.py`` and
``test_readiness.py``. So ``mgmt`` is overridden below to the session's sync client.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import faults
from support.recording import RecordingProxy

import inferencekey
from inferencekey import ManagementClient, NotFoundError
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(120)

PATIENT = faults.FAKE_UPSTREAMS / "patient_chat.py"
SLEEP = "/bin/sleep" if os.path.exists("/bin/sleep") else "/usr/bin/sleep"


# --------------------------------------------------------------------------------------------
# Helpers


def base_env(dev: DevServer) -> dict[str, str]:
    """The caller's environment without any INFERENCEKEY_* setting, plus the platform's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    if "INFERENCEKEY_DEV_PYTHON" in os.environ:
        env["INFERENCEKEY_DEV_PYTHON"] = os.environ["INFERENCEKEY_DEV_PYTHON"]
    env.update(
        INFERENCEKEY_BASE_URL=dev.base_url,
        INFERENCEKEY_PROJECT=dev.project,
        INFERENCEKEY_SDK_TOKEN=dev.sdk_token,
    )
    return env


def cli(
    dev: DevServer, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferencekey", *args],
        env={**base_env(dev), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    """Asserts the exit status (and no traceback); returns stdout."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(type(value))


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def table(fields: dict[str, Any]) -> str:
    lines = ["[[workload]]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in fields.items())]
    return "\n".join(lines) + "\n"


def cheap(slug: str, **overrides: Any) -> dict[str, Any]:
    """A workload the platform stores but never runs (no stand-in serves classification)."""
    fields: dict[str, Any] = {
        "name": f"CLI {slug}",
        "slug": slug,
        "model": "acme/classifier-small",
        "backend": "vllm",
        "task_type": "classification",
        "config": {"max_model_len": 2048},
    }
    fields.update(overrides)
    return fields


def write(path: Path, *workloads: dict[str, Any], head: str = "") -> Path:
    path.write_text(head + "\n".join(table(w) for w in workloads), encoding="utf-8")
    return path


def slugs(mgmt: ManagementClient) -> set[str]:
    return {w.slug for w in mgmt.list()}


def progress_lines(stdout: str, slug: str) -> list[tuple[str, float]]:
    """``(phase, elapsed)`` of each readiness progress line for ``slug``."""
    pattern = re.compile(rf"^\s*{re.escape(slug)}: ([a-z_]+) \((\d+(?:\.\d+)?)s\)", re.M)
    return [(m.group(1), float(m.group(2))) for m in pattern.finditer(stdout)]


@pytest.fixture
def mgmt(sync_mgmt: ManagementClient) -> ManagementClient:
    """Not flavoured here (see the module docstring): the session's sync client."""
    return sync_mgmt


@pytest.fixture
def cleanup(mgmt: ManagementClient) -> Iterator[list[str]]:
    """Slugs appended here are deleted after the test."""
    created: list[str] = []
    yield created
    for slug in created:
        mgmt.delete(slug)


# --------------------------------------------------------------------------------------------
# plan / apply


def test_plan_apply_cycle_exit_codes_and_no_write_the_second_time(
    dev: DevServer,
    mgmt: ManagementClient,
    proxy: RecordingProxy,
    unique_slug: str,
    cleanup: list[str],
    tmp_path: Path,
) -> None:
    a, b = unique_slug, f"{unique_slug}-b"
    cleanup += [a, b]
    path = write(tmp_path / "workloads.toml", cheap(a), cheap(b))

    out = ok(cli(dev, "plan", "-f", str(path)), 2)
    assert f"+ {a}: will create" in out and f"+ {b}: will create" in out
    assert "Plan: 2 to create, 0 to update, 0 unchanged." in out
    assert not {a, b} & slugs(mgmt), "plan wrote something"

    out = ok(cli(dev, "apply", "-f", str(path)))
    assert f"+ {a}: created" in out and f"+ {b}: created" in out
    before = {s: mgmt.get(s) for s in (a, b)}
    assert before[b].task_type == "classification" and before[b].config == {"max_model_len": 2048}

    # Second apply through the tap (--base-url overrides the environment): lists only.
    out = ok(cli(dev, "apply", "-f", str(path), "--base-url", proxy.url))
    assert f"= {a}: unchanged" in out and f"= {b}: unchanged" in out
    list_path = f"/api/projects/{dev.project}/workloads"
    # apply plans every workload before writing anything, then ensures: lists only, no write.
    assert proxy.requests and set(proxy.requests) == {("GET", list_path)}
    assert {s: mgmt.get(s).updated_at for s in (a, b)} == {
        s: w.updated_at for s, w in before.items()
    }

    out = ok(cli(dev, "plan", "-f", str(path)), 0)
    assert "Plan: 0 to create, 0 to update, 2 unchanged." in out

    write(path, cheap(a), cheap(b, model="acme/classifier-large"))
    out = ok(cli(dev, "plan", "-f", str(path)), 2)
    assert f"= {a}: unchanged" in out
    assert f"~ {b}: will update" in out
    assert 'model: "acme/classifier-small" → "acme/classifier-large"' in out
    assert "Plan: 0 to create, 1 to update, 1 unchanged." in out
    assert mgmt.get(b).model == "acme/classifier-small", "plan wrote something"

    out = ok(cli(dev, "apply", "-f", str(path)))
    assert f"~ {b}: updated" in out and f"= {a}: unchanged" in out
    assert mgmt.get(b).model == "acme/classifier-large"
    ok(cli(dev, "plan", "-f", str(path)), 0)


def test_plan_shows_old_and_new_value_of_every_changed_field(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    """An update's diff is ``old → new`` for every field, also where the live record has no
    value yet (a description or a config key added to an existing workload)."""
    cleanup.append(unique_slug)
    path = write(tmp_path / "w.toml", cheap(unique_slug))
    ok(cli(dev, "apply", "-f", str(path)))
    write(
        path,
        cheap(
            unique_slug,
            name="Renamed",
            description="now described",
            config={"max_model_len": 2048, "dtype": "half"},
        ),
    )
    out = ok(cli(dev, "plan", "-f", str(path)), 2)
    changed = {line.split(":", 1)[0].strip(): line for line in out.splitlines() if ": " in line}
    assert f'"CLI {unique_slug}" → "Renamed"' in changed["name"]
    assert "→" in changed["description"], changed["description"]
    assert '"now described"' in changed["description"]
    assert "→" in changed["config.dtype"], changed["config.dtype"]


INVALID_FILES: list[tuple[str, dict[str, Any] | None, tuple[str, ...]]] = [
    ("bad_toml", None, ("not valid TOML", "line")),
    ("unknown_key", {"modle": "typo"}, ("workload 2", "modle")),
    ("wrong_type", {"name": 5}, ("workload 2", "name")),
    ("wrong_type_config", {"config": "fast"}, ("workload 2", "config")),
    ("missing_field", {"model": None}, ("workload 2", "model")),
    ("non_canonical_slug", {"slug": "Support Bot"}, ("workload 2", "slug", "support-bot")),
    ("duplicate_slug", {"slug": "<first>"}, ("workload 2", "slug", "declared twice")),
    (
        "secret_in_command",
        {"command": "serve --api-key ik_live_abcdef12_0123456789abcdef"},
        ("workload 2", "command", "secret"),
    ),
    ("not_a_table", None, ("workload 2",)),
]


@pytest.mark.parametrize(
    ("case", "bad", "expected"), [pytest.param(*c, id=c[0]) for c in INVALID_FILES]
)
def test_invalid_file_exits_1_names_file_workload_and_field_and_applies_nothing(
    dev: DevServer,
    mgmt: ManagementClient,
    unique_slug: str,
    cleanup: list[str],
    tmp_path: Path,
    case: str,
    bad: dict[str, Any] | None,
    expected: tuple[str, ...],
) -> None:
    first, second = unique_slug, f"{unique_slug}-b"
    cleanup += [first, second]
    path = tmp_path / f"{case}.toml"
    if case == "bad_toml":
        path.write_text(table(cheap(first)) + "[[workload]\nname = \n", encoding="utf-8")
    elif case == "not_a_table":
        path.write_text(f'workload = [{toml_value(cheap(first))}, "oops"]\n', encoding="utf-8")
    else:
        assert bad is not None
        fields = {**cheap(second), **{k: first if v == "<first>" else v for k, v in bad.items()}}
        write(path, cheap(first), {k: v for k, v in fields.items() if v is not None})
    for command in ("plan", "apply"):
        result = cli(dev, command, "-f", str(path))
        ok(result, 1)
        for text in (str(path), *expected):
            assert text in result.stderr, (command, text, result.stderr)
        assert "ik_live_abcdef12_0123456789abcdef" not in result.stderr
    assert not {first, second} & slugs(mgmt), "something was applied from an invalid file"


def test_missing_file_exits_1_naming_it(dev: DevServer, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    result = cli(dev, "plan", "-f", str(path))
    ok(result, 1)
    assert str(path) in result.stderr


def test_apply_on_drift_fail_exits_1_with_the_drift_error_and_writes_nothing(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    path = write(tmp_path / "w.toml", cheap(unique_slug))
    ok(cli(dev, "apply", "-f", str(path)))
    write(path, cheap(unique_slug, name="Drifted name"))

    result = cli(dev, "apply", "-f", str(path), "--on-drift", "fail")
    ok(result, 1)
    assert f'validation error: workload "{unique_slug}" drifted from spec: name' in result.stderr
    assert mgmt.get(unique_slug).name == f"CLI {unique_slug}"

    result = cli(dev, "apply", "-f", str(path), "--on-drift", "warn")
    out = ok(result)
    assert f"! {unique_slug}: drift warned" in out
    assert f'name: "CLI {unique_slug}" → "Drifted name"' in out
    assert "DriftWarning" not in result.stderr  # reported once, with its changes, not twice
    assert mgmt.get(unique_slug).name == f"CLI {unique_slug}"

    assert f"~ {unique_slug}: updated" in ok(cli(dev, "apply", "-f", str(path)))
    assert mgmt.get(unique_slug).name == "Drifted name"


def test_apply_wait_shows_phases_with_elapsed_until_ready(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    spec = {
        "name": "CLI patient",
        "slug": unique_slug,
        "model": "fake/patient",
        "backend": "fake-upstream",
        "command": f"{sys.executable} {PATIENT}",
    }
    path = write(tmp_path / "w.toml", spec)
    out = ok(cli(dev, "apply", "-f", str(path), "--wait", "--wait-timeout", "60"))
    progress = progress_lines(out, unique_slug)
    assert progress and progress[-1][0] == "ready", out
    assert all(
        phase in {"scheduling", "provisioning", "bootstrapping", "ready"} for phase, _ in progress
    )
    elapsed = [seconds for _, seconds in progress]
    assert elapsed == sorted(elapsed)
    assert out.index(f"+ {unique_slug}: created") < out.index(f"{unique_slug}: ready (")

    out = ok(cli(dev, "wait", unique_slug, "--wait-timeout", "30"))
    assert progress_lines(out, unique_slug)[-1][0] == "ready"


def test_apply_wait_stops_at_error_and_at_the_deadline(
    dev: DevServer, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    failing, never = unique_slug, f"{unique_slug}-never"
    cleanup += [failing, never]
    result = cli(dev, "apply", "-f", str(write(tmp_path / "e.toml", cheap(failing))), "--wait")
    ok(result, 1)
    assert progress_lines(result.stdout, failing)[-1][0] == "error"
    assert "workload_failed" in result.stderr

    result = cli(dev, "wait", failing, "--wait-timeout", "30")
    ok(result, 1)
    assert "workload_failed" in result.stderr

    spec = {
        "name": "Never ready",
        "slug": never,
        "model": "local/sleep",
        "backend": "vllm",
        "task_type": "text2text",
        "command": f"{SLEEP} 600",
    }
    path = write(tmp_path / "n.toml", spec)
    started = time.monotonic()
    result = cli(dev, "apply", "-f", str(path), "--wait", "--wait-timeout", "1.5")
    ok(result, 1)
    assert time.monotonic() - started < 10
    assert "timed out" in result.stderr
    assert progress_lines(result.stdout, never), "no progress was shown while waiting"


# --------------------------------------------------------------------------------------------
# get / list / delete / wait


def test_list_table_and_json(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    ok(cli(dev, "apply", "-f", str(write(tmp_path / "w.toml", cheap(unique_slug)))))

    lines = ok(cli(dev, "list")).splitlines()
    assert lines[0].split() == ["SLUG", "NAME", "TASK_TYPE", "BACKEND", "MODEL", "PHASE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == slugs(mgmt)
    row = rows[unique_slug]
    assert "classification" in row and "vllm" in row and "acme/classifier-small" in row
    assert row.index("classification") == lines[0].index("TASK_TYPE"), "columns line up"

    listed = json.loads(ok(cli(dev, "list", "--json")))
    assert isinstance(listed, list)
    assert {w["slug"] for w in listed} == slugs(mgmt)
    mine = next(w for w in listed if w["slug"] == unique_slug)
    live = mgmt.get(unique_slug)
    assert mine["id"] == live.id
    assert mine["name"] == f"CLI {unique_slug}"
    assert mine["task_type"] == "classification" and mine["backend"] == "vllm"
    assert mine["model"] == "acme/classifier-small"
    assert mine["config"] == live.config


def test_list_of_an_empty_project_prints_only_the_header(dev: DevServer) -> None:
    creds = dev.create_project(f"cli-empty-{uuid.uuid4().hex[:6]}")
    flags = ["--project", creds["project"]["slug"], "--sdk-token", creds["sdk_token"]]
    assert json.loads(ok(cli(dev, "list", "--json", *flags))) == []
    out = ok(cli(dev, "list", *flags))
    assert out.split() == ["SLUG", "NAME", "TASK_TYPE", "BACKEND", "MODEL", "PHASE"]


def test_get_table_json_and_errors(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    ok(cli(dev, "apply", "-f", str(write(tmp_path / "w.toml", cheap(unique_slug)))))
    live = mgmt.get(unique_slug)

    got = json.loads(ok(cli(dev, "get", unique_slug, "--json")))
    assert got["id"] == live.id and got["slug"] == unique_slug
    assert got["name"] == live.name and got["model"] == live.model
    assert got["task_type"] == "classification" and got["config"] == live.config
    assert got["project_slug"] == dev.project

    out = ok(cli(dev, "get", unique_slug))
    fields = dict(line.split(None, 1) for line in out.splitlines() if len(line.split(None, 1)) == 2)
    assert fields["slug"] == unique_slug and fields["id"] == live.id
    assert fields["model"] == "acme/classifier-small"

    missing = cli(dev, "get", f"{unique_slug}-missing")
    ok(missing, 1)
    assert "not found" in missing.stderr
    bad = cli(dev, "get", "Not A Slug")
    ok(bad, 1)
    assert "not-a-slug" in bad.stderr


def test_delete(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    ok(cli(dev, "apply", "-f", str(write(tmp_path / "w.toml", cheap(unique_slug)))))
    assert f"{unique_slug}: deleted" in ok(cli(dev, "delete", unique_slug))
    with pytest.raises(NotFoundError):
        mgmt.get(unique_slug)
    assert "not found" in ok(cli(dev, "delete", unique_slug))


def test_wait_on_an_unknown_workload_exits_1(dev: DevServer, unique_slug: str) -> None:
    result = cli(dev, "wait", unique_slug, "--wait-timeout", "10")
    ok(result, 1)
    assert "not found" in result.stderr


# --------------------------------------------------------------------------------------------
# Configuration


def test_flags_override_the_environment(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, tmp_path: Path
) -> None:
    expected = slugs(mgmt)

    def listed(*flags: str, **env: str) -> set[str]:
        return {w["slug"] for w in json.loads(ok(cli(dev, "list", "--json", *flags, env=env)))}

    assert listed("--project", dev.project, INFERENCEKEY_PROJECT="no-such-project") == expected
    bogus = faults.well_formed("sdk")
    assert listed("--sdk-token", dev.sdk_token, INFERENCEKEY_SDK_TOKEN=bogus) == expected
    refused = faults.refused_url()
    assert listed("--base-url", dev.base_url, INFERENCEKEY_BASE_URL=refused) == expected

    result = cli(dev, "list", "--project", "other-project")
    ok(result, 1)
    assert "permission denied" in result.stderr and "other-project" in result.stderr

    # A project in the file is used; --project beats it.
    path = write(tmp_path / "p.toml", cheap(unique_slug), head='project = "other-project"\n\n')
    result = cli(dev, "plan", "-f", str(path))
    ok(result, 1)
    assert "other-project" in result.stderr
    assert f"+ {unique_slug}: will create" in ok(
        cli(dev, "plan", "-f", str(path), "--project", dev.project), 2
    )


def test_plan_exits_1_on_an_unreachable_base_url(
    dev: DevServer, unique_slug: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "w.toml", cheap(unique_slug))
    started = time.monotonic()
    result = cli(dev, "plan", "-f", str(path), env={"INFERENCEKEY_BASE_URL": faults.refused_url()})
    ok(result, 1)
    assert "connection error" in result.stderr
    assert time.monotonic() - started < 20


def test_console_script_and_dev_subcommand(dev: DevServer) -> None:
    script = Path(sys.executable).with_name("inferencekey")
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert version.stdout.strip() == f"inferencekey {inferencekey.__version__}"

    # `dev -- COMMAND` starts a platform, runs COMMAND with the INFERENCEKEY_* variables set
    # and passes its exit status through.
    inner = [sys.executable, "-m", "inferencekey", "list", "--json"]
    result = cli(dev, "dev", "--temp", "--port", "0", "--", *inner)
    assert json.loads(ok(result)) == []
    result = cli(dev, "dev", "--temp", "--port", "0", "--", sys.executable, "-c", "exit(7)")
    assert result.returncode == 7

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

import argparse
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
    ("unknown_key", {"modle": "typo"}, ("workload 2", '"modle"', 'did you mean "model"?')),
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


# --------------------------------------------------------------------------------------------
# Machine-readable plan / apply, colour, usage errors, help


def test_plan_and_apply_json_have_the_documented_keys(
    dev: DevServer, mgmt: ManagementClient, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    path = write(tmp_path / "w.toml", cheap(unique_slug))
    change_keys = {"field", "live", "desired", "patchable"}

    plan = json.loads(ok(cli(dev, "plan", "-f", str(path), "--json"), 2))
    assert set(plan) == {"workloads", "summary"}
    assert plan["summary"] == {"create": 1, "update": 0, "unchanged": 0}
    (entry,) = plan["workloads"]
    assert set(entry) == {"project", "slug", "operation", "changes"}
    assert (entry["project"], entry["slug"], entry["operation"]) == (
        dev.project,
        unique_slug,
        "create",
    )
    assert entry["changes"] and all(set(c) == change_keys for c in entry["changes"])
    assert unique_slug not in slugs(mgmt), "plan wrote"

    applied = json.loads(ok(cli(dev, "apply", "-f", str(path), "--json")))
    assert set(applied) == {"workloads", "summary"}
    assert applied["summary"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "planned": 0,
        "drift_ignored": 0,
        "drift_warned": 0,
    }
    (entry,) = applied["workloads"]
    assert set(entry) == {"project", "slug", "workload_id", "action", "changes", "ready"}
    assert (entry["slug"], entry["action"], entry["ready"]) == (unique_slug, "created", None)
    assert entry["workload_id"] == mgmt.get(unique_slug).id
    assert all(set(c) == change_keys for c in entry["changes"])

    plan = json.loads(ok(cli(dev, "plan", "-f", str(path), "--json"), 0))
    assert plan["workloads"][0]["operation"] == "none"
    assert plan["summary"] == {"create": 0, "update": 0, "unchanged": 1}
    drifted = write(tmp_path / "d.toml", cheap(unique_slug, description="changed"))
    plan = json.loads(ok(cli(dev, "plan", "-f", str(drifted), "--json"), 2))
    (change,) = plan["workloads"][0]["changes"]
    assert change == {"field": "description", "live": None, "desired": "changed", "patchable": True}
    applied = json.loads(ok(cli(dev, "apply", "-f", str(path), "--json")))
    assert applied["workloads"][0]["action"] == "unchanged"


def test_apply_json_wait_keeps_stdout_to_the_document(
    dev: DevServer, unique_slug: str, cleanup: list[str], tmp_path: Path
) -> None:
    cleanup.append(unique_slug)
    spec = {
        "name": "CLI patient",
        "slug": unique_slug,
        "model": "fake/patient",
        "backend": "fake-upstream",
        "command": f"{sys.executable} {PATIENT}",
    }
    path = write(tmp_path / "p.toml", spec)
    result = cli(dev, "apply", "-f", str(path), "--json", "--wait", "--wait-timeout", "60")
    document = json.loads(ok(result))
    assert document["workloads"][0]["ready"] is True
    assert progress_lines(result.stderr, unique_slug), result.stderr


ANSI = "\x1b["


def test_plan_colour_only_on_a_terminal_and_never_with_no_color(
    dev: DevServer, unique_slug: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "w.toml", cheap(unique_slug))
    # A pipe: plain text.
    assert ANSI not in ok(cli(dev, "plan", "-f", str(path)), 2)
    # FORCE_COLOR forces it (CI logs); NO_COLOR wins over it.
    forced = ok(cli(dev, "plan", "-f", str(path), env={"FORCE_COLOR": "1"}), 2)
    assert f"{ANSI}32m+ {unique_slug}: will create" in forced
    both = cli(dev, "plan", "-f", str(path), env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ANSI not in ok(both, 2)
    # A real terminal: colour, unless NO_COLOR.
    assert f"{ANSI}32m+ {unique_slug}" in on_a_tty(dev, "plan", "-f", str(path))
    assert ANSI not in on_a_tty(dev, "plan", "-f", str(path), env={"NO_COLOR": "1"})
    # --json is never coloured.
    assert ANSI not in ok(cli(dev, "plan", "-f", str(path), "--json", env={"FORCE_COLOR": "1"}), 2)


def on_a_tty(dev: DevServer, *args: str, env: dict[str, str] | None = None) -> str:
    """stdout of the command run with a pseudo-terminal as its stdout."""
    import pty

    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "inferencekey", *args],
            env={**base_env(dev), "TERM": "xterm", **(env or {})},
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(secondary)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 2, process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    finally:
        os.close(primary)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    "args",
    [
        ["plan"],  # -f missing
        ["plan", "-f"],
        ["--bogus"],
        ["frobnicate"],
        ["apply", "-f", "w.toml", "--on-drift", "sideways"],
        ["get"],
        ["wait", "x", "--wait-timeout", "soon"],
        ["dev", "--port", "eighty"],
    ],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_exit_64_never_2(dev: DevServer, args: list[str]) -> None:
    """2 is ``plan``'s "changes pending": a mistyped flag must not read as drift."""
    result = cli(dev, *args)
    assert result.returncode == 64, (result.returncode, result.stderr)
    assert "usage: " in result.stderr and "error: " in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_every_option_has_help_and_the_token_flag_discourages_itself() -> None:
    from inferencekey.cli import _parser

    def walk(parser: Any, path: str) -> Iterator[tuple[str, Any]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from walk(child, f"{path} {name}")
            else:
                yield path, action

    seen = 0
    for path, action in walk(_parser(), "inferencekey"):
        seen += 1
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{path} {name} has no help"
    assert seen > 30
    sdk_token = next(a for p, a in walk(_parser(), "") if "--sdk-token" in a.option_strings)
    assert sdk_token.help is not None
    for word in ("INFERENCEKEY_SDK_TOKEN", "shell history", "ps"):
        assert word in sdk_token.help, sdk_token.help


def test_help_documents_exit_codes_json_keys_and_the_dev_command(dev: DevServer) -> None:
    top = ok(cli(dev, "--help"))
    assert "64 usage error" in top and "2 `plan` found changes" in top
    plan = ok(cli(dev, "plan", "--help"))
    for key in ('"workloads"', '"operation"', '"changes"', '"patchable"', '"summary"'):
        assert key in plan, key
    apply = ok(cli(dev, "apply", "--help"))
    for key in ('"action"', '"workload_id"', '"ready"', '"drift_warned"'):
        assert key in apply, key
    dev_help = ok(cli(dev, "dev", "--help"))
    assert "[-- COMMAND [ARG ...]]" in dev_help
    assert "exit with its status" in dev_help and "127" in dev_help

"""The ``inferencekey`` command: declarative workloads (``plan``, ``apply``), inspection
(``get``, ``list``, ``wait``), ``delete``, and the local platform (``dev``).

Configuration comes from the ``INFERENCEKEY_*`` environment variables; flags override them.

Exit status: 0 success; 1 an error (printed as one line); 2 from ``plan`` only, when something
would change; 64 (``EX_USAGE``) a usage error (an unknown flag, a missing argument); 127 when
``dev -- COMMAND`` cannot run the command; otherwise ``dev -- COMMAND`` passes on the
command's own status.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .enums import EnsureAction, OnDrift
from .errors import DriftWarning, InferenceKeyError, ReadinessError
from .management import ManagementClient, validate_spec
from .types import EnsureResult, FieldChange, ReadinessEvent, Workload, WorkloadSpec

__all__ = ["main"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
# sysexits.h EX_USAGE: never 2, which ``plan`` uses for "changes pending" (a CI script must not
# read a typo as drift).
EXIT_USAGE = 64
EXIT_NOT_FOUND = 127  # as the shell: ``dev -- COMMAND`` whose command cannot be run
_STATE_FILE = "dev-server.json"


class WorkloadsFileError(InferenceKeyError):
    """A workloads file that cannot be applied; the message names the file, the workload and
    the field.
    """

    def _prefix(self) -> str:
        return ""


class _ArgumentParser(argparse.ArgumentParser):
    """Usage errors exit 64 (``EX_USAGE``) instead of argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``inferencekey`` command (also ``python -m inferencekey``).

    Args:
        argv: The arguments after the program name; default ``sys.argv[1:]``. Everything
            after ``--`` is the command that ``dev`` runs.

    Returns:
        The exit status: 0 success; 1 an error (printed as one line on stderr) or no
        command; 2 from ``plan`` when something would change; 64 a refused ``dev --host``;
        127 when ``dev -- COMMAND`` cannot run the command, else that command's own status;
        130 on Ctrl-C.

    Raises:
        SystemExit: A usage error such as an unknown flag (status 64), or ``--help`` and
            ``--version`` (status 0), as argparse exits.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in args:
        split = args.index("--")
        args, command = args[:split], args[split + 1 :]
    parser = _parser()
    ns = parser.parse_args(args)
    if ns.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        if ns.command == "dev":
            if ns.dev_command == "token":
                return _dev_token(ns)
            if ns.dev_command == "webhook":
                return _dev_webhook(ns)
            return _dev(ns, command)
        handler = _COMMANDS[ns.command]
        return handler(ns)
    except InferenceKeyError as exc:
        print(f"inferencekey: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


# --------------------------------------------------------------------------------------------
# Arguments


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="inferencekey",
        description="Declare, inspect and run InferenceKey workloads.",
        epilog=_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"inferencekey {__version__}",
        help="print the version and exit",
    )
    conn = _ArgumentParser(add_help=False)
    conn.add_argument("--base-url", help="platform URL (env INFERENCEKEY_BASE_URL)")
    conn.add_argument("--project", help="project slug (env INFERENCEKEY_PROJECT)")
    conn.add_argument(
        "--sdk-token",
        help="ik_sdk_ token; prefer the INFERENCEKEY_SDK_TOKEN environment variable: a token "
        "on the command line lands in shell history and is visible to other users in `ps`",
    )
    conn.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per request (default 60)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    plan = sub.add_parser(
        "plan",
        parents=[conn],
        help="show what apply would change",
        description="Show what apply would change; writes nothing.",
        epilog=_PLAN_JSON_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("-f", "--file", type=Path, required=True, help="workloads TOML file")
    plan.add_argument("--json", action="store_true", help="machine-readable output (see below)")

    apply = sub.add_parser(
        "apply",
        parents=[conn],
        help="ensure every workload of a file",
        description="Create or update every workload of a file.",
        epilog=_APPLY_JSON_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.add_argument("-f", "--file", type=Path, required=True, help="workloads TOML file")
    apply.add_argument("--json", action="store_true", help="machine-readable output (see below)")
    apply.add_argument(
        "--on-drift",
        default="reconcile",
        choices=[m.value for m in OnDrift],
        help="what to do when a workload drifted (default: reconcile)",
    )
    apply.add_argument("--wait", action="store_true", help="wait until every workload is ready")
    apply.add_argument("--wait-timeout", type=float, default=600.0, help="seconds (default 600)")

    get = sub.add_parser("get", parents=[conn], help="show one workload")
    get.add_argument("slug", help="the workload's slug")
    get.add_argument("--json", action="store_true", help="machine-readable output")

    lst = sub.add_parser("list", parents=[conn], help="list the project's workloads")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    delete = sub.add_parser("delete", parents=[conn], help="delete a workload (irreversible)")
    delete.add_argument("slug", help="the workload's slug")

    wait = sub.add_parser("wait", parents=[conn], help="wait until a workload is ready")
    wait.add_argument("slug", help="the workload's slug")
    wait.add_argument("--wait-timeout", type=float, default=600.0, help="seconds (default 600)")

    dev = sub.add_parser(
        "dev",
        help="run the local platform (real CPU inference)",
        usage="%(prog)s [options] [-- COMMAND [ARG ...]]\n"
        "       %(prog)s token --workload SLUG [--project PROJECT]\n"
        "       %(prog)s webhook {add,list,remove,log} SLUG [URL]",
        description="Run the local platform. Without a command, print the INFERENCEKEY_* "
        "exports for a shell and run until Ctrl-C. With `-- COMMAND [ARG ...]`, run that "
        "command with the INFERENCEKEY_* environment set, stop the platform when it ends and "
        "exit with its status (127 when it cannot be run). Example: "
        "inferencekey dev --temp -- python examples/quickstart.py",
    )
    dev.add_argument("--project", default="acme", help="project to create (default: acme)")
    dev.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); beyond loopback needs --allow-remote",
    )
    dev.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host: anyone who reaches the platform with an ik_sdk_ "
        "token can then run any command on this machine",
    )
    dev.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    dev.add_argument("--data-dir", type=Path, default=None, help="state folder")
    dev.add_argument("--temp", action="store_true", help="temporary data folder, removed at exit")
    dev.add_argument("--python", default=None, help="interpreter that runs the CPU stand-ins")
    dev.add_argument("--rate-limit", type=int, default=None, help="requests per minute per token")
    dev.add_argument(
        "--webhook-retry-scale",
        type=float,
        default=None,
        help="multiply the webhook retry delays (1 min, 5 min, 15 min, 1 h, 6 h) by this, "
        "e.g. 0.01 to watch retries happen (default 1)",
    )
    dev_sub = dev.add_subparsers(dest="dev_command", title="subcommands")
    token = dev_sub.add_parser(
        "token",
        help="mint an ik_live_ key on the running platform",
        description="Mint an ik_live_ key for some workloads on the platform that "
        "`inferencekey dev` runs; prints an export line.",
    )
    token.add_argument("--workload", action="append", required=True, help="slug (repeatable)")
    token.add_argument(
        "--project",
        dest="token_project",
        default=None,
        help="project of the workloads (default: INFERENCEKEY_PROJECT, else acme)",
    )
    token.add_argument(
        "--data-dir",
        dest="token_data_dir",
        type=Path,
        default=None,
        help="state folder of the running platform (default: as `inferencekey dev`)",
    )
    webhook = dev_sub.add_parser(
        "webhook",
        help="manage a workload's webhook destinations on the running platform",
        description="Manage where the running platform delivers a workload's job results. "
        "`add` prints the destination's signing secret once, alone on the last line. "
        "Locally, http://127.0.0.1 and localhost URLs are allowed (a dev-only relaxation: "
        "the hosted platform takes HTTPS URLs of public hosts only).",
    )
    webhook_sub = webhook.add_subparsers(dest="webhook_command", title="actions", required=True)
    for name, text in (
        ("add", "deliver the workload's job results to URL; prints its secret"),
        ("list", "list the workload's destinations"),
        ("remove", "stop delivering to URL"),
        ("log", "show delivery attempts (status, attempts, last error)"),
    ):
        action = webhook_sub.add_parser(name, help=text, description=text)
        action.add_argument("slug", help="the workload's slug")
        if name in ("add", "remove"):
            action.add_argument("url", help="the destination URL")
        action.add_argument(
            "--project",
            dest="token_project",
            default=None,
            help="project of the workload (default: INFERENCEKEY_PROJECT, else acme)",
        )
        action.add_argument(
            "--data-dir",
            dest="token_data_dir",
            type=Path,
            default=None,
            help="state folder of the running platform (default: as `inferencekey dev`)",
        )
    return parser


_EXIT_HELP = """\
exit status: 0 success, 1 error, 2 `plan` found changes, 64 usage error,
127 `dev -- COMMAND` could not run COMMAND."""

_PLAN_JSON_HELP = """\
--json prints one JSON object (keys are stable; new keys may be added):
  {"workloads": [{"project": str, "slug": str,
                  "operation": "create" | "update" | "none",
                  "changes": [{"field": str, "live": any, "desired": any,
                               "patchable": bool}]}],
   "summary": {"create": int, "update": int, "unchanged": int}}
exit status: 0 nothing would change, 2 something would, 1 error, 64 usage error."""

_APPLY_JSON_HELP = """\
--json prints one JSON object (keys are stable; new keys may be added):
  {"workloads": [{"project": str, "slug": str, "workload_id": str | null,
                  "action": "created" | "updated" | "unchanged" | "planned"
                            | "drift_ignored" | "drift_warned",
                  "changes": [{"field": str, "live": any, "desired": any,
                               "patchable": bool}],
                  "ready": bool | null}],
   "summary": {"created": int, "updated": int, "unchanged": int, "planned": int,
               "drift_ignored": int, "drift_warned": int}}
"ready" is true once --wait saw the workload ready, null without --wait.
Progress lines of --wait go to stderr.
exit status: 0 success, 1 error, 64 usage error."""


def _client(ns: argparse.Namespace, file_project: str | None = None) -> ManagementClient:
    """Project: ``--project`` > the file's ``project`` > ``INFERENCEKEY_PROJECT``; a
    workload's own ``project`` key still wins for that workload (sdk §4)."""
    return ManagementClient.from_env(
        sdk_token=ns.sdk_token,
        base_url=ns.base_url,
        project=ns.project or file_project,
        timeout=ns.timeout,
    )


# --------------------------------------------------------------------------------------------
# Workloads files


def load_workloads(path: Path) -> tuple[str | None, list[WorkloadSpec]]:
    """Reads and checks every workload of a file before anything is applied.

    The file holds ``[[workload]]`` tables with the ``WorkloadSpec`` fields, and optionally a
    top-level ``project``.

    Args:
        path: The workloads TOML file.

    Returns:
        The file's ``project`` (or ``None``) and its specs, in file order.

    Raises:
        WorkloadsFileError: The file cannot be read, is not TOML, has unknown keys, declares
            no workload or a slug twice, or a workload fails the spec checks; the message
            names the file, the workload and the field.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorkloadsFileError(f"{path}: {exc.strerror or exc}", code="invalid_file") from None
    except tomllib.TOMLDecodeError as exc:
        raise WorkloadsFileError(f"{path}: not valid TOML: {exc}", code="invalid_file") from None
    project = document.get("project")
    if project is not None and not isinstance(project, str):
        raise WorkloadsFileError(f'{path}: "project" must be a string', code="invalid_file")
    unknown = set(document) - {"project", "workload"}
    if unknown:
        raise WorkloadsFileError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            "declare workloads as [[workload]] tables",
            code="invalid_file",
        )
    tables = document.get("workload", [])
    if not isinstance(tables, list) or not tables:
        raise WorkloadsFileError(f"{path}: declares no [[workload]]", code="invalid_file")
    specs: list[WorkloadSpec] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise WorkloadsFileError(
                f"{path}: workload {number}: must be a table of WorkloadSpec fields, "
                f"not {type(table).__name__}",
                code="invalid_file",
            )
        label = f'workload {number} ("{table.get("slug", "?")}")'
        try:
            spec = WorkloadSpec(**table)
            validate_spec(spec)
        except TypeError as exc:  # an unknown or missing keyword
            raise WorkloadsFileError(f"{path}: {label}: {exc}", code="invalid_file") from None
        except InferenceKeyError as exc:
            field = getattr(exc, "field", None)
            # An unknown field's message names it already (with a suggestion).
            where = f': field "{field}"' if field and "unknown" not in exc.message else ""
            raise WorkloadsFileError(
                f"{path}: {label}{where}: {exc.message}", code=exc.code or "invalid_file"
            ) from None
        if spec.slug in seen:
            raise WorkloadsFileError(
                f'{path}: {label}: slug "{spec.slug}" is declared twice', code="invalid_file"
            )
        seen.add(spec.slug)
        specs.append(spec)
    return project, specs


# --------------------------------------------------------------------------------------------
# plan / apply


def _plan(ns: argparse.Namespace) -> int:
    project, specs = load_workloads(ns.file)
    with _client(ns, project) as client:
        results = [client.plan(spec) for spec in specs]
    creates = sum(r.planned_operation == "create" for r in results)
    updates = sum(r.planned_operation == "update" for r in results)
    unchanged = len(results) - creates - updates
    if ns.json:
        document = {
            "workloads": [
                {
                    "project": r.project_slug,
                    "slug": r.workload_slug,
                    "operation": r.planned_operation or "none",
                    "changes": [_change_json(c) for c in r.changes],
                }
                for r in results
            ],
            "summary": {"create": creates, "update": updates, "unchanged": unchanged},
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        colour = _Colour.for_stream(sys.stdout)
        for result in results:
            _print_result(result, colour)
        print(f"\nPlan: {creates} to create, {updates} to update, {unchanged} unchanged.")
    return EXIT_CHANGES if creates or updates else EXIT_OK


def _apply(ns: argparse.Namespace) -> int:
    project, specs = load_workloads(ns.file)
    colour = _Colour.for_stream(sys.stdout)
    results: list[EnsureResult] = []
    with _client(ns, project) as client:
        _refuse_before_writing(client, specs, OnDrift(ns.on_drift))
        with warnings.catch_warnings():
            # The drift is printed below with its changes; the Python warning would repeat it.
            warnings.simplefilter("ignore", DriftWarning)
            for spec in specs:
                result = client.ensure(spec, on_drift=ns.on_drift)
                results.append(result)
                if not ns.json:
                    _print_result(result, colour)
        if ns.wait:
            # With --json, stdout carries the document only: progress goes to stderr.
            progress_to = sys.stderr if ns.json else sys.stdout
            for spec in specs:
                _wait_one(client, spec.slug, spec.project, ns.wait_timeout, progress_to)
    if ns.json:
        document = {
            "workloads": [
                {
                    "project": r.project_slug,
                    "slug": r.workload_slug,
                    "workload_id": r.workload_id,
                    "action": str(r.action),
                    "changes": [_change_json(c) for c in r.changes],
                    "ready": True if ns.wait else None,
                }
                for r in results
            ],
            "summary": {a.value: sum(r.action == a for r in results) for a in EnsureAction},
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    return EXIT_OK


def _change_json(change: FieldChange) -> dict[str, Any]:
    return {
        "field": change.field,
        "live": change.live,
        "desired": change.desired,
        "patchable": change.patchable,
    }


class _Colour:
    """ANSI colour for plan/apply diffs: only on a terminal, never when ``NO_COLOR`` is set
    (https://no-color.org); ``FORCE_COLOR`` forces it (e.g. in CI logs). ``NO_COLOR`` wins."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: Any) -> _Colour:
        if os.environ.get("NO_COLOR"):
            return cls(False)
        if os.environ.get("FORCE_COLOR"):
            return cls(True)
        isatty = getattr(stream, "isatty", None)
        return cls(bool(isatty and isatty()) and os.environ.get("TERM") != "dumb")

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def green(self, text: str) -> str:
        return self.paint(text, "32")

    def yellow(self, text: str) -> str:
        return self.paint(text, "33")

    def red(self, text: str) -> str:
        return self.paint(text, "31")


def _refuse_before_writing(
    client: ManagementClient, specs: list[WorkloadSpec], mode: OnDrift
) -> None:
    """Plans every workload first, so that a refusal (drift under ``fail``, a change that
    cannot be patched under ``reconcile``) is raised before any workload is written."""
    if mode not in (OnDrift.FAIL, OnDrift.RECONCILE):
        return
    for spec in specs:
        plan = client.plan(spec)
        if plan.planned_operation != "update":
            continue
        frozen = [c for c in plan.changes if not c.patchable]
        if mode == OnDrift.FAIL or frozen:
            client.ensure(spec, on_drift=mode)  # raises DriftError, and writes nothing


_SYMBOLS = {
    EnsureAction.CREATED: "+",
    EnsureAction.UPDATED: "~",
    EnsureAction.UNCHANGED: "=",
    EnsureAction.DRIFT_IGNORED: "!",
    EnsureAction.DRIFT_WARNED: "!",
}


def _print_result(result: EnsureResult, colour: _Colour | None = None) -> None:
    colour = colour or _Colour(False)
    if result.action == EnsureAction.PLANNED:
        verb = "create" if result.planned_operation == "create" else "update"
        symbol = "+" if verb == "create" else "~"
        line = f"{symbol} {result.workload_slug}: will {verb}"
    else:
        label = str(result.action).replace("_", " ")
        symbol = _SYMBOLS.get(result.action, "?")
        line = f"{symbol} {result.workload_slug}: {label}"
    paint = {"+": colour.green, "~": colour.yellow, "!": colour.red}.get(symbol)
    print(paint(line) if paint else line)
    creating = result.action == EnsureAction.CREATED or result.planned_operation == "create"
    for change in result.changes:
        text = f"    {_format_change(change, creating)}"
        print(colour.green(text) if creating else colour.yellow(text))


def _format_change(change: FieldChange, creating: bool) -> str:
    desired = json.dumps(change.desired, ensure_ascii=False)
    if creating:
        return f"{change.field}: {desired}"
    note = (
        "" if change.patchable else "  (cannot be patched: delete the workload or change its slug)"
    )
    return f"{change.field}: {json.dumps(change.live, ensure_ascii=False)} → {desired}{note}"


# --------------------------------------------------------------------------------------------
# get / list / delete / wait


def _get(ns: argparse.Namespace) -> int:
    with _client(ns) as client:
        workload = client.get(ns.slug)
    if ns.json:
        print(json.dumps(_workload_json(workload), indent=2, ensure_ascii=False))
    else:
        for key, value in _workload_json(workload).items():
            shown = (
                json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
            )
            print(f"{key:24} {'' if shown is None else shown}")
    return EXIT_OK


def _list(ns: argparse.Namespace) -> int:
    with _client(ns) as client:
        workloads = client.list()
    if ns.json:
        print(json.dumps([_workload_json(w) for w in workloads], indent=2, ensure_ascii=False))
        return EXIT_OK
    columns = ("slug", "name", "task_type", "backend", "model", "phase")
    rows = [[_text(getattr(w, c)) for c in columns] for w in workloads]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _delete(ns: argparse.Namespace) -> int:
    with _client(ns) as client:
        removed = client.delete(ns.slug)
    print(f"{ns.slug}: {'deleted' if removed else 'not found (nothing to delete)'}")
    return EXIT_OK


def _wait(ns: argparse.Namespace) -> int:
    with _client(ns) as client:
        _wait_one(client, ns.slug, ns.project, ns.wait_timeout)
    return EXIT_OK


def _wait_one(
    client: ManagementClient,
    slug: str,
    project: str | None,
    timeout: float,
    out: Any = None,
) -> None:
    started = time.monotonic()
    stream = out or sys.stdout

    def progress(event: ReadinessEvent) -> None:
        elapsed = time.monotonic() - started
        print(f"  {slug}: {event.phase} ({elapsed:.1f}s) {event.message}", file=stream)
        stream.flush()

    try:
        client.wait_until_ready(slug, project=project, timeout=timeout, on_progress=progress)
    except ReadinessError as exc:
        if exc.log_tail:
            print(f"  {slug}: output tail:\n{exc.log_tail}", file=sys.stderr)
        raise


def _workload_json(workload: Workload) -> dict[str, Any]:
    data = workload.model_dump(mode="json", exclude={"raw"})
    return {
        k: (str(v) if k in {"task_type", "backend", "execution_policy"} and v else v)
        for k, v in data.items()
    }


def _text(value: object) -> str:
    return "-" if value is None else str(value)


_COMMANDS = {
    "plan": _plan,
    "apply": _apply,
    "get": _get,
    "list": _list,
    "delete": _delete,
    "wait": _wait,
}


# --------------------------------------------------------------------------------------------
# dev


def default_data_dir() -> Path:
    """Where ``inferencekey dev`` keeps its data without ``--data-dir``.

    Returns:
        ``$XDG_DATA_HOME/inferencekey/dev``, by default ``~/.local/share/inferencekey/dev``.
    """
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "inferencekey" / "dev"


def _dev(ns: argparse.Namespace, command: list[str]) -> int:
    """Starts the platform; with a command, runs it with the environment set, then stops."""
    from .testing import DevServer

    data_dir = None if ns.temp else (ns.data_dir or default_data_dir())
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = DevServer(
            project=ns.project,
            host=ns.host,
            allow_remote=ns.allow_remote,
            port=ns.port,
            data_dir=data_dir,
            python=ns.python,
            rate_limit_per_minute=ns.rate_limit,
            webhook_retry_scale=ns.webhook_retry_scale,
        )
    except InferenceKeyError as exc:
        if exc.code != "remote_bind_refused":
            raise
        # A usage error, as for the inferencekey-dev binary: the platform's own message.
        print(f"inferencekey dev: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    if ns.allow_remote:
        print(
            f"inferencekey dev: warning: --allow-remote: listening on {ns.host}; if that is "
            "beyond loopback, anyone who reaches it with an ik_sdk_ token can run any command "
            "on this machine as this user",
            file=sys.stderr,
        )
    state = Path(server.data_dir) / _STATE_FILE
    try:
        _write_private(state, {"base_url": server.base_url, "admin_secret": server._admin_secret})
        env = server.env()
        if command:
            print(f"inferencekey dev: local platform at {server.base_url}", file=sys.stderr)
            try:
                return subprocess.call(command, env={**os.environ, **env})
            except OSError as exc:  # not found, not executable: one line, as a shell would
                reason = exc.strerror or str(exc)
                print(f"inferencekey dev: cannot run {command[0]}: {reason}", file=sys.stderr)
                return EXIT_NOT_FOUND
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        print(f"# local platform at {server.base_url}; Ctrl-C stops it", file=sys.stderr)
        sys.stdout.flush()
        _wait_for_signal()
        return EXIT_OK
    finally:
        state.unlink(missing_ok=True)
        server.stop()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def _write_private(path: Path, payload: dict[str, Any]) -> None:
    """The admin secret is readable by this user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f)


def _running_platform(ns: argparse.Namespace) -> dict[str, Any] | None:
    """The running platform's URL and admin secret, or ``None`` (said on stderr)."""
    state_path = (ns.token_data_dir or default_data_dir()) / _STATE_FILE
    try:
        state: dict[str, Any] = json.loads(state_path.read_text())
    except FileNotFoundError:
        print(
            f"inferencekey: no local platform runs from {state_path.parent}; "
            "start `inferencekey dev` first",
            file=sys.stderr,
        )
        return None
    return state


def _dev_webhook(ns: argparse.Namespace) -> int:
    """``dev webhook add|list|remove|log``, through the running platform's admin routes."""
    from .testing import admin_request

    state = _running_platform(ns)
    if state is None:
        return EXIT_ERROR
    project = ns.token_project or os.environ.get("INFERENCEKEY_PROJECT") or "acme"
    path = f"/_dev/projects/{project}/workloads/{ns.slug}/webhooks"

    def admin(method: str, route: str, body: Any = None) -> Any:
        return admin_request(state["base_url"], state["admin_secret"], method, route, body)

    if ns.webhook_command == "add":
        added = admin("POST", path, {"url": ns.url})
        print(f"added {added['id']}: {ns.slug} delivers to {added['url']}", file=sys.stderr)
        print("# its signing secret, shown only now:", file=sys.stderr)
        print(added["secret"])
        return EXIT_OK
    destinations: list[dict[str, Any]] = admin("GET", path)
    if ns.webhook_command == "list":
        for d in destinations:
            print(f"{d['id']}  {d['url']}  (added {d.get('created_at', '?')})")
        return EXIT_OK
    if ns.webhook_command == "remove":
        matching = [d for d in destinations if d["url"] == ns.url]
        if not matching:
            print(f"inferencekey: {ns.slug} does not deliver to {ns.url}", file=sys.stderr)
            return EXIT_ERROR
        admin("DELETE", f"{path}/{matching[0]['id']}")
        print(f"removed {matching[0]['id']} ({ns.url})", file=sys.stderr)
        return EXIT_OK
    for d in admin("GET", f"{path}/deliveries"):
        last = d.get("last_error") or d.get("last_status") or ""
        print(
            f"{d.get('updated_at', '?')}  {d['status']:<9}  attempts={d['attempts']}  "
            f"job={d['job_id']}  {d['url']}  {last}".rstrip()
        )
    return EXIT_OK


def _dev_token(ns: argparse.Namespace) -> int:
    """Mints a workload-scoped key through the running platform's admin route."""
    state = _running_platform(ns)
    if state is None:
        return EXIT_ERROR
    from .testing import admin_request

    project = ns.token_project or os.environ.get("INFERENCEKEY_PROJECT") or "acme"
    body = {"kind": "live", "grants": [f"{project}/{w}" for w in ns.workload]}
    path = f"/_dev/projects/{project}/tokens"
    token = admin_request(state["base_url"], state["admin_secret"], "POST", path, body)["token"]
    print(f"export INFERENCEKEY_API_KEY={shlex.quote(token)}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``inferencekey`` command. ``dev`` runs the local platform:

* ``inferencekey dev [--project acme]`` starts it in the foreground and prints the ``export``
  lines that point the SDK at it, until Ctrl-C;
* ``inferencekey dev [...] -- COMMAND …`` runs COMMAND with those variables set, then stops
  everything and exits with COMMAND's status;
* ``inferencekey dev token --workload NAME`` mints an ``ik_live_`` key for one workload on the
  platform running from the same data folder.
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
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import InferenceKeyError

_STATE_FILE = "dev-server.json"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "inferencekey" / "dev"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in args:
        split = args.index("--")
        args, command = args[:split], args[split + 1 :]
    parser = _parser()
    ns = parser.parse_args(args)
    try:
        if ns.command == "dev" and ns.dev_command == "token":
            return _dev_token(ns)
        if ns.command == "dev":
            return _dev(ns, command)
    except InferenceKeyError as exc:
        print(f"inferencekey: {exc}", file=sys.stderr)
        return 1
    parser.print_help()
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inferencekey", description="InferenceKey SDK command line"
    )
    parser.add_argument("--version", action="version", version=f"inferencekey {__version__}")
    sub = parser.add_subparsers(dest="command")
    dev = sub.add_parser("dev", help="run the local platform (real CPU inference)")
    dev.add_argument("--project", default="acme", help="project to create (default: acme)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8787, help="0 picks a free port (default: 8787)")
    dev.add_argument(
        "--data-dir", type=Path, default=None, help="state folder (default: XDG data dir)"
    )
    dev.add_argument(
        "--temp", action="store_true", help="use a temporary data folder, removed at exit"
    )
    dev.add_argument("--python", default=None, help="interpreter that runs the CPU stand-ins")
    dev.add_argument("--rate-limit", type=int, default=None, help="requests per minute per token")
    dev_sub = dev.add_subparsers(dest="dev_command")
    token = dev_sub.add_parser("token", help="mint an ik_live_ key on the running platform")
    token.add_argument(
        "--workload", action="append", required=True, help="workload slug (repeatable)"
    )
    token.add_argument("--project", dest="token_project", default=None)
    token.add_argument("--data-dir", dest="token_data_dir", type=Path, default=None)
    return parser


def _dev(ns: argparse.Namespace, command: list[str]) -> int:
    from .testing import DevServer

    data_dir = None if ns.temp else (ns.data_dir or default_data_dir())
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    server = DevServer(
        project=ns.project,
        host=ns.host,
        port=ns.port,
        data_dir=data_dir,
        python=ns.python,
        rate_limit_per_minute=ns.rate_limit,
    )
    state = Path(server.data_dir) / _STATE_FILE
    try:
        _write_private(state, {"base_url": server.base_url, "admin_secret": server._admin_secret})
        env = server.env()
        if command:
            print(f"inferencekey dev: local platform at {server.base_url}", file=sys.stderr)
            return subprocess.call(command, env={**os.environ, **env})
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        print(f"# local platform at {server.base_url}; Ctrl-C stops it", file=sys.stderr)
        sys.stdout.flush()
        _wait_for_signal()
        return 0
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


def _dev_token(ns: argparse.Namespace) -> int:
    state_path = (ns.token_data_dir or default_data_dir()) / _STATE_FILE
    try:
        state = json.loads(state_path.read_text())
    except FileNotFoundError:
        print(
            f"inferencekey: no local platform runs from {state_path.parent}; "
            "start `inferencekey dev` first",
            file=sys.stderr,
        )
        return 1
    project = ns.token_project or os.environ.get("INFERENCEKEY_PROJECT") or "acme"
    body = json.dumps({"kind": "live", "grants": [f"{project}/{w}" for w in ns.workload]}).encode()
    request = urllib.request.Request(
        f"{state['base_url']}/_dev/projects/{project}/tokens",
        data=body,
        headers={
            "Authorization": f"Bearer {state['admin_secret']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.loads(response.read())["token"]
    print(f"export INFERENCEKEY_API_KEY={shlex.quote(token)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

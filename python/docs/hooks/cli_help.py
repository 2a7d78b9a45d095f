"""MkDocs hook: fills the command-line page with the real ``--help`` of each command.

A marker line ``<!-- inferencekey-help: SUBCOMMAND ... -->`` becomes a code block holding what
``inferencekey SUBCOMMAND ... --help`` prints, run with the interpreter that builds the docs
(the package must be installed in it). The page then cannot drift from the parser; a command
that fails to print its help fails the build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

_MARKER = re.compile(r"^<!-- inferencekey-help:(?P<args>[^>]*)-->$", re.MULTILINE)


def _help(args: list[str], cwd: str) -> str:
    # A fixed width and no colour, so the page is the same on every machine.
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "PYTHON_COLORS": "0"}
    command = [sys.executable, "-m", "inferencekey", *args, "--help"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    if done.returncode != 0:
        shown = " ".join(["inferencekey", *args, "--help"])
        raise PluginError(f"`{shown}` exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.rstrip()


def on_page_markdown(markdown: str, *, config: MkDocsConfig, **kwargs: Any) -> str:
    # Run from the repository's top level: from python/ (where mkdocs.yml is), ``-m`` would
    # import the source folder, which has no native library, instead of the installed package.
    top = os.path.dirname(os.path.dirname(os.path.abspath(config.config_file_path)))

    def block(match: re.Match[str]) -> str:
        return f"```text\n{_help(match['args'].split(), top)}\n```"

    return _MARKER.sub(block, markdown)

"""Applies a workloads file from Python: what ``inferencekey apply -f FILE --wait`` does,
minus the diff output. Usage: ``python examples/apply_workloads.py [FILE]`` (default: the
``workloads.toml`` beside this script). Reads ``INFERENCEKEY_SDK_TOKEN`` and
``INFERENCEKEY_PROJECT`` (a top-level ``project`` in the file wins over the latter)."""

import sys
from pathlib import Path
from typing import Any

from inferencekey import ManagementClient, WorkloadSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # the package depends on tomli for Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


def load(path: Path) -> tuple[str | None, list[WorkloadSpec]]:
    """The file's project and its specs; a mistyped key fails here, before anything is sent."""
    document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    return document.get("project"), [WorkloadSpec(**table) for table in document["workload"]]


path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("workloads.toml")
project, specs = load(path)

with ManagementClient.from_env(project=project) as mgmt:
    for spec in specs:
        result = mgmt.ensure(spec)  # create, no-op, or reconcile drift
        print(f"{result.workload_slug}: {result.action}")
    for spec in specs:
        # Raises ReadinessError (with the process's log tail) if the workload fails to start.
        ready = mgmt.wait_until_ready(spec.slug, project=spec.project, timeout=300, silent=True)
        print(f"{spec.slug}: {ready.phase}")

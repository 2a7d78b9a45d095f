"""Workload specs and record helpers shared by the control-plane tests."""

from __future__ import annotations

from typing import Any

from inferencekey import Workload, WorkloadSpec
from inferencekey.testing import DevServer

__all__ = ["cheap_spec", "list_path", "snapshot"]


def cheap_spec(slug: str, **overrides: Any) -> WorkloadSpec:
    """A spec that costs the platform nothing to run.

    ``text2image`` has no CPU stand-in on the local platform and no ``command`` is given, so
    the platform stores, lists, patches and deletes the workload like any other but starts no
    process: its readiness goes straight to phase ``error``. That is deliberate -- these are
    control-plane tests, and a ``text2text`` spec would start a SmolLM2 server (~180 MB RSS,
    ~1 s of CPU) for each of the dozens of workloads these tests make, on a 2-core machine.
    """
    values: dict[str, Any] = {
        "name": f"Live {slug}",
        "slug": slug,
        "model": "stabilityai/sd-turbo",
        "backend": "stablediffusioncpp",
        "task_type": "text2image",
        "description": "control-plane test workload",
        "config": {"steps": 4, "sampler": {"name": "euler", "eta": 0.5}},
    }
    values.update(overrides)
    return WorkloadSpec(**values)


def list_path(dev: DevServer) -> str:
    return f"/api/projects/{dev.project}/workloads"


def snapshot(workload: Workload) -> dict[str, Any]:
    """What a write would change, including the server's ``updated_at``."""
    return {
        "name": workload.name,
        "model": workload.model,
        "config": workload.config,
        "description": workload.description,
        "task_type": workload.task_type,
        "updated_at": workload.updated_at,
    }

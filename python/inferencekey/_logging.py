"""Standard ``logging`` for the SDK (sdk-behaviour §11) and the bridge for core log records.

The package installs only a ``NullHandler`` on ``inferencekey``; applications decide where
records go. ``INFERENCEKEY_LOG=debug|info`` is the one shortcut that adds a stderr handler.
The core sends records (already redacted) through the ABI log callback; they become ordinary
records on the logger named by their target, with the structured fields under
``record.ik_fields``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from . import _status as st
from .errors import scrub_secrets

__all__ = [
    "FIELDS_ATTR",
    "configure_from_env",
    "emit_native_record",
    "http_logger",
    "install_native_level_setter",
    "logger",
    "native_max_level",
    "readiness_logger",
    "reconcile_logger",
    "sync_native_level",
]

LOGGER_NAME: Final = "inferencekey"
#: The ``LogRecord`` attribute holding a core record's structured fields.
FIELDS_ATTR: Final = "ik_fields"
ENV_VAR: Final = "INFERENCEKEY_LOG"

logger: Final = logging.getLogger(LOGGER_NAME)
http_logger: Final = logging.getLogger(f"{LOGGER_NAME}.http")
reconcile_logger: Final = logging.getLogger(f"{LOGGER_NAME}.reconcile")
readiness_logger: Final = logging.getLogger(f"{LOGGER_NAME}.readiness")
_ALL: Final = (logger, http_logger, reconcile_logger, readiness_logger)

if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
    logger.addHandler(logging.NullHandler())

_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A thread of the parent may have held the lock when it forked; the child has no such
    # thread, so it starts with a free lock of its own (sdk §10).
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)
# ``logging`` empties every logger's ``_cache`` in place whenever a level changes
# (``setLevel``, ``logging.disable``): this key, left in it after a push, means nothing
# changed since. ``None`` where ``logging`` keeps no such cache: levels are then read each time.
_PUSHED_KEY: Final = object()
_level_cache: dict[object, Any] | None = getattr(logger, "_cache", None)
_setter: Callable[[int], object] | None = None
_pushed: int | None = None
_env_applied = False

_ENV_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}
_NATIVE_NUMBERS: Final = {
    st.IK_LOG_ERROR: logging.ERROR,
    st.IK_LOG_WARN: logging.WARNING,
    st.IK_LOG_INFO: logging.INFO,
    st.IK_LOG_DEBUG: logging.DEBUG,
}


def configure_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Applies ``INFERENCEKEY_LOG`` (``debug`` or ``info``, any case; other values ignored).

    Sets the ``inferencekey`` logger's level and, when it has no handler besides the
    ``NullHandler``, adds one writing to stderr. Idempotent. Returns whether it applied.
    """
    global _env_applied
    _env_applied = True
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    level = _ENV_LEVELS.get(value.strip().lower())
    if level is None:
        return False
    logger.setLevel(level)
    if all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    return True


def native_max_level() -> int:
    """The most verbose native level any SDK logger accepts now: 4 debug, 3 info, 2 warning,
    1 error, 0 off. The core builds no record above it, so quiet loggers cost nothing.
    Called before every native operation, so it reads levels without building records."""
    lowest = logging.CRITICAL + 1
    for lg in _ALL:
        level = lg.getEffectiveLevel()
        if level < lowest:
            lowest = level
    lowest = max(lowest, logging.root.manager.disable + 1)
    if lowest <= logging.DEBUG:
        return st.IK_LOG_DEBUG
    if lowest <= logging.INFO:
        return st.IK_LOG_INFO
    if lowest <= logging.WARNING:
        return st.IK_LOG_WARN
    if lowest <= logging.ERROR:
        return st.IK_LOG_ERROR
    return st.IK_LOG_OFF


def install_native_level_setter(setter: Callable[[int], object]) -> None:
    """Registers how to tell the core its max level (the binding wraps
    ``ik_log_set_callback``); the next :func:`sync_native_level` pushes the level."""
    global _setter, _pushed
    with _lock:
        _setter = setter
        _pushed = None
        if _level_cache is not None:
            _level_cache.pop(_PUSHED_KEY, None)


def sync_native_level() -> int:
    """Applies ``INFERENCEKEY_LOG`` unless already done, then pushes :func:`native_max_level`
    to the core if it changed since the last push. Cheap (a dict lookup when nothing
    changed), so the binding calls it before every native operation: logging configured after
    a client was created still gets the core's records."""
    global _pushed
    cache = _level_cache
    if _env_applied and _setter is not None:
        if cache is not None:
            known = cache.get(_PUSHED_KEY)
            if known is not None:
                return known  # type: ignore[no-any-return]
        level = native_max_level()
        if level == _pushed:
            if cache is not None:
                cache[_PUSHED_KEY] = level
            return level
    with _lock:
        if not _env_applied:
            configure_from_env()
        level = native_max_level()
        if _setter is not None and level != _pushed:
            _setter(level)
            _pushed = level
        if cache is not None and _setter is not None:
            cache[_PUSHED_KEY] = level
        return level


def emit_native_record(level: int, record_json: str) -> None:
    """Logs one core record ``{"target","message","fields"}`` at native ``level``.

    Runs on a core thread from the ABI callback, so it never raises: an undecodable record is
    logged as text on ``inferencekey``. The message is used as is (no ``%`` formatting).
    """
    try:
        try:
            record: Any = json.loads(record_json)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {"message": record_json}
        py_level = _NATIVE_NUMBERS.get(level, logging.INFO)
        target = record.get("target")
        if not (
            isinstance(target, str)
            and (target == LOGGER_NAME or target.startswith(LOGGER_NAME + "."))
        ):
            target = LOGGER_NAME
        lg = logging.getLogger(target)
        if not lg.isEnabledFor(py_level):
            return
        message = record.get("message")
        fields = record.get("fields")
        fields = fields if isinstance(fields, dict) else {}
        # The core sends records redacted already; scrubbing again (a no-op then, and free for
        # text without "ik_" or "whsec_") keeps a secret out of logs whatever the record's source.
        log_record = lg.makeRecord(
            target,
            py_level,
            "(native)",
            0,
            scrub_secrets(message if isinstance(message, str) else str(message)),
            (),
            None,
            extra={
                FIELDS_ATTR: {
                    k: scrub_secrets(v) if isinstance(v, str) else v for k, v in fields.items()
                }
            },
        )
        lg.handle(log_record)
    except Exception:  # a log record must never break the core's thread
        pass

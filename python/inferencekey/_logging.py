"""Standard ``logging`` for the SDK (sdk-behaviour §11) and the bridge for core log records.

The package installs only a ``NullHandler`` on ``inferencekey``; applications decide where
records go. ``INFERENCEKEY_LOG=debug|info`` is the one shortcut that adds a stderr handler.
The core sends records (already redacted) through the ABI log callback; they become ordinary
records on the logger named by their target, with the structured fields under
``record.ik_fields``.

``logging`` is imported only once something uses it: the application (it is in
``sys.modules``), ``INFERENCEKEY_LOG``, or a core record to emit. Until then nothing can have
configured a level, so the core runs at ``logging``'s default (WARNING) and the module, about
half a megabyte and a tenth of the import time, stays unloaded.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from . import _status as st
from .errors import scrub_secrets

if TYPE_CHECKING:
    import logging

__all__ = [
    "FIELDS_ATTR",
    "configure_from_env",
    "emit_native_record",
    "install_native_level_setter",
    "native_max_level",
    "sync_native_level",
]

LOGGER_NAME: Final = "inferencekey"
#: The ``LogRecord`` attribute holding a core record's structured fields.
FIELDS_ATTR: Final = "ik_fields"
ENV_VAR: Final = "INFERENCEKEY_LOG"
_CHILDREN: Final = {
    "http_logger": "http",
    "reconcile_logger": "reconcile",
    "readiness_logger": "readiness",
}

_lock = threading.RLock()


def _new_lock_in_child() -> None:
    # A thread of the parent may have held the lock when it forked; the child has no such
    # thread, so it starts with a free lock of its own (sdk §10).
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)
# ``logging`` empties every logger's ``_cache`` in place whenever a level changes
# (``setLevel``, ``logging.disable``): this key, left in it after a push, means nothing
# changed since. ``None`` where ``logging`` keeps no such cache (or is not loaded yet):
# levels are then read each time.
_PUSHED_KEY: Final = object()
_level_cache: dict[object, Any] | None = None
_setter: Callable[[int], object] | None = None
_pushed: int | None = None
_env_applied = False
# The SDK's loggers, from :func:`_loggers` on: ``inferencekey`` first, then its children.
_all: tuple[logging.Logger, ...] = ()


def _loggers() -> tuple[logging.Logger, ...]:
    """Imports ``logging`` and sets up the SDK's loggers, once: the ``NullHandler`` on
    ``inferencekey``, and the level cache :func:`sync_native_level` reads."""
    global _all, _level_cache
    if _all:
        return _all
    with _lock:
        if not _all:
            import logging

            root = logging.getLogger(LOGGER_NAME)
            if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
                root.addHandler(logging.NullHandler())
            children = tuple(logging.getLogger(f"{LOGGER_NAME}.{c}") for c in _CHILDREN.values())
            _level_cache = getattr(root, "_cache", None)
            _all = (root, *children)
    return _all


def __getattr__(name: str) -> logging.Logger:
    """``logger`` and its children (``http_logger``...), set up on first use."""
    if name == "logger":
        return _loggers()[0]
    if name in _CHILDREN:
        return _loggers()[1 + list(_CHILDREN).index(name)]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if "logging" in sys.modules:  # the application uses it already: set up as it would expect
    _loggers()

# ``logging``'s level numbers, stable since Python 2.
_DEBUG, _INFO, _WARNING, _ERROR, _CRITICAL = 10, 20, 30, 40, 50
_ENV_LEVELS: Final = {"debug": _DEBUG, "info": _INFO}
_NATIVE_NUMBERS: Final = {
    st.IK_LOG_ERROR: _ERROR,
    st.IK_LOG_WARN: _WARNING,
    st.IK_LOG_INFO: _INFO,
    st.IK_LOG_DEBUG: _DEBUG,
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
    import logging

    logger = _loggers()[0]
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
    if not _all:
        if "logging" not in sys.modules:
            return st.IK_LOG_WARN  # nothing configured: logging's default, the root at WARNING
        _loggers()
    import logging

    lowest = _CRITICAL + 1
    for lg in _all:
        level = lg.getEffectiveLevel()
        if level < lowest:
            lowest = level
    lowest = max(lowest, logging.root.manager.disable + 1)
    if lowest <= _DEBUG:
        return st.IK_LOG_DEBUG
    if lowest <= _INFO:
        return st.IK_LOG_INFO
    if lowest <= _WARNING:
        return st.IK_LOG_WARN
    if lowest <= _ERROR:
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
        _loggers()
        import logging

        try:
            record: Any = json.loads(record_json)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {"message": record_json}
        py_level = _NATIVE_NUMBERS.get(level, _INFO)
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

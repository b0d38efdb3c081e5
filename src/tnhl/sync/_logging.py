"""Structured logs (structlog): console lines by default, JSON lines with `--log-json`.

Every line goes through one handler and one structlog chain, whoever wrote it: tnhl's own
structlog calls, and stdlib records from httpx, uvicorn (errors and access), alembic, Python's
warnings and uncaught exceptions. With JSON on, each is one JSON object per line (a traceback
is its `exception` field), so a log shipper never meets a plain-text line.

Log calls carry event ids, entity keys and reasons, never request bodies or headers; the
HighLevel client's redaction runs last on every event, whoever wrote it (and on the traceback
text), so a careless future log line cannot leak a bearer token, PIT or `whsec_` secret.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

import structlog

from tnhl.highlevel import RedactingFilter, redact_processor

__all__ = ["configure_logging", "json_error"]

_state: dict[str, Any] = {"json": False}
_log = structlog.get_logger("tnhl")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the call.

    Binding the stream once would keep a closed one (a test runner's capture, a redirected
    stream) and turn every later log line into an "I/O operation on closed file" error.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _ForeignRedacting(RedactingFilter):
    """Merges a stdlib record's arguments into its message safely (a bad %-format must not
    turn a log call into a crash) and redacts it; structlog's own records carry their event
    dict in `msg` and are redacted by the chain instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return True if isinstance(record.msg, dict) else super().filter(record)


def _active() -> bool:
    """JSON lines are on and this module's handler is still the root's (a test harness may
    have put the handlers back since)."""
    return bool(_state["json"]) and _state.get("handler") in logging.getLogger().handlers


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt) or not _active():
        _state.get("excepthook", sys.__excepthook__)(kind, value, tb)
        return
    _log.critical("uncaught exception", exc_info=(kind, value, tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if not _active():
        _state.get("thread_excepthook", threading.__excepthook__)(args)
        return
    if args.exc_type is SystemExit:
        return
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    thread = args.thread.name if args.thread is not None else None
    _log.critical("uncaught exception in a thread", thread=thread, exc_info=exc_info)


def _hooks(json_lines: bool) -> None:
    """With JSON on, uncaught exceptions are logged as JSON lines; with it off, the hooks that
    were there before come back (typer's pretty tracebacks, Python's own)."""
    if json_lines:
        if sys.excepthook is not _excepthook:
            _state["excepthook"] = sys.excepthook
            sys.excepthook = _excepthook
        if threading.excepthook is not _thread_excepthook:
            _state["thread_excepthook"] = threading.excepthook
            threading.excepthook = _thread_excepthook
        return
    if sys.excepthook is _excepthook:
        sys.excepthook = _state.pop("excepthook", sys.__excepthook__)
    if threading.excepthook is _thread_excepthook:
        previous: Callable[[threading.ExceptHookArgs], Any] = _state.pop(
            "thread_excepthook", threading.__excepthook__
        )
        threading.excepthook = previous


def configure_logging(*, json_lines: bool = False, level: str = "info") -> None:
    """Configure structlog and the stdlib root logger (uvicorn, httpx, warnings), once per
    process; calling it again replaces the configuration."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        # Plain tracebacks: the exception text is formatted (and redacted) before rendering.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    formatter = structlog.stdlib.ProcessorFormatter(
        # What a stdlib record (httpx, uvicorn, py.warnings) gets before the shared chain.
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, stamp],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
    )
    handler = _CurrentStderr()
    handler.addFilter(_ForeignRedacting())
    handler.setFormatter(formatter)
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    # uvicorn's own logging config gives its loggers private handlers on the stream of the
    # moment, bypassing the handler above: route them through the root handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    # Migrations log each step at INFO; at start that is noise, not news.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)  # warnings.warn -> the "py.warnings" logger -> this handler
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # The stdlib route shares the handler above, and with it the stream looked up per call.
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    _state.update(json=json_lines, handler=handler)
    _hooks(json_lines)


def json_error(message: str) -> bool:
    """When log lines are JSON, log `message` as an error line and return True; else False
    (the caller prints it as plain text)."""
    if not _active():
        return False
    _log.error(message)
    return True

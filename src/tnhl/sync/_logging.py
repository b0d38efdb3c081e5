"""Structured logs (structlog): console lines by default, JSON lines with `--log-json`.

Log calls carry event ids, entity keys and reasons, never request bodies or headers; the
HighLevel client's redaction runs last on every event and every stdlib record (uvicorn,
alembic), so a careless future log line cannot leak a bearer token, PIT or `whsec_` secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from tnhl.highlevel import RedactingFilter, redact_processor

__all__ = ["configure_logging"]


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


def configure_logging(*, json_lines: bool = False, level: str = "info") -> None:
    """Configure structlog (and the stdlib root logger, for uvicorn) once per process."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    handler = _CurrentStderr()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    # uvicorn's own logging config gives its loggers private handlers on the stream of the
    # moment, bypassing the redaction above: route them through the root handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    # Migrations log each step at INFO; at start that is noise, not news.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # The stdlib route shares the handler above, and with it the stream looked up per call.
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )

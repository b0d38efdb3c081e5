"""Structured logs (structlog): console lines by default, JSON lines with `--log-json`.

Log calls carry event ids, entity keys and reasons, never request bodies or headers; a last
processor masks anything that still looks like a credential (bearer tokens, `whsec_`/`pit-`
secrets, token fields), so a careless future log line cannot leak one.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "redact"]

_SECRETS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|\b(whsec_|pit-)[A-Za-z0-9+/=_-]+"
    r"|((?:access_token|refresh_token|client_secret|token|secret)[\"']?\s*[:=]\s*[\"']?)[^\s,\"'&}]+"
)


def _mask(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(2) or match.group(3) or ""
    return f"{prefix}***"


def redact(value: str) -> str:
    """`value` with credential-looking parts replaced by `***`."""
    return _SECRETS.sub(_mask, value)


def _redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def configure_logging(*, json_lines: bool = False, level: str = "info") -> None:
    """Configure structlog (and the stdlib root logger, for uvicorn) once per process."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s", force=True)
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
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )

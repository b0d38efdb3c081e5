"""Secret redaction for logs: a stdlib ``logging.Filter`` and a structlog processor.

Whatever the source of a log line (our own messages, an exception text, an HTTP library's debug
output), these scrub what would let a reader act as the integration:

- ``Bearer <token>`` (any case);
- the values of ``access_token``, ``refresh_token``, ``client_secret`` (and their camelCase
  spellings, and ``authorization``) in ``key=value``, ``key: value`` and JSON/``repr`` forms;
- Private Integration Tokens, ``pit-...``, anywhere.

``get_logger()`` returns the package logger with the filter installed, so records logged through
it are redacted however the application configures handlers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["MASK", "RedactingFilter", "get_logger", "redact", "redact_processor"]

MASK = "***"
_SECRET_KEYS = (
    "access_token",
    "refresh_token",
    "client_secret",
    "accessToken",
    "refreshToken",
    "clientSecret",
    "authorization",
)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]+")
_KEYED = re.compile(
    r"""(?ix)
    (["']?\b(?:access_token|refresh_token|client_secret|accesstoken|refreshtoken|clientsecret)
    ["']?\s*[:=]\s*)          # the key and its separator, kept
    (["']?)                   # an opening quote, kept
    (?!\*\*\*)[^"'&\s,;}\]]+  # the value, masked
    """
)
_PIT = re.compile(r"\bpit-[A-Za-z0-9-]{4,}")
# Standard Webhooks signing secrets (the TalkNotes side) share this redaction.
_WHSEC = re.compile(r"\bwhsec_[A-Za-z0-9+/=]+")
_SECRET_KEY_SET = frozenset(k.lower() for k in _SECRET_KEYS)


def redact(text: str) -> str:
    """`text` with every bearer token, OAuth secret value and PIT replaced by ``***``."""
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _KEYED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _WHSEC.sub(f"whsec_{MASK}", text)
    return _PIT.sub(f"pit-{MASK}", text)


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and key.lower() in _SECRET_KEY_SET and value is not None:
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(None, v) for v in value)
    return value


def redact_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact every value of the event (put it before the renderer)."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (arguments merged in) and exception text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A bad %-format must not turn a log call into a crash; keep the raw parts.
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def get_logger(name: str = "tnhl.highlevel") -> logging.Logger:
    """A stdlib logger with a RedactingFilter installed (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger

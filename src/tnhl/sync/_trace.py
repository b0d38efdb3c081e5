"""Each HighLevel call a record's try makes, kept for its events' story (issue 11: "each call
with its status and HighLevel's answer or error").

The clients report every request they send, their own retries and token refreshes included
(`on_exchange`); they are shared by a process's worker threads, so an exchange belongs to the
call the reporting thread is making (`CallTracer.recording`). A client that reports nothing (a
test's fake) still leaves one line per call, from what it returned or raised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tnhl.highlevel import EXCHANGE_BODY_LIMIT, OPERATIONS, APIError, Exchange, redact
from tnhl.store import EventCall

__all__ = ["CallTracer", "event_calls"]


class CallTracer:
    """Hands each exchange a client reports to the call this thread is making, if any."""

    def __init__(self) -> None:
        self._local = threading.local()

    def observe(self, exchange: Exchange) -> None:
        seen: list[Exchange] | None = getattr(self._local, "seen", None)
        if seen is not None:
            seen.append(exchange)

    @contextmanager
    def recording(self) -> Iterator[list[Exchange]]:
        seen: list[Exchange] = []
        self._local.seen = seen
        try:
            yield seen
        finally:
            self._local.seen = None


def event_calls(
    operation: str,
    at: float,
    seconds: float,
    seen: list[Exchange],
    result: Any = None,
    error: BaseException | None = None,
) -> list[EventCall]:
    """The lines one call leaves: an exchange each, else one from its result or error. Secrets
    are masked before anything is kept."""
    if seen:
        return [
            EventCall(
                at,
                operation,
                redact(f"{x.method} {x.path}"),
                x.status,
                x.seconds,
                redact(x.body if x.status is not None else f"no answer: {x.error}"),
            )
            for x in seen
        ]
    op = OPERATIONS.get(operation)
    request = f"{op.method} {op.path}" if op is not None else operation
    if error is not None:
        status = error.status if isinstance(error, APIError) else None
        answer = f"{type(error).__name__}: {error}"
    else:
        status, answer = None, json.dumps(result, default=str)
    return [
        EventCall(at, operation, request, status, seconds, redact(answer[:EXCHANGE_BODY_LIMIT]))
    ]

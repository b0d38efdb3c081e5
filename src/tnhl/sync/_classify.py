"""Sorting a failed call into retry / give up / wait (the engine never branches on raw statuses).

DESIGN.md: 400/404/422 are not retried; 401 is refreshed once by the client, then retried on the
schedule (an operator may fix the token); 429 and rate-limit waits reschedule at the time they
name and do not use up a try; transport errors, 5xx and unknown outcomes are retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tnhl.highlevel import (
    APIError,
    ConfigurationError,
    DailyQuotaExhaustedError,
    MissingScopeError,
    OutcomeUnknownError,
    RateLimitedError,
)
from tnhl.store import MappingConflictError
from tnhl.sync._errors import RescheduleNeeded

__all__ = ["Verdict", "classify"]

_GIVE_UP = frozenset({400, 403, 404, 409, 410, 422})


@dataclass(frozen=True)
class Verdict:
    """`retry` on the schedule (or after `delay`), `dead` at once, or `wait` without a try used."""

    kind: Literal["retry", "dead", "wait"]
    reason: str
    delay: float | None = None
    unknown_outcome: bool = False


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def classify(exc: BaseException, *, now: float) -> Verdict:
    """The verdict for `exc`, raised while executing a call at time `now` (epoch seconds)."""
    if isinstance(exc, RescheduleNeeded):
        return Verdict("wait", exc.reason, delay=exc.wait)
    if isinstance(exc, DailyQuotaExhaustedError):
        resets = exc.resets_at
        delay = max(1.0, resets - now) if resets else 3600.0
        return Verdict("wait", "daily quota exhausted", delay=delay)
    if isinstance(exc, RateLimitedError):
        return Verdict("wait", "HighLevel answered 429", delay=exc.retry_after or 10.0)
    if isinstance(exc, ConfigurationError | MissingScopeError):
        # A request tnhl cannot even send (or a token without the scope): the same try fails
        # the same way, so it is not retried.
        return Verdict("dead", _describe(exc))
    if isinstance(exc, MappingConflictError):
        # Two TalkNotes records resolved to one HighLevel record (e.g. two people sharing an
        # email under an upsert): retrying cannot fix it, a person must look.
        return Verdict("dead", f"id map conflict: {exc}")
    if isinstance(exc, OutcomeUnknownError):
        return Verdict("retry", _describe(exc), unknown_outcome=True)
    if isinstance(exc, APIError):
        if exc.status in _GIVE_UP:
            return Verdict("dead", f"HighLevel answered {exc.status}: {exc.message}")
        return Verdict("retry", f"HighLevel answered {exc.status}: {exc.message}")
    return Verdict("retry", _describe(exc))

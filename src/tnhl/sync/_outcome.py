"""The one place that decides how a record's try ends: applied, skip, retry, reschedule, dead.

Everything else asks here. A plan (Skip, Wait, Reject) or an exception raised while planning or
executing becomes a `Settlement`; the engine never branches on raw statuses elsewhere.

DESIGN.md: 400/403/404/409/410/422 are not retried; 401 is refreshed once by the client, then
retried on the schedule; 429 and rate-limit waits reschedule at the time they name and use no
try; transport errors, 5xx and unknown outcomes are retried on the schedule, then dead. An
exception that is none of these (a bug, a mapping crash) counts as a crash: after
`crash_limit` crashes the record's events are dead with the error's summary, never a loop.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tnhl.highlevel import (
    APIError,
    ConfigurationError,
    DailyQuotaExhaustedError,
    HighLevelError,
    MissingScopeError,
    OutcomeUnknownError,
    RateLimitedError,
)
from tnhl.store import MappingConflictError, RecordClaim, Settlement
from tnhl.sync._errors import RecordConflictError, RescheduleNeeded
from tnhl.sync._schedule import RetrySchedule

__all__ = ["Decider", "describe"]

_GIVE_UP = frozenset({400, 403, 404, 409, 410, 422})


def _trace(exc: BaseException) -> str:
    """Where tnhl's code failed: the last frames of the traceback (no values, no secrets)."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    return f"{describe(exc)} at {where}"[:1000]


def describe(exc: BaseException) -> str:
    """`Name: message`, one line, at most 500 characters (no secrets: errors carry none)."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:500]


@dataclass
class Decider:
    """Turns plans and exceptions into settlements, with the retry schedule and the limits."""

    schedule: RetrySchedule
    crash_limit: int = 3
    orphan_timeout: float = 86_400.0
    wait_recheck: float = 300.0

    def waiting(
        self,
        claim: RecordClaim,
        reason: str,
        now: float,
        warnings: Sequence[str] = (),
        *,
        for_contact: bool = False,
    ) -> Settlement:
        """Not applicable yet: look again later (it is woken sooner when its contact lands),
        dead once it has waited `orphan_timeout` since it first waited. (Not since its events
        arrived: a backlog worked off after an outage would kill children at their first
        wait, before their contacts further down the backlog had a turn.)"""
        since = claim.state.waiting_since if claim.state.waiting_since is not None else now
        left = since + self.orphan_timeout - now
        if left <= 0:
            why = (
                f"waited {self.orphan_timeout:g} s (orphan_timeout) and never became "
                f"applicable: {reason}"
            )
            return Settlement("dead", why, warnings=tuple(warnings))
        return Settlement(
            "waiting",
            reason,
            due_at=now + min(self.wait_recheck, left),
            warnings=tuple(warnings),
            for_contact=for_contact,
        )

    def failed(
        self,
        claim: RecordClaim,
        exc: BaseException,
        now: float,
        *,
        ops_unknown: tuple[str, ...] = (),
        warnings: Sequence[str] = (),
    ) -> Settlement:
        """The settlement for `exc`, raised while planning or executing `claim`."""
        w = tuple(warnings)
        if isinstance(exc, RescheduleNeeded):
            return Settlement("reschedule", exc.reason, due_at=now + exc.wait, warnings=w)
        if isinstance(exc, DailyQuotaExhaustedError):
            delay = max(1.0, exc.resets_at - now) if exc.resets_at else 3600.0
            return Settlement("reschedule", "daily quota exhausted", due_at=now + delay)
        if isinstance(exc, RateLimitedError):
            wait = exc.retry_after or 10.0
            return Settlement("reschedule", "HighLevel answered 429", due_at=now + wait)
        if isinstance(exc, RecordConflictError | MappingConflictError):
            return Settlement("dead", f"id map conflict: {exc}", warnings=w)
        if isinstance(exc, ConfigurationError | MissingScopeError):
            # A request tnhl cannot even send, or a token without the scope: the same try
            # fails the same way.
            return Settlement("dead", describe(exc), warnings=w)
        if isinstance(exc, APIError) and not isinstance(exc, OutcomeUnknownError):
            why = f"HighLevel answered {exc.status}: {exc.message}"
            if exc.status in _GIVE_UP:
                return Settlement("dead", why, warnings=w)
            return self._retry(claim, why, now, ops_unknown, w)
        if isinstance(exc, HighLevelError | httpx.TransportError):
            return self._retry(claim, describe(exc), now, ops_unknown, w)
        # Anything else is a crash: tnhl's own code failed on this record.
        crashes = claim.state.crashes + 1
        why = f"crashed ({crashes} of {self.crash_limit}): {describe(exc)}"
        if crashes >= self.crash_limit:
            return Settlement("dead", why, warnings=w, ops_unknown=ops_unknown, error=_trace(exc))
        delay = self.schedule.delay(1) or 1.0
        return Settlement(
            "retry", why, due_at=now + delay, crashed=True, ops_unknown=ops_unknown, warnings=w
        )

    def _retry(
        self,
        claim: RecordClaim,
        why: str,
        now: float,
        ops_unknown: tuple[str, ...],
        warnings: tuple[str, ...],
    ) -> Settlement:
        attempt = claim.state.attempts + 1
        delay = self.schedule.delay(attempt)
        if delay is None:
            return Settlement(
                "dead",
                f"retries exhausted after {attempt} tries: {why}",
                ops_unknown=ops_unknown,
                warnings=warnings,
            )
        return Settlement(
            "retry",
            why,
            due_at=now + delay,
            count_attempt=True,
            ops_unknown=ops_unknown,
            warnings=warnings,
        )

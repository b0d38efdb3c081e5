"""Connections paused because HighLevel refused their credentials.

A revoked or expired token, or one without access to its location, fails every record of that
connection the same way until someone fixes it. Retrying each record on its own backoff would
spend its retries (and dead-letter it) for a problem that is the connection's, and burn calls.
So the connection pauses: its records are given back, due when the pause ends, without a call
and without counting a try, and the first one due then probes. Other connections go on.
"""

from __future__ import annotations

import threading

import structlog

from tnhl.highlevel import AuthError, ForbiddenError, UnauthorizedError
from tnhl.store import Settlement

__all__ = ["NEEDS_LOGIN", "Pauses", "credentials_refused"]

PAUSED = "connection paused"
# An OAuth connection whose refresh token HighLevel refused (or that has none): only a new
# login (`tnhl auth login`) helps; until then it stays paused, its events kept.
NEEDS_LOGIN = "needs login"
log = structlog.get_logger("tnhl.sync")


def credentials_refused(exc: BaseException) -> bool:
    """HighLevel refused the connection's token itself (not one request's content)."""
    if isinstance(exc, UnauthorizedError | AuthError):
        return True
    return isinstance(exc, ForbiddenError) and "location" in exc.message.lower()


class Pauses:
    """Per location: paused until when, and why (in memory; a record's last_error says it)."""

    def __init__(self, pause: float = 60.0) -> None:
        self._pause = pause
        self._until: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def held(self, location: str, now: float) -> Settlement | None:
        """The settlement for a record of a paused connection, or None if it may run."""
        with self._lock:
            found = self._until.get(location)
        if found is None or found[0] <= now:
            return None
        until, why = found
        return Settlement("reschedule", f"{PAUSED}: {why}", due_at=until)

    def refused(self, location: str, exc: BaseException, now: float) -> Settlement | None:
        """Pause `location` if `exc` is a refusal of its credentials; its settlement then."""
        if not credentials_refused(exc):
            return None
        why = _why(exc)
        with self._lock:
            first = location not in self._until or self._until[location][0] <= now
            self._until[location] = (now + self._pause, why)
        if first:  # once per pause, not once per record
            log.error("connection paused", location=location, why=why, retry_in=self._pause)
        return Settlement("reschedule", f"{PAUSED}: {why}", due_at=now + self._pause)

    def paused(self, now: float) -> dict[str, str]:
        """location -> why, for the connections paused now."""
        with self._lock:
            return {loc: why for loc, (until, why) in self._until.items() if until > now}


def _why(exc: BaseException) -> str:
    if isinstance(exc, AuthError):
        return f"{NEEDS_LOGIN}: run `tnhl auth login` ({str(exc)[:200]})"
    status = getattr(exc, "status", None)
    message = getattr(exc, "message", None) or str(exc)
    prefix = f"HighLevel answered {status}: " if isinstance(status, int) else ""
    return f"{prefix}{message}"[:300]

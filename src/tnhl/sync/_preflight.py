"""The cheap part of `tnhl verify`, run by `tnhl run` as it starts (issue 11): one read per
connection. A connection whose token HighLevel refuses is paused at once (said once, at error
level, naming what to do), so its records wait without a call instead of each failing in turn;
one HighLevel cannot be reached is logged. Nothing is written."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog

from tnhl.highlevel import HighLevelError
from tnhl.sync._pauses import Pauses
from tnhl.sync._readback import CallFn

__all__ = ["preflight"]

log = structlog.get_logger("tnhl.sync")


def preflight(
    calls: Mapping[str, CallFn], pauses: Pauses, *, clock: Callable[[], float] = time.time
) -> dict[str, str]:
    """Check each location's token with one search; location -> "ok" or why not."""
    out: dict[str, str] = {}
    for location, call in calls.items():
        try:
            call("search-contacts-advanced", json={"locationId": location, "pageLimit": 1})
        except HighLevelError as exc:
            paused = pauses.refused(location, exc, clock())
            out[location] = str(exc)[:300]
            if paused is None:  # not the credentials: HighLevel away, say; records retry
                log.warning("connection check failed", location=location, error=out[location])
            continue
        out[location] = "ok"
        log.info("connection ready", location=location)
    return out

"""Dry run (issue 11): a connection in dry run plans every record and records the calls it
would make, sending nothing, until `tnhl go-live` switches it live.

A record whose plan has calls is given back held (due in `HOLD` seconds, so never in
practice) with `dry run: would ...` as its reason: `tnhl events show` and the dashboard
show exactly what would go to HighLevel. Recipes' firings wait unrun. Going live is kept in
the store (cursor `live:<location>`), so a running `tnhl run` notices it within `recheck`
seconds and the setting may stay in the file; then the held records are made due (or dropped).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable

from tnhl.highlevel import OPERATIONS
from tnhl.store import RecordState, Settlement, SqlStore
from tnhl.sync._plan_types import Calls
from tnhl.talknotes import iso_z

__all__ = ["DRY_RUN", "HOLD", "DryRuns", "describe_calls", "go_live", "held", "live_cursor"]

DRY_RUN = "dry run: would "
HOLD = 10 * 365 * 86400.0


def live_cursor(location_id: str) -> str:
    """The store cursor that says a connection went live (its value: when)."""
    return f"live:{location_id}"


def describe_calls(plan: Calls) -> str:
    """The calls of a plan in words: method, path with its parameters, body."""
    out = []
    for call in plan.calls:
        op = OPERATIONS[call.operation_id]
        path = op.path
        for name, value in call.params.items():
            path = path.replace("{" + name + "}", str(value))
        body = "" if call.body is None else " " + json.dumps(call.body, default=str)
        first = "GET /contacts/search/duplicate, then " if call.find_duplicate else ""
        out.append(f"{first}{op.method} {path}{body}")
    return "; ".join(out)


class DryRuns:
    """Which connections are in dry run now: configured so and not yet live."""

    def __init__(
        self,
        store: SqlStore,
        locations: Iterable[str],
        *,
        clock: Callable[[], float] = time.time,
        recheck: float = 2.0,
    ) -> None:
        self._store = store
        self._configured = frozenset(locations)
        self._clock = clock
        self._recheck = recheck
        self._live: set[str] = set()
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def active(self, location: str) -> bool:
        """Whether `location` is in dry run (the store is asked at most every `recheck` s)."""
        if location not in self._configured:
            return False
        now = self._clock()
        with self._lock:
            if now - self._checked >= self._recheck:
                self._live = {
                    loc
                    for loc in self._configured
                    if self._store.get_cursor(live_cursor(loc)) is not None
                }
                self._checked = now
            return location not in self._live

    def confirmed(self, location: str) -> bool:
        """`active`, asking the store now: a record is held only after this (go-live makes
        held records due; one held by a stale answer would wait for ever)."""
        if location not in self._configured:
            return False
        live = self._store.get_cursor(live_cursor(location)) is not None
        with self._lock:
            if live:
                self._live.add(location)
        return not live

    def locations(self) -> frozenset[str]:
        """The connections in dry run now."""
        return frozenset(loc for loc in self._configured if self.active(loc))

    def hold(self, plan: Calls, now: float) -> Settlement:
        """The settlement of a record whose plan has calls: held, naming them."""
        reason = DRY_RUN + describe_calls(plan)
        return Settlement("reschedule", reason[:2000], due_at=now + HOLD, warnings=plan.warnings)


def held(store: SqlStore, location_id: str) -> list[tuple[RecordState, str]]:
    """A dry run's held records, each with what it would send."""
    return [
        (r, (r.last_error or "").removeprefix(DRY_RUN))
        for r in store.held_records(location_id, DRY_RUN)
    ]


def go_live(store: SqlStore, location_id: str, *, discard: bool, now: float) -> int:
    """Switch a connection live: kept in the store first (a running `tnhl run` stops holding
    within seconds), then its held records made due now, or dropped with `discard`."""
    store.set_cursor(live_cursor(location_id), iso_z(now))
    if discard:
        return store.drop_held(location_id, DRY_RUN)
    return store.release_held(location_id, DRY_RUN)

"""Settling a batch's records in few store transactions, without holding any of them long.

A commit per record would be most of the engine's cost when HighLevel answers fast, and buys
nothing: a record whose settlement is not committed yet is still leased, so a crash before the
commit only makes it come due again (its creates, marked sent, are read back). So settlements
are held here and committed together, but never for long: when the oldest has waited
`max_hold` seconds, at the end of the batch, and before each HighLevel call once calls are slow
(then a commit costs little beside the call, and a settled record should be visible at once).

What one record's settlement links (a contact just created) is learnt by the batch's lookup at
once, so the records planned after it in the batch see it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import structlog

from tnhl.store import LeaseLostError, MappingConflictError, RecordClaim, Settlement, SqlStore
from tnhl.sync._lookup import BatchLookup
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._outcome import Decider

__all__ = ["Settler"]

log = structlog.get_logger("tnhl.sync")


class Settler:
    """The settlements of one batch, committed together (see the module docstring)."""

    def __init__(
        self,
        store: SqlStore,
        decider: Decider,
        metrics: SyncMetrics | None,
        *,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        max_hold: float = 0.02,
    ) -> None:
        self._store = store
        self._decider = decider
        self._metrics = metrics
        self._clock = clock
        self._timer = timer
        self._max_hold = max_hold
        self._items: list[tuple[RecordClaim, Settlement]] = []
        self._since = 0.0
        self._slow_calls = False

    def add(self, claim: RecordClaim, s: Settlement, lookup: BatchLookup) -> None:
        if not self._items:
            self._since = self._timer()
        self._items.append((claim, s))
        for link in s.links:
            lookup.learn(link)
        if s.deleted:
            lookup.learn_deleted(claim.state.kind, claim.state.talknotes_id)
        if self._timer() - self._since >= self._max_hold:
            self.flush()

    def before_call(self) -> None:
        if self._items and self._slow_calls:
            self.flush()

    def call_took(self, seconds: float) -> None:
        self._slow_calls = seconds >= self._max_hold

    def flush(self) -> None:
        items, self._items = self._items, []
        if not items:
            return
        try:
            self._store.settle(items)
        except (LeaseLostError, MappingConflictError):
            # One record's lease or link spoils the batch: settle each alone, so only it fails.
            for claim, s in items:
                self._one(claim, s)
            return
        for claim, s in items:
            self._done(claim, s)

    def _one(self, claim: RecordClaim, s: Settlement) -> None:
        try:
            try:
                self._store.settle([(claim, s)])
            except MappingConflictError as exc:
                failed = self._decider.failed(claim, exc, self._clock(), warnings=s.warnings)
                s = replace(failed, calls=s.calls)
                self._store.settle([(claim, s)])
        except LeaseLostError:
            log.warning("lease lost; another worker has the record", record=claim.state.record_key)
            return
        self._done(claim, s)

    def _done(self, claim: RecordClaim, s: Settlement) -> None:
        m = self._metrics
        if m is not None:
            counter = {
                "applied": m.applied,
                "skipped": m.skipped,
                "dead": m.dead,
                "retry": m.retried,
                "reschedule": m.rescheduled,
                "waiting": m.waiting,
            }[s.outcome]
            counter.inc(len(claim.events) if s.outcome in ("applied", "skipped", "dead") else 1)
        log.info(
            s.outcome,
            record=claim.state.record_key,
            events=[e.event_id for e in claim.events],
            reason=s.reason,
            warnings=list(s.warnings) or None,
        )

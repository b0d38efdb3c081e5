"""Records waiting for rate-limit slots, held in memory (still leased) until the slots are free.

Each location's held records queue in arrival order. A location's queue is looked at when its
next slot should free, and then releases as many records as the limiter has slots free for,
counted in order (a create with its duplicate check needs two at once). So a window's slots
are used as they free (a sliding window frees each one window after it was spent), not one
record per pacing step, and a record is never run only to be held again.

A record whose turn would come too late for its lease is not held: it goes back to the store,
due when its turn should come, so that records do not all come due at once.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tnhl.store import RecordClaim

__all__ = ["HeldRecords", "SlotWait"]

# Seconds until `slots` slots of a location, counted from now in order, have come free.
SlotWait = Callable[[str, int], float]


@dataclass
class _Queue:
    records: deque[tuple[float, RecordClaim, int]]  # (not before, claim, slots)
    slots: int = 0  # the slots its records need, in all


class HeldRecords:
    """Not thread-safe: the worker pool calls it under its own lock."""

    def __init__(self, slot_wait: SlotWait | None, *, limit: int, lease_margin: float) -> None:
        self._slot_wait = slot_wait
        self._limit = limit
        self._margin = lease_margin
        self._queues: dict[str, _Queue] = {}
        self._checks: list[tuple[float, str]] = []  # (when to look, location); may be stale
        self._check_at: dict[str, float] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def next_at(self) -> float | None:
        """When a location should next be looked at (None: nothing is held)."""
        return self._checks[0][0] if self._checks else None

    def hold(
        self, deferred: list[tuple[RecordClaim, float, int]], now: float
    ) -> list[tuple[RecordClaim, float]]:
        """Queue each (claim, its own wait, slots it needs); returns those not held, each
        with the wait for its turn (for the store's due time)."""
        back: list[tuple[RecordClaim, float]] = []
        for claim, wait, slots in deferred:
            loc = claim.state.location_id
            queue = self._queues.setdefault(loc, _Queue(deque()))
            turn = wait
            if self._slot_wait is not None:
                turn = max(wait, self._slot_wait(loc, queue.slots + slots))
            if self._count >= self._limit or now + turn >= claim.lease_until - self._margin:
                back.append((claim, turn))
                continue
            queue.records.append((now + wait, claim, slots))
            queue.slots += slots
            self._count += 1
            if len(queue.records) == 1:
                self._look_at(loc, now + turn)
        return back

    def due(self, now: float, limit: int) -> list[RecordClaim]:
        """Up to `limit` held records whose slots are free now, taken out of the queues."""
        out: list[RecordClaim] = []
        while self._checks and self._checks[0][0] <= now and len(out) < limit:
            at, loc = heapq.heappop(self._checks)
            if self._check_at.get(loc) != at:
                continue  # superseded
            del self._check_at[loc]
            self._release(loc, now, limit, out)
        return out

    def _release(self, loc: str, now: float, limit: int, out: list[RecordClaim]) -> None:
        queue = self._queues[loc]
        taken = 0  # slots of the records released in this look, not yet spent
        while queue.records:
            ready, claim, slots = queue.records[0]
            wait = max(0.0, ready - now)
            if self._slot_wait is not None:
                wait = max(wait, self._slot_wait(loc, taken + slots))
            if wait > 0 or len(out) >= limit:
                self._look_at(loc, now + wait)
                return
            queue.records.popleft()
            queue.slots -= slots
            self._count -= 1
            taken += slots
            out.append(claim)
        del self._queues[loc]

    def _look_at(self, loc: str, at: float) -> None:
        self._check_at[loc] = at
        heapq.heappush(self._checks, (at, loc))

    def clear(self) -> None:
        self._queues.clear()
        self._checks.clear()
        self._check_at.clear()
        self._count = 0

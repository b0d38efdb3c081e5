"""WorkerPool holds rate-limited records until the slots they need are free, counted after
the slots of the records of the same location held before them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from tnhl.store import RecordClaim, RecordState, open_store
from tnhl.sync._executor import Deferral
from tnhl.sync._worker import WorkerPool


def _claim(loc: str, n: int) -> RecordClaim:
    state = RecordState(
        location_id=loc,
        kind="contact",
        talknotes_id=f"c{n}",
        contact_id=f"c{n}",
        fields={},
        deleted_at=None,
        first_at=None,
        applied={},
        status="new",
        version=1,
        attempts=0,
        crashes=0,
        waiting_since=None,
    )
    return RecordClaim(state, (), "w", 1_000.0)


def test_held_records_wait_for_their_own_slots_in_turn(tmp_path: Path) -> None:
    """Two creates of A (2 slots each) and one call of B (1 slot): the limiter is asked for
    A's 2nd and 4th slots and B's 1st; they come due in that order; once A's first has gone
    to run, a new record of A counts from A's 2 slots still held."""
    asked: list[tuple[str, int]] = []

    def slot_wait(loc: str, slots: int) -> float:
        asked.append((loc, slots))
        return float(slots)  # one second per slot, a stand-in for the limiter's answer

    now = [100.0]
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    try:
        pool = WorkerPool(store, cast(Any, None), slot_wait=slot_wait, clock=lambda: now[0])
        a1, a2, b1 = _claim("A", 1), _claim("A", 2), _claim("B", 1)
        left = pool._hold([(a1, Deferral(0.5, 2)), (a2, Deferral(0.5, 2)), (b1, Deferral(0.5))])
        assert left == []
        assert asked == [("A", 2), ("A", 4), ("B", 1)]
        now[0] = 102.0
        assert pool._due() == [b1, a1]
        pool._hold([(_claim("A", 3), Deferral(0.5, 2))])
        assert asked[-1] == ("A", 4)
        now[0] = 104.0
        assert pool._due() == [a2]
    finally:
        store.close()

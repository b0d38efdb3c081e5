"""HeldRecords: rate-limited records wait in memory, per location in order, and are released
as the limiter frees their slots; those whose turn is past their lease go back to the store."""

from __future__ import annotations

from tnhl.store import RecordClaim, RecordState
from tnhl.sync._held import HeldRecords


def _claim(loc: str, n: int, lease_until: float = 1_000.0) -> RecordClaim:
    state = RecordState(
        location_id=loc,
        kind="contact",
        talknotes_id=f"{loc}{n}",
        contact_id=f"{loc}{n}",
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
    return RecordClaim(state, (), "w", lease_until)


class Slots:
    """A stand-in limiter: each location's next slots come free at the listed times."""

    def __init__(self, free_at: dict[str, list[float]]) -> None:
        self.free_at = free_at
        self.now = 0.0

    def wait(self, loc: str, slots: int) -> float:
        times = self.free_at[loc]
        return max(0.0, (times[slots - 1] if slots <= len(times) else 1e9) - self.now)

    def spend(self, loc: str, n: int) -> None:
        del self.free_at[loc][:n]


def test_records_are_released_as_their_slots_free_in_order() -> None:
    """A's slots free two at 10, two at 11, two at 12; three 2-slot creates held at 0 run
    one at 10, 11 and 12; B's one 1-slot call, free at 5, runs at 5. Nothing is released
    before its slots are free, and a look counts the slots it released but not yet spent."""
    slots = Slots({"A": [10, 10, 11, 11, 12, 12], "B": [5]})
    held = HeldRecords(slots.wait, limit=100, lease_margin=0.0)
    a1, a2, a3, b1 = _claim("A", 1), _claim("A", 2), _claim("A", 3), _claim("B", 1)
    assert held.hold([(a1, 10.0, 2), (a2, 10.0, 2), (a3, 10.0, 2), (b1, 5.0, 1)], 0.0) == []
    assert len(held) == 4
    assert held.next_at() == 5.0
    slots.now = 4.9
    assert held.due(4.9, 50) == []
    slots.now = 5.0
    assert held.due(5.0, 50) == [b1]
    assert held.next_at() == 10.0
    slots.now = 10.0
    assert held.due(10.0, 50) == [a1]
    assert held.next_at() == 11.0  # a2 needs slots 3-4 counted after a1's two
    slots.spend("A", 2)
    slots.now = 11.0
    assert held.due(11.0, 50) == [a2]
    slots.spend("A", 2)
    slots.now = 12.0
    assert held.due(12.0, 50) == [a3]
    assert len(held) == 0
    assert held.next_at() is None


def test_one_look_releases_every_record_whose_slots_are_free() -> None:
    """Six 1-slot calls of A with four slots free now: four are released at once, the other
    two when their slots free."""
    slots = Slots({"A": [0, 0, 0, 0, 7, 8]})
    held = HeldRecords(slots.wait, limit=100, lease_margin=0.0)
    claims = [_claim("A", i) for i in range(6)]
    assert held.hold([(c, 0.5, 1) for c in claims], 0.0) == []
    slots.now = 0.5
    assert held.due(0.5, 50) == claims[:4]
    assert held.next_at() == 7.0


def test_a_turn_past_the_lease_or_past_the_limit_goes_back_with_its_turn() -> None:
    """With 10 s of lease margin, a record whose slots free at 95 on a lease to 100 is given
    back, due in 95 s; a record over the hold limit is given back too, due at its own turn."""
    slots = Slots({"A": [20, 95, 96], "B": [30, 40]})
    held = HeldRecords(slots.wait, limit=2, lease_margin=10.0)
    a1, a2, b1 = _claim("A", 1, 100.0), _claim("A", 2, 100.0), _claim("B", 1, 100.0)
    b2 = _claim("B", 2, 100.0)
    back = held.hold([(a1, 20.0, 1), (a2, 20.0, 1), (b1, 30.0, 1), (b2, 30.0, 1)], 0.0)
    assert back == [(a2, 95.0), (b2, 40.0)]
    assert len(held) == 2


def test_a_batch_takes_at_most_its_limit_and_the_rest_stay_due() -> None:
    """Three locations ready at once, batches of 2: the first batch takes two records, the
    next the third."""
    slots = Slots({"A": [0], "B": [0], "C": [0]})
    held = HeldRecords(slots.wait, limit=100, lease_margin=0.0)
    claims = [_claim(loc, 1) for loc in "ABC"]
    held.hold([(c, 1.0, 1) for c in claims], 0.0)
    slots.now = 1.0
    first = held.due(1.0, 2)
    assert len(first) == 2
    assert held.due(1.0, 2) == [c for c in claims if c not in first]


def test_without_a_limiter_each_record_waits_its_own_time() -> None:
    """No slot_wait: a record is released when its own wait has passed."""
    held = HeldRecords(None, limit=100, lease_margin=0.0)
    a1, a2 = _claim("A", 1), _claim("A", 2)
    held.hold([(a1, 1.0, 1), (a2, 3.0, 1)], 0.0)
    assert held.due(1.0, 50) == [a1]
    assert held.due(2.9, 50) == []
    assert held.due(3.0, 50) == [a2]

"""TalkNotes events filed under a location id since corrected, moved to the right location, on
every backend: what moves (unfinished and dead TalkNotes events), what stays (finished events,
HighLevel events, other locations), duplicates skipped, old records dropped, and the events
folded anew under the new location."""

from __future__ import annotations

import pytest
from tests.store.conftest import FakeClock
from tests.store.test_store_contract import LOC, add, by_key, change, claim

from tnhl.store import InboundEvent, InvalidRecordError, Settlement, SqlStore

WRONG = "loc-typo"


def _hl_event(n: int, loc: str) -> InboundEvent:
    body = '{"kind": "contact", "id": "h1", "at": 1.0, "fields": {}}'
    return InboundEvent("highlevel", f"hl-{n}", "ContactUpdate", loc, "h1", body, 1.0)


def test_a_wrong_locations_events_move_and_fold_there(store: SqlStore) -> None:
    """Under the wrong location: a dead contact event, a received task event, a done event and
    a HighLevel event; another location's event. Moving takes the dead and received TalkNotes
    events only (their dead letter counts as replayed, the dead record is gone) and a claim
    folds them into the right location's records."""
    add(store, change(1, "a", loc=WRONG), change(2, "b", loc=WRONG))
    got = by_key(claim(store, limit=10, locations=[WRONG]))
    store.settle([(got["contact:a"], Settlement("dead", "403: no access to this location"))])
    store.settle([(got["contact:b"], Settlement("applied", "created"))])
    add(
        store,
        change(3, "t", kind="task", contact="a", loc=WRONG),
        _hl_event(4, WRONG),
        change(5, "z", loc="loc-other"),
    )
    assert store.move_events(WRONG, LOC, now=50.0) == (2, 0)
    assert [(e.id, e.location_id, e.state) for e in store.list_events(source="talknotes")] == [
        (1, LOC, "received"),
        (2, WRONG, "done"),
        (3, LOC, "received"),
        (5, "loc-other", "received"),
    ]
    assert store.list_dead() == []
    assert store.get_record(WRONG, "contact", "a") is None
    assert store.get_record(WRONG, "contact", "b") is not None  # its event stayed
    assert store.get_event(4).location_id == WRONG
    moved = by_key(claim(store, limit=10, locations=[LOC]))
    assert sorted(moved) == ["contact:a", "task:t"]
    assert [e.inbox_id for e in moved["contact:a"].events] == [1]


def test_an_event_already_received_there_is_skipped(store: SqlStore) -> None:
    """TalkNotes sent the event again after the fix: the copy under the wrong location is
    skipped, saying where it is, and the one there is untouched."""
    add(store, change(1, "a", loc=WRONG, event_id="msg_1"), change(2, "a", event_id="msg_1"))
    assert store.move_events(WRONG, LOC, now=50.0) == (0, 1)
    wrong, right = store.get_event(1), store.get_event(2)
    assert (wrong.location_id, wrong.state, wrong.result) == (
        WRONG,
        "skipped",
        f"already received under {LOC}",
    )
    assert (right.location_id, right.state) == (LOC, "received")


def test_replaying_one_dead_letter_to_another_location(store: SqlStore) -> None:
    """`replay_dead` with a location moves only that event; a HighLevel event cannot move (the
    error names location_id) and stays dead."""
    add(store, change(1, "a", loc=WRONG), change(2, "b", loc=WRONG))
    for c in claim(store, limit=10, locations=[WRONG]):
        store.settle([(c, Settlement("dead", "403"))])
    [first, second] = store.list_dead()
    row = store.replay_dead(dead_letter_id=first.id, location_id=LOC)
    assert (row.id, row.location_id, row.state, row.attempts) == (1, LOC, "received", 0)
    assert store.get_event(2).state == "dead"
    assert [d.id for d in store.list_dead()] == [second.id]


def test_a_highlevel_event_never_moves(store: SqlStore) -> None:
    """A dead HighLevel event replayed with another location: refused, naming location_id."""
    add(store, _hl_event(1, WRONG))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE inbox SET state = 'dead'")
        conn.exec_driver_sql(
            "INSERT INTO dead_letters (inbox_id, reason, dead_at) VALUES (1, 'x', 1.0)"
        )
    [dead] = store.list_dead()
    with pytest.raises(InvalidRecordError) as info:
        store.replay_dead(dead_letter_id=dead.id, location_id=LOC)
    assert info.value.field == "location_id"
    assert store.get_event(1).state == "dead"


def test_event_locations_counts_unfinished_and_dead_events(store: SqlStore) -> None:
    """Each location's received, pending and dead events are counted; done ones are not."""
    add(store, change(1, "a", loc=WRONG), change(2, "b", loc=WRONG), change(3, "c"))
    got = by_key(claim(store, limit=10, locations=[WRONG]))
    store.settle([(got["contact:a"], Settlement("applied", "created"))])
    assert store.event_locations() == {WRONG: 1, LOC: 1}


def test_a_record_whose_events_were_purged_is_kept(store: SqlStore, clock: FakeClock) -> None:
    """A record under the wrong location whose done event retention already deleted is not
    one of the moved events' records: moving the location's other events keeps it."""
    add(store, change(1, "old", loc=WRONG))
    [old] = claim(store, locations=[WRONG])
    store.settle([(old, Settlement("applied", "created"))])
    clock.advance(8 * 86400)
    assert store.purge_finished(older_than=clock.now - 7 * 86400) == 1
    add(store, change(2, "a", loc=WRONG))
    assert store.move_events(WRONG, LOC) == (1, 0)
    assert store.get_record(WRONG, "contact", "old") is not None

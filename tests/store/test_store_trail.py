"""An event's calls and the dashboard's recipe switches in the store, on every backend: a
settlement's calls are filed under each event of its claim, oldest first, kept across tries,
and purged with their event; a recipe switch is kept per location, the last one winning."""

from __future__ import annotations

from tests.store.conftest import FakeClock
from tests.store.test_store_contract import LOC, add, by_key, change, claim

from tnhl.store import EventCall, Settlement, SqlStore

LOOKUP = EventCall(10.0, "get-duplicate-contact", "GET /contacts/search/duplicate", 429, 0.01, "{}")
CREATE = EventCall(11.0, "create-contact", "POST /contacts/", 201, 0.02, '{"contact": {}}')
REFUSED = EventCall(12.0, "update-contact", "PUT /contacts/x", None, 2.0, "no answer: ReadError")


def test_a_settlements_calls_are_filed_under_every_event_of_its_claim(store: SqlStore) -> None:
    """Two events folded into one record, settled with two calls: each event has both, in
    order; an event of another record has none."""
    add(store, change(1, "a"), change(2, "a"), change(3, "b"))
    got = by_key(claim(store, limit=2))
    store.settle([(got["contact:a"], Settlement("applied", "created", calls=(LOOKUP, CREATE)))])
    assert store.event_calls(1) == [LOOKUP, CREATE]
    assert store.event_calls(2) == [LOOKUP, CREATE]
    assert store.event_calls(3) == []


def test_calls_of_every_try_are_kept_in_order(store: SqlStore, clock: FakeClock) -> None:
    """A try that failed (a call with no answer) and the try after it: the event keeps the
    calls of both, oldest first."""
    add(store, change(1, "a"))
    [first] = claim(store)
    retry = Settlement("retry", "no answer", due_at=clock.now, calls=(REFUSED,))
    store.settle([(first, retry)])
    [second] = claim(store)
    store.settle([(second, Settlement("applied", "created", calls=(LOOKUP, CREATE)))])
    assert store.event_calls(1) == [REFUSED, LOOKUP, CREATE]


def test_a_purged_event_takes_its_calls_along(store: SqlStore, clock: FakeClock) -> None:
    """Purging an old done event deletes its calls; a newer event keeps its own."""
    add(store, change(1, "a"))
    [a] = claim(store)
    store.settle([(a, Settlement("applied", "created", calls=(CREATE,)))])
    clock.advance(8 * 86400)
    add(store, change(2, "b"))
    [b] = claim(store)
    store.settle([(b, Settlement("applied", "created", calls=(LOOKUP,)))])
    assert store.purge_finished(older_than=clock.now - 7 * 86400) == 1
    assert store.event_calls(1) == []
    assert store.event_calls(2) == [LOOKUP]
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM event_calls").scalar() == 1


def test_recipe_switches_are_per_location_and_the_last_one_wins(store: SqlStore) -> None:
    """Switching a recipe off, then on again, keeps the last; another location's switches are
    its own; a location never switched has none."""
    store.switch_recipe(LOC, "tenth-note", False)
    store.switch_recipe(LOC, "milestones", False)
    store.switch_recipe(LOC, "tenth-note", True)
    store.switch_recipe("loc-2", "tenth-note", False)
    assert store.recipe_switches(LOC) == {"tenth-note": True, "milestones": False}
    assert store.recipe_switches("loc-2") == {"tenth-note": False}
    assert store.recipe_switches("loc-3") == {}

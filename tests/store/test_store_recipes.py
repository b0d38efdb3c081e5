"""Recipe rows in the store, on every backend: a recipe that fired is an inbox row of source
"recipe", kept once per event id, claimed and finished like the outbound pump's HighLevel
events, never purged; and `events_after`, the recipe scanner's tail of the inbox."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from tests.store.conftest import FakeClock
from tests.store.test_store_contract import LOC, NOW, add, change, claim, hl_event, pump

from tnhl.store import (
    Delivery,
    InboundEvent,
    InboxRow,
    InvalidRecordError,
    OpMark,
    SqlStore,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from tnhl.store._migrate import alembic_config, migrating
from tnhl.store._schema import inbox


def fired(name: str, cause: str, loc: str = LOC, at: float = NOW) -> InboundEvent:
    """Recipe `name` fired for `cause`: its actions rendered into the body."""
    key = f"recipe:{name}:{cause}"
    body = json.dumps({"actions": [{"op": "create-task", "title": f"call {cause}"}]})
    return InboundEvent("recipe", key, "recipe.fired", loc, key, body, at)


def ran(store: SqlStore, worker: str = "r1", **kw: float) -> list[tuple[int, str]]:
    """What a recipe runner's claim leases: (inbox id, entity key)."""
    return pump(store, worker, source="recipe", **kw)


def ids(rows: list[InboxRow]) -> list[int]:
    return [r.id for r in rows]


def downgrade(store: SqlStore, revision: str) -> None:
    cfg = alembic_config()
    with migrating(store.engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_a_recipe_row_is_stored_once_per_event_id_and_waits_pending_for_its_runner(
    store: SqlStore,
) -> None:
    """The same recipe:<name>:<cause> is stored once per location; it is stored pending and a
    record claim never folds it (its folder would raise on the body)."""
    assert store.add_inbound(fired("welcome", "c1")) is True
    assert store.add_inbound(fired("welcome", "c1", at=NOW + 5)) is False
    assert store.add_inbound(fired("welcome", "c1", loc="other")) is True
    assert claim(store, limit=5) == []  # test_store_contract's folder raises on this body
    row = store.get_event(1)
    assert (row.source, row.event_id, row.state, row.record_key, row.received_at) == (
        "recipe",
        "recipe:welcome:c1",
        "pending",
        None,
        NOW,
    )
    assert store.list_dead() == []
    assert store.stats().counts["pending"] == 2


def test_the_migrated_database_refuses_an_unknown_source_and_takes_recipe(
    store: SqlStore,
) -> None:
    """The inbox's CHECK on source (which alembic's schema comparison does not see) admits
    "recipe" and still refuses anything else."""
    values = {
        "event_id": "e1",
        "event_type": "x",
        "location_id": LOC,
        "entity_key": "k",
        "body": "{}",
        "received_at": NOW,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
    }
    with store.engine.begin() as conn:
        conn.execute(sa.insert(inbox).values(source="recipe", **values))
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.insert(inbox).values(source="zapier", **values))
    assert [r.source for r in store.list_events()] == ["recipe"]


def test_claim_outbound_leases_the_named_sources_rows_one_per_entity_oldest_first(
    store: SqlStore,
) -> None:
    """source="recipe" leases recipe rows only, one per entity key at a time, oldest first;
    the default still leases HighLevel events only; "talknotes" is refused."""
    add(store, hl_event(1, "hA"), fired("welcome", "c1"), fired("welcome", "c2"))
    add(store, hl_event(4, "hB"), fired("nudge", "c9"))
    claim(store, limit=0)  # the fold leaves the HighLevel events pending
    with store.engine.begin() as conn:  # a second row of entity recipe:welcome:c1
        conn.execute(sa.update(inbox).where(inbox.c.id == 5).values(entity_key="recipe:welcome:c1"))
    assert ran(store, now=NOW) == [(2, "recipe:welcome:c1"), (3, "recipe:welcome:c2")]
    assert ran(store, "r2", now=NOW) == []  # leased, and welcome:c1's second waits
    assert pump(store, now=NOW) == [(1, "hA"), (4, "hB")]
    assert store.finish_outbound("r1", [Delivery(2, "done", "ran 1 action")], now=NOW) == []
    assert ran(store, "r2", now=NOW) == [(5, "recipe:welcome:c1")]
    done = store.get_event(2)
    assert (done.state, done.result, done.lease_owner) == ("done", "ran 1 action", None)
    with pytest.raises(InvalidRecordError) as info:
        store.claim_outbound("r3", source="talknotes")
    assert info.value.field == "source"


def test_finish_outbound_marks_its_ops_succeeded_and_they_are_never_sent_again(
    store: SqlStore,
) -> None:
    """ops_done marks each key succeeded with the id it produced (None: none), in the same
    write as the row's outcome; a later send_ops of such a key is refused. A delivery whose
    lease was lost still notes its ops, and its row is left to the holder."""
    add(store, fired("welcome", "c1"), fired("welcome", "c2"))
    assert ran(store, now=NOW) == [(1, "recipe:welcome:c1"), (2, "recipe:welcome:c2")]
    task, note, other = "loc-1:recipe:welcome:c1:0", "loc-1:recipe:welcome:c1:1", "loc-1:r:c2"
    store.send_ops(
        [
            OpMark(task, "create-task", inbox_id=1, body="{}"),
            OpMark(note, "create-note", inbox_id=1, body="{}"),
            OpMark(other, "create-task", inbox_id=2, body="{}"),
        ]
    )
    done = Delivery(1, "done", "ran 2 actions", ops_done=((task, "hl-t1"), (note, None)))
    lost = Delivery(2, "done", "ran 1 action", ops_done=((other, "hl-t2"),))
    assert store.finish_outbound("r1", [done], now=NOW + 1) == []
    assert store.finish_outbound("intruder", [lost], now=NOW + 1) == [2]
    ops = {k: store.get_op(k) for k in (task, note, other)}
    assert {k: (o.state, o.highlevel_id, o.inbox_id) for k, o in ops.items() if o} == {
        task: ("succeeded", "hl-t1", 1),
        note: ("succeeded", None, 1),
        other: ("succeeded", "hl-t2", 2),
    }
    assert store.get_event(1).state == "done"
    assert (store.get_event(2).state, store.get_event(2).lease_owner) == ("pending", "r1")
    for key in (task, other):
        with pytest.raises(InvalidRecordError):
            store.send_ops([OpMark(key, "create-task", inbox_id=1)])
    assert store.get_op(task) == ops[task]


def test_a_dead_recipe_row_is_a_dead_letter_that_replay_makes_claimable_again(
    store: SqlStore, clock: FakeClock
) -> None:
    """retry (attempts 1) then dead: listed as a dead letter, not claimable; replayed, it is
    pending with attempts reset and the runner claims it again, without any fold."""
    add(store, fired("welcome", "c1"))
    assert ran(store, now=NOW) == [(1, "recipe:welcome:c1")]
    store.finish_outbound("r1", [Delivery(1, "retry", "HighLevel 503", NOW + 10)], now=NOW)
    assert ran(store, now=NOW + 10) == [(1, "recipe:welcome:c1")]
    store.finish_outbound("r1", [Delivery(1, "dead", "HighLevel answered 422")], now=NOW + 10)
    [dead] = store.list_dead()
    assert (dead.inbox_id, dead.reason, dead.event.state, dead.event.attempts) == (
        1,
        "HighLevel answered 422",
        "dead",
        1,
    )
    assert ran(store, now=NOW + 20) == []
    clock.advance(30)
    row = store.replay_dead(dead_letter_id=dead.id)
    assert (row.state, row.attempts, row.next_attempt_at, row.done_at, row.lease_owner) == (
        "pending",
        0,
        1_000_030.0,
        None,
        None,
    )
    assert store.list_dead() == []
    assert ran(store, now=NOW + 30) == [(1, "recipe:welcome:c1")]


def test_purge_finished_keeps_finished_recipe_rows(store: SqlStore, clock: FakeClock) -> None:
    """Eight days after a done recipe row and a done HighLevel event, a purge deletes only the
    HighLevel one: the recipe's event id still says it fired."""
    add(store, fired("welcome", "c1"), hl_event(2, "hA"))
    claim(store, limit=0)
    ran(store, now=NOW)
    pump(store, now=NOW)
    store.finish_outbound("r1", [Delivery(1, "done", "ran")], now=NOW)
    store.finish_outbound("p1", [Delivery(2, "done", "delivered")], now=NOW)
    clock.advance(8 * 86400)
    assert store.purge_finished(older_than=clock.now - 7 * 86400) == 1
    assert [(r.id, r.source, r.state) for r in store.list_events()] == [(1, "recipe", "done")]
    assert store.add_inbound(fired("welcome", "c1", at=clock.now)) is False


def test_events_after_tails_a_location_in_id_order_up_to_received_before(
    store: SqlStore,
) -> None:
    """Rows of the location after the cursor, lowest id first, any source and state, bodies
    included, at most `limit`; none from the first row received after `received_before` on,
    even an older one behind it (the cursor must not pass the newer one)."""
    add(store, change(1, "a"), hl_event(2, "hA"), change(3, "b", loc="other"))
    add(store, fired("welcome", "c1"), change(5, "c", received_at=NOW + 10))
    add(store, change(6, "d", received_at=NOW - 1), change(7, "e"))
    before = NOW + 5
    assert ids(store.events_after(LOC, 0, received_before=before)) == [1, 2, 4]
    assert ids(store.events_after(LOC, 0, received_before=before, limit=2)) == [1, 2]
    assert ids(store.events_after(LOC, 1, received_before=before)) == [2, 4]
    assert ids(store.events_after(LOC, 4, received_before=before)) == []
    assert ids(store.events_after(LOC, 5, received_before=before)) == [6, 7]
    assert ids(store.events_after(LOC, 0, received_before=NOW + 10)) == [1, 2, 4, 5, 6, 7]
    assert ids(store.events_after("other", 0, received_before=before)) == [3]
    assert ids(store.events_after(LOC, 0, received_before=NOW - 1)) == []
    [row] = store.events_after(LOC, 3, received_before=before, limit=1)
    assert (row.source, row.state, json.loads(row.body)["actions"][0]["op"]) == (
        "recipe",
        "pending",
        "create-task",
    )
    with pytest.raises(InvalidRecordError) as info:
        store.events_after(LOC, 0, received_before=before, limit=-1)
    assert info.value.field == "limit"


def test_a_downgrade_below_0008_is_refused_while_recipe_rows_exist(store: SqlStore) -> None:
    """With a recipe row the downgrade to 0007 is refused and changes nothing; without one it
    runs (the CHECK refuses "recipe" again), and the upgrade restores it."""
    add(store, fired("welcome", "c1"))
    with pytest.raises(RuntimeError, match="1 recipe rows"):
        downgrade(store, "0007")
    assert current_revision(store.engine) == head_revision() == "0010"
    assert store.get_event(1).source == "recipe"
    with store.engine.begin() as conn:
        conn.execute(sa.delete(inbox))
    downgrade(store, "0007")
    assert current_revision(store.engine) == "0007"
    with pytest.raises(sa.exc.IntegrityError):
        store.add_inbound(fired("welcome", "c2"))
    upgrade_to_head(store.engine)
    assert store.add_inbound(fired("welcome", "c2")) is True


def test_the_upgrade_to_0008_starts_each_locations_recipe_cursor_at_its_newest_event(
    store: SqlStore,
) -> None:
    """A store upgraded to 0008 with events: each location's `recipes:` cursor is its newest
    event's id (its history fires no recipe); a location with none has no cursor."""
    with store.engine.begin() as conn:
        conn.execute(sa.delete(inbox))
    downgrade(store, "0007")
    for n, loc in enumerate(["locA", "locB", "locA"]):
        event = InboundEvent("talknotes", f"e{n}", "note.created", loc, "c1", "{}", NOW)
        assert store.add_inbound(event) is True
    upgrade_to_head(store.engine)
    assert store.get_cursor("recipes:locA") == "3"
    assert store.get_cursor("recipes:locB") == "2"
    assert store.get_cursor("recipes:locC") is None


def test_hooks_are_kept_per_location_and_deleted_only_by_their_own(store: SqlStore) -> None:
    """A hook is listed for its location only; another location cannot delete it; deleting
    twice is False the second time."""
    a = store.add_hook("locA", "talknotes.note.created", "https://zap.example/a")
    b = store.add_hook("locB", "highlevel.ContactCreate", "https://zap.example/b")
    assert [(h.id, h.event, h.target_url) for h in store.list_hooks("locA")] == [
        (a.id, "talknotes.note.created", "https://zap.example/a")
    ]
    assert [h.id for h in store.list_hooks()] == [a.id, b.id]
    assert store.delete_hook("locB", a.id) is False
    assert store.delete_hook("locA", a.id) is True
    assert store.delete_hook("locA", a.id) is False
    assert [h.location_id for h in store.list_hooks()] == ["locB"]

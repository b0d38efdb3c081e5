"""The store's contract, run against every backend (SQLite file and PostgreSQL).

Events are folded into per-record rows (per-field last-writer-wins registers); records are
claimed (leased) and settled. Times are the FakeClock's: 1_000_000.0 unless a test moves it.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from tests.store.conftest import FakeClock

from tnhl.store import (
    Delivery,
    Delta,
    EventVerdict,
    InboundEvent,
    InboxRow,
    InvalidRecordError,
    LeaseLostError,
    Link,
    MappingConflictError,
    OpMark,
    RecordClaim,
    RecordNotFoundError,
    Settlement,
    SqlStore,
    Told,
)
from tnhl.store._schema import records

LOC = "loc-1"
NOW = 1_000_000.0  # the FakeClock's start


def fold_body(row: InboxRow) -> Delta | EventVerdict:
    """The test folder: the event's JSON body names its record and what it says about it.

    {"kind": "contact", "id": "c1", "at": 5, "fields": {...}, "delete": false} becomes a Delta;
    "contact" (a task's or note's contact, default its own id) and "tiebreak" (default the
    event id) are optional; {"skip": "why"} settles the event at once as skipped, and
    {"outbound": "why"} leaves it pending for the outbound pump. Anything else (not JSON,
    no "kind") raises, as a folder bug would.
    """
    body = json.loads(row.body)
    if "skip" in body:
        return EventVerdict(row.id, "skipped", body["skip"])
    if "outbound" in body:
        return EventVerdict(row.id, "pending", body["outbound"])
    return Delta(
        inbox_id=row.id,
        kind=body["kind"],
        talknotes_id=body["id"],
        contact_id=body.get("contact", body["id"]),
        at=float(body["at"]),
        tiebreak=body.get("tiebreak", row.event_id),
        fields=body.get("fields", {}),
        delete=body.get("delete", False),
    )


def event(n: int, entity: str = "c1", *, at: float = NOW, **kw: str) -> InboundEvent:
    """An intake-level event with event id evt-<n> (its body is not meant to be folded)."""
    values = {
        "source": "talknotes",
        "event_id": f"evt-{n}",
        "event_type": "contact.updated",
        "location_id": LOC,
        "entity_key": entity,
        "body": f'{{"n": {n}}}',
        **kw,
    }
    return InboundEvent(received_at=at, **values)  # type: ignore[arg-type]


def change(
    n: int,
    record_id: str = "c1",
    *,
    kind: str = "contact",
    at: float = 5.0,
    fields: dict[str, Any] | None = None,
    delete: bool = False,
    contact: str | None = None,
    tiebreak: str | None = None,
    loc: str = LOC,
    event_id: str | None = None,
    received_at: float = NOW,
) -> InboundEvent:
    """An event `fold_body` turns into a Delta on record kind:record_id."""
    body: dict[str, Any] = {"kind": kind, "id": record_id, "at": at, "fields": fields or {}}
    if delete:
        body["delete"] = True
    if contact is not None:
        body["contact"] = contact
    if tiebreak is not None:
        body["tiebreak"] = tiebreak
    return InboundEvent(
        "talknotes",
        event_id or f"evt-{n}",
        f"{kind}.deleted" if delete else f"{kind}.updated",
        loc,
        record_id,
        json.dumps(body),
        received_at,
    )


def add(store: SqlStore, *events: InboundEvent) -> None:
    """Store events in order; in a fresh store they get inbox ids 1, 2, 3, ..."""
    for e in events:
        assert store.add_inbound(e)


def claim(store: SqlStore, worker: str = "w1", **kw: Any) -> list[RecordClaim]:
    return store.claim(worker, fold=fold_body, **kw)


def by_key(claims: list[RecordClaim]) -> dict[str, RecordClaim]:
    return {c.state.record_key: c for c in claims}


def event_ids(c: RecordClaim) -> list[int]:
    return [e.inbox_id for e in c.events]


def lease_row(store: SqlStore, key: str, loc: str = LOC) -> tuple[Any, ...]:
    """(due_at, lease_owner, lease_until) of a record, read from its table row."""
    with store.engine.connect() as conn:
        r = conn.execute(
            sa.select(records.c.due_at, records.c.lease_owner, records.c.lease_until).where(
                records.c.location_id == loc, records.c.record_key == key
            )
        ).one()
    return tuple(r)


def event_state(store: SqlStore, inbox_id: int) -> tuple[Any, ...]:
    """(state, result, last_error, record_key) of an inbox row."""
    r = store.get_event(inbox_id)
    return (r.state, r.result, r.last_error, r.record_key)


# intake ----------------------------------------------------------------------------------------


def test_add_inbound_dedupes_on_source_and_event_id(store: SqlStore) -> None:
    """A second event with the same (source, event_id) is refused and changes nothing."""
    assert store.add_inbound(event(1)) is True
    assert store.add_inbound(event(1, body="different")) is False
    assert store.add_inbound(event(1, source="highlevel")) is True
    assert store.get_event(1).body == '{"n": 1}'
    assert store.stats().counts["received"] == 2


def test_body_is_stored_exactly_as_received(store: SqlStore) -> None:
    """The raw body survives byte for byte: whitespace, key order, non-ASCII text."""
    raw = '{ "b":1,\n  "a": "Zoë — 東京 \\u00e9" }\r\n'
    store.add_inbound(event(1, body=raw))
    row = store.get_event(1)
    assert row.body == raw
    assert (row.state, row.attempts, row.record_key) == ("received", 0, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "zapier"),
        ("event_id", ""),
        ("entity_key", "  "),
        ("location_id", "x" * 300),
        ("body", '{"a": "\x00"}'),
    ],
)
def test_invalid_event_is_refused_naming_the_field(store: SqlStore, field: str, value: str) -> None:
    """Bad input raises InvalidRecordError naming the field, and stores nothing."""
    with pytest.raises(InvalidRecordError) as info:
        store.add_inbound(event(1, **{field: value}))
    assert info.value.field == field
    assert sum(store.stats().counts.values()) == 0


def test_bad_arguments_name_the_field(store: SqlStore) -> None:
    """Unusable arguments raise InvalidRecordError naming the argument, before any write."""
    add(store, change(1))
    calls = {
        "worker": lambda: claim(store, ""),
        "lease_seconds": lambda: claim(store, lease_seconds=0),
        "limit": lambda: claim(store, limit=-1),
        "fold_limit": lambda: claim(store, fold_limit=-1),
        "key": lambda: store.send_ops([OpMark("", "create-contact", inbox_id=None)]),
        "operation_id": lambda: store.send_ops([OpMark("k", "x" * 200, inbox_id=None)]),
        "dead_letter_id": lambda: store.get_dead(),
        "talknotes_id": lambda: store.put_mapping(LOC, "contact", "", "hl-1"),
    }
    for field, call in calls.items():
        with pytest.raises(InvalidRecordError) as info:
            call()
        assert info.value.field == field
    assert store.get_op("k") is None
    assert store.get_event(1).state == "received"  # no claim folded it


# folding ---------------------------------------------------------------------------------------


def test_fold_merges_fields_newest_wins_whatever_the_fold_order(store: SqlStore) -> None:
    """Per field the newest (at, tiebreak) wins, whether the events are folded one per claim
    newest first or all in one claim oldest first; folding makes the record due."""
    says = [  # (tiebreak, at, fields)
        ("w1", 5, {"name": "Ann", "phone": "111"}),
        ("w2", 9, {"name": "Ann B"}),
        ("w3", 7, {"phone": "555", "name": "Annie"}),
        ("w4", 9, {"name": "Ann C"}),  # same at as w2: the larger tiebreak wins
    ]
    one_by_one, all_at_once = "loc-a", "loc-b"
    for n, i in enumerate([3, 1, 2, 0], start=1):
        tb, at, fields = says[i]
        add(store, change(n, at=at, fields=fields, tiebreak=tb, loc=one_by_one))
        assert claim(store, limit=0, fold_limit=1) == []  # fold only
    for n, (tb, at, fields) in enumerate(says, start=5):
        add(store, change(n, at=at, fields=fields, tiebreak=tb, loc=all_at_once))
    assert store.get_record(all_at_once, "contact", "c1") is None  # not folded yet
    assert claim(store, limit=0) == []

    for loc, version in ((one_by_one, 4), (all_at_once, 1)):
        rec = store.get_record(loc, "contact", "c1")
        assert rec is not None
        assert rec.values() == {"name": "Ann C", "phone": "555"}
        assert rec.fields == {"name": ("Ann C", 9.0, "w4"), "phone": ("555", 7.0, "w3")}
        assert (rec.kind, rec.talknotes_id, rec.contact_id, rec.record_key) == (
            "contact",
            "c1",
            "c1",
            "contact:c1",
        )
        assert (rec.first_at, rec.deleted_at, rec.status, rec.version) == (
            5.0,
            None,
            "new",
            version,
        )
        assert lease_row(store, "contact:c1", loc) == (NOW, None, None)  # due now, not leased
    assert [event_state(store, i) for i in (1, 5)] == [
        ("pending", None, None, "contact:c1"),
        ("pending", None, None, "contact:c1"),
    ]
    got = {c.state.location_id: event_ids(c) for c in claim(store, limit=5)}
    assert got == {one_by_one: [1, 2, 3, 4], all_at_once: [5, 6, 7, 8]}


def test_a_delete_is_final(store: SqlStore) -> None:
    """Once a delete is folded the record stays deleted: later or newer updates still merge
    their fields but never undo it, and the earliest delete's time is kept."""
    add(store, change(1, at=9, fields={"name": "Ann B"}), change(2, at=7, delete=True))
    claim(store, limit=0)
    rec = store.get_record(LOC, "contact", "c1")
    assert rec is not None
    assert (rec.deleted_at, rec.values()) == (7.0, {"name": "Ann B"})

    [c] = claim(store)
    store.settle([(c, Settlement("applied", "deleted in HighLevel", deleted=True))])
    add(store, change(3, at=11, fields={"name": "Ann C"}))
    claim(store, limit=0)
    rec = store.get_record(LOC, "contact", "c1")
    assert rec is not None
    assert (rec.deleted_at, rec.status, rec.values()) == (7.0, "deleted", {"name": "Ann C"})

    add(store, change(4, at=6, delete=True), change(5, at=8, delete=True))
    claim(store, limit=0)
    rec = store.get_record(LOC, "contact", "c1")
    assert rec is not None
    assert (rec.deleted_at, rec.first_at) == (6.0, 6.0)


def test_a_folder_exception_kills_only_that_event(store: SqlStore) -> None:
    """An event the folder cannot read is dead (a dead letter, no record); the other events of
    the same fold are folded, and a verdict settles its event at once."""
    add(
        store,
        change(1, "c1"),
        event(2, body="not json"),
        change(3, "c2"),
        event(4, body='{"skip": "OpportunityCreate events are not sent to TalkNotes"}'),
    )
    assert claim(store, limit=0) == []
    assert [event_state(store, i) for i in (1, 2, 3, 4)] == [
        ("pending", None, None, "contact:c1"),
        ("dead", None, "cannot read the event: JSONDecodeError", None),
        ("pending", None, None, "contact:c2"),
        ("skipped", "OpportunityCreate events are not sent to TalkNotes", None, None),
    ]
    [dl] = store.list_dead()
    assert (dl.inbox_id, dl.reason) == (2, "cannot read the event: JSONDecodeError")
    s = store.stats()
    assert s.counts == {"received": 0, "pending": 2, "done": 0, "dead": 1, "skipped": 1}
    assert sorted(by_key(claim(store, limit=5))) == ["contact:c1", "contact:c2"]

    row = store.replay_dead(inbox_id=2)  # never reached a record: read again by the next fold
    assert (row.state, row.record_key) == ("received", None)
    claim(store, limit=0)
    assert store.get_event(2).state == "dead"
    assert store.get_dead(inbox_id=2).id == dl.id  # one letter per event


def test_claim_folds_at_most_fold_limit_and_leases_at_most_limit(store: SqlStore) -> None:
    """A claim folds at most `fold_limit` received events (oldest first) and leases at most
    `limit` due records."""
    add(store, *(change(n, f"c{n}") for n in range(1, 6)))
    [first] = claim(store, limit=1, fold_limit=2)
    assert store.stats().counts["received"] == 3
    assert [store.get_event(i).state for i in range(1, 6)] == [
        "pending",
        "pending",
        "received",
        "received",
        "received",
    ]
    rest = claim(store, "w2", limit=10)
    assert len(rest) == 4
    assert sorted({first.state.record_key} | set(by_key(rest))) == [
        "contact:c1",
        "contact:c2",
        "contact:c3",
        "contact:c4",
        "contact:c5",
    ]
    assert store.stats().leased == 5


# leases ----------------------------------------------------------------------------------------


def test_a_record_is_leased_once_until_the_lease_ends(store: SqlStore, clock: FakeClock) -> None:
    """A leased record is claimed by nobody else until its lease ends; then another worker gets
    it, and the first worker's settle raises LeaseLostError and changes nothing."""
    add(store, change(1, fields={"name": "Ann"}))
    [slow] = claim(store, "slow", lease_seconds=30)
    assert (slow.worker, slow.lease_until, event_ids(slow)) == ("slow", 1_000_030.0, [1])
    assert slow.state.values() == {"name": "Ann"}
    assert lease_row(store, "contact:c1") == (1_000_030.0, "slow", 1_000_030.0)
    assert claim(store, "fast") == []
    clock.advance(29)
    assert claim(store, "fast") == []
    clock.advance(1)  # the lease's end: due again by itself, no sweeper
    [fast] = claim(store, "fast", lease_seconds=30)
    assert (fast.worker, fast.lease_until, event_ids(fast)) == ("fast", 1_000_060.0, [1])

    with pytest.raises(LeaseLostError):
        store.settle(
            [
                (
                    slow,
                    Settlement(
                        "applied",
                        "late",
                        applied_fields={"name": "Ann"},
                        links=(Link("contact", "c1", "hl-1"),),
                    ),
                )
            ]
        )
    assert event_state(store, 1) == ("pending", None, None, "contact:c1")
    assert lease_row(store, "contact:c1") == (1_000_060.0, "fast", 1_000_060.0)
    rec = store.get_record(LOC, "contact", "c1")
    assert rec is not None
    assert (rec.status, rec.applied) == ("new", {})
    assert store.get_highlevel_id(LOC, "contact", "c1") is None

    store.settle([(fast, Settlement("applied", "created", applied_fields={"name": "Ann"}))])
    assert event_state(store, 1) == ("done", "created", None, "contact:c1")
    with pytest.raises(LeaseLostError):  # settled: a second settle of the same claim is refused
        store.settle([(fast, Settlement("applied", "again"))])


# settling --------------------------------------------------------------------------------------

SETTLE_CASES = {
    # outcome: (settlement, (event state, result, last_error),
    #           (status, applied, attempts, crashes, waiting_since, last_error), due_at, dead)
    "applied": (
        Settlement(
            "applied",
            "created",
            applied_fields={"name": "Ann"},
            links=(Link("contact", "c1", "hl-1"),),
        ),
        ("done", "created", None),
        ("synced", {"name": "Ann"}, 0, 0, None, None),
        None,
        0,
    ),
    "skipped": (
        Settlement("skipped", "nothing to change"),
        ("skipped", "nothing to change", None),
        ("new", {}, 0, 0, None, None),
        None,
        0,
    ),
    "dead": (
        Settlement("dead", "rejected: no name"),
        ("dead", None, "rejected: no name"),
        ("dead", {}, 0, 0, None, "rejected: no name"),
        None,
        1,
    ),
    "retry": (
        Settlement("retry", "HTTP 503", due_at=1_000_120.0, count_attempt=True),
        ("pending", None, "HTTP 503"),
        ("retry", {}, 1, 0, None, "HTTP 503"),
        1_000_120.0,
        0,
    ),
    "retry-after-crash": (
        Settlement(
            "retry",
            "worker crashed",
            error="KeyError: 'x'",
            due_at=1_000_120.0,
            count_attempt=True,
            crashed=True,
        ),
        ("pending", None, "worker crashed"),
        ("retry", {}, 1, 1, None, "KeyError: 'x'"),
        1_000_120.0,
        0,
    ),
    "waiting": (
        Settlement("waiting", "contact not synced yet", due_at=1_003_600.0),
        ("pending", None, "contact not synced yet"),
        ("waiting", {}, 0, 0, 1_000_000.0, "contact not synced yet"),
        1_003_600.0,
        0,
    ),
    "reschedule": (
        Settlement("reschedule", "rate limited", due_at=1_000_005.0),
        ("pending", None, "rate limited"),
        ("new", {}, 0, 0, None, "rate limited"),
        1_000_005.0,
        0,
    ),
}


@pytest.mark.parametrize("case", list(SETTLE_CASES))
def test_settle_leaves_the_stated_states(store: SqlStore, case: str) -> None:
    """Each outcome leaves the event, the record, its due time and the dead letters as stated."""
    settlement, ev, rec_expected, due_at, dead = SETTLE_CASES[case]
    add(store, change(1, fields={"name": "Ann"}))
    [c] = claim(store)
    store.settle([(c, settlement)])
    assert event_state(store, 1) == (*ev, "contact:c1")
    rec = store.get_record(LOC, "contact", "c1")
    assert rec is not None
    got = (rec.status, rec.applied, rec.attempts, rec.crashes, rec.waiting_since, rec.last_error)
    assert got == rec_expected
    assert lease_row(store, "contact:c1") == (due_at, None, None)
    assert len(store.list_dead()) == dead
    assert store.stats().leased == 0
    assert claim(store, now=1_000_004.0) == []  # nothing is due before its time
    if due_at is not None:
        [again] = claim(store, now=due_at)
        assert event_ids(again) == [1]


def test_settle_links_an_applied_record(store: SqlStore) -> None:
    """An applied settle's links go to the id map with the events' outcome."""
    add(store, change(1))
    [c] = claim(store)
    store.settle([(c, SETTLE_CASES["applied"][0])])
    assert store.get_highlevel_id(LOC, "contact", "c1") == "hl-1"
    assert store.get_talknotes_id(LOC, "contact", "hl-1") == "c1"


def test_backoff_holds_new_events_but_waiting_does_not(store: SqlStore) -> None:
    """A new event leaves a record in retry backoff due at its retry time; it makes a waiting
    record due at once."""
    add(store, change(1, "c1"), change(2, "c2"))
    got = by_key(claim(store, limit=2))
    store.settle([(got["contact:c1"], Settlement("retry", "HTTP 503", due_at=1_000_120.0))])
    store.settle([(got["contact:c2"], Settlement("waiting", "not yet", due_at=1_003_600.0))])
    add(store, change(3, "c1", at=6), change(4, "c2", at=6))
    [c2] = claim(store, limit=5, lease_seconds=600)
    assert (c2.state.record_key, event_ids(c2)) == ("contact:c2", [2, 4])
    assert lease_row(store, "contact:c1") == (1_000_120.0, None, None)
    assert claim(store, now=1_000_119.0) == []
    [c1] = claim(store, now=1_000_120.0)
    assert (c1.state.record_key, event_ids(c1)) == ("contact:c1", [1, 3])


@pytest.mark.parametrize(
    ("settlement", "next_events"),
    [
        (Settlement("applied", "created"), [2]),
        (Settlement("dead", "rejected"), [2]),
        (Settlement("retry", "HTTP 503", due_at=1_000_120.0), [1, 2]),
        (Settlement("waiting", "no contact", due_at=1_003_600.0), [1, 2]),
    ],
)
def test_events_folded_during_a_lease_make_the_record_due_after_settle(
    store: SqlStore, settlement: Settlement, next_events: list[int]
) -> None:
    """An event folded while the record is leased is not handed out during the lease, and the
    record is due right after the settle, whatever due time the settle asked for."""
    add(store, change(1, fields={"name": "Ann"}))
    [c] = claim(store, lease_seconds=600)
    add(store, change(2, at=6, fields={"name": "Ann B"}))
    assert claim(store, "w2") == []  # folded, but the record is leased
    assert event_state(store, 2) == ("pending", None, None, "contact:c1")
    assert lease_row(store, "contact:c1") == (1_000_600.0, "w1", 1_000_600.0)
    store.settle([(c, settlement)])
    assert lease_row(store, "contact:c1") == (NOW, None, None)
    [again] = claim(store, "w2")
    assert event_ids(again) == next_events
    assert again.state.values() == {"name": "Ann B"}


@pytest.mark.parametrize(
    ("settlement", "woken"),
    [
        (Settlement("applied", "created", links=(Link("contact", "c1", "hl-c1"),)), True),
        (Settlement("applied", "deleted", deleted=True), True),
        (Settlement("skipped", "already there", links=(Link("contact", "c1", "hl-c1"),)), True),
        (Settlement("applied", "updated"), False),
        (Settlement("retry", "HTTP 503", links=(Link("contact", "c1", "hl-c1"),)), False),
    ],
)
def test_a_contact_linked_or_deleted_wakes_its_waiting_children(
    store: SqlStore, settlement: Settlement, woken: bool
) -> None:
    """A contact applied with a link (or deleted) makes its waiting tasks and notes due now;
    other contacts' children, and a contact settled otherwise, wake nobody."""
    add(
        store,
        change(1, "c1"),
        change(2, "t1", kind="task", contact="c1"),
        change(3, "n1", kind="note", contact="c1"),
        change(4, "t2", kind="task", contact="c2"),
    )
    got = by_key(claim(store, limit=4))
    for key in ("task:t1", "note:n1", "task:t2"):
        store.settle([(got[key], Settlement("waiting", "contact not synced", due_at=1_003_600.0))])
    assert store.stats().waiting_records == 3
    store.settle([(got["contact:c1"], settlement)])
    due = sorted(by_key(claim(store, limit=10)))
    if settlement.outcome == "retry":
        due.remove("contact:c1")  # the contact itself retries now (no due_at given)
    assert due == (["note:n1", "task:t1"] if woken else [])


def test_a_child_deciding_to_wait_while_its_contact_links_is_not_left_waiting(
    store: SqlStore,
) -> None:
    """A task leased while its contact is linked (it read the id map before the link) and then
    settled waiting is due at once: the contact's wake-up is not lost to the task's lease."""
    add(store, change(1, "c1"), change(2, "t1", kind="task", contact="c1"))
    got = by_key(claim(store, limit=2))
    link = Link("contact", "c1", "hl-c1")
    store.settle([(got["contact:c1"], Settlement("applied", "created", links=(link,)))])
    store.settle(
        [
            (
                got["task:t1"],
                Settlement(
                    "waiting",
                    "contact c1 is not in HighLevel yet",
                    due_at=1_000_300.0,
                    for_contact=True,
                ),
            )
        ]
    )
    assert [c.state.record_key for c in claim(store)] == ["task:t1"]


def test_a_child_waiting_for_its_own_events_waits_its_time_once_its_contact_landed(
    store: SqlStore,
) -> None:
    """A task whose contact was linked before the task was claimed, settled waiting (for its
    own task.created, say), is due at its due time, not at once: no busy loop."""
    add(store, change(1, "c1"))
    [c1] = claim(store)
    link = Link("contact", "c1", "hl-c1")
    store.settle([(c1, Settlement("applied", "created", applied_fields={"n": 1}, links=(link,)))])
    add(store, change(2, "t1", kind="task", contact="c1"))
    [t1] = claim(store)
    store.settle([(t1, Settlement("waiting", "task t1 has no taskName yet", due_at=1_000_300.0))])
    assert lease_row(store, "task:t1") == (1_000_300.0, None, None)
    assert claim(store) == []
    assert [c.state.record_key for c in claim(store, now=1_000_300.0)] == ["task:t1"]


def test_a_waiting_record_settled_skipped_is_no_longer_waiting(store: SqlStore) -> None:
    """Once a waiting task's events are settled (skipped), it is not counted waiting and its
    contact's link does not hand out a claim with no events."""
    add(store, change(1, "t1", kind="task", contact="c1"), change(2, "c1"))
    got = by_key(claim(store, limit=2))
    store.settle([(got["task:t1"], Settlement("waiting", "contact not synced", due_at=NOW))])
    [t1] = claim(store)
    store.settle([(t1, Settlement("skipped", "nothing to write"))])
    assert store.stats().waiting_records == 0
    link = Link("contact", "c1", "hl-c1")
    store.settle([(got["contact:c1"], Settlement("applied", "created", links=(link,)))])
    assert claim(store) == []


def test_one_settle_records_a_whole_batch_and_a_contact_wakes_its_child_in_it(
    store: SqlStore,
) -> None:
    """Settlements of several records in one call: each record, event, link and op is written
    as if settled alone, and a task settled waiting for its contact in the same batch as the
    contact's create is due at once (the create lands in that same transaction)."""
    add(
        store,
        change(1, "c1"),
        change(2, "t1", kind="task", contact="c1"),
        change(3, "c2"),
        change(4, "n1", kind="note", contact="c2"),
    )
    got = by_key(claim(store, limit=4, lease_seconds=600))
    store.send_ops([OpMark("loc-1:create-contact:c1", "create-contact", inbox_id=1, body="{}")])
    store.settle(
        [
            (
                got["task:t1"],
                Settlement("waiting", "contact c1 not yet", due_at=1_003_600.0, for_contact=True),
            ),
            (
                got["contact:c1"],
                Settlement(
                    "applied",
                    "created",
                    applied_fields={"n": 1},
                    links=(Link("contact", "c1", "hl-c1"),),
                    ops_done=(("loc-1:create-contact:c1", "hl-c1"),),
                ),
            ),
            (got["contact:c2"], Settlement("retry", "HTTP 503", due_at=1_000_120.0)),
            (got["note:n1"], Settlement("dead", "rejected: no body", error="boom")),
        ]
    )
    assert event_state(store, 1) == ("done", "created", None, "contact:c1")
    assert event_state(store, 2) == ("pending", None, "contact c1 not yet", "task:t1")
    assert event_state(store, 3) == ("pending", None, "HTTP 503", "contact:c2")
    assert event_state(store, 4) == ("dead", None, "rejected: no body", "note:n1")
    assert store.get_highlevel_id(LOC, "contact", "c1") == "hl-c1"
    op = store.get_op("loc-1:create-contact:c1")
    assert op is not None
    assert (op.state, op.highlevel_id) == ("succeeded", "hl-c1")
    assert lease_row(store, "task:t1") == (NOW, None, None)
    assert lease_row(store, "contact:c2") == (1_000_120.0, None, None)
    assert lease_row(store, "contact:c1") == (None, None, None)
    [dl] = store.list_dead()
    assert (dl.inbox_id, dl.reason, dl.error) == (4, "rejected: no body", "boom")
    c1 = store.get_record(LOC, "contact", "c1")
    assert c1 is not None
    assert (c1.status, c1.applied) == ("synced", {"n": 1})
    assert [c.state.record_key for c in claim(store)] == ["task:t1"]


def test_a_batch_with_one_lost_lease_changes_nothing(store: SqlStore, clock: FakeClock) -> None:
    """If one claim of a batch lost its lease, the settle raises LeaseLostError naming that
    claim's events and records nothing of the others either."""
    add(store, change(1, "c1"), change(2, "c2"))
    [c1] = claim(store, lease_seconds=10)
    clock.advance(5)
    [c2] = claim(store, lease_seconds=100)
    clock.advance(6)
    [again] = claim(store, "w2")  # c1's lease ran out: w2 has it now
    assert again.state.record_key == "contact:c1"
    with pytest.raises(LeaseLostError) as caught:
        store.settle([(c2, Settlement("applied", "ok")), (c1, Settlement("applied", "ok"))])
    assert caught.value.inbox_ids == [1]
    assert event_state(store, 2) == ("pending", None, None, "contact:c2")
    assert event_state(store, 1) == ("pending", None, None, "contact:c1")


def test_a_link_conflict_rolls_back_the_whole_settle(store: SqlStore) -> None:
    """A link that conflicts with the id map raises MappingConflictError and nothing of the
    settle is written: no link, no op finished, events and record as before, lease held."""
    store.put_mapping(LOC, "contact", "other", "hl-9")
    add(store, change(1, "t1", kind="task", contact="c1"))
    [c] = claim(store)
    store.send_ops([OpMark("loc-1:create-task:t1", "create-task", inbox_id=1, body="{}")])
    conflicting = Settlement(
        "applied",
        "created",
        applied_fields={"title": "Call"},
        links=(Link("task", "t1", "hl-t1"), Link("contact", "c1", "hl-9")),
        ops_done=(("loc-1:create-task:t1", "hl-t1"),),
    )
    with pytest.raises(MappingConflictError):
        store.settle([(c, conflicting)])
    assert store.get_highlevel_id(LOC, "task", "t1") is None
    assert store.get_highlevel_id(LOC, "contact", "c1") is None
    op = store.get_op("loc-1:create-task:t1")
    assert op is not None
    assert (op.state, op.highlevel_id) == ("sent", None)
    assert event_state(store, 1) == ("pending", None, None, "task:t1")
    rec = store.get_record(LOC, "task", "t1")
    assert rec is not None
    assert (rec.status, rec.applied) == ("new", {})
    assert lease_row(store, "task:t1") == (1_000_060.0, "w1", 1_000_060.0)

    store.settle([(c, Settlement("dead", "id map conflict"))])  # the lease is still ours
    assert event_state(store, 1) == ("dead", None, "id map conflict", "task:t1")


# outbound operations ---------------------------------------------------------------------------


def test_send_op_keeps_the_first_body(store: SqlStore, clock: FakeClock) -> None:
    """send_ops plans a create on its first try and marks it sent on every try, keeping the
    first body; settle finishes it, and a succeeded create is never sent again."""
    add(store, change(1), change(2, "c2"))
    key = "loc-1:create-contact:c1"
    store.send_ops([OpMark(key, "create-contact", inbox_id=1, body='{"a": 1}')])
    first = store.get_op(key)
    assert first is not None
    assert (first.state, first.attempts, first.request_body, first.created_at) == (
        "sent",
        1,
        '{"a": 1}',
        NOW,
    )
    clock.advance(5)
    store.send_ops([OpMark(key, "create-contact", inbox_id=1, body='{"b": 2}')])
    again = store.get_op(key)
    assert again is not None
    assert (again.state, again.attempts, again.request_body, again.created_at) == (
        "sent",
        2,
        '{"a": 1}',
        NOW,
    )
    assert again.updated_at == 1_000_005.0

    store.send_ops([OpMark("k2", "create-contact", inbox_id=2)])
    got = by_key(claim(store, limit=2))
    store.settle([(got["contact:c1"], Settlement("applied", "created", ops_done=((key, "hl-1"),)))])
    store.settle(
        [
            (
                got["contact:c2"],
                Settlement("retry", "timeout", error="read timed out", ops_unknown=("k2",)),
            )
        ]
    )
    done = store.get_op(key)
    assert done is not None
    assert (done.state, done.highlevel_id, done.attempts) == ("succeeded", "hl-1", 2)
    unknown = store.get_op("k2")
    assert unknown is not None
    assert (unknown.state, unknown.response) == ("unknown", "read timed out")
    with pytest.raises(InvalidRecordError):
        store.send_ops([OpMark(key, "create-contact", inbox_id=1)])
    assert store.get_op(key) == done
    assert store.get_op("nope") is None


# dead letters ----------------------------------------------------------------------------------


def test_dead_letter_list_show_and_replay(store: SqlStore, clock: FakeClock) -> None:
    """A dead event is listed and shown; replay brings it back pending with its record due now
    (status retry, counters reset), and the record is claimable again."""
    add(store, change(1, fields={"name": "Ann"}))
    [c] = claim(store)
    store.settle([(c, Settlement("retry", "HTTP 500", count_attempt=True, crashed=True))])
    [c] = claim(store)
    assert (c.state.attempts, c.state.crashes) == (1, 1)
    store.settle([(c, Settlement("dead", "contact never synced"))])
    [dl] = store.list_dead()
    assert (dl.inbox_id, dl.reason, dl.event.state, dl.replayed_at) == (
        1,
        "contact never synced",
        "dead",
        None,
    )
    assert store.get_dead(inbox_id=1) == store.get_dead(dead_letter_id=dl.id) == dl
    assert store.stats().dead_letters == 1
    assert claim(store) == []  # a dead record is not due

    clock.advance(100)
    row = store.replay_dead(dead_letter_id=dl.id)
    assert (row.state, row.attempts, row.next_attempt_at, row.done_at) == (
        "pending",
        0,
        1_000_100.0,
        None,
    )
    assert store.list_dead() == []
    assert store.list_dead(include_replayed=True)[0].replayed_at == 1_000_100.0
    assert store.stats().dead_letters == 0
    assert store.replay_dead(inbox_id=1) == row  # replaying twice changes nothing
    rec = store.get_record(LOC, "contact", "c1")
    assert rec is not None
    assert (rec.status, rec.attempts, rec.crashes, rec.waiting_since) == ("retry", 0, 0, None)
    assert lease_row(store, "contact:c1") == (1_000_100.0, None, None)

    [back] = claim(store)
    assert (event_ids(back), back.state.values()) == ([1], {"name": "Ann"})
    store.settle([(back, Settlement("dead", "again"))])
    again = store.get_dead(dead_letter_id=dl.id)  # one letter per event
    assert (again.reason, again.replayed_at) == ("again", None)
    with pytest.raises(RecordNotFoundError):
        store.get_dead(dead_letter_id=dl.id + 99)


# concurrency -----------------------------------------------------------------------------------


def test_threads_claiming_concurrently_never_share_a_record(store: SqlStore) -> None:
    """Four threads claim at the same moments, round after round, over 120 events of 12
    records while the fold is still going: no record is held by two threads at once, and every
    event is handed out exactly once and ends done."""
    total, n_threads = 120, 4
    for n in range(1, total + 1):
        add(store, change(n, f"c{n % 12}", at=n, fields={"n": n}))
    # Rounds: all threads claim at once, then all hold their leases at the barrier (so claims
    # really overlap), then settle. fold_limit=10 keeps folding going during the first rounds,
    # into records other threads hold. A round where nobody got anything ends the test.
    barrier = threading.Barrier(n_threads, timeout=20)
    claimed: dict[int, dict[str, list[tuple[str, list[int]]]]] = defaultdict(dict)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for rnd in range(total + 1):
                barrier.wait()
                claims = claim(store, name, limit=2, fold_limit=10)
                claimed[rnd][name] = [(c.state.record_key, event_ids(c)) for c in claims]
                barrier.wait()
                if not any(claimed[rnd].values()):
                    return
                for c in claims:
                    store.settle([(c, Settlement("applied", "ok"))])
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for rnd in claimed.values():  # leases overlap within a round: never the same record
        keys = [key for got in rnd.values() for key, _ in got]
        assert len(keys) == len(set(keys))
    ids = [i for rnd in claimed.values() for got in rnd.values() for _, evs in got for i in evs]
    assert sorted(ids) == list(range(1, total + 1))  # none twice, none lost
    assert all(len(got) == 2 for got in claimed[0].values())  # in round 0 every thread had 2
    s = store.stats()
    assert (s.counts["done"], s.counts["pending"], s.counts["received"], s.leased) == (
        120,
        0,
        0,
        0,
    )
    for record_id, newest in (("c0", 120), ("c1", 109), ("c11", 119)):
        rec = store.get_record(LOC, "contact", record_id)
        assert rec is not None
        assert rec.values() == {"n": newest}


# housekeeping ----------------------------------------------------------------------------------


def test_purge_deletes_only_old_finished_events(store: SqlStore, clock: FakeClock) -> None:
    """Purging removes old done events (their ids may then arrive anew) and keeps op keys."""
    add(store, change(1, "a"), change(2, "b"))
    got = by_key(claim(store, limit=2))
    key = "loc-1:create-contact:a"
    store.send_ops([OpMark(key, "create-contact", inbox_id=1)])
    store.settle([(got["contact:a"], Settlement("applied", "created", ops_done=((key, "hl-a"),)))])
    store.settle([(got["contact:b"], Settlement("dead", "bad"))])
    clock.advance(8 * 86400)
    add(store, change(3, "c"))
    [c] = claim(store)
    store.settle([(c, Settlement("applied", "created"))])
    assert store.purge_finished(older_than=clock.now - 7 * 86400) == 1
    with pytest.raises(RecordNotFoundError):
        store.get_event(1)
    assert store.get_event(2).state == "dead"
    assert store.get_event(3).state == "done"
    op = store.get_op(key)
    assert op is not None
    assert (op.inbox_id, op.state) == (None, "succeeded")
    assert store.add_inbound(change(1, "a")) is True


# id map, cursors, stats ------------------------------------------------------------------------


def test_id_map_is_idempotent_and_unique_per_location(store: SqlStore) -> None:
    """Repeating a mapping is a no-op; mapping either id to a different one is refused."""
    store.put_mapping(LOC, "contact", "tn-1", "hl-1")
    store.put_mapping(LOC, "contact", "tn-1", "hl-1")
    store.put_mapping(LOC, "contact", "tn-1", "hl-1", content_hash="h1")
    assert store.get_highlevel_id(LOC, "contact", "tn-1") == "hl-1"
    assert store.get_talknotes_id(LOC, "contact", "hl-1") == "tn-1"
    assert store.get_content_hash(LOC, "contact", "tn-1") == "h1"
    with pytest.raises(MappingConflictError):
        store.put_mapping(LOC, "contact", "tn-1", "hl-2")
    with pytest.raises(MappingConflictError):
        store.put_mapping(LOC, "contact", "tn-2", "hl-1")
    store.put_mapping("loc-2", "contact", "tn-1", "hl-9")  # another location is independent
    store.put_mapping(LOC, "task", "tn-1", "hl-1")  # and another kind
    assert store.get_highlevel_id("loc-2", "contact", "tn-1") == "hl-9"
    assert store.get_highlevel_id(LOC, "note", "tn-1") is None
    with pytest.raises(InvalidRecordError) as info:
        store.put_mapping(LOC, "deal", "tn-1", "hl-1")
    assert info.value.field == "kind"


def test_cursors_round_trip(store: SqlStore) -> None:
    """A cursor reads back the last value set; an unknown one is None."""
    assert store.get_cursor("reconcile:loc-1") is None
    store.set_cursor("reconcile:loc-1", "2026-01-01T00:00:00Z")
    store.set_cursor("reconcile:loc-1", "2026-01-02T00:00:00Z")
    assert store.get_cursor("reconcile:loc-1") == "2026-01-02T00:00:00Z"


def test_stats_count_states_leases_waiting_and_warnings(store: SqlStore) -> None:
    """Status shows events per state, leased and waiting records, warned events, and how long
    the oldest unfinished event has waited."""
    assert store.stats().oldest_unfinished_age is None
    add(store, change(1, "a", received_at=NOW - 90), change(2, "b"), change(3, "c"))
    got = by_key(claim(store, limit=3))
    store.settle([(got["contact:b"], Settlement("applied", "updated"))])
    store.settle(
        [
            (
                got["contact:a"],
                Settlement(
                    "waiting", "no contact", due_at=1_003_600.0, warnings=("phone dropped",)
                ),
            )
        ]
    )
    add(store, change(4, "d"))
    s = store.stats()
    assert s.counts == {"received": 1, "pending": 2, "done": 1, "dead": 0, "skipped": 0}
    assert (s.leased, s.waiting_records, s.events_with_warnings, s.dead_letters) == (1, 1, 1, 0)
    assert s.oldest_unfinished_age == 90.0
    assert store.get_event(1).warnings == '["phone dropped"]'


def test_list_events_gives_the_newest_of_a_location_and_state_oldest_first(
    store: SqlStore,
) -> None:
    """list_events: the newest `limit` rows, oldest first, narrowed by location and state."""
    add(store, change(1, "a", loc="A"), change(2, "b", loc="B"), change(3, "c", loc="A"))
    add(store, change(4, "d", loc="A"))
    got = claim(store, limit=10, locations=["A"])
    store.settle([(c, Settlement("applied", "ok")) for c in got if c.state.talknotes_id == "a"])
    assert [e.event_id for e in store.list_events()] == ["evt-1", "evt-2", "evt-3", "evt-4"]
    assert [e.event_id for e in store.list_events(limit=2)] == ["evt-3", "evt-4"]
    assert [e.event_id for e in store.list_events(location_id="B")] == ["evt-2"]
    done = store.list_events(location_id="A", state="done")
    assert [(e.event_id, e.state, e.result) for e in done] == [("evt-1", "done", "ok")]
    assert [e.event_id for e in store.list_events(state="pending")] == ["evt-3", "evt-4"]


# HighLevel -> TalkNotes: the outbound pump's claims -------------------------------------------


def hl_event(n: int, entity: str, loc: str = LOC) -> InboundEvent:
    """A HighLevel event about `entity` that the fold leaves pending for the pump."""
    body = json.dumps({"outbound": "to tell TalkNotes"})
    return InboundEvent("highlevel", f"wh-{n}", "ContactUpdate", loc, entity, body, NOW)


def pump(store: SqlStore, worker: str = "p1", **kw: Any) -> list[tuple[int, str]]:
    return [(r.id, r.entity_key) for r in store.claim_outbound(worker, **kw)]


def test_outbound_claims_one_event_per_entity_oldest_first(store: SqlStore) -> None:
    """Two changes of hA and one of hB: a claim leases hA's first and hB's, never hA's second
    beside its first; once the first is done, the second; a TalkNotes event is never handed
    to the pump; another location's are not when the claim names locations."""
    add(store, hl_event(1, "hA"), hl_event(2, "hA"), change(3, "c1"), hl_event(4, "hB"))
    add(store, hl_event(5, "hC", loc="other"))
    claim(store, limit=0)  # the fold leaves HighLevel events pending
    assert pump(store, now=NOW, locations=[LOC]) == [(1, "hA"), (4, "hB")]
    assert pump(store, "p2", now=NOW, locations=[LOC]) == []  # leased, and hA's second waits
    assert store.finish_outbound("p1", [Delivery(1, "done", "delivered 200")], now=NOW) == []
    assert pump(store, "p2", now=NOW, locations=[LOC]) == [(2, "hA")]
    assert pump(store, "p3", now=NOW) == [(5, "hC")]
    first = store.get_event(1)
    assert (first.state, first.result, first.lease_owner) == ("done", "delivered 200", None)


def test_a_delivery_notes_what_talknotes_was_told_and_the_known_contacts_follow(
    store: SqlStore,
) -> None:
    """Deliveries of hA (a change) and hB (its deletion) note what was told, replacing what was
    told before; a retry notes nothing. Known contacts: linked (hL) or told (hA), not hB
    (told deleted, though linked), and nothing of another location or kind."""
    add(store, hl_event(1, "hA"), hl_event(2, "hB"), hl_event(3, "hC"))
    store.put_mapping(LOC, "contact", "tn-l", "hL")
    store.put_mapping(LOC, "contact", "tn-b", "hB")
    store.put_mapping(LOC, "task", "tn-t", "hT")
    store.put_mapping("other", "contact", "tn-o", "hO")
    claim(store, limit=0)
    assert len(pump(store, now=NOW)) == 3
    first = Told(LOC, "hA", "contact", "d" * 64, NOW - 5)
    gone = Told(LOC, "hB", "contact", "e" * 64, NOW, deleted=True)
    done = [
        Delivery(1, "done", "delivered", told=first),
        Delivery(2, "done", "delivered", told=gone),
        Delivery(3, "retry", "busy", NOW + 10, told=Told(LOC, "hC", "contact", "f" * 64, NOW)),
    ]
    assert store.finish_outbound("p1", done, now=NOW) == []
    assert store.get_told(LOC, ["hA", "hB", "hC"]) == {"hA": first, "hB": gone}
    assert store.known_highlevel_ids(LOC, "contact") == {"hA", "hL"}
    add(store, hl_event(4, "hA"))
    claim(store, limit=0)
    assert pump(store, now=NOW) == [(4, "hA")]
    again = Told(LOC, "hA", "contact", "a" * 64, NOW + 1)
    store.finish_outbound("p1", [Delivery(4, "done", "delivered", told=again)], now=NOW)
    assert store.get_told(LOC, ["hA"]) == {"hA": again}
    assert store.get_told("other", ["hA"]) == {}


def test_outbound_retry_holds_the_entitys_later_changes_until_due(store: SqlStore) -> None:
    """A retry at +100 s: neither it nor hA's next change is claimable before; at +100 the
    retry is, with its attempts counted and the error kept."""
    add(store, hl_event(1, "hA"), hl_event(2, "hA"))
    claim(store, limit=0)
    assert pump(store, now=NOW) == [(1, "hA")]
    store.finish_outbound("p1", [Delivery(1, "retry", "503 from TalkNotes", NOW + 100)], now=NOW)
    assert pump(store, now=NOW + 99) == []
    assert pump(store, now=NOW + 100) == [(1, "hA")]
    again = store.get_event(1)
    assert (again.state, again.attempts, again.last_error) == ("pending", 1, "503 from TalkNotes")


def test_outbound_dead_is_a_replayable_dead_letter_and_a_lost_lease_is_reported(
    store: SqlStore,
) -> None:
    """Dead: listed as a dead letter, the entity's next change becomes claimable; replayed,
    it is pending for the pump again. Finishing a row another worker leased changes nothing
    and reports its id; a lease that ran out may be taken by another worker."""
    add(store, hl_event(1, "hA"), hl_event(2, "hA"), hl_event(3, "hB"))
    claim(store, limit=0)
    assert pump(store, now=NOW) == [(1, "hA"), (3, "hB")]
    store.finish_outbound("p1", [Delivery(1, "dead", "TalkNotes answered 422")], now=NOW)
    [dead] = store.list_dead()
    assert (dead.event.event_id, dead.reason) == ("wh-1", "TalkNotes answered 422")
    assert pump(store, now=NOW) == [(2, "hA")]
    assert store.finish_outbound("intruder", [Delivery(3, "done", "x")], now=NOW) == [3]
    assert store.get_event(3).state == "pending"
    store.finish_outbound("p1", [Delivery(2, "done", "ok")], now=NOW)
    assert pump(store, "p2", now=NOW + 61) == [(3, "hB")]  # p1's 60 s lease ran out
    store.replay_dead(dead_letter_id=dead.id, now=NOW + 70)
    claim(store, limit=0, now=NOW + 70)
    assert pump(store, now=NOW + 70) == [(1, "hA")]


def test_merge_applied_notes_highlevels_values_of_an_existing_record(
    store: SqlStore, clock: FakeClock
) -> None:
    """merge_applied overwrites the given fields of `applied`, keeps the others; a record
    that does not exist is reported, not created. The settle that wrote it noted when; a
    merge with registers makes HighLevel's newer value the record's (an older one is kept
    out), a new version, due now."""
    add(store, change(1, "c1", fields={"email": "a@x.io"}))
    [got] = claim(store, limit=1)
    applied = {"email": "a@x.io", "firstName": "Al"}
    store.settle([(got, Settlement("applied", "created", applied_fields=applied))])
    assert store.merge_applied(LOC, "contact", "c1", {"email": "b@x.io"}) is True
    state = store.get_record(LOC, "contact", "c1")
    assert state is not None
    assert dict(state.applied) == {"email": "b@x.io", "firstName": "Al"}
    assert (state.written_at, state.version) == (NOW, 1)
    clock.advance(10)
    registers = {"email": ("b@x.io", 4.0), "phone": ("+15550100", 4.0)}
    assert store.merge_applied(LOC, "contact", "c1", {}, registers=registers)
    state = store.get_record(LOC, "contact", "c1")
    assert state is not None
    assert state.fields["email"] == ("a@x.io", 5.0, "evt-1")  # the event's (at 5.0) is newer
    assert state.fields["phone"] == ("+15550100", 4.0, "highlevel")
    assert state.version == 2
    assert lease_row(store, "contact:c1")[0] == NOW + 10
    assert store.merge_applied(LOC, "contact", "nobody", {"email": "c@x.io"}) is False
    assert store.get_record(LOC, "contact", "nobody") is None


# connections -------------------------------------------------------------------------------


def test_a_claim_for_some_locations_never_folds_or_leases_another_locations_work(
    store: SqlStore,
) -> None:
    """A worker serving location A folds and claims A's events only: B's event stays received
    and B's record is never handed out (its credentials are another process's)."""
    add(store, change(1, "a1", loc="A"), change(2, "b1", loc="B"))
    got = claim(store, limit=10, locations=["A"])
    assert [(c.state.location_id, c.state.record_key) for c in got] == [("A", "contact:a1")]
    assert event_state(store, 2) == ("received", None, None, None)
    assert [c.state.location_id for c in claim(store, "w2", limit=10, locations=["B"])] == ["B"]


def test_a_burst_on_one_location_does_not_fill_the_claim_while_another_waits(
    store: SqlStore, clock: FakeClock
) -> None:
    """30 older records of A and 2 newer of B, limit 10 over [A, B]: both of B's are in the
    first claim (A gets its share, then the room B left); alone, A fills a claim."""
    add(store, *(change(n, f"a{n}", loc="A") for n in range(1, 31)))
    clock.advance(5)
    add(store, change(31, "b1", loc="B"), change(32, "b2", loc="B"))
    clock.advance(1)
    got = claim(store, limit=10, locations=["A", "B"])
    by_loc = defaultdict(list)
    for c in got:
        by_loc[c.state.location_id].append(c.state.record_key)
    assert sorted(by_loc["B"]) == ["contact:b1", "contact:b2"]
    assert len(by_loc["A"]) == 8
    assert len(claim(store, limit=10, locations=["A", "B"])) == 10


def test_a_backlog_on_one_location_is_not_folded_whole_before_anothers_events(
    store: SqlStore,
) -> None:
    """30 older events of A, then 2 of B, one HighLevel event for Z; a fold of 10 over [A, B]
    folds both of B's and A's 8 oldest (its share of 5, then the room B left), and the
    HighLevel one besides: B's records are claimable at once, not after A's backlog."""
    add(store, *(change(n, f"a{n}", loc="A") for n in range(1, 31)))
    add(store, change(31, "b1", loc="B"), change(32, "b2", loc="B"))
    add(store, event(33, "x", source="highlevel", location_id="Z", body='{"skip": "not ours"}'))
    assert claim(store, limit=0, fold_limit=10, locations=["A", "B"]) == []
    assert [event_state(store, n)[0] for n in (31, 32, 33)] == ["pending", "pending", "skipped"]
    a_states = [event_state(store, n)[0] for n in range(1, 31)]
    assert a_states == ["pending"] * 8 + ["received"] * 22
    got = claim(store, limit=10, fold_limit=0, locations=["B"])
    assert sorted(c.state.record_key for c in got) == ["contact:b1", "contact:b2"]


def test_a_highlevel_event_for_a_location_no_connection_serves_is_still_settled(
    store: SqlStore,
) -> None:
    """A HighLevel event for location Z, claimed by a worker serving A: it is folded (here
    skipped by the folder) rather than left received forever."""
    add(store, event(1, "x", source="highlevel", location_id="Z", body='{"skip": "not ours"}'))
    assert claim(store, limit=10, locations=["A"]) == []
    assert event_state(store, 1) == ("skipped", "not ours", None, None)


def test_the_same_webhook_id_from_two_connections_is_two_events(store: SqlStore) -> None:
    """Dedupe is per connection: msg_1 from location A and msg_1 from B are both stored; a
    second msg_1 from A is the duplicate."""
    assert store.add_inbound(event(1, location_id="A")) is True
    assert store.add_inbound(event(1, location_id="B")) is True
    assert store.add_inbound(event(1, location_id="A")) is False


def test_one_settle_marks_several_creates_unknown_and_several_done(store: SqlStore) -> None:
    """Two records' outcomes lost and two succeeded, settled in one batch: each op ends in
    its own state (the batch's statements run once for many rows)."""
    add(store, *(change(n, f"c{n}") for n in range(1, 5)))
    store.send_ops([OpMark(f"k{n}", "create-contact", inbox_id=n) for n in range(1, 5)])
    got = by_key(claim(store, limit=4))
    store.settle(
        [
            (got["contact:c1"], Settlement("retry", "timeout", error="t1", ops_unknown=("k1",))),
            (got["contact:c2"], Settlement("retry", "timeout", error="t2", ops_unknown=("k2",))),
            (got["contact:c3"], Settlement("applied", "ok", ops_done=(("k3", "hl-3"),))),
            (got["contact:c4"], Settlement("applied", "ok", ops_done=(("k4", "hl-4"),))),
        ]
    )
    ops = {k: store.get_op(k) for k in ("k1", "k2", "k3", "k4")}
    assert {k: (op.state, op.response, op.highlevel_id) for k, op in ops.items() if op} == {
        "k1": ("unknown", "t1", None),
        "k2": ("unknown", "t2", None),
        "k3": ("succeeded", None, "hl-3"),
        "k4": ("succeeded", None, "hl-4"),
    }


def test_api_keys_open_their_location_until_revoked_and_only_digests_are_kept(
    store: SqlStore,
) -> None:
    """A key made for A opens A only; another string opens nothing; revoked, it opens
    nothing; listed by id and first characters; the stored row holds no key."""
    made, key = store.create_api_key("A")
    other, _ = store.create_api_key("B")
    assert key.startswith("tnhl_key_")
    assert store.key_location(key) == "A"
    assert store.key_location(key + "x") is None
    assert [(k.id, k.location_id) for k in store.list_api_keys("A")] == [(made.id, "A")]
    assert key[9:13] == made.hint
    assert store.revoke_api_key(made.id) is True
    assert store.revoke_api_key(made.id) is False
    assert store.key_location(key) is None
    assert [k.id for k in store.list_api_keys()] == [made.id, other.id]
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM api_keys"))]
    assert key not in str(rows)

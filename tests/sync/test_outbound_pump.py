"""The outbound pump over a real SQLite store (issue 9): echoes of tnhl's own writes are
skipped, failures are retried on the schedule and then dead-lettered, a 4xx refusal is dead
at once, TalkNotes' answer links a record born in HighLevel; and `is_echo` on its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from talknotes_fakes import FakeTalkNotes

from tnhl.mapping import load_mapping_text
from tnhl.store import InboundEvent, RecordState, SqlStore, open_store
from tnhl.store._schema import records
from tnhl.sync._echo import is_echo
from tnhl.sync._outbound import OutboundPump, outbound_fold
from tnhl.sync._schedule import RetrySchedule
from tnhl.talknotes import Delivered, DeliveryFailed

LOC = "PumpLocation00000001"
NOW = 1_764_590_400.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    yield s
    s.close()


def _hl(store: SqlStore, n: int, payload: dict[str, Any]) -> None:
    entity = payload.get("contactId") or payload["id"]
    event = InboundEvent(
        "highlevel", f"wh{n}", payload["type"], LOC, entity, json.dumps(payload), NOW
    )
    assert store.add_inbound(event)


def _fold(store: SqlStore) -> None:
    store.claim("w", fold=outbound_fold(frozenset({LOC})), now=NOW, limit=0)


def _pump(store: SqlStore, out: FakeTalkNotes, clock: list[float]) -> OutboundPump:
    schedule = RetrySchedule(delays=(10.0, 60.0), jitter=0.0)
    # No profiles: these tests count the events told (tests/sync/test_profile.py: profiles).
    return OutboundPump(
        store, {LOC: out}, schedule, clock=lambda: clock[0], settle_delay=0.0, profile_interval=0
    )


def test_retry_on_the_schedule_then_dead_and_a_refusal_is_dead_at_once(store: SqlStore) -> None:
    """503, 503, 503: tried at +0, +10, +70 (delays 10 and 60), then dead; a 422 for another
    contact is dead at the first try; both are dead letters with TalkNotes' answer."""
    _hl(store, 1, {"type": "ContactUpdate", "id": "hc1", "email": "a@x.io"})
    _hl(store, 2, {"type": "ContactUpdate", "id": "hc2", "email": "b@x.io"})
    _fold(store)
    busy = DeliveryFailed(503, "busy", retry=True)
    out = FakeTalkNotes(busy, DeliveryFailed(422, "no such field", retry=False), busy, busy)
    clock = [NOW]
    pump = _pump(store, out, clock)
    assert pump.run_once() == 2
    for at in (NOW + 9, NOW + 10, NOW + 69, NOW + 70):
        clock[0] = at
        pump.run_once()
    assert [m for m, _ in out.got] == ["tnhl_wh1", "tnhl_wh2", "tnhl_wh1", "tnhl_wh1"]
    dead = {d.event.event_id: d.reason for d in store.list_dead()}
    assert dead == {
        "wh1": "TalkNotes delivery failed (503): busy",
        "wh2": "TalkNotes delivery failed (422): no such field",
    }


def _record(
    store: SqlStore,
    applied: dict[str, Any],
    fields: dict[str, Any] | None = None,
    written_at: float | None = None,
) -> None:
    """Contact tn-c1, linked to hc1, synced: `applied` last written (at `written_at`), `fields`
    its registers."""
    store.put_mapping(LOC, "contact", "tn-c1", "hc1")
    with store.engine.begin() as conn:
        conn.execute(
            records.insert().values(
                location_id=LOC,
                record_key="contact:tn-c1",
                kind="contact",
                talknotes_id="tn-c1",
                contact_id="tn-c1",
                fields=json.dumps(fields or {}),
                applied=json.dumps(applied),
                status="synced",
                version=1,
                attempts=0,
                crashes=0,
                due_at=None,
                updated_at=NOW,
                written_at=written_at,
            )
        )


def test_an_echo_is_skipped_and_an_answer_links_a_record_born_in_highlevel(
    store: SqlStore,
) -> None:
    """ContactUpdate of a contact tnhl wrote with the same email and name: skipped as an echo,
    nothing delivered. A task born in HighLevel: delivered with id null and its contact's
    TalkNotes id; TalkNotes' {"id"} links it in the id map."""
    _record(store, {"email": "ann@x.io", "firstName": "Ann", "lastName": "Lee"})
    _hl(store, 1, {"type": "ContactUpdate", "id": "hc1", "email": "Ann@X.io", "name": "Ann Lee"})
    _hl(store, 2, {"type": "TaskCreate", "id": "ht1", "contactId": "hc1", "title": "Call"})
    _fold(store)
    out = FakeTalkNotes(Delivered(200, "tn-t9"))
    pump = _pump(store, out, [NOW])
    # One change per contact at a time: the contact's, then its task's.
    assert [pump.run_once(), pump.run_once(), pump.run_once()] == [1, 1, 0]
    assert pump.echoes == 1
    [(message, body)] = out.got
    assert (message, body["type"], body["data"]["id"], body["data"]["contactId"]) == (
        "tnhl_wh2",
        "task.created",
        None,
        "tn-c1",
    )
    assert store.get_talknotes_id(LOC, "task", "ht1") == "tn-t9"
    assert store.get_event(1).result == "echo of tnhl's own write to HighLevel"
    assert store.get_event(2).result == "delivered to TalkNotes (200), linked to tn-t9"


def _state(applied: dict[str, Any], deleted: bool = False) -> RecordState:
    return RecordState(
        location_id=LOC,
        kind="contact",
        talknotes_id="t",
        contact_id="t",
        fields={},
        deleted_at=NOW if deleted else None,
        first_at=None,
        applied=applied,
        status="synced",
        version=1,
        attempts=0,
        crashes=0,
        waiting_since=None,
    )


@pytest.mark.parametrize(
    ("kind", "body", "applied", "deleted", "echo"),
    [
        (
            "contact",
            {"type": "contact.updated", "data": {"email": "A@x.io"}},
            {"email": "a@x.io"},
            False,
            True,
        ),
        (
            "contact",
            {"type": "contact.updated", "data": {"email": "b@x.io"}},
            {"email": "a@x.io"},
            False,
            False,
        ),
        (
            "contact",
            {"type": "contact.updated", "data": {"email": "a@x.io", "full_name": "Al Bo"}},
            {"email": "a@x.io", "firstName": "Al", "lastName": "Bee"},
            False,
            False,
        ),
        ("contact", {"type": "contact.updated", "data": {"email": "a@x.io"}}, {}, False, False),
        ("contact", {"type": "contact.deleted", "data": {}}, {}, True, True),
        ("contact", {"type": "contact.deleted", "data": {}}, {}, False, False),
        (
            "task",
            {
                "type": "task.updated",
                "data": {"taskName": "Call", "dueDate": "2026-12-04T17:00:00Z"},
            },
            {"title": "Call", "dueDate": "2026-12-04T17:00:00.000+00:00"},
            False,
            True,
        ),
        (
            "task",
            {"type": "task.completed", "data": {"taskName": "Call"}},
            {"title": "Call"},
            False,
            False,
        ),
        (
            "note",
            {"type": "note.updated", "data": {"noteContent": "hi "}},
            {"body": "hi"},
            False,
            True,
        ),
    ],
)
def test_is_echo_compares_what_tnhl_wrote(
    kind: str, body: dict[str, Any], applied: dict[str, Any], deleted: bool, echo: bool
) -> None:
    """Same values in every field tnhl wrote (email case, whitespace and the instant of a
    due date aside): an echo; a changed field, a completion tnhl did not make, a delete tnhl
    did not make, or nothing tnhl wrote to compare: a real change."""
    assert is_echo(kind, body, _state(applied, deleted)) is echo


def test_a_change_reported_twice_or_late_is_told_once_and_an_unknown_entitys_update_is_a_create(
    store: SqlStore,
) -> None:
    """A contact born in HighLevel, never told: its ContactUpdate (a poll's) is told as
    contact.created. The same content again (its webhook, later) is not told; an older change
    of it (a webhook retried late) is not told; a newer, different one is."""
    base = {"type": "ContactUpdate", "id": "hc1", "email": "a@x.io"}
    _hl(store, 1, {**base, "dateUpdated": "2026-12-01T09:00:05.000Z"})
    _hl(store, 2, {**base, "timestamp": "2026-12-01T09:00:06.000Z"})
    _hl(store, 3, {**base, "email": "old@x.io", "timestamp": "2026-12-01T09:00:01.000Z"})
    _hl(store, 4, {**base, "email": "b@x.io", "timestamp": "2026-12-01T09:01:00.000Z"})
    _fold(store)
    out = FakeTalkNotes()
    pump = _pump(store, out, [NOW])
    assert [pump.run_once() for _ in range(5)] == [1, 1, 1, 1, 0]
    assert [(b["type"], b["data"]["email"]) for _, b in out.got] == [
        ("contact.created", "a@x.io"),
        ("contact.updated", "b@x.io"),
    ]
    assert [store.get_event(n).result for n in (2, 3)] == [
        "TalkNotes was already told this",
        "older than what TalkNotes was told",
    ]
    told = store.get_told(LOC, ["hc1", "nobody"])
    assert list(told) == ["hc1"]
    assert (told["hc1"].kind, told["hc1"].deleted) == ("contact", False)
    assert told["hc1"].changed_at == 1796115660.0  # 2026-12-01T09:01:00Z, the last told


T_TN = 1796115630.0  # 2026-12-01T09:00:30Z: TalkNotes' change of tn-c1's email


@pytest.mark.parametrize(
    ("hl_at", "written_at", "told", "register", "applied_email"),
    [
        # HighLevel's change is newer: told as is, and it becomes the record's email.
        (
            "2026-12-01T09:00:40.000Z",
            None,
            "hl@x.io",
            ["hl@x.io", 1796115640.0, "highlevel"],
            "hl@x.io",
        ),
        # TalkNotes' is newer: its value stands (HighLevel, still holding its own, is
        # written TalkNotes' again: the record is due, `applied` shows HighLevel's value).
        ("2026-12-01T09:00:20.000Z", None, "tn@x.io", ["tn@x.io", T_TN, "msg1"], "hl@x.io"),
        # HighLevel's is newer than TalkNotes', but tnhl wrote TalkNotes' (old@) after it at
        # 09:00:50: HighLevel holds old@ (`applied` unchanged), and is written hl@ again.
        (
            "2026-12-01T09:00:40.000Z",
            1796115650.0,
            "hl@x.io",
            ["hl@x.io", 1796115640.0, "highlevel"],
            "old@x.io",
        ),
    ],
)
def test_the_newer_change_of_a_field_wins_whichever_side_made_it(
    store: SqlStore,
    hl_at: str,
    written_at: float | None,
    told: str,
    register: list[Any],
    applied_email: str,
) -> None:
    """tn-c1's email: old@ last written, tn@ sent by TalkNotes at 09:00:30; HighLevel's
    change to hl@ at 09:00:40 (newer) or 09:00:20 (older). Either way the record is due again
    (it was not due) with a new version."""
    _record(store, {"email": "old@x.io"}, {"email": ["tn@x.io", T_TN, "msg1"]}, written_at)
    _hl(store, 1, {"type": "ContactUpdate", "id": "hc1", "email": "hl@x.io", "timestamp": hl_at})
    _fold(store)
    out = FakeTalkNotes()
    assert _pump(store, out, [NOW]).run_once() == 1
    [(_, body)] = out.got
    assert (body["type"], body["data"]["id"], body["data"]["email"]) == (
        "contact.updated",
        "tn-c1",
        told,
    )
    with store.engine.connect() as conn:
        row = conn.execute(records.select().where(records.c.record_key == "contact:tn-c1")).one()
    assert json.loads(row.fields)["email"] == register
    assert json.loads(row.applied)["email"] == applied_email
    assert row.version == 2
    assert row.due_at is not None


@pytest.mark.parametrize(
    ("sync", "told", "register", "hl_at"),
    [
        # prefer highlevel: HighLevel's older change wins all the same (stamped 1 ms after
        # the TalkNotes change it beat).
        (
            "sync: {contact: {email: {prefer: highlevel}}}",
            "hl@x.io",
            ["hl@x.io", T_TN + 0.001, "highlevel"],
            "2026-12-01T09:00:20.000Z",
        ),
        # TalkNotes owns email: HighLevel's newer change loses, and is not even told.
        (
            "sync: {contact: {email: {direction: to_highlevel}}}",
            None,
            ["tn@x.io", T_TN, "msg1"],
            "2026-12-01T09:00:40.000Z",
        ),
    ],
)
def test_a_fields_rule_decides_whose_change_wins(
    store: SqlStore, sync: str, told: str | None, register: list[Any], hl_at: str
) -> None:
    """tn-c1's email: tn@ from TalkNotes at 09:00:30, HighLevel's change to hl@ at `hl_at`;
    the mapping's rule for email, not the times, decides."""
    _record(store, {"email": "old@x.io"}, {"email": ["tn@x.io", T_TN, "msg1"]})
    _hl(store, 1, {"type": "ContactUpdate", "id": "hc1", "email": "hl@x.io", "timestamp": hl_at})
    _fold(store)
    out = FakeTalkNotes()
    schedule = RetrySchedule(delays=(10.0,), jitter=0.0)
    mappings = {LOC: load_mapping_text(sync)}
    pump = OutboundPump(
        store,
        {LOC: out},
        schedule,
        clock=lambda: NOW,
        settle_delay=0.0,
        profile_interval=0,
        mappings=mappings,
    )
    assert pump.run_once() == 1
    [(_, body)] = out.got
    assert body["data"].get("email") == told
    state = store.get_record(LOC, "contact", "tn-c1")
    assert state is not None
    assert list(state.fields["email"]) == register


def test_with_records_born_only_in_talknotes_highlevels_own_are_not_told(store: SqlStore) -> None:
    """sync.create to_highlevel: a contact born in HighLevel (not linked) is skipped."""
    _hl(store, 1, {"type": "ContactCreate", "id": "hc9", "email": "born@x.io"})
    _fold(store)
    out = FakeTalkNotes()
    mappings = {LOC: load_mapping_text("sync: {create: to_highlevel}")}
    schedule = RetrySchedule(delays=(10.0,), jitter=0.0)
    pump = OutboundPump(
        store, {LOC: out}, schedule, settle_delay=0.0, profile_interval=0, mappings=mappings
    )
    assert pump.run_once() == 1
    assert out.got == []
    assert store.get_event(1).result == "born in HighLevel (sync.create: to_highlevel)"


def test_custom_fields_are_told_by_the_names_the_mapping_gives_them(store: SqlStore) -> None:
    """HighLevel reports custom fields by id: cf-budget is mapped by id as `budget`, cf-x is
    not mapped (it keeps its id)."""
    custom = [{"id": "cf-budget", "value": "5000"}, {"id": "cf-x", "value": "y"}]
    _hl(store, 1, {"type": "ContactCreate", "id": "hc9", "customFields": custom})
    _fold(store)
    out = FakeTalkNotes()
    mapping = load_mapping_text("contact: {custom_fields: {budget: {id: cf-budget}}}")
    schedule = RetrySchedule(delays=(10.0,), jitter=0.0)
    pump = OutboundPump(
        store, {LOC: out}, schedule, settle_delay=0.0, profile_interval=0, mappings={LOC: mapping}
    )
    assert pump.run_once() == 1
    [(_, body)] = out.got
    assert body["data"]["custom_fields"] == {"budget": "5000", "cf-x": "y"}


def test_a_tags_change_beside_an_echo_is_told(store: SqlStore) -> None:
    """ContactUpdate with the email tnhl wrote (an echo on the fields it writes) but a tag
    added in HighLevel: told; the same again (tags as told): an echo, skipped."""
    _record(store, {"email": "ann@x.io"}, {"email": ["ann@x.io", T_TN, "msg1"]})
    _hl(store, 1, {"type": "ContactTagUpdate", "id": "hc1", "email": "ann@x.io", "tags": ["vip"]})
    _hl(store, 2, {"type": "ContactUpdate", "id": "hc1", "email": "ann@x.io", "tags": ["VIP"]})
    _fold(store)
    out = FakeTalkNotes()
    pump = _pump(store, out, [NOW])
    assert [pump.run_once(), pump.run_once(), pump.run_once()] == [1, 1, 0]
    assert [(b["type"], b["data"]["tags"]) for _, b in out.got] == [("contact.updated", ["vip"])]
    assert store.get_event(2).result == "echo of tnhl's own write to HighLevel"

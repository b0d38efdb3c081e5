"""Contacts' profiles (issue 9): `build_profile` from stored rows (pure), and the pump sending
one `profile.updated` per contact, coalesced to one per `profile_interval`, over a real
SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from talknotes_fakes import FakeTalkNotes

from tnhl.store import InboundEvent, SqlStore, Told, open_store
from tnhl.sync._outbound import OutboundPump, outbound_fold
from tnhl.sync._profile import build_profile
from tnhl.sync._schedule import RetrySchedule

LOC = "ProfileLocation00001"
NOW = 1796115600.0  # 2026-12-01T09:00:00Z


def _row(
    hl_id: str, kind: str, data: dict[str, Any], deleted: bool = False, link: str | None = None
) -> tuple[Told, str | None]:
    return Told(LOC, hl_id, kind, "x" * 64, NOW, deleted, contact_id="hc1", data=data), link


def test_a_profile_holds_the_contact_its_tasks_notes_and_upcoming_appointments() -> None:
    """Open and completed tasks apart (by due date), notes, appointments from now on only,
    deleted ones left out, TalkNotes ids where linked; a deleted contact has no profile."""
    contact = {"highlevel_id": "hc1", "full_name": "Ann Lee", "email": "ann@x.io", "tags": ["vip"]}
    rows = [
        _row("hc1", "contact", contact, link="tn-c1"),
        _row("t2", "task", {"highlevel_id": "t2", "taskName": "Later", "dueDate": "2026-12-09"}),
        _row(
            "t1",
            "task",
            {"highlevel_id": "t1", "taskName": "Soon", "dueDate": "2026-12-02"},
            link="tn-t1",
        ),
        _row("t3", "task", {"highlevel_id": "t3", "taskName": "Done", "completed": True}),
        _row("t4", "task", {"highlevel_id": "t4", "taskName": "Gone"}, deleted=True),
        _row("n1", "note", {"highlevel_id": "n1", "noteContent": "Likes calls", "contactId": "x"}),
        _row("a1", "appointment", {"highlevel_id": "a1", "startTime": "2026-12-01 08:00:00"}),
        _row("a2", "appointment", {"highlevel_id": "a2", "startTime": "2026-12-05 10:00:00"}),
    ]
    body = build_profile("hc1", rows, NOW)
    assert body == {
        "type": "profile.updated",
        "timestamp": "2026-12-01T09:00:00.000Z",
        "data": {
            "id": "tn-c1",
            "highlevel_id": "hc1",
            "full_name": "Ann Lee",
            "email": "ann@x.io",
            "tags": ["vip"],
            "tasks": {
                "open": [
                    {
                        "id": "tn-t1",
                        "highlevel_id": "t1",
                        "taskName": "Soon",
                        "dueDate": "2026-12-02",
                    },
                    {
                        "id": None,
                        "highlevel_id": "t2",
                        "taskName": "Later",
                        "dueDate": "2026-12-09",
                    },
                ],
                "completed": [
                    {"id": None, "highlevel_id": "t3", "taskName": "Done", "completed": True}
                ],
            },
            "notes": [{"id": None, "highlevel_id": "n1", "noteContent": "Likes calls"}],
            "appointments": [
                {"id": None, "highlevel_id": "a2", "startTime": "2026-12-05 10:00:00"}
            ],
        },
    }
    gone = [_row("hc1", "contact", contact, deleted=True)]
    assert build_profile("hc1", gone, NOW) is None
    assert build_profile("other", rows, NOW) is None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    yield s
    s.close()


def _hl(store: SqlStore, n: int, payload: dict[str, Any]) -> None:
    entity = payload.get("contactId") or payload["id"]
    body = json.dumps({"timestamp": "2026-12-01T08:59:00.000Z", **payload})
    event = InboundEvent("highlevel", f"wh{n}", payload["type"], LOC, entity, body, NOW)
    assert store.add_inbound(event)
    store.claim("w", fold=outbound_fold(frozenset({LOC})), now=NOW, limit=0)


def test_the_pump_sends_a_profile_once_per_interval_with_every_change_since(
    store: SqlStore,
) -> None:
    """A contact and its task arrive: told at once (+1 s, the settle delay), then, once the
    contact's changes have settled (+2 s), one profile with both. A note at +10 s: no
    profile before 60 s have passed since that one (+62 s), then one with the note. Nothing
    changed after: nothing more."""
    out = FakeTalkNotes()
    clock = [NOW + 1]
    pump = OutboundPump(
        store,
        {LOC: out},
        RetrySchedule(delays=(10.0,), jitter=0.0),
        clock=lambda: clock[0],
        settle_delay=1.0,
        profile_interval=60.0,
    )
    _hl(store, 1, {"type": "ContactCreate", "id": "hc1", "email": "ann@x.io"})
    _hl(store, 2, {"type": "TaskCreate", "id": "t1", "contactId": "hc1", "title": "Call"})
    assert [pump.run_once() for _ in range(3)] == [1, 1, 0]
    clock[0] = NOW + 2
    assert pump.run_once() == 1
    clock[0] = NOW + 10
    _hl(store, 3, {"type": "NoteCreate", "id": "n1", "contactId": "hc1", "body": "Hi"})
    assert [pump.run_once(), pump.run_once()] == [1, 0]
    clock[0] = NOW + 61
    assert pump.run_once() == 0
    clock[0] = NOW + 62
    assert pump.run_once() == 1
    clock[0] = NOW + 200
    assert pump.run_once() == 0
    assert [b["type"] for _, b in out.got] == [
        "contact.created",
        "task.created",
        "profile.updated",
        "note.created",
        "profile.updated",
    ]
    first, second = (b["data"] for _, b in out.got if b["type"] == "profile.updated")
    assert (first["email"], [t["taskName"] for t in first["tasks"]["open"]]) == (
        "ann@x.io",
        ["Call"],
    )
    assert first["notes"] == []
    assert second["notes"] == [{"id": None, "highlevel_id": "n1", "noteContent": "Hi"}]
    assert pump.profiles == 2

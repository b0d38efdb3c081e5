"""Backfill against the real simulator over loopback HTTP, into a real SQLite store (issue 9):
HighLevel's contacts out (paged, a match by email linked first, resumable from its cursor),
and a file of TalkNotes events in (checked, stored once however often it runs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tnhl.highlevel import HighLevelClient, PrivateIntegrationToken
from tnhl.mapping import default_mapping
from tnhl.simulator import SimulatorConfig
from tnhl.simulator._testing import RunningSimulator, running_simulator
from tnhl.store import InboundEvent, SqlStore, open_store
from tnhl.sync._backfill import backfill_to_highlevel, backfill_to_talknotes
from tnhl.sync._delta import event_delta

LOC = "BackfillLocation0001"
CURSOR = f"backfill-to-talknotes:{LOC}"


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    cfg = SimulatorConfig.model_validate({"rate_limit": {"enabled": False}})
    with running_simulator(cfg, token="pit-backfill", location_id=LOC) as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    yield s
    s.close()


@pytest.fixture
def client(sim: RunningSimulator) -> Iterator[HighLevelClient]:
    c = HighLevelClient(PrivateIntegrationToken(sim.token, location_id=LOC), base_url=sim.base_url)
    yield c
    c.close()


def _talknotes_contact(store: SqlStore, tn_id: str, email: str) -> None:
    """A TalkNotes contact tnhl holds but never got into HighLevel (no id map entry)."""
    data = {"id": tn_id, "email": email}
    body = json.dumps(
        {"type": "contact.created", "timestamp": "2026-12-01T09:00:00Z", "data": data}
    )
    store.add_inbound(
        InboundEvent("talknotes", f"m-{tn_id}", "contact.created", LOC, tn_id, body, 1.0)
    )
    store.claim("w", fold=event_delta, limit=0)


def test_highlevels_contacts_go_out_paged_linked_by_email_and_resumable(
    sim: RunningSimulator, store: SqlStore, client: HighLevelClient
) -> None:
    """150 contacts (two pages), the 7th matching TalkNotes' unlinked tn-7 by email (in
    another case): 150 contact events stored, tn-7 linked. Run again: nothing read. From
    the first page's cursor (as after a kill there): the last 50 read, none stored again."""
    _talknotes_contact(store, "tn-7", "P7@X.io")
    with sim.client() as http:
        ids = []
        for n in range(150):
            r = http.post("/contacts/", json={"locationId": LOC, "email": f"p{n}@x.io"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["contact"]["id"])
    progress: list[tuple[int, int | None]] = []
    report = backfill_to_talknotes(
        store, client.call, LOC, default_mapping(), progress=lambda d, t: progress.append((d, t))
    )
    assert (report.read, report.stored, report.linked) == (150, 150, 1)
    assert progress == [(100, 150), (150, 150)]
    assert store.get_highlevel_id(LOC, "contact", "tn-7") == ids[7]
    contact_events = [r for r in store.list_events(limit=1000) if r.source == "highlevel"]
    assert sorted(r.entity_key for r in contact_events) == sorted(ids)
    assert store.get_cursor(CURSOR) == "[]"
    assert backfill_to_talknotes(store, client.call, LOC, default_mapping()).read == 0
    first_page = client.call(
        "search-contacts-advanced",
        json={
            "locationId": LOC,
            "pageLimit": 100,
            "sort": [{"field": "dateAdded", "direction": "asc"}],
        },
    )
    store.set_cursor(CURSOR, json.dumps(first_page["contacts"][-1]["searchAfter"]))
    again = backfill_to_talknotes(store, client.call, LOC, default_mapping())
    assert (again.read, again.stored, again.linked) == (50, 0, 0)


def test_a_file_of_talknotes_events_is_checked_and_stored_once(store: SqlStore) -> None:
    """Two valid lines, a blank one, one without data.id: two stored, the bad one reported
    by its line number and field; the same file again stores nothing."""
    good = [
        {
            "type": "contact.created",
            "timestamp": "2026-12-01T09:00:00Z",
            "data": {"id": "c1", "email": "a@x.io"},
        },
        {
            "type": "task.created",
            "timestamp": "2026-12-01T09:00:01Z",
            "data": {"id": "t1", "contactId": "c1", "taskName": "Call"},
        },
    ]
    bad = {
        "type": "note.created",
        "timestamp": "2026-12-01T09:00:02Z",
        "data": {"noteContent": "x"},
    }
    lines = [json.dumps(good[0]), "", json.dumps(good[1]), json.dumps(bad)]
    report = backfill_to_highlevel(store, LOC, lines)
    assert (report.read, report.stored) == (3, 2)
    assert len(report.problems) == 1
    assert report.problems[0].startswith("line 4: ")
    assert "data.id" in report.problems[0]
    assert [(r.event_type, r.entity_key) for r in store.list_events()] == [
        ("contact.created", "c1"),
        ("task.created", "c1"),
    ]
    assert backfill_to_highlevel(store, LOC, lines).stored == 0

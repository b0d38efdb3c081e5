"""Reconciliation against the real simulator over loopback HTTP, into a real SQLite store
(issue 9): a poll stores each HighLevel change once (with the contact's tasks, notes and
appointments), re-reads its overlap without storing again, pages past 100 contacts, resumes
from its cursor after a kill, and the sweep finds deletions whose webhooks were lost. The
simulator's clock and the reconciler's are one fake clock: every date below is a literal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tnhl.highlevel import HighLevelClient, PrivateIntegrationToken
from tnhl.simulator import SimulatorConfig
from tnhl.simulator._testing import RunningSimulator, running_simulator
from tnhl.store import SqlStore, open_store
from tnhl.sync._reconcile import Reconciler

LOC = "ReconcileLocation001"
T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


class Clock:
    """One clock for the simulator (datetimes) and the reconciler (epoch seconds)."""

    def __init__(self) -> None:
        self.at = T0

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return self.at

    def epoch(self) -> float:
        return self.at.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[RunningSimulator]:
    cfg = SimulatorConfig.model_validate({"rate_limit": {"enabled": False}})
    with running_simulator(cfg, token="pit-reconcile", location_id=LOC, now=clock.now) as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    yield s
    s.close()


@pytest.fixture
def reconciler(sim: RunningSimulator, store: SqlStore, clock: Clock) -> Iterator[Reconciler]:
    client = HighLevelClient(
        PrivateIntegrationToken(sim.token, location_id=LOC), base_url=sim.base_url
    )
    yield Reconciler(store, {LOC: client.call}, clock=clock.epoch)
    client.close()


def _contact(http: httpx.Client, email: str) -> str:
    r = http.post("/contacts/", json={"locationId": LOC, "email": email, "name": "Re Con"})
    assert r.status_code == 201, r.text
    return str(r.json()["contact"]["id"])


def _events(store: SqlStore) -> list[tuple[str, str]]:
    """(type, entity) of every stored HighLevel event, in arrival order."""
    return [(r.event_type, r.entity_key) for r in store.list_events(limit=1000)]


def test_a_poll_stores_each_change_once_with_the_contacts_tasks_and_notes(
    sim: RunningSimulator, store: SqlStore, reconciler: Reconciler, clock: Clock
) -> None:
    """A contact with a task and a note, changed 10 s before the first poll: 1 search + 3
    GETs, 3 events. The same poll again reads it (the 60 s overlap) but stores nothing and
    reads no children. Its edit: 3 events more (its children are read again)."""
    with sim.client() as http:
        cid = _contact(http, "a@x.io")
        r = http.post(
            f"/contacts/{cid}/tasks",
            json={"title": "Call", "dueDate": "2026-12-02T10:00:00Z", "completed": False},
        )
        assert r.status_code == 201, r.text
        assert http.post(f"/contacts/{cid}/notes", json={"body": "Met"}).status_code == 201
        clock.advance(10)
        first = reconciler.poll(LOC)
        assert (first.contacts, first.stored, first.calls) == (1, 3, 4)
        assert _events(store) == [("ContactUpdate", cid), ("TaskUpdate", cid), ("NoteUpdate", cid)]
        # Not moved back to the contact's change: the first poll starts the cursor at its time.
        assert store.get_cursor(f"reconcile:{LOC}") == "1796115610000:"
        clock.advance(10)
        again = reconciler.poll(LOC)
        assert (again.contacts, again.stored, again.calls) == (1, 0, 1)
        assert http.put(f"/contacts/{cid}", json={"email": "b@x.io"}).status_code == 200
        clock.advance(10)
        edited = reconciler.poll(LOC)
    assert (edited.contacts, edited.stored, edited.calls) == (1, 3, 4)
    assert store.get_cursor(f"reconcile:{LOC}") == f"1796115620000:{cid}"
    contact_bodies = [
        json.loads(r.body) for r in store.list_events(limit=100) if r.event_type == "ContactUpdate"
    ]
    assert [b["email"] for b in contact_bodies] == ["a@x.io", "b@x.io"]
    assert all(b["locationId"] == LOC and "searchAfter" not in b for b in contact_bodies)


def test_changes_older_than_the_overlap_before_the_first_poll_are_not_polled(
    sim: RunningSimulator, store: SqlStore, reconciler: Reconciler, clock: Clock
) -> None:
    """The first poll looks back 60 s (a backfill is a command of its own): a contact
    changed 61 s before it is not stored; one changed 59 s before is."""
    with sim.client() as http:
        _contact(http, "old@x.io")
        clock.advance(2)
        recent = _contact(http, "new@x.io")
        clock.advance(59)
        report = reconciler.poll(LOC)
    assert (report.contacts, report.stored) == (1, 1)
    assert _events(store) == [("ContactUpdate", recent)]


def test_a_poll_pages_past_100_contacts_in_order_of_change(
    sim: RunningSimulator, store: SqlStore, reconciler: Reconciler, clock: Clock
) -> None:
    """After a first poll, 250 contacts changed 0.2 s apart: three searches (100, 100, 50),
    every contact stored once in order, the cursor at the last one changed."""
    assert reconciler.poll(LOC).contacts == 0
    ids = []
    with sim.client() as http:
        for n in range(250):
            ids.append(_contact(http, f"p{n}@x.io"))
            clock.advance(0.2)
    sim.log.clear()
    report = reconciler.poll(LOC)
    assert sim.log.counts()["search-contacts-advanced"] == 3
    assert (report.contacts, report.stored) == (250, 250)
    assert [entity for _, entity in _events(store)] == ids
    assert store.get_cursor(f"reconcile:{LOC}") == f"1796115649800:{ids[-1]}"


def test_after_a_kill_between_a_contact_and_its_cursor_the_next_poll_reads_its_children(
    sim: RunningSimulator, store: SqlStore, reconciler: Reconciler, clock: Clock
) -> None:
    """The contact's event was stored but the cursor not moved (killed there): the next poll
    reads its children again (stored once: their events carry the same ids)."""
    with sim.client() as http:
        cid = _contact(http, "k@x.io")
        assert http.post(f"/contacts/{cid}/notes", json={"body": "kept"}).status_code == 201
    clock.advance(5)
    reconciler.poll(LOC)
    store.set_cursor(f"reconcile:{LOC}", f"{1796115600000 - 1}:")
    report = reconciler.poll(LOC)
    assert (report.contacts, report.stored, report.calls) == (1, 0, 4)
    assert _events(store) == [("ContactUpdate", cid), ("NoteUpdate", cid)]


def test_the_sweep_stores_a_deletion_only_for_a_known_contact_confirmed_gone(
    sim: RunningSimulator, store: SqlStore, reconciler: Reconciler, clock: Clock
) -> None:
    """Known: A, B (linked in the id map); C unknown. B and C are deleted in HighLevel (their
    webhooks lost): one listing + one GET for B, one ContactDelete for B; none for C. A
    second sweep stores nothing more (the same event id)."""
    with sim.client() as http:
        a, b, c = (_contact(http, f"{n}@x.io") for n in "abc")
        store.put_mapping(LOC, "contact", "tn-a", a)
        store.put_mapping(LOC, "contact", "tn-b", b)
        for gone in (b, c):
            assert http.delete(f"/contacts/{gone}").status_code == 200
    report = reconciler.sweep(LOC)
    assert (report.listed, report.missing, report.stored, report.calls) == (1, 1, 1, 2)
    [event] = store.list_events()
    assert (event.event_type, event.entity_key) == ("ContactDelete", b)
    assert json.loads(event.body)["id"] == b
    assert reconciler.sweep(LOC).stored == 0

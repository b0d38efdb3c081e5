"""Two-way sync's costs (issue 9): HighLevel calls per changed contact in reconciliation, and
what a contact's profile costs.

1. Reconciliation. The simulator (own process, no rate limit) holds `contacts` contacts with
   two tasks and a note each. A first poll takes them all in (they changed within its
   overlap); then `changed` of them are edited and the next poll is counted from the
   simulator's request log. Baseline, same run: a poller without a cursor re-reads every
   contact with its children (one search page per 100, three reads per contact).
2. Profile. A contact with 20 tasks and 10 notes is polled and told (the real pump, to a
   receiver that only counts), then its profile is built from the store `rounds` times.
   Baseline, same run: reading the same from HighLevel (the contact, its tasks, notes and
   appointments: four calls), `rounds` times. HighLevel calls made while building profiles are
   counted (none is the design).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from bench._common import SimProcess, simulator_process
from tnhl.highlevel import HighLevelClient, PrivateIntegrationToken
from tnhl.store import SqlStore, open_store
from tnhl.sync._outbound import OutboundPump, outbound_fold
from tnhl.sync._profile import stored_profile
from tnhl.sync._reconcile import Reconciler
from tnhl.sync._schedule import RetrySchedule
from tnhl.talknotes import Delivered

__all__ = ["run"]


class _Counting:
    """A TalkNotes receiver that takes everything and counts it."""

    def __init__(self) -> None:
        self.n = 0

    def deliver(self, message_id: str, body: Mapping[str, Any]) -> Delivered:
        self.n += 1
        return Delivered(200, None)

    def close(self) -> None:
        pass


def _contact(hl: httpx.Client, sim: SimProcess, n: int, tasks: int, notes: int) -> str:
    r = hl.post("/contacts/", json={"locationId": sim.location_id, "email": f"p{n}@x.io"})
    r.raise_for_status()
    cid = str(r.json()["contact"]["id"])
    for t in range(tasks):
        task = {"title": f"Task {t}", "dueDate": "2026-12-09T10:00:00Z", "completed": False}
        hl.post(f"/contacts/{cid}/tasks", json=task).raise_for_status()
    for k in range(notes):
        hl.post(f"/contacts/{cid}/notes", json={"body": f"Note {k}"}).raise_for_status()
    return cid


def _calls(sim: SimProcess) -> int:
    return int(sim.requests()["total"])


def _median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def _tell(store: SqlStore, pump: OutboundPump, location: str) -> None:
    """Fold what reconciliation stored and let the pump tell it, until nothing is left."""
    store.claim("bench", fold=outbound_fold(frozenset({location})), limit=0, fold_limit=10_000)
    while pump.run_once():
        pass


def run(contacts: int = 300, changed: int = 100, rounds: int = 200) -> dict[str, Any]:
    config = {"rate_limit": {"enabled": False}}
    with tempfile.TemporaryDirectory() as tmp, simulator_process(config, Path(tmp)) as sim:
        auth = {"Authorization": f"Bearer {sim.token}", "Version": "2021-07-28"}
        store = open_store(f"sqlite:///{Path(tmp) / 'tnhl.db'}")
        client = HighLevelClient(
            PrivateIntegrationToken(sim.token, location_id=sim.location_id), base_url=sim.base_url
        )
        loc = sim.location_id
        reconciler = Reconciler(store, {loc: client.call})
        out = _Counting()
        schedule = RetrySchedule(delays=(1.0,), jitter=0.0)
        pump = OutboundPump(store, {loc: out}, schedule, settle_delay=0.0, profile_interval=0)
        try:
            with httpx.Client(base_url=sim.base_url, headers=auth, timeout=30) as hl:
                ids = [_contact(hl, sim, n, 2, 1) for n in range(contacts)]
                first = reconciler.poll(loc)
                for cid in ids[:changed]:
                    hl.put(f"/contacts/{cid}", json={"phone": "+15550100"}).raise_for_status()
                before = _calls(sim)
                second = reconciler.poll(loc)
                poll_calls = _calls(sim) - before
                before = _calls(sim)
                idle = reconciler.poll(loc)
                idle_calls = _calls(sim) - before
                naive = -(-contacts // 100) + 3 * contacts

                big = _contact(hl, sim, contacts, 20, 10)
                hl.put(f"/contacts/{big}", json={"phone": "+15550101"}).raise_for_status()
                reconciler.poll(loc)
                _tell(store, pump, loc)
                now = time.time()
                before = _calls(sim)
                built = _median_ms(lambda: stored_profile(store, loc, big, now), rounds)
                profile_calls = _calls(sim) - before
                profile = stored_profile(store, loc, big, now)
                assert profile is not None

                def read_highlevel() -> None:
                    client.call("get-contact", params={"contactId": big})
                    for op in ("get-all-tasks", "get-all-notes", "get-appointments-for-contact"):
                        client.call(op, params={"contactId": big})

                read = _median_ms(read_highlevel, rounds)
        finally:
            client.close()
            store.close()
    return {
        "contacts": contacts,
        "first_poll_contacts": first.contacts,
        "changed_contacts": changed,
        "poll_calls": poll_calls,
        "poll_contacts_read": second.contacts,
        "calls_per_changed_contact": round(poll_calls / changed, 3),
        "floor_calls_per_changed_contact": 3 + 1 / 100,
        "idle_poll_calls": idle_calls,
        "idle_poll_events_stored": idle.stored,
        "baseline_calls_rereading_everything": naive,
        "calls_over_baseline": round(poll_calls / naive, 3),
        "profile_tasks": len(profile["data"]["tasks"]["open"]),
        "profile_notes": len(profile["data"]["notes"]),
        "profile_build_ms_median": built,
        "baseline_read_from_highlevel_ms_median": read,
        "profile_over_baseline": round(built / read, 3),
        "highlevel_calls_per_profile": profile_calls / rounds,
    }

"""Hand-written event sets for the engine benchmarks, and fast ways to put them in a store.

Why hand-written rather than the demo generator: the engine folds every stored event of a record
into one state, so a backlog holding a record's create and its updates costs one call, while a
loop that handles one event at a time makes one call per event. To compare the engine with such
a loop on the SAME HighLevel calls, each record here gets exactly one event per phase: phase 1
creates (a contact, two tasks, one note per person), phase 2 changes each of them once (after
phase 1 is in HighLevel). Either side then makes one call per event, plus the duplicate lookup
before each contact create.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tnhl.store import SqlStore
from tnhl.store._schema import inbox

__all__ = ["entity_key", "insert_events", "two_phase"]

_START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_FIRST = ("Sam", "Alex", "Priya", "Jordan", "Maria", "Chen", "Fatima", "Liam")
_LAST = ("Reyes", "Patel", "Okafor", "Nguyen", "Rossi", "Kim", "Haddad", "Silva")

Event = dict[str, Any]


def _stamp(k: int) -> str:
    at = _START + timedelta(seconds=k)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def two_phase(people: int) -> tuple[list[Event], list[Event]]:
    """(creates, changes): 4 events per person in each phase, timestamps increasing."""
    creates: list[Event] = []
    changes: list[Event] = []
    k = 0
    for i in range(people):
        cid, t1, t2, n1 = f"bc_{i:06d}", f"bt_{i:06d}_1", f"bt_{i:06d}_2", f"bn_{i:06d}"
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
        person = {"id": cid, "full_name": f"{first} {last}", "email": f"p{i}@bench.example"}
        for kind, data in (
            ("contact.created", person),
            ("task.created", _task(t1, cid, f"Call {first} back", "2026-03-10", "high")),
            ("task.created", _task(t2, cid, f"Send {first} the quote", "2026-03-12", "normal")),
            ("note.created", {"id": n1, "contactId": cid, "noteContent": f"Met {first}."}),
        ):
            creates.append({"type": kind, "timestamp": _stamp(k), "data": data})
            k += 1
    for i in range(people):
        cid, t1, t2, n1 = f"bc_{i:06d}", f"bt_{i:06d}_1", f"bt_{i:06d}_2", f"bn_{i:06d}"
        first = _FIRST[i % len(_FIRST)]
        for kind, data in (
            ("contact.updated", {"id": cid, "full_name": f"{first} Moved"}),
            ("task.updated", _task(t1, cid, f"Call {first} on Friday", "2026-03-10", "high")),
            ("task.completed", {"id": t2, "contactId": cid, "completed": True}),
            ("note.updated", {"id": n1, "contactId": cid, "noteContent": f"Met {first} twice."}),
        ):
            changes.append({"type": kind, "timestamp": _stamp(k), "data": data})
            k += 1
    return creates, changes


def _task(tid: str, cid: str, name: str, due: str, priority: str) -> dict[str, Any]:
    return {"id": tid, "contactId": cid, "taskName": name, "dueDate": due, "priority": priority}


def entity_key(event: Event) -> str:
    """The inbox's entity key, as intake sets it: the contact's id for every event."""
    data = event["data"]
    return str(data["id"] if event["type"].startswith("contact.") else data["contactId"])


def insert_events(store: SqlStore, events: Iterable[Event], location_id: str, prefix: str) -> int:
    """Store `events` as received inbox rows in ONE transaction (the rows intake writes).

    Faster than `add_inbound` per event (a transaction each), so setting up a backlog does not
    dominate a benchmark; the rows are the same columns and values.
    """
    now = time.time()
    rows = [
        {
            "source": "talknotes",
            "event_id": f"{prefix}_{i}",
            "event_type": e["type"],
            "location_id": location_id,
            "entity_key": entity_key(e),
            "body": json.dumps(e, separators=(",", ":")),
            "received_at": now,
            "state": "received",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for i, e in enumerate(events)
    ]
    if not rows:
        return 0
    gate = store.write_lock  # this process's SQLite writers queue here (None on PostgreSQL)
    if gate is not None:
        gate.acquire()
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.insert(inbox), rows)
    finally:
        if gate is not None:
            gate.release()
    return len(rows)

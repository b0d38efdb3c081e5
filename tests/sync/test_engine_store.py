"""The executor and workers on the real SQLite store and the real planner (client faked)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sync_fakes import FakeClient

from tnhl.mapping import default_mapping
from tnhl.store import InboundEvent, SqlStore, open_store
from tnhl.sync._executor import Executor
from tnhl.sync._planning import make_planner
from tnhl.sync._schedule import RetrySchedule
from tnhl.sync._wiring import StoreAdapter
from tnhl.sync._worker import WorkerPool

LOC = "loc1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    yield s
    s.close()


def add(store: SqlStore, n: int, etype: str, data: dict[str, Any]) -> None:
    entity = data["id"] if etype.startswith("contact.") else data["contactId"]
    body = json.dumps({"type": etype, "timestamp": "2026-11-27T10:00:00Z", "data": data})
    store.add_inbound(InboundEvent("talknotes", f"evt_{n}", etype, LOC, entity, body, time.time()))


def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


class LockedClient(FakeClient):
    """The fake client, safe for several worker threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self, operation_id: str, **kw: Any) -> Any:
        with self._lock:
            return super().__call__(operation_id, **kw)


def run_pool(store: SqlStore, client: FakeClient, **kw: Any) -> WorkerPool:
    adapter = StoreAdapter(store)
    ex = Executor(
        adapter,
        client,
        make_planner(default_mapping()),
        schedule=RetrySchedule(scale=1e-5, rng=__import__("random").Random(1)),
    )
    pool = WorkerPool(adapter, ex, threads=3, poll_interval=0.01, sweep_interval=0.05, **kw)
    pool.start()
    return pool


def test_workers_apply_each_contacts_events_in_order(store: SqlStore) -> None:
    """Three people with updates, tasks and notes: every event done, 1 call per record."""
    n = 0
    for p in range(3):
        cid = f"c{p}"
        n += 1
        add(
            store,
            n,
            "contact.created",
            {"id": cid, "email": f"p{p}@example.com", "full_name": "Ann Lee"},
        )
        for u in range(3):
            n += 1
            add(store, n, "contact.updated", {"id": cid, "phone": f"+1415555{p}{u:03d}"})
        n += 1
        add(
            store,
            n,
            "task.created",
            {
                "id": f"t{p}",
                "contactId": cid,
                "taskName": "Call",
                "dueDate": "2026-12-01T09:00:00Z",
            },
        )
        n += 1
        add(
            store,
            n,
            "note.created",
            {"id": f"n{p}", "contactId": cid, "noteTitle": "Hi", "noteContent": "Met"},
        )
    client = LockedClient()
    pool = run_pool(store, client)
    try:
        wait_for(lambda: store.stats().counts.get("done", 0) == n)
    finally:
        pool.stop()
    ops = client.ops()
    # Contacts: the created + updates coalesce when claimed together; never more than 4 calls.
    contact_calls = [o for o in ops if "contact" in o]
    assert 3 <= len(contact_calls) <= 12
    assert ops.count("create-task") == 3
    assert ops.count("create-note") == 3
    for p in range(3):
        assert store.get_highlevel_id(LOC, "task", f"t{p}") is not None
    # Each task went to its own contact's HighLevel id.
    for op, params, _body in client.calls:
        if op == "create-task":
            assert params["contactId"] in {
                store.get_highlevel_id(LOC, "contact", f"c{p}") for p in range(3)
            }


def test_task_of_unknown_contact_ends_in_dead_letters(store: SqlStore) -> None:
    """A task whose contact never syncs is retried on the (scaled) schedule, then dead."""
    add(
        store,
        1,
        "task.created",
        {"id": "t9", "contactId": "ghost", "taskName": "X", "dueDate": "2026-12-01"},
    )
    client = LockedClient()
    pool = run_pool(store, client)
    try:
        wait_for(lambda: store.stats().counts.get("dead", 0) == 1, timeout=30)
    finally:
        pool.stop()
    [dead] = store.list_dead()
    assert "contact never synced" in dead.reason
    assert dead.event.attempts == 9
    assert client.calls == []


def test_expired_lease_is_swept_and_applied(store: SqlStore) -> None:
    """An event leased by a worker that died is picked up after its lease runs out."""
    add(store, 1, "contact.created", {"id": "c1", "email": "a@example.com"})
    [claim] = store.claim_next("dead-worker", now=time.time(), lease_seconds=0.2)
    assert claim.events[0].event_id == "evt_1"
    client = LockedClient()
    pool = run_pool(store, client)
    try:
        wait_for(lambda: store.stats().counts.get("done", 0) == 1)
    finally:
        pool.stop()
    assert client.ops() == ["upsert-contact"]


def test_rate_limited_batches_wait_in_memory_and_finish(store: SqlStore) -> None:
    """With a tight limiter, held (deferred) batches are retried and every event is applied."""
    from tnhl.highlevel._clock import SystemClock
    from tnhl.highlevel._ratelimit import RateLimiter

    for p in range(6):
        add(store, 10 * p + 1, "contact.created", {"id": f"c{p}", "email": f"p{p}@example.com"})
        for k in range(3):
            note = {"id": f"n{p}{k}", "contactId": f"c{p}", "noteContent": f"note {k}"}
            add(store, 10 * p + 2 + k, "note.created", note)
    client = LockedClient()
    adapter = StoreAdapter(store)
    limiter = RateLimiter(clock=SystemClock(), burst=5, interval=0.25, margin=0.0)
    pool_ref: list[WorkerPool] = []
    ex = Executor(
        adapter,
        client,
        make_planner(default_mapping()),
        limiter=limiter,
        reschedule_spacing=0.05,
        defer=lambda batch, at, worker: pool_ref[0].defer(batch, at, worker),
    )
    pool = WorkerPool(adapter, ex, threads=3, poll_interval=0.01, sweep_interval=0.05)
    pool_ref.append(pool)
    pool.start()
    try:
        wait_for(lambda: store.stats().counts.get("done", 0) == 24, timeout=20)
    finally:
        pool.stop()
    assert client.ops().count("create-note") == 18
    assert client.ops().count("upsert-contact") == 6
    assert store.list_dead() == []

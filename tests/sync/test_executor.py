"""The executor end to end on real parts: a SQLite store in tmp_path, the HighLevel simulator
over loopback HTTP, the real client. Events go into the inbox, records are claimed with the
engine's fold, run, and the simulator's state and the store are checked against literals.

Time is an injected clock (store, executor and claims share it); nothing sleeps.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tnhl.highlevel import HighLevelClient, PrivateIntegrationToken, RetryPolicy
from tnhl.mapping import MappingConfig, default_mapping, load_mapping_text
from tnhl.simulator import RunningSimulator, SimulatorConfig, running_simulator
from tnhl.store import InboundEvent, OpMark, RecordClaim, RecordState, SqlStore, open_store
from tnhl.sync._delta import event_delta
from tnhl.sync._executor import Executor
from tnhl.sync._outcome import Decider
from tnhl.sync._plan_types import Plan
from tnhl.sync._planner import plan_record
from tnhl.sync._schedule import RetrySchedule

T0 = 1_772_443_800.0  # 2026-03-02T09:30:00Z, the events' timestamps start here


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Crash(BaseException):
    """The worker process dies (not an Exception: nothing in the engine catches it)."""


@dataclass
class Counting:
    """client_call that counts the operations it sends, and can crash after one of them."""

    call: Any
    sent: list[str] = field(default_factory=list)
    crash_after: str | None = None

    def __call__(self, operation_id: str, *, params: Any = None, json: Any = None) -> Any:
        self.sent.append(operation_id)
        result = self.call(operation_id, params=params, json=json)
        if operation_id == self.crash_after:
            self.crash_after = None
            raise Crash(f"worker died after {operation_id} was answered")
        return result


@dataclass
class Env:
    sim: RunningSimulator
    store: SqlStore
    clock: Clock
    client: Counting
    mapping: MappingConfig
    seq: int = 0

    @property
    def loc(self) -> str:
        return self.sim.location_id

    def executor(self, decider: Decider | None = None, **kw: Any) -> Executor:
        decider = decider or Decider(RetrySchedule(rng=random.Random(7)))
        return Executor(self.store, self.client, self.mapping, decider, clock=self.clock, **kw)

    def add(self, event_type: str, data: dict[str, Any], at: float) -> int:
        """Store a TalkNotes event (timestamp `at`) as intake would; returns its webhook id."""
        self.seq += 1
        body = json.dumps({"type": event_type, "timestamp": iso(at), "data": data})
        entity = data["id"] if event_type.startswith("contact.") else data["contactId"]
        assert self.store.add_inbound(
            InboundEvent(
                source="talknotes",
                event_id=f"msg_{self.seq:03d}",
                event_type=event_type,
                location_id=self.loc,
                entity_key=entity,
                body=body,
                received_at=self.clock(),
            )
        )
        return self.seq

    def claim(self, limit: int = 10) -> list[RecordClaim]:
        return self.store.claim("w1", fold=event_delta, now=self.clock(), limit=limit)

    def keys(self, claims: list[RecordClaim]) -> list[str]:
        return sorted(c.state.record_key for c in claims)

    def record(self, kind: str, talknotes_id: str) -> RecordState:
        st = self.store.get_record(self.loc, kind, talknotes_id)
        assert st is not None
        return st

    def contacts(self) -> list[dict[str, Any]]:
        return [c for c in self.sim.state.all("contact") if c.get("locationId") == self.loc]

    def tasks(self) -> list[dict[str, Any]]:
        return list(self.sim.state.all("task"))

    def event_states(self) -> dict[str, str]:
        """webhook id -> inbox state, for every stored event."""
        out: dict[str, str] = {}
        for i in range(1, self.seq + 1):
            row = self.store.get_event(i)
            out[row.event_id] = row.state
        return out


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = Clock(T0 + 10)
    with running_simulator(SimulatorConfig(seed=7), rng=random.Random(7)) as sim:
        store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}", clock=clock)
        hl = HighLevelClient(
            PrivateIntegrationToken(sim.token, location_id=sim.location_id),
            base_url=sim.base_url,
            retry=RetryPolicy(attempts=1),
        )
        try:
            yield Env(sim, store, clock, Counting(hl.call), default_mapping())
        finally:
            hl.close()
            store.close()


SAM = {
    "id": "c1",
    "full_name": "Sam Reyes",
    "email": "sam.reyes@example.com",
    "phone": "+1 415 555 0142",
}
TASK = {
    "id": "t1",
    "contactId": "c1",
    "taskName": "Call Sam back about the quote",
    "dueDate": "2026-03-06",
    "priority": "high",
}


def test_contact_then_task_both_land_the_task_on_its_contact(env: Env) -> None:
    """contact.created then task.created: one contact, one task on it, fields mapped."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    env.add("task.created", TASK, T0 + 70)
    ex.run(env.claim())

    [contact] = env.contacts()
    assert (contact["firstName"], contact["lastName"]) == ("Sam", "Reyes")
    assert contact["email"] == "sam.reyes@example.com"
    assert contact["phone"] == "+14155550142"
    [task] = env.tasks()
    assert task["contactId"] == contact["id"]
    assert task["title"] == "[High] Call Sam back about the quote"
    assert task["dueDate"] == "2026-03-06T09:00:00.000Z"
    assert task["completed"] is False

    assert env.store.get_highlevel_id(env.loc, "contact", "c1") == contact["id"]
    assert env.store.get_highlevel_id(env.loc, "task", "t1") == task["id"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}
    assert env.client.sent == ["get-duplicate-contact", "create-contact", "create-task"]
    assert env.record("contact", "c1").status == "synced"
    assert env.record("task", "t1").status == "synced"


def test_task_before_its_contact_waits_without_blocking_it_and_lands_when_it_does(
    env: Env,
) -> None:
    """A task first waits; its contact is claimed and created on its own; the task is then
    due at once (same clock) and lands on that contact."""
    ex = env.executor()
    env.add("task.created", TASK, T0 + 70)
    first = env.claim()
    assert env.keys(first) == ["task:t1"]
    ex.run(first)
    waiting = env.record("task", "t1")
    assert waiting.status == "waiting"
    assert waiting.last_error == "contact c1 is not in HighLevel yet"
    assert env.tasks() == []
    assert env.client.sent == []

    env.add("contact.created", SAM, T0)
    second = env.claim()
    assert env.keys(second) == ["contact:c1"]  # the waiting task is not due, not in the way
    ex.run(second)
    [contact] = env.contacts()

    third = env.claim()  # no time has passed: the contact's settlement woke the task
    assert env.keys(third) == ["task:t1"]
    ex.run(third)
    [task] = env.tasks()
    assert task["contactId"] == contact["id"]
    assert task["title"] == "[High] Call Sam back about the quote"
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}
    assert env.client.sent == ["get-duplicate-contact", "create-contact", "create-task"]


def test_a_crashing_record_is_dead_after_crash_limit_and_others_apply(env: Env) -> None:
    """A planner that raises on one record: 3 crashing claims, then its events are dead letters
    with the error; the other record of the same batch is applied."""

    def planner(state: RecordState, ids: Any, mapping: MappingConfig) -> Plan:
        if state.talknotes_id == "c_bad":
            raise RuntimeError("boom in the planner")
        return plan_record(state, ids, mapping)

    ex = env.executor(planner=planner)
    env.add("contact.created", {"id": "c_bad", "full_name": "Poison Pill"}, T0)
    env.add("contact.created", {"id": "c_ok", "full_name": "Ada Lovelace"}, T0)

    batch = env.claim()
    assert env.keys(batch) == ["contact:c_bad", "contact:c_ok"]
    ex.run(batch)
    [ada] = env.contacts()
    assert (ada["firstName"], ada["lastName"]) == ("Ada", "Lovelace")
    assert env.record("contact", "c_ok").status == "synced"
    bad = env.record("contact", "c_bad")
    assert (bad.status, bad.crashes) == ("retry", 1)
    assert bad.last_error == "crashed (1 of 3): RuntimeError: boom in the planner"

    for crash in (2, 3):
        assert env.claim() == []  # backing off: not due yet
        env.clock.advance(13)  # the first retry delay is 10 s +-25 %
        again = env.claim()
        assert env.keys(again) == ["contact:c_bad"]
        ex.run(again)
        assert env.record("contact", "c_bad").crashes == (crash if crash < 3 else 0)

    bad = env.record("contact", "c_bad")
    assert bad.status == "dead"
    [letter] = env.store.list_dead()
    assert letter.event.event_id == "msg_001"
    assert letter.reason == "crashed (3 of 3): RuntimeError: boom in the planner"
    assert env.event_states() == {"msg_001": "dead", "msg_002": "done"}
    env.clock.advance(86_400)
    assert env.claim() == []  # dead is final: no loop
    assert len(env.contacts()) == 1


def test_second_contact_with_the_same_email_is_dead_and_highlevel_unchanged(env: Env) -> None:
    """Two TalkNotes people share an email: the second is dead naming both ids, and the
    HighLevel contact still holds the first person's name."""
    ex = env.executor()
    env.add("contact.created", {"id": "c1", "full_name": "Ada Lovelace", "email": "ada@x.io"}, T0)
    ex.run(env.claim())
    [first] = env.contacts()
    env.add("contact.created", {"id": "c2", "full_name": "Ada King", "email": "ada@x.io"}, T0)
    ex.run(env.claim())

    [contact] = env.contacts()
    assert contact["id"] == first["id"]
    assert (contact["firstName"], contact["lastName"]) == ("Ada", "Lovelace")
    assert env.client.sent == [
        "get-duplicate-contact",
        "create-contact",
        "get-duplicate-contact",  # c2 looked before writing, and wrote nothing
    ]
    [letter] = env.store.list_dead()
    assert letter.event.event_id == "msg_002"
    assert letter.reason == (
        f"id map conflict: TalkNotes contacts 'c1' and 'c2' both match HighLevel contact "
        f"'{first['id']}'; HighLevel was left unchanged"
    )
    assert env.store.get_highlevel_id(env.loc, "contact", "c1") == first["id"]
    assert env.store.get_highlevel_id(env.loc, "contact", "c2") is None
    assert env.record("contact", "c2").status == "dead"


def test_task_whose_contact_never_arrives_is_dead_after_the_orphan_timeout(env: Env) -> None:
    """orphan_timeout 5 s: the task waits, is not due at +4 s, and is dead at +5.5 s with a
    reason naming the contact."""
    ex = env.executor(Decider(RetrySchedule(rng=random.Random(7)), orphan_timeout=5))
    env.add("task.created", {**TASK, "contactId": "c_missing"}, T0)
    ex.run(env.claim())
    assert env.record("task", "t1").status == "waiting"
    assert env.event_states() == {"msg_001": "pending"}

    env.clock.advance(4)
    assert env.claim() == []
    env.clock.advance(1.5)
    last = env.claim()
    assert env.keys(last) == ["task:t1"]
    ex.run(last)

    [letter] = env.store.list_dead()
    assert letter.event.event_id == "msg_001"
    assert letter.reason == (
        "waited 5 s (orphan_timeout) and never became applicable: "
        "contact c_missing is not in HighLevel yet"
    )
    assert env.record("task", "t1").status == "dead"
    assert env.client.sent == []
    assert env.tasks() == []


def test_older_update_arriving_late_changes_nothing_and_costs_no_call(env: Env) -> None:
    """contact.updated at T0+60 arriving after one at T0+120: the newer name stays, no call."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    env.add("contact.updated", {"id": "c1", "full_name": "Samuel Reyes"}, T0 + 120)
    ex.run(env.claim())
    [contact] = env.contacts()
    assert (contact["firstName"], contact["lastName"]) == ("Samuel", "Reyes")
    calls_before = env.sim.log.total()
    sent_before = list(env.client.sent)

    env.add("contact.updated", {"id": "c1", "full_name": "Sammy Old"}, T0 + 60)
    late = env.claim()
    assert env.keys(late) == ["contact:c1"]
    ex.run(late)

    [contact] = env.contacts()
    assert (contact["firstName"], contact["lastName"]) == ("Samuel", "Reyes")
    assert env.sim.log.total() == calls_before
    assert env.client.sent == sent_before
    assert env.store.get_event(3).state == "skipped"
    assert env.store.get_event(3).result == "no change"
    assert sent_before == ["get-duplicate-contact", "create-contact", "update-contact"]


def test_create_whose_outcome_was_lost_is_read_back_not_created_twice(env: Env) -> None:
    """The worker dies after HighLevel created the contact, the op left 'sent': the next try
    reads it back, links it and sends no second create."""
    env.client.crash_after = "create-contact"
    env.add("contact.created", SAM, T0)
    with pytest.raises(Crash):
        env.executor().run(env.claim())
    key = f"{env.loc}:create-contact:c1"
    op = env.store.get_op(key)
    assert op is not None
    assert op.state == "sent"
    [created] = env.contacts()
    assert env.claim() == []  # still leased by the dead worker

    env.clock.advance(61)  # the 60 s lease ran out: the record is due again by itself
    retry = env.claim()
    assert env.keys(retry) == ["contact:c1"]
    env.executor().run(retry)

    [contact] = env.contacts()
    assert contact["id"] == created["id"]
    assert env.client.sent == [
        "get-duplicate-contact",
        "create-contact",  # the lost one
        "get-duplicate-contact",  # the read-back finds it
    ]
    assert env.store.get_highlevel_id(env.loc, "contact", "c1") == created["id"]
    op = env.store.get_op(key)
    assert op is not None
    assert (op.state, op.highlevel_id) == ("succeeded", created["id"])
    assert env.event_states() == {"msg_001": "done"}


def test_create_marked_sent_that_never_reached_highlevel_is_sent_once(env: Env) -> None:
    """The op is 'sent' (store.send_ops) but the crash came before the request: the read-back
    proves it absent, and exactly one task is created."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    [contact] = env.contacts()
    env.add("task.created", TASK, T0 + 70)
    key = f"{env.loc}:create-task:t1"
    env.store.send_ops([OpMark(key, "create-task", inbox_id=2)])
    ex.run(env.claim())

    [task] = env.tasks()
    assert task["contactId"] == contact["id"]
    assert task["title"] == "[High] Call Sam back about the quote"
    assert env.client.sent[2:] == ["get-all-tasks", "create-task"]
    op = env.store.get_op(key)
    assert op is not None
    assert (op.state, op.highlevel_id) == ("succeeded", task["id"])


def _task_created_then_crash(env: Env, ex: Executor) -> dict[str, Any]:
    """Sam synced, then TASK's create-task answered and the worker dead before it settled:
    the task HighLevel holds."""
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    env.client.crash_after = "create-task"
    env.add("task.created", TASK, T0 + 70)
    with pytest.raises(Crash):
        ex.run(env.claim())
    [created] = env.tasks()
    return created


def test_task_create_whose_outcome_was_lost_is_read_back(env: Env) -> None:
    """A task created in HighLevel but never confirmed is found by get-all-tasks, not re-sent."""
    ex = env.executor()
    created = _task_created_then_crash(env, ex)
    env.clock.advance(61)
    ex.run(env.claim())

    [task] = env.tasks()
    assert task["id"] == created["id"]
    assert env.client.sent[2:] == ["create-task", "get-all-tasks"]
    assert env.store.get_highlevel_id(env.loc, "task", "t1") == created["id"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}


def test_contact_and_its_task_in_one_batch_converge_without_time_passing(env: Env) -> None:
    """A contact and its task claimed in one batch: whichever order they run in, the task
    lands in the end with no time passing (woken at once, or seeing the fresh link)."""
    ex = env.executor()
    env.add("task.created", TASK, T0 + 70)
    env.add("contact.created", SAM, T0)
    for _ in range(3):
        claims = env.claim()
        if not claims:
            break
        ex.run(claims)
    [contact] = env.contacts()
    [task] = env.tasks()
    assert task["contactId"] == contact["id"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}


def test_existing_unmapped_contact_is_adopted_without_touching_its_tags(env: Env) -> None:
    """HighLevel already has the person (made there, tagged vip): the create is looked up
    first and adopted with update-contact; tnhl's create-only tags are not sent on update."""
    env.mapping = load_mapping_text("contact:\n  tags: [talknotes]\n")
    made = env.client.call(
        "create-contact",
        json={
            "locationId": env.loc,
            "firstName": "A.",
            "email": "ada@x.io",
            "tags": ["vip"],
        },
    )
    existing = made["contact"]["id"]
    env.add("contact.created", {"id": "c1", "full_name": "Ada Lovelace", "email": "ada@x.io"}, T0)
    env.executor().run(env.claim())

    [contact] = env.contacts()
    assert contact["id"] == existing
    assert (contact["firstName"], contact["lastName"]) == ("Ada", "Lovelace")
    assert contact["tags"] == ["vip"]
    assert env.client.sent == ["get-duplicate-contact", "update-contact"]
    assert env.store.get_highlevel_id(env.loc, "contact", "c1") == existing
    assert env.event_states() == {"msg_001": "done"}
    # The create was marked sent ahead with its batch and never went out: the mark is gone.
    assert env.store.get_op(f"{env.loc}:create-contact:c1") is None


def test_task_deciding_to_wait_while_its_contact_lands_elsewhere_is_still_due_at_once(
    env: Env,
) -> None:
    """Two workers: A plans the task (contact not mapped yet) while B creates the contact and
    settles; the task must not then sit out wait_recheck (DESIGN: it runs the moment the
    contact lands)."""
    env.add("task.created", TASK, T0 + 70)
    task_claim = env.store.claim("wA", fold=event_delta, now=env.clock(), limit=10)
    assert env.keys(task_claim) == ["task:t1"]
    env.add("contact.created", SAM, T0)
    contact_claim = env.store.claim("wB", fold=event_delta, now=env.clock(), limit=10)
    assert env.keys(contact_claim) == ["contact:c1"]
    worker_b = env.executor()

    def planner_a(state: RecordState, ids: Any, mapping: MappingConfig) -> Plan:
        plan = plan_record(state, ids, mapping)
        # Worker B finishes the contact between A's read of the id map and A's settle.
        worker_b.run(contact_claim)
        return plan

    env.executor(planner=planner_a).run(task_claim)
    [contact] = env.contacts()
    assert env.record("task", "t1").status == "waiting"

    woken = env.claim()  # the same instant
    assert env.keys(woken) == ["task:t1"]
    env.executor().run(woken)
    [task] = env.tasks()
    assert task["contactId"] == contact["id"]


def test_lost_create_replanned_with_newer_content_is_found_by_its_first_body(env: Env) -> None:
    """The worker dies after create-task; a newer task.updated renames it before the retry:
    the read-back finds the task by the body first sent and updates it, no second create."""
    ex = env.executor()
    created = _task_created_then_crash(env, ex)
    env.add("task.updated", {**TASK, "taskName": "Send Sam the slate quote"}, T0 + 200)
    env.clock.advance(61)
    ex.run(env.claim())

    [task] = env.tasks()
    assert task["id"] == created["id"]
    assert task["title"] == "[High] Send Sam the slate quote"
    assert env.client.sent[2:] == ["create-task", "get-all-tasks", "get-all-tasks", "update-task"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done", "msg_003": "done"}


def test_lost_create_then_completed_before_the_retry_ends_completed(env: Env) -> None:
    """The worker dies after create-task; task.completed arrives before the retry. The task
    is found by the current body (the read-back does not compare `completed`), so it must
    still be brought up to date: it ends completed, and no second task is created. (A CI run
    of the SIGKILL e2e test once left it open.)"""
    ex = env.executor()
    created = _task_created_then_crash(env, ex)
    assert created["completed"] is False
    env.add("task.completed", {"id": "t1", "contactId": "c1", "completed": True}, T0 + 200)
    env.clock.advance(61)
    ex.run(env.claim())

    [task] = env.tasks()
    assert task["id"] == created["id"]
    assert task["completed"] is True
    assert env.client.sent[2:] == ["create-task", "get-all-tasks", "update-task"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done", "msg_003": "done"}


def test_task_waiting_for_a_contact_deleted_before_it_synced_is_skipped_at_once(
    env: Env,
) -> None:
    """contact.created + contact.deleted of a person never synced, with a task waiting for
    them: nothing reaches HighLevel and the task is settled skipped without time passing."""
    ex = env.executor()
    env.add("task.created", TASK, T0 + 70)
    ex.run(env.claim())
    assert env.record("task", "t1").status == "waiting"
    env.add("contact.created", SAM, T0)
    env.add("contact.deleted", {"id": "c1"}, T0 + 300)
    ex.run(env.claim())
    ex.run(env.claim())

    assert env.client.sent == []
    assert env.contacts() == []
    assert env.record("contact", "c1").status == "deleted"
    assert env.record("task", "t1").status == "deleted"
    assert env.event_states() == {"msg_001": "skipped", "msg_002": "skipped", "msg_003": "skipped"}


def test_delete_of_a_contact_already_gone_from_highlevel_is_done(env: Env) -> None:
    """A contact.deleted whose contact is already gone (a delete repeated after a crash, or a
    removal in HighLevel) is done: HighLevel's 400 "not found" means the goal is met."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    [contact] = env.contacts()
    env.client("delete-contact", params={"contactId": contact["id"]})
    env.add("contact.deleted", {"id": "c1"}, T0 + 60)
    ex.run(env.claim())
    assert env.contacts() == []
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}
    assert env.store.list_dead() == []
    assert env.record("contact", "c1").status == "deleted"


class _BlindToDeletes:
    """The id map as a planner saw it a moment before a contact's delete landed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        return self.inner.highlevel_id(kind, talknotes_id)

    def is_deleted(self, kind: str, talknotes_id: str) -> bool:
        return False

    def create_unconfirmed(self, kind: str, talknotes_id: str) -> bool:
        return bool(self.inner.create_unconfirmed(kind, talknotes_id))


def test_note_whose_contact_is_deleted_while_it_is_written_is_skipped_not_dead(
    env: Env,
) -> None:
    """A note planned just before its contact's delete landed gets HighLevel's "not found":
    the note is skipped (its contact is deleted), not dead-lettered."""
    env.add("contact.created", SAM, T0)
    env.executor().run(env.claim())
    [contact] = env.contacts()
    env.add("note.created", {"id": "n1", "contactId": "c1", "noteContent": "Met Sam"}, T0 + 60)
    [note_claim] = env.claim()
    env.client("delete-contact", params={"contactId": contact["id"]})
    env.add("contact.deleted", {"id": "c1"}, T0 + 70)
    assert env.store.claim("w2", fold=event_delta, now=env.clock(), limit=0) == []

    def planner(state: RecordState, ids: Any, mapping: MappingConfig) -> Plan:
        return plan_record(state, _BlindToDeletes(ids), mapping)

    env.executor(planner=planner).run([note_claim])
    assert env.store.list_dead() == []
    assert env.event_states()["msg_002"] == "skipped"
    assert env.store.get_event(2).result == "contact c1 is deleted"


def test_lost_contact_create_then_a_cleared_phone_ends_with_no_phone(env: Env) -> None:
    """The worker dies after create-contact; a newer contact.updated clears the phone before
    the retry: the contact found by read-back is updated with phone: null (what the SIGKILL
    convergence test caught), and exactly one contact exists."""
    ex = env.executor()
    env.client.crash_after = "create-contact"
    env.add("contact.created", SAM, T0)
    with pytest.raises(Crash):
        ex.run(env.claim())
    [created] = env.contacts()
    assert created["phone"] == "+14155550142"
    env.add("contact.updated", {"id": "c1", "phone": None}, T0 + 200)
    env.clock.advance(61)
    ex.run(env.claim())

    [contact] = env.contacts()
    assert contact["id"] == created["id"]
    assert contact.get("phone") is None
    assert env.client.sent[2:] == ["get-duplicate-contact", "update-contact"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}


class SlotsAfter:
    """A limiter that makes the first `waits` asks wait 5 s, then grants every slot."""

    def __init__(self, waits: int) -> None:
        self.waits = waits

    def try_acquire(self, key: str, n: int = 1) -> float:
        if self.waits > 0:
            self.waits -= 1
            return 5.0
        return 0.0


def test_creates_of_a_batch_are_marked_sent_in_one_write(env: Env) -> None:
    """Three new contacts and a task of a known contact in one batch: their four creates are
    marked sent by ONE store write before any goes out, and each is created once."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    writes: list[int] = []
    real = env.store.send_ops
    env.store.send_ops = lambda marks: (writes.append(len(marks)), real(marks))[1]  # type: ignore[method-assign]
    env.add("task.created", TASK, T0 + 70)
    for n in (2, 3, 4):
        person = {"id": f"c{n}", "full_name": f"Person {n}", "email": f"p{n}@example.com"}
        env.add("contact.created", person, T0 + n)
    ex.run(env.claim())

    assert writes == [4]
    assert sorted(c["email"] for c in env.contacts()) == [
        "p2@example.com",
        "p3@example.com",
        "p4@example.com",
        "sam.reyes@example.com",
    ]
    assert len(env.tasks()) == 1
    assert env.client.sent[2:].count("create-contact") == 3
    assert set(env.event_states().values()) == {"done"}


def test_a_create_marked_ahead_then_held_for_a_slot_is_sent_once_with_no_read_back(
    env: Env,
) -> None:
    """A task whose create was marked sent with its batch, then held for a rate-limit slot,
    is sent when its slot comes with no read-back first: this process knows the mark was
    never a send."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    env.add("task.created", TASK, T0 + 70)
    limited = env.executor(limiter=SlotsAfter(waits=1))
    [(held, deferral)] = limited.run(env.claim())
    assert deferral.wait == 5.0
    op = env.store.get_op(f"{env.loc}:create-task:t1")
    assert op is not None
    assert op.state == "sent"
    assert env.client.sent[2:] == []
    env.clock.advance(5)
    assert limited.run([held]) == []

    assert env.client.sent[2:] == ["create-task"]
    [task] = env.tasks()
    op = env.store.get_op(f"{env.loc}:create-task:t1")
    assert op is not None
    assert (op.state, op.highlevel_id) == ("succeeded", task["id"])
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}


def test_lost_note_create_then_deleted_before_the_retry_leaves_no_note(env: Env) -> None:
    """The worker dies after create-note was answered; note.deleted arrives before the retry.
    The note HighLevel holds must go: TalkNotes deleted it, and no stray note may stay."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    env.client.crash_after = "create-note"
    env.add("note.created", {"id": "n1", "contactId": "c1", "noteContent": "Met Sam"}, T0 + 60)
    with pytest.raises(Crash):
        ex.run(env.claim())
    assert len(env.sim.state.all("note")) == 1
    env.add("note.deleted", {"id": "n1", "contactId": "c1"}, T0 + 200)
    env.clock.advance(61)
    ex.run(env.claim())

    assert env.sim.state.all("note") == []
    assert env.client.sent[2:] == ["create-note", "get-all-notes", "delete-note"]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done", "msg_003": "done"}
    # Deleted once: a redelivered note.deleted calls HighLevel no more.
    env.add("note.deleted", {"id": "n1", "contactId": "c1"}, T0 + 300)
    ex.run(env.claim())
    assert env.client.sent[2:] == ["create-note", "get-all-notes", "delete-note"]


def test_note_marked_sent_but_never_sent_then_deleted_costs_one_read(env: Env) -> None:
    """The create-note was marked sent but the crash came before the request; then
    note.deleted: the read-back proves nothing was made, and nothing is deleted."""
    ex = env.executor()
    env.add("contact.created", SAM, T0)
    ex.run(env.claim())
    body = {"body": "Met Sam"}
    mark = OpMark(f"{env.loc}:create-note:n1", "create-note", 2, json.dumps(body))
    env.add("note.created", {"id": "n1", "contactId": "c1", "noteContent": "Met Sam"}, T0 + 60)
    env.store.send_ops([mark])
    env.add("note.deleted", {"id": "n1", "contactId": "c1"}, T0 + 200)
    ex.run(env.claim())

    assert env.sim.state.all("note") == []
    assert env.client.sent[2:] == ["get-all-notes"]
    assert env.record("note", "n1").status == "deleted"


def test_lost_contact_create_then_deleted_before_the_retry_leaves_no_contact(env: Env) -> None:
    """The worker dies after create-contact was answered; contact.deleted arrives before the
    retry. The contact HighLevel holds must be deleted, not left as a stray."""
    ex = env.executor()
    env.client.crash_after = "create-contact"
    env.add("contact.created", SAM, T0)
    with pytest.raises(Crash):
        ex.run(env.claim())
    assert len(env.contacts()) == 1
    env.add("contact.deleted", {"id": "c1"}, T0 + 200)
    env.clock.advance(61)
    ex.run(env.claim())

    assert env.contacts() == []
    assert env.client.sent == [
        "get-duplicate-contact",  # the create's own look-up first
        "create-contact",
        "get-duplicate-contact",  # the read-back
        "delete-contact",
    ]
    assert env.event_states() == {"msg_001": "done", "msg_002": "done"}


def test_note_create_timed_out_then_deleted_leaves_no_note(env: Env) -> None:
    """No crash this time: create-note times out (the simulator makes the note after tnhl
    gave up, as a slow HighLevel would), so its outcome is unknown; note.deleted arrives
    before the retry. The note is found by reading back and deleted."""
    env.add("contact.created", SAM, T0)
    env.executor().run(env.claim())
    env.add("note.created", {"id": "n1", "contactId": "c1", "noteContent": "Met Sam"}, T0 + 60)
    impatient = HighLevelClient(
        PrivateIntegrationToken(env.sim.token, location_id=env.loc),
        base_url=env.sim.base_url,
        retry=RetryPolicy(attempts=1),
        timeout=0.2,
    )
    with env.sim.client() as admin:
        put = admin.put("/_admin/faults", json={"timeout_rate": 1.0, "timeout_seconds": 0.6})
        assert put.status_code == 200, put.text
        try:
            decider = Decider(RetrySchedule(rng=random.Random(7)))
            Executor(env.store, impatient.call, env.mapping, decider, clock=env.clock).run(
                env.claim()
            )
        finally:
            impatient.close()
            assert admin.delete("/_admin/faults").status_code in (200, 204)
    op = env.store.get_op(f"{env.loc}:create-note:n1")
    assert op is not None
    assert op.state == "unknown"
    deadline = time.monotonic() + 10
    while not env.sim.state.all("note"):  # HighLevel makes it late
        assert time.monotonic() < deadline, "the delayed create-note was never processed"
        time.sleep(0.02)

    env.add("note.deleted", {"id": "n1", "contactId": "c1"}, T0 + 200)
    env.clock.advance(3600)
    env.executor().run(env.claim())

    assert env.sim.state.all("note") == []
    assert env.client.sent[-2:] == ["get-all-notes", "delete-note"]
    assert env.record("note", "n1").status == "deleted"

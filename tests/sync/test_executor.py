"""Executor decisions with doubles: order, coalescing, retries, dead letters, read-back."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sync_fakes import FakeClient, FakeStore, make_batch, toy_planner

from tnhl.highlevel import (
    DuplicateContactError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
)
from tnhl.highlevel._errors import error_for_status
from tnhl.sync import SettingsError, load_settings
from tnhl.sync._executor import Executor
from tnhl.sync._plan import Call, Step
from tnhl.sync._ports import OpState, WorkBatch
from tnhl.sync._schedule import RetrySchedule

NOW = 1_000_000.0


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


def executor(store: FakeStore, client: FakeClient, **kw: Any) -> Executor:
    kw.setdefault("schedule", RetrySchedule(rng=random.Random(7)))
    return Executor(store, client, toy_planner, clock=lambda: NOW, **kw)


CONTACT = {"id": "c1", "email": "a@example.com"}
TASK = {"id": "t1", "contactId": "c1", "taskName": "Call", "dueDate": "2026-12-01T09:00:00Z"}
NOTE = {"id": "n1", "contactId": "c1", "noteContent": "Met at the fair"}


def test_events_apply_in_order_and_updates_coalesce(store: FakeStore, client: FakeClient) -> None:
    """A created contact, three updates, a task and a note: 3 calls, in order, all done."""
    batch = make_batch(
        ("contact.created", CONTACT),
        ("contact.updated", {"id": "c1", "phone": "+15550001"}),
        ("contact.updated", {"id": "c1", "phone": "+15550002"}),
        ("contact.updated", {"id": "c1", "full_name": "Ann Lee"}),
        ("task.created", TASK),
        ("note.created", NOTE),
    )
    out = executor(store, client).execute(batch, worker="w")
    assert client.ops() == ["create-contact", "create-task", "create-note"]
    assert client.calls[0][2]["phone"] == "+15550002"
    assert client.calls[1][1] == {"contactId": "hl001"}
    assert out.done == [1, 2, 3, 4, 5, 6]
    assert store.kinds("done")[0][0] == [1, 2, 3, 4]
    assert store.id_map[("loc1", "task", "t1")] == "hl002"


def test_known_contact_updates_cost_one_call(store: FakeStore, client: FakeClient) -> None:
    """Ten updates of a contact already in HighLevel become one update-contact call."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    batch = make_batch(
        *[("contact.updated", {"id": "c1", "phone": f"+1555000{i}"}) for i in range(10)]
    )
    out = executor(store, client).execute(batch, worker="w")
    assert client.ops() == ["update-contact"]
    assert client.calls[0][1] == {"contactId": "HL-C1"}
    assert out.calls == 1
    assert len(out.done) == 10


def test_task_waits_for_its_contact_on_the_schedule(store: FakeStore, client: FakeClient) -> None:
    """A task whose contact is unknown is retried later (10 s +-25 %), and nothing is sent."""
    out = executor(store, client).execute(make_batch(("task.created", TASK)), worker="w")
    assert client.calls == []
    [(inbox_id, at, error, counted)] = store.kinds("retry")
    assert inbox_id == 1
    assert counted
    assert "contact c1" in error
    assert 7.5 <= at - NOW <= 12.5
    assert out.retry == [1]


def test_task_whose_contact_never_syncs_ends_dead(store: FakeStore, client: FakeClient) -> None:
    """After the last try, a waiting task goes to the dead-letter queue saying why."""
    batch = make_batch(("task.created", TASK), attempts=8)
    executor(store, client).execute(batch, worker="w")
    [(inbox_id, reason)] = store.kinds("dead")
    assert inbox_id == 1
    assert "contact never synced" in reason


def test_wait_releases_the_events_behind_it(store: FakeStore, client: FakeClient) -> None:
    """When the head waits, the later events of the entity are released, not applied."""
    batch = make_batch(("task.created", TASK), ("note.created", NOTE))
    executor(store, client).execute(batch, worker="w")
    assert store.kinds("release") == [[2]]
    assert client.calls == []


def test_schedule_is_designs_with_jitter() -> None:
    """Delays follow 10 s, 1 min, ... 10 h with +-25 % jitter, then None; scale shrinks them."""
    sched = RetrySchedule(rng=random.Random(1))
    base = [10, 60, 300, 1800, 7200, 18000, 36000, 36000]
    for attempt, b in enumerate(base, start=1):
        d = sched.delay(attempt)
        assert d is not None
        assert 0.75 * b <= d <= 1.25 * b
    assert sched.delay(9) is None
    fast = RetrySchedule(scale=0.001, jitter=0.0)
    assert fast.delay(2) == pytest.approx(0.06)


def test_seeded_schedule_is_reproducible() -> None:
    """The same seed gives the same jittered delays (the rng is injected)."""
    a = [RetrySchedule(rng=random.Random(3)).delay(i) for i in range(1, 9)]
    b = [RetrySchedule(rng=random.Random(3)).delay(i) for i in range(1, 9)]
    assert a == b


def test_rejected_event_is_dead_and_the_rest_continue(store: FakeStore, client: FakeClient) -> None:
    """A planner Reject dead-letters that event at once; the next event is still applied."""
    batch = make_batch(
        ("contact.updated", {"id": "c1", "reject": True}), ("contact.created", CONTACT)
    )
    out = executor(store, client).execute(batch, worker="w")
    assert out.dead == [1]
    assert out.done == [2]
    assert "rejected" in store.kinds("dead")[0][1]


def test_skip_completes_without_a_call(store: FakeStore, client: FakeClient) -> None:
    """A planner Skip settles the event as done with no HighLevel call."""
    out = executor(store, client).execute(
        make_batch(("contact.deleted", {"id": "c1", "skip": True})), worker="w"
    )
    assert out.skipped == [1]
    assert client.calls == []
    assert store.kinds("done")[0][1].startswith("skipped")


def test_succeeded_create_is_never_sent_again(store: FakeStore, client: FakeClient) -> None:
    """A create whose key already succeeded reuses its id and sends nothing."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    store.ops["loc1:create-task:t1"] = OpState("loc1:create-task:t1", "succeeded", "HL-T1")
    out = executor(store, client).execute(make_batch(("task.created", TASK)), worker="w")
    assert client.calls == []
    assert store.id_map[("loc1", "task", "t1")] == "HL-T1"
    assert out.done == [1]


def test_unknown_create_is_read_back_and_adopted(store: FakeStore, client: FakeClient) -> None:
    """A create left `sent` by a crash is found by read-back (title + due date), not re-sent."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    store.ops["loc1:create-task:t1"] = OpState("loc1:create-task:t1", "sent", None)
    client.handlers["get-all-tasks"] = lambda p, b: {
        "tasks": [
            {"id": "OTHER", "title": "Call", "dueDate": "2026-12-02T09:00:00.000Z"},
            {"id": "HL-T1", "title": "Call", "dueDate": "2026-12-01T09:00:00.000Z"},
        ]
    }
    executor(store, client).execute(make_batch(("task.created", TASK)), worker="w")
    assert client.ops() == ["get-all-tasks"]
    assert store.id_map[("loc1", "task", "t1")] == "HL-T1"
    assert store.ops["loc1:create-task:t1"].state == "succeeded"


def test_unknown_create_absent_on_read_back_is_sent(store: FakeStore, client: FakeClient) -> None:
    """When the read-back proves the note absent, the create goes out (once)."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    store.ops["loc1:create-note:n1"] = OpState("loc1:create-note:n1", "unknown", None)
    client.handlers["get-all-notes"] = lambda p, b: {"notes": [{"id": "X", "body": "other"}]}
    executor(store, client).execute(make_batch(("note.created", NOTE)), worker="w")
    assert client.ops() == ["get-all-notes", "create-note"]


def test_read_back_ignores_records_mapped_elsewhere(store: FakeStore, client: FakeClient) -> None:
    """A matching task already mapped to another TalkNotes task is not adopted."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    store.put_mapping("loc1", "task", "t0", "HL-T0")
    store.ops["loc1:create-task:t1"] = OpState("loc1:create-task:t1", "sent", None)
    client.handlers["get-all-tasks"] = lambda p, b: {
        "tasks": [{"id": "HL-T0", "title": "Call", "dueDate": "2026-12-01T09:00:00Z"}]
    }
    executor(store, client).execute(make_batch(("task.created", TASK)), worker="w")
    assert client.ops() == ["get-all-tasks", "create-task"]


class _Limiter:
    def __init__(self, waits: list[float]) -> None:
        self.waits = waits

    def try_acquire(self, key: str) -> float:
        return self.waits.pop(0) if self.waits else 0.0


def test_rate_limit_wait_reschedules_without_a_try(store: FakeStore, client: FakeClient) -> None:
    """No slot: the event is rescheduled at now + wait, not counted, and the op stays planned."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    ex = executor(store, client, limiter=_Limiter([2.5]))
    out = ex.execute(make_batch(("task.created", TASK), ("note.created", NOTE)), worker="w")
    assert client.calls == []
    [(inbox_id, at, _error, counted)] = store.kinds("retry")
    assert inbox_id == 1
    assert at == NOW + 2.5
    assert not counted
    assert store.ops["loc1:create-task:t1"].state == "planned"
    assert out.rescheduled == [1]
    assert out.released == [2]


def test_rate_limit_reschedules_are_spread(store: FakeStore, client: FakeClient) -> None:
    """Waiting entities of one location come due one spacing apart, not all at once."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    ex = executor(store, client, limiter=_Limiter([1.0, 1.0, 1.0]), reschedule_spacing=0.1)
    for _ in range(3):
        ex.execute(make_batch(("task.created", TASK)), worker="w")
    ats = [at for _i, at, _e, _c in store.kinds("retry")]
    assert ats == pytest.approx([NOW + 1.0, NOW + 1.1, NOW + 1.2])


def _raise(exc: Exception) -> Any:
    def handler(params: Any, body: Any) -> Any:
        raise exc

    return handler


def test_server_error_retries_on_the_schedule(store: FakeStore, client: FakeClient) -> None:
    """A 5xx on an update is retried after the third delay (5 min +-25 %) on the third try."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    client.handlers["update-contact"] = _raise(ServerError(status=503, method="PUT", path="/c"))
    batch = make_batch(("contact.updated", {"id": "c1", "phone": "+1"}), attempts=2)
    executor(store, client).execute(batch, worker="w")
    [(inbox_id, at, error, counted)] = store.kinds("retry")
    assert inbox_id == 1
    assert counted
    assert "503" in error
    assert 225 <= at - NOW <= 375


def test_last_failed_try_goes_to_the_dead_letter_queue(
    store: FakeStore, client: FakeClient
) -> None:
    """After the ninth failed try the events of the step are dead, with the last error."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    client.handlers["update-contact"] = _raise(ServerError(status=500, method="PUT", path="/c"))
    batch = make_batch(
        ("contact.updated", {"id": "c1", "phone": "+1"}),
        ("contact.updated", {"id": "c1", "phone": "+2"}),
        attempts=8,
    )
    out = executor(store, client).execute(batch, worker="w")
    assert out.dead == [1, 2]
    assert all("retries exhausted after 9 tries" in r for _i, r in store.kinds("dead"))


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_dead_at_once(store: FakeStore, client: FakeClient, status: int) -> None:
    """400/404/422 are not retried: dead at once with the reason; the next event goes on."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    exc = error_for_status(status)(status=status, method="POST", path="/t", messages=["bad"])
    client.handlers["create-task"] = _raise(exc)
    batch = make_batch(("task.created", TASK), ("note.created", NOTE))
    out = executor(store, client).execute(batch, worker="w")
    assert out.dead == [1]
    assert out.done == [2]
    assert f"answered {status}" in store.kinds("dead")[0][1]


def test_429_reschedules_at_retry_after_without_a_try(store: FakeStore, client: FakeClient) -> None:
    """HighLevel's 429 reschedules at Retry-After and does not use up a try."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    exc = RateLimitedError(retry_after=4.0, status=429, method="PUT", path="/c")
    client.handlers["update-contact"] = _raise(exc)
    executor(store, client).execute(make_batch(("contact.updated", {"id": "c1"})), worker="w")
    [(_i, at, _e, counted)] = store.kinds("retry")
    assert at == NOW + 4.0
    assert not counted


def test_outcome_unknown_marks_the_op_and_retries(store: FakeStore, client: FakeClient) -> None:
    """A create with an unknown outcome is marked unknown (so the next try reads back)."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    exc = OutcomeUnknownError(
        operation_id="create-task", method="POST", path="/t", params={}, body={}, cause=None
    )
    client.handlers["create-task"] = _raise(exc)
    executor(store, client).execute(make_batch(("task.created", TASK)), worker="w")
    assert store.ops["loc1:create-task:t1"].state == "unknown"
    assert store.kinds("retry")[0][3] is True


def test_duplicate_contact_is_adopted_and_updated(store: FakeStore, client: FakeClient) -> None:
    """A duplicate 400 on create adopts meta.contactId, maps it, then updates it (no locationId)."""
    exc = DuplicateContactError(
        contact_id="HL-DUP", matching_field="email", status=400, method="POST", path="/contacts/"
    )
    client.handlers["create-contact"] = _raise(exc)
    out = executor(store, client).execute(make_batch(("contact.created", CONTACT)), worker="w")
    assert client.ops() == ["create-contact", "update-contact"]
    assert client.calls[1][1] == {"contactId": "HL-DUP"}
    assert "locationId" not in client.calls[1][2]
    assert store.id_map[("loc1", "contact", "c1")] == "HL-DUP"
    assert out.done == [1]


def test_repeated_delete_of_a_missing_record_is_done(store: FakeStore, client: FakeClient) -> None:
    """A delete whose target is already gone (400/404 not found) counts as applied."""

    def planner(events: Any, lookup: Any) -> list[Step]:
        call = Call("delete-note", {"contactId": "C", "id": "N"})
        return [Step((events[0].inbox_id,), "calls", (call,))]

    exc = error_for_status(400)(status=400, method="DELETE", path="/n", messages=["Note not found"])
    client.handlers["delete-note"] = _raise(exc)
    out = Executor(store, client, planner, clock=lambda: NOW).execute(
        make_batch(("note.deleted", {"id": "n1", "contactId": "c1"})), worker="w"
    )
    assert out.done == [1]
    assert "already gone" in store.kinds("done")[0][1]


def test_no_step_starts_when_the_lease_is_nearly_over(store: FakeStore, client: FakeClient) -> None:
    """With less lease left than a call may take, nothing is sent and nothing is settled."""
    batch = make_batch(("contact.created", CONTACT))
    short = WorkBatch(batch.location_id, batch.entity_key, batch.items, lease_until=NOW + 5)
    out = executor(store, client, lease_margin=10.0).execute(short, worker="w")
    assert client.calls == []
    assert store.settled == []
    assert out.abandoned == [1]


def test_lease_setting_must_outlast_a_call() -> None:
    """lease_seconds shorter than three HTTP timeouts is refused, naming the setting."""
    with pytest.raises(SettingsError, match="lease_seconds"):
        load_settings(lease_seconds=10, http_timeout=5)


def test_lost_create_with_newer_content_is_found_by_its_first_body(
    store: FakeStore, client: FakeClient
) -> None:
    """A note sent as X, then re-planned as Y (an update coalesced in after a crash), is found
    by X, adopted, and updated to Y; it is not created a second time."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    key = "loc1:create-note:n1"
    store.ops[key] = OpState(key, "sent", None, '{"body": "first words"}')
    client.handlers["get-all-notes"] = lambda p, b: {
        "notes": [{"id": "HL-N1", "body": "first words"}]
    }
    executor(store, client).execute(make_batch(("note.created", NOTE)), worker="w")
    assert client.ops() == ["get-all-notes", "get-all-notes", "update-note"]
    assert client.calls[2][1] == {"contactId": "HL-C1", "id": "HL-N1"}
    assert client.calls[2][2] == {"body": NOTE["noteContent"]}
    assert store.id_map[("loc1", "note", "n1")] == "HL-N1"


def test_done_create_with_older_content_is_brought_up_to_date(
    store: FakeStore, client: FakeClient
) -> None:
    """A create that succeeded with older content (crash before mapping) gets an update."""
    store.put_mapping("loc1", "contact", "c1", "HL-C1")
    key = "loc1:create-note:n1"
    store.ops[key] = OpState(key, "succeeded", "HL-N1", '{"body": "first words"}')
    executor(store, client).execute(make_batch(("note.created", NOTE)), worker="w")
    assert client.ops() == ["update-note"]
    assert store.id_map[("loc1", "note", "n1")] == "HL-N1"

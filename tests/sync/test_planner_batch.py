"""plan_batch: coalescing a contact's consecutive updates, and where a batch must stop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tnhl.mapping import load_mapping_text
from tnhl.sync._plan_types import Calls, IdRecord, Reject, Skip, Wait, content_hash
from tnhl.sync._planner import merge_payloads, plan_batch

LOC = "loc1"
DEFAULTS = load_mapping_text("")


@dataclass(frozen=True)
class Ev:
    event_id: str
    event_type: str
    data: Mapping[str, Any]
    timestamp: str | None = "2026-11-27T15:00:00Z"


class Ids:
    def __init__(self, known: Mapping[tuple[str, str], str] | None = None) -> None:
        self.known = dict(known or {})

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        return self.known.get((kind, talknotes_id))


def batch(events: list[Ev], known: Mapping[tuple[str, str], str] | None = None) -> list[Any]:
    return plan_batch(events, location_id=LOC, ids=Ids(known), mapping=DEFAULTS)


def test_ten_updates_become_one_call_with_latest_values() -> None:
    """Ten rapid updates of a known contact plan as one update-contact with the last values."""
    events = [
        Ev(f"e{i}", "contact.updated", {"id": "c1", "full_name": f"Jane Smith{i}"})
        for i in range(10)
    ]
    steps = batch(events, {("contact", "c1"): "H1"})
    assert len(steps) == 1
    assert steps[0].events == tuple(events)
    plan = steps[0].plan
    assert isinstance(plan, Calls)
    assert len(plan.calls) == 1
    assert plan.calls[0].operation_id == "update-contact"
    assert plan.calls[0].body["lastName"] == "Smith9"


def test_created_then_updates_merge_into_one_create() -> None:
    """contact.created followed by updates is one upsert carrying every field's latest value."""
    events = [
        Ev("e1", "contact.created", {"id": "c1", "full_name": "Jane Smith", "email": "j@x.co"}),
        Ev("e2", "contact.updated", {"id": "c1", "phone": "202-555-0143"}),
        Ev("e3", "contact.updated", {"id": "c1", "email": "jane@x.co"}),
    ]
    steps = batch(events)
    assert len(steps) == 1
    plan = steps[0].plan
    assert isinstance(plan, Calls)
    (call,) = plan.calls
    assert call.operation_id == "upsert-contact"
    assert call.body == {
        "locationId": LOC,
        "firstName": "Jane",
        "lastName": "Smith",
        "name": "Jane Smith",
        "email": "jane@x.co",
        "phone": "+12025550143",
    }
    assert call.key is None  # an upsert is safe to re-send: HighLevel matches it


def test_absent_keeps_and_explicit_null_clears_when_coalescing() -> None:
    """A later absent field keeps the earlier value; a later explicit null clears it."""
    merged = merge_payloads(
        [
            {"id": "c1", "email": "a@b.co", "phone": "1", "custom_fields": {"x": 1, "y": 2}},
            {"id": "c1", "phone": None, "custom_fields": {"y": None, "z": 3}},
        ]
    )
    assert merged == {
        "id": "c1",
        "email": "a@b.co",
        "phone": None,
        "custom_fields": {"x": 1, "y": None, "z": 3},
    }
    kept = merge_payloads([{"phone": "1"}, {"phone": None}], clear_on_null=False)
    assert kept == {"phone": "1"}


def test_updates_of_different_contacts_do_not_merge() -> None:
    """Coalescing is per contact: another contact's update starts a new step."""
    known = {("contact", "c1"): "H1", ("contact", "c2"): "H2"}
    events = [
        Ev("e1", "contact.updated", {"id": "c1", "email": "a@b.co"}),
        Ev("e2", "contact.updated", {"id": "c2", "email": "c@d.co"}),
        Ev("e3", "contact.updated", {"id": "c1", "email": "e@f.co"}),
    ]
    steps = batch(events, known)
    assert [len(s.events) for s in steps] == [1, 1, 1]


def test_updates_then_delete_are_skipped() -> None:
    """Updates immediately followed by the contact's delete are skipped; the delete runs."""
    events = [
        Ev("e1", "contact.updated", {"id": "c1", "email": "a@b.co"}),
        Ev("e2", "contact.updated", {"id": "c1", "email": "c@d.co"}),
        Ev("e3", "contact.deleted", {"id": "c1"}),
    ]
    steps = batch(events, {("contact", "c1"): "H1"})
    assert isinstance(steps[0].plan, Skip)
    assert len(steps[0].events) == 2
    last = steps[1].plan
    assert isinstance(last, Calls)
    assert last.calls[0].operation_id == "delete-contact"


def test_batch_stops_at_first_wait() -> None:
    """Events after a Wait stay unplanned so a contact's events keep their order."""
    events = [
        Ev("e1", "note.created", {"id": "n1", "contactId": "c1", "noteContent": "x"}),
        Ev("e2", "task.created", {"id": "t1", "contactId": "c1", "taskName": "y"}),
    ]
    steps = batch(events)
    assert len(steps) == 1
    assert isinstance(steps[0].plan, Wait)


def test_batch_stops_before_event_needing_an_id_a_step_will_record() -> None:
    """A note on a contact being created in this batch is left for re-planning after the create."""
    events = [
        Ev("e1", "contact.created", {"id": "c1", "email": "a@b.co"}),
        Ev("e2", "note.created", {"id": "n1", "contactId": "c1", "noteContent": "x"}),
    ]
    steps = batch(events)
    assert len(steps) == 1
    plan = steps[0].plan
    assert isinstance(plan, Calls)
    assert plan.calls[0].records == IdRecord("contact", "c1", "contact.id")


def test_task_created_then_updated_is_one_create_with_latest_values() -> None:
    """task.created then task.updated of an unsynced task is one create carrying the update."""
    known = {("contact", "c1"): "H1"}
    task = {"id": "t1", "contactId": "c1", "taskName": "y", "dueDate": "2026-12-01"}
    events = [Ev("e1", "task.created", task), Ev("e2", "task.updated", {**task, "taskName": "z"})]
    steps = batch(events, known)
    assert len(steps) == 1
    assert steps[0].events == tuple(events)
    plan = steps[0].plan
    assert isinstance(plan, Calls)
    (call,) = plan.calls
    assert call.operation_id == "create-task"
    assert call.body["title"] == "z"
    assert call.key == "loc1:create-task:t1"


def test_task_update_after_create_and_completion_waits_for_the_create() -> None:
    """An event needing the id a planned create will record is left for re-planning."""
    known = {("contact", "c1"): "H1"}
    task = {"id": "t1", "contactId": "c1", "taskName": "y", "dueDate": "2026-12-01"}
    events = [
        Ev("e1", "task.created", task),
        Ev("e2", "task.completed", {"id": "t1", "contactId": "c1"}),
    ]
    steps = batch(events, known)
    assert len(steps) == 1
    assert steps[0].events == (events[0],)


def test_note_updates_coalesce_and_a_note_deleted_supersedes_them() -> None:
    """Consecutive note updates are one call; followed by the note's delete they are skipped."""
    known = {("contact", "c1"): "H1", ("note", "n1"): "HN1"}
    ups = [
        Ev(f"e{i}", "note.updated", {"id": "n1", "contactId": "c1", "noteContent": f"v{i}"})
        for i in range(3)
    ]
    steps = batch(ups, known)
    assert len(steps) == 1
    plan = steps[0].plan
    assert isinstance(plan, Calls)
    assert plan.calls[0].body == {"body": "v2"}
    deleted = Ev("e9", "note.deleted", {"id": "n1", "contactId": "c1"})
    steps = batch([*ups, deleted], known)
    assert isinstance(steps[0].plan, Skip)
    last = steps[1].plan
    assert isinstance(last, Calls)
    assert last.calls[0].operation_id == "delete-note"


def test_known_contact_tasks_and_notes_all_plan_in_one_pass() -> None:
    """With the contact known, a run of new tasks and notes plans fully: one call per event."""
    known = {("contact", "c1"): "H1"}
    events = [
        Ev(f"e{i}", "note.created", {"id": f"n{i}", "contactId": "c1", "noteContent": "x"})
        for i in range(5)
    ]
    steps = batch(events, known)
    assert len(steps) == 5
    calls = [c for s in steps for c in s.plan.calls]
    assert len(calls) == len(events)
    assert len({c.key for c in calls}) == 5


field_values = st.one_of(st.none(), st.text(max_size=5))
payloads = st.lists(
    st.dictionaries(st.sampled_from(["email", "phone", "full_name"]), field_values, max_size=3),
    min_size=1,
    max_size=8,
)


@given(payloads)
def test_merge_takes_latest_sent_value_per_field(items: list[dict[str, Any]]) -> None:
    """For every field, the merged value is the one from the last payload that sent it."""
    merged = merge_payloads(items)
    for key in ("email", "phone", "full_name"):
        senders = [p[key] for p in items if key in p]
        if senders:
            assert merged[key] == senders[-1]
        else:
            assert key not in merged


def test_content_hash_is_stable_and_order_free() -> None:
    """content_hash ignores key order and changes when a value changes."""
    a = content_hash(
        {"email": "a@b.co", "name": "A", "customFields": [{"key": "k", "field_value": 1}]}
    )
    b = content_hash(
        {"customFields": [{"field_value": 1, "key": "k"}], "name": "A", "email": "a@b.co"}
    )
    assert a == b
    assert len(a) == 64
    assert a != content_hash(
        {"email": "a@b.co", "name": "B", "customFields": [{"key": "k", "field_value": 1}]}
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
event_data = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in (
            "id",
            "contactId",
            "email",
            "phone",
            "full_name",
            "external_id",
            "custom_fields",
            "taskName",
            "dueDate",
            "priority",
            "completed",
            "assignee",
            "noteTitle",
            "noteContent",
        )
    },
)
event_types = st.sampled_from(
    [
        "contact.created",
        "contact.updated",
        "contact.deleted",
        "task.created",
        "task.updated",
        "task.completed",
        "note.created",
        "note.updated",
        "note.deleted",
    ]
)


@settings(max_examples=300)
@given(st.lists(st.tuples(event_types, event_data), min_size=1, max_size=4), st.booleans())
def test_any_input_gives_a_plan_never_an_exception(
    raw: list[tuple[str, dict[str, Any]]], contact_known: bool
) -> None:
    """Arbitrary JSON in any field yields Calls, Wait, Skip or Reject: a worker never crashes."""
    events = [Ev(f"e{i}", t, d) for i, (t, d) in enumerate(raw)]
    known = {("contact", "c1"): "H1"} if contact_known else {}
    steps = batch(events, known)
    assert steps
    assert steps[0].events[0] is events[0]
    covered = [e for s in steps for e in s.events]
    assert covered == events[: len(covered)]
    for step in steps:
        assert isinstance(step.plan, Calls | Wait | Skip | Reject)

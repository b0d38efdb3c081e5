"""event_delta: a stored TalkNotes event body -> the Delta it folds into its record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tnhl.store import Delta, EventVerdict, InboxRow
from tnhl.sync._delta import event_delta

T0 = 1_772_443_800.0  # 2026-03-02T09:30:00Z


def inbox_row(
    body: dict[str, Any] | str, *, source: str = "talknotes", msg: str = "msg_1"
) -> InboxRow:
    text = body if isinstance(body, str) else json.dumps(body)
    event_type = body["type"] if isinstance(body, dict) else "contact.created"
    return InboxRow(
        id=7,
        source=source,
        event_id=msg,
        event_type=event_type,
        location_id="loc1",
        entity_key="c1",
        body=text,
        received_at=T0,
        state="received",
        attempts=0,
        next_attempt_at=T0,
        lease_owner=None,
        lease_until=None,
        last_error=None,
        done_at=None,
        result=None,
    )


def event(
    event_type: str, data: dict[str, Any], ts: str = "2026-03-02T09:30:00Z"
) -> dict[str, Any]:
    return {"type": event_type, "timestamp": ts, "data": data}


def test_contact_created_fields_exclude_id_and_updated_at() -> None:
    """contact.created: every data key but id and updated_at is a field; at, tiebreak set."""
    body = event(
        "contact.created",
        {
            "id": "c1",
            "full_name": "Sam Reyes",
            "email": "sam.reyes@example.com",
            "phone": "+1 415 555 0142",
            "updated_at": "2026-03-02T09:29:00Z",
        },
    )
    assert event_delta(inbox_row(body)) == Delta(
        inbox_id=7,
        kind="contact",
        talknotes_id="c1",
        contact_id="c1",
        at=T0,
        tiebreak="msg_1",
        fields={
            "full_name": "Sam Reyes",
            "email": "sam.reyes@example.com",
            "phone": "+1 415 555 0142",
        },
        delete=False,
    )


def test_contact_updated_keeps_an_explicit_null_and_leaves_absent_keys_out() -> None:
    """phone: null is a field set to None (clear it); email, not sent, is no field at all."""
    body = event("contact.updated", {"id": "c1", "phone": None, "full_name": "Sam R."})
    delta = event_delta(inbox_row(body))
    assert isinstance(delta, Delta)
    assert delta.fields == {"phone": None, "full_name": "Sam R."}
    assert "email" not in delta.fields


def test_custom_fields_are_flattened_key_by_key() -> None:
    """custom_fields {company, seats} -> fields custom_fields.company, custom_fields.seats."""
    body = event(
        "contact.updated",
        {"id": "c1", "custom_fields": {"company": "Reyes Roofing", "seats": 12}},
    )
    delta = event_delta(inbox_row(body))
    assert isinstance(delta, Delta)
    assert delta.fields == {"custom_fields.company": "Reyes Roofing", "custom_fields.seats": 12}


def test_task_created_belongs_to_its_contact_and_keeps_contact_id_out_of_fields() -> None:
    """task.created: record task t1 of contact c1; contactId is no field; +01:00 is honoured."""
    body = event(
        "task.created",
        {
            "id": "t1",
            "contactId": "c1",
            "taskName": "Call Sam back about the quote",
            "dueDate": "2026-03-06",
            "priority": "high",
        },
        ts="2026-03-02T09:31:10+01:00",
    )
    assert event_delta(inbox_row(body, msg="msg_task")) == Delta(
        inbox_id=7,
        kind="task",
        talknotes_id="t1",
        contact_id="c1",
        at=1_772_440_270.0,  # 2026-03-02T08:31:10Z
        tiebreak="msg_task",
        fields={
            "taskName": "Call Sam back about the quote",
            "dueDate": "2026-03-06",
            "priority": "high",
        },
    )


def test_task_completed_without_completed_sets_completed_true() -> None:
    """task.completed that does not say `completed` means completed: True."""
    body = event("task.completed", {"id": "t1", "contactId": "c1"})
    delta = event_delta(inbox_row(body))
    assert isinstance(delta, Delta)
    assert delta.fields == {"completed": True}
    assert delta.kind == "task"
    assert delta.delete is False


def test_task_completed_false_is_kept() -> None:
    """task.completed with completed: false re-opens the task (False is kept, not overridden)."""
    body = event("task.completed", {"id": "t1", "contactId": "c1", "completed": False})
    delta = event_delta(inbox_row(body))
    assert isinstance(delta, Delta)
    assert delta.fields == {"completed": False}


def test_note_updated_fields() -> None:
    """note.updated: noteTitle and noteContent are fields; id, contactId, updated_at are not."""
    body = event(
        "note.updated",
        {
            "id": "n1",
            "contactId": "c1",
            "noteTitle": "Roof quote",
            "noteContent": "Wants slate, not tile.",
            "updated_at": "2026-03-02T09:30:00Z",
        },
    )
    assert event_delta(inbox_row(body)) == Delta(
        inbox_id=7,
        kind="note",
        talknotes_id="n1",
        contact_id="c1",
        at=T0,
        tiebreak="msg_1",
        fields={"noteTitle": "Roof quote", "noteContent": "Wants slate, not tile."},
    )


@pytest.mark.parametrize(
    ("event_type", "data", "kind", "own", "contact"),
    [
        pytest.param("contact.deleted", {"id": "c1"}, "contact", "c1", "c1", id="contact"),
        pytest.param(
            "note.deleted", {"id": "n1", "contactId": "c1"}, "note", "n1", "c1", id="note"
        ),
    ],
)
def test_deletes_carry_delete_and_no_fields(
    event_type: str, data: dict[str, Any], kind: str, own: str, contact: str
) -> None:
    """contact.deleted and note.deleted: delete=True, no fields."""
    assert event_delta(inbox_row(event(event_type, data))) == Delta(
        inbox_id=7,
        kind=kind,  # type: ignore[arg-type]
        talknotes_id=own,
        contact_id=contact,
        at=T0,
        tiebreak="msg_1",
        fields={},
        delete=True,
    )


def test_ids_are_trimmed() -> None:
    """Ids are trimmed per the contract: ' t1 ' of ' c1 ' is record t1 of contact c1."""
    body = event("task.updated", {"id": " t1 ", "contactId": " c1 ", "taskName": "Call"})
    delta = event_delta(inbox_row(body))
    assert isinstance(delta, Delta)
    assert (delta.talknotes_id, delta.contact_id, delta.record_key) == ("t1", "c1", "task:t1")


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("ContactCreate", "no connection with a talknotes_outbound_url serves this location"),
        ("OpportunityCreate", "OpportunityCreate events are not sent to TalkNotes"),
        (
            "(untyped)",
            "HighLevel sent no type (as for invoice, product and association events); "
            "only contact, task, note and appointment events go to TalkNotes",
        ),
    ],
)
def test_highlevel_rows_reaching_the_fold_are_skipped_saying_why(
    event_type: str, reason: str
) -> None:
    """A HighLevel row the outbound fold did not take is settled skipped, and the reason says
    which it is: a type TalkNotes hears of but no outbound URL, a type it never hears of, or
    a body HighLevel sent with no type."""
    body = {"type": event_type, "locationId": "loc1", "id": "H1"}
    row = inbox_row(body, source="highlevel")
    assert event_delta(row) == EventVerdict(7, "skipped", reason)


def test_unparsable_body_is_dead() -> None:
    """A body that is not JSON cannot apply: a dead verdict saying it is an invalid event."""
    verdict = event_delta(inbox_row("{not json"))
    assert isinstance(verdict, EventVerdict)
    assert (verdict.inbox_id, verdict.state) == (7, "dead")
    # The rest is the JSON parser's own words.
    assert verdict.reason.startswith("invalid event: (body): is not JSON")


def test_body_breaking_the_contract_is_dead_naming_the_field() -> None:
    """JSON but not a valid event (task.created without taskName): dead, naming the field."""
    body = event("task.created", {"id": "t1", "contactId": "c1"})
    assert event_delta(inbox_row(body)) == EventVerdict(
        7, "dead", "invalid event: data.taskName: is required"
    )

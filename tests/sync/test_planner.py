"""The pure planner: every rule, table-driven, with an in-memory id map (no network, no store)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tnhl.mapping import MappingConfig, load_mapping_text
from tnhl.sync._plan_types import Calls, IdRecord, Plan, PlannedCall, Reject, Skip, Wait
from tnhl.sync._planner import plan_event, update_body

LOC = "loc1"
TS = "2026-11-27T15:00:00Z"
DEFAULTS = load_mapping_text("")
CREATE_MODE = load_mapping_text("contact:\n  create_mode: create\n")
TAGGED = load_mapping_text(
    "contact:\n  tags: [talknotes]\n  source: TalkNotes\n  fields: {companyName: company}\n"
)


class Ids:
    """An in-memory id map: {(kind, talknotes id): highlevel id}."""

    def __init__(self, known: Mapping[tuple[str, str], str] | None = None) -> None:
        self.known = dict(known or {})

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        return self.known.get((kind, talknotes_id))


C1 = {("contact", "c1"): "H1"}
T1 = {**C1, ("task", "t1"): "HT1"}
N1 = {**C1, ("note", "n1"): "HN1"}
JANE = {"id": "c1", "full_name": "Jane Smith", "email": "Jane@X.com", "phone": "202-555-0143"}
JANE_HL = {
    "firstName": "Jane",
    "lastName": "Smith",
    "name": "Jane Smith",
    "email": "jane@x.com",
    "phone": "+12025550143",
}
REC_C1 = IdRecord("contact", "c1", "contact.id")
TASK = {"id": "t1", "contactId": "c1", "taskName": "Call Sam", "dueDate": "2026-12-01T17:00:00Z"}
TASK_HL = {"title": "Call Sam", "dueDate": "2026-12-01T17:00:00Z", "completed": False}
NOTE = {"id": "n1", "contactId": "c1", "noteTitle": "Call", "noteContent": "Talked"}


def one(op: str, params: dict[str, str], body: dict[str, Any] | None, **kw: Any) -> Calls:
    return Calls([PlannedCall(op, params, body, **kw)])


def plan(
    event_type: str,
    data: dict[str, Any],
    known: Mapping[tuple[str, str], str] | None = None,
    mapping: MappingConfig = DEFAULTS,
) -> Plan:
    return plan_event(
        event_type,
        data,
        location_id=LOC,
        event_id="ev1",
        ids=Ids(known),
        mapping=mapping,
        timestamp=TS,
    )


RULES = [
    pytest.param(
        "contact.created",
        JANE,
        {},
        DEFAULTS,
        one(
            "upsert-contact",
            {},
            {"locationId": LOC, **JANE_HL},
            records=REC_C1,
        ),
        id="contact-unknown-upsert",
    ),
    pytest.param(
        "contact.updated",
        {"id": "c1", "full_name": "Cher"},
        {},
        DEFAULTS,
        one(
            "create-contact",
            {},
            {"locationId": LOC, "firstName": "Cher", "name": "Cher"},
            key="loc1:create-contact:c1",
            records=REC_C1,
        ),
        id="contact-unknown-no-email-or-phone-plain-create",
    ),
    pytest.param(
        "contact.created",
        {"id": "c1", "phone": "202-555-0143"},
        {},
        DEFAULTS,
        one(
            "create-contact",
            {},
            {"locationId": LOC, "phone": "+12025550143"},
            key="loc1:create-contact:c1",
            records=REC_C1,
            on_duplicate="adopt",
        ),
        id="contact-phone-only-creates-and-adopts-instead-of-upsert",
    ),
    pytest.param(
        "contact.created",
        JANE,
        {},
        CREATE_MODE,
        one(
            "create-contact",
            {},
            {"locationId": LOC, **JANE_HL},
            key="loc1:create-contact:c1",
            records=REC_C1,
            on_duplicate="adopt",
        ),
        id="contact-create-mode-adopts-duplicate",
    ),
    pytest.param(
        "contact.updated",
        JANE,
        C1,
        DEFAULTS,
        one("update-contact", {"contactId": "H1"}, JANE_HL),
        id="contact-known-by-id-map-update",
    ),
    pytest.param(
        "contact.updated",
        {**JANE, "external_id": "HX"},
        C1,
        DEFAULTS,
        one("update-contact", {"contactId": "HX"}, JANE_HL, records=REC_C1),
        id="contact-external-id-wins-and-is-recorded",
    ),
    pytest.param(
        "contact.created",
        {"id": "c1", "external_id": "H1", "email": "a@b.co"},
        C1,
        DEFAULTS,
        one("update-contact", {"contactId": "H1"}, {"email": "a@b.co"}),
        id="contact-external-id-already-mapped-no-record",
    ),
    pytest.param(
        "contact.updated",
        {"id": "c1", "email": None},
        C1,
        DEFAULTS,
        one("update-contact", {"contactId": "H1"}, {"email": None}),
        id="contact-explicit-null-clears",
    ),
    pytest.param(
        "contact.updated",
        {"id": "c1", "updated_at": TS},
        C1,
        DEFAULTS,
        Skip("nothing to update"),
        id="contact-nothing-to-update",
    ),
    pytest.param(
        "contact.created",
        {"id": "c1", "email": None},
        {},
        DEFAULTS,
        Reject("contact has no name, email or phone to create it from"),
        id="contact-create-from-nothing-rejected",
    ),
    pytest.param(
        "contact.created",
        {"email": "a@b.co"},
        {},
        DEFAULTS,
        Reject("contact.id: required"),
        id="contact-without-id-rejected",
    ),
    pytest.param(
        "contact.deleted",
        {"id": "c1"},
        C1,
        DEFAULTS,
        one("delete-contact", {"contactId": "H1"}, None),
        id="contact-delete-mapped",
    ),
    pytest.param(
        "contact.deleted",
        {"id": "c1"},
        {},
        DEFAULTS,
        Skip("contact c1 was never synced to HighLevel"),
        id="contact-delete-unmapped-skips",
    ),
    pytest.param(
        "task.created",
        TASK,
        {},
        DEFAULTS,
        Wait("contact c1 is not in HighLevel yet"),
        id="task-waits-for-contact",
    ),
    pytest.param(
        "task.created",
        TASK,
        C1,
        DEFAULTS,
        one(
            "create-task",
            {"contactId": "H1"},
            TASK_HL,
            key="loc1:create-task:t1",
            records=IdRecord("task", "t1", "task.id"),
        ),
        id="task-create-with-key",
    ),
    pytest.param(
        "task.updated",
        {**TASK, "taskName": "Call Sam today"},
        T1,
        DEFAULTS,
        one(
            "update-task",
            {"contactId": "H1", "taskId": "HT1"},
            {"title": "Call Sam today", "dueDate": "2026-12-01T17:00:00Z"},
        ),
        id="task-update-mapped",
    ),
    pytest.param(
        "task.updated",
        TASK,
        C1,
        DEFAULTS,
        one(
            "create-task",
            {"contactId": "H1"},
            TASK_HL,
            key="loc1:create-task:t1",
            records=IdRecord("task", "t1", "task.id"),
        ),
        id="task-update-unmapped-creates-with-same-key",
    ),
    pytest.param(
        "task.completed",
        {"id": "t1", "contactId": "c1"},
        T1,
        DEFAULTS,
        one(
            "update-task-completed",
            {"contactId": "H1", "taskId": "HT1"},
            {"completed": True},
        ),
        id="task-completed-mapped",
    ),
    pytest.param(
        "task.completed",
        {"id": "t1", "contactId": "c1", "completed": False},
        T1,
        DEFAULTS,
        one(
            "update-task-completed",
            {"contactId": "H1", "taskId": "HT1"},
            {"completed": False},
        ),
        id="task-reopened",
    ),
    pytest.param(
        "task.completed",
        {"id": "t1", "contactId": "c1", "completed": "false"},
        T1,
        DEFAULTS,
        one(
            "update-task-completed",
            {"contactId": "H1", "taskId": "HT1"},
            {"completed": False},
        ),
        id="task-completed-string-false-is-false",
    ),
    pytest.param(
        "task.completed",
        {"id": "t1", "contactId": "c1", "completed": "maybe"},
        T1,
        DEFAULTS,
        Reject("completed: not true or false: 'maybe'"),
        id="task-completed-garbage-rejected",
    ),
    pytest.param(
        "task.completed",
        TASK,
        C1,
        DEFAULTS,
        one(
            "create-task",
            {"contactId": "H1"},
            {**TASK_HL, "completed": True},
            key="loc1:create-task:t1",
            records=IdRecord("task", "t1", "task.id"),
        ),
        id="task-completed-unmapped-created-done",
    ),
    pytest.param(
        "task.completed",
        {"id": "t1", "contactId": "c1"},
        C1,
        DEFAULTS,
        Skip("task t1 was never synced and the event has no taskName"),
        id="task-completed-unknown-without-name-skips",
    ),
    pytest.param(
        "task.created",
        {**TASK, "dueDate": "someday"},
        C1,
        DEFAULTS,
        Reject("dueDate: not a date: 'someday'"),
        id="task-bad-due-rejected",
    ),
    pytest.param(
        "task.created",
        {"id": "t1", "taskName": "x"},
        C1,
        DEFAULTS,
        Reject("task.contactId: required"),
        id="task-without-contact-rejected",
    ),
    pytest.param(
        "note.created",
        NOTE,
        {},
        DEFAULTS,
        Wait("contact c1 is not in HighLevel yet"),
        id="note-waits-for-contact",
    ),
    pytest.param(
        "note.created",
        NOTE,
        C1,
        DEFAULTS,
        one(
            "create-note",
            {"contactId": "H1"},
            {"body": "Talked", "title": "Call"},
            key="loc1:create-note:n1",
            records=IdRecord("note", "n1", "note.id"),
        ),
        id="note-create-with-key",
    ),
    pytest.param(
        "note.updated",
        {**NOTE, "noteContent": "Talked more"},
        N1,
        DEFAULTS,
        one(
            "update-note",
            {"contactId": "H1", "id": "HN1"},
            {"body": "Talked more", "title": "Call"},
        ),
        id="note-update-mapped",
    ),
    pytest.param(
        "note.deleted",
        {"id": "n1", "contactId": "c1"},
        N1,
        DEFAULTS,
        one("delete-note", {"contactId": "H1", "id": "HN1"}, None),
        id="note-delete-mapped",
    ),
    pytest.param(
        "note.deleted",
        {"id": "n1", "contactId": "c1"},
        C1,
        DEFAULTS,
        Skip("note n1 was never synced to HighLevel"),
        id="note-delete-unmapped-skips",
    ),
    pytest.param(
        "note.created",
        {"id": "n1", "contactId": "c1", "noteContent": "  "},
        C1,
        DEFAULTS,
        Reject("noteContent: required (a HighLevel note needs a body)"),
        id="note-empty-rejected",
    ),
    pytest.param(
        "contact.merged",
        {"id": "c1"},
        C1,
        DEFAULTS,
        Reject("event ev1: unknown event type 'contact.merged'"),
        id="unknown-type-rejected",
    ),
]


@pytest.mark.parametrize(("event_type", "data", "known", "mapping", "expected"), RULES)
def test_rule(
    event_type: str,
    data: dict[str, Any],
    known: dict[tuple[str, str], str],
    mapping: MappingConfig,
    expected: Plan,
) -> None:
    """Each documented planning rule gives exactly the expected plan."""
    assert plan(event_type, data, known, mapping) == expected


def test_created_contact_gets_tags_and_source_but_update_does_not() -> None:
    """Tags, source and companyName go on creates only; updates omit what update-contact refuses."""
    data = {**JANE, "company": "ACME"}
    created = plan("contact.created", data, {}, TAGGED)
    assert isinstance(created, Calls)
    body = created.calls[0].body
    assert body["tags"] == ["talknotes"]
    assert body["source"] == "TalkNotes"
    assert body["companyName"] == "ACME"
    updated = plan("contact.updated", data, C1, TAGGED)
    assert isinstance(updated, Calls)
    ubody = updated.calls[0].body
    assert not {"tags", "companyName", "locationId", "gender", "source"} & set(ubody)
    assert ubody["email"] == "jane@x.com"
    assert any("companyName" in w for w in updated.warnings)


def test_update_body_strips_fields_update_contact_rejects() -> None:
    """update_body (used after adopting a duplicate) drops locationId, companyName, gender, tags."""
    body = {"locationId": LOC, "companyName": "A", "gender": "f", "tags": ["x"], "email": "a@b.co"}
    assert update_body(body) == {"email": "a@b.co"}


def test_invalid_phone_dropped_with_warning_still_syncs() -> None:
    """A bad phone (default: drop) leaves the rest of the contact to sync, with a warning."""
    result = plan("contact.updated", {"id": "c1", "phone": "n/a", "email": "a@b.co"}, C1)
    assert isinstance(result, Calls)
    assert result.calls[0].body == {"email": "a@b.co"}
    assert result.warnings[0].startswith("phone:")


def test_task_without_due_date_defaults_from_event_time() -> None:
    """No dueDate: the task is due the day after the event at 09:00 (mapping's zone, UTC)."""
    result = plan("task.created", {"id": "t1", "contactId": "c1", "taskName": "x"}, C1)
    assert isinstance(result, Calls)
    assert result.calls[0].body["dueDate"] == "2026-11-28T09:00:00Z"


def test_task_priority_goes_into_title() -> None:
    """HighLevel tasks have no priority: by default it prefixes the title."""
    result = plan("task.created", {**TASK, "priority": "urgent"}, C1)
    assert isinstance(result, Calls)
    assert result.calls[0].body["title"] == "[Urgent] Call Sam"


def test_plans_are_deterministic() -> None:
    """The same inputs give equal plans (keys included): replays cannot diverge."""
    assert plan("contact.created", JANE) == plan("contact.created", JANE)
    assert plan("task.created", TASK, C1) == plan("task.created", TASK, C1)

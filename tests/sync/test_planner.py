"""The pure planner: a record's state + the id map + the mapping -> one Plan.

Hand-built `RecordState` values and a dict-backed id map; every expected plan is a literal
written from the default mapping (src/tnhl/mapping/default.yaml, docs/mapping.md) and the
HighLevel Contacts API (CreateContactDto, UpdateContactDto, CreateTaskParams, NotesDTO).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from tnhl.mapping import default_mapping, load_mapping_text
from tnhl.store import RecordState
from tnhl.store._models import RecordStatus
from tnhl.sync._plan_types import Calls, IdRecord, PlannedCall, Reject, Skip, Wait
from tnhl.sync._planner import plan_record

LOC = "loc1"
T0 = 1_772_443_800.0  # 2026-03-02T09:30:00Z
DEFAULTS = default_mapping()

SAM = {"full_name": "Sam Reyes", "email": "Sam.Reyes@Example.com", "phone": "+1 415 555 0142"}
SAM_HL = {
    "firstName": "Sam",
    "lastName": "Reyes",
    "name": "Sam Reyes",
    "email": "sam.reyes@example.com",
    "phone": "+14155550142",
}
CONTACT_REC = IdRecord("contact", "c1", "contact.id")


class Ids:
    """An in-memory IdLookup: {(kind, talknotes id): highlevel id}, deleted records, and
    records whose create went out unconfirmed."""

    def __init__(
        self,
        known: Mapping[tuple[str, str], str] | None = None,
        deleted: Iterable[tuple[str, str]] = (),
        unconfirmed: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.known = dict(known or {})
        self.deleted = set(deleted)
        self.unconfirmed = set(unconfirmed)

    def create_unconfirmed(self, kind: str, talknotes_id: str) -> bool:
        return (kind, talknotes_id) in self.unconfirmed

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        return self.known.get((kind, talknotes_id))

    def is_deleted(self, kind: str, talknotes_id: str) -> bool:
        return (kind, talknotes_id) in self.deleted


C1 = {("contact", "c1"): "H1"}


def state(
    kind: str,
    talknotes_id: str,
    values: Mapping[str, Any],
    *,
    contact: str = "c1",
    applied: Mapping[str, Any] | None = None,
    status: RecordStatus = "new",
    deleted_at: float | None = None,
    first_at: float | None = T0,
    at: float = T0,
) -> RecordState:
    return RecordState(
        location_id=LOC,
        kind=kind,  # type: ignore[arg-type]
        talknotes_id=talknotes_id,
        contact_id=contact,
        fields={name: (value, at, "msg_1") for name, value in values.items()},
        deleted_at=deleted_at,
        first_at=first_at,
        applied=dict(applied or {}),
        status=status,
        version=1,
        attempts=0,
        crashes=0,
        waiting_since=None,
    )


def contact(values: Mapping[str, Any], **kw: Any) -> RecordState:
    return state("contact", "c1", values, **kw)


def task(values: Mapping[str, Any], **kw: Any) -> RecordState:
    return state("task", "t1", values, **kw)


def note(values: Mapping[str, Any], **kw: Any) -> RecordState:
    return state("note", "n1", values, **kw)


# -- contacts -------------------------------------------------------------------------------


def test_new_contact_is_created_once_keyed_adopting_a_duplicate_found_first() -> None:
    """A contact HighLevel does not have: one keyed create-contact with the mapped body."""
    plan = plan_record(contact(SAM), Ids(), DEFAULTS)
    assert plan == Calls(
        [
            PlannedCall(
                "create-contact",
                {},
                {"locationId": "loc1", **SAM_HL},
                key="loc1:create-contact:c1",
                records=CONTACT_REC,
                on_duplicate="adopt",
                find_duplicate=True,
            )
        ],
        applied=SAM_HL,
    )


def test_new_contact_with_only_a_name_is_created_without_a_duplicate_lookup() -> None:
    """No email and no phone: nothing to look a duplicate up by, so find_duplicate is off."""
    plan = plan_record(contact({"full_name": "Mary Ann Smith"}), Ids(), DEFAULTS)
    body = {"firstName": "Mary Ann", "lastName": "Smith", "name": "Mary Ann Smith"}
    assert plan == Calls(
        [
            PlannedCall(
                "create-contact",
                {},
                {"locationId": "loc1", **body},
                key="loc1:create-contact:c1",
                records=CONTACT_REC,
                on_duplicate="adopt",
                find_duplicate=False,
            )
        ],
        applied=body,
    )


def test_new_contact_with_tags_and_source_sends_them_on_create_only() -> None:
    """Configured tags and source go into the create body, not into `applied`."""
    cfg = load_mapping_text("contact:\n  tags: [talknotes]\n  source: TalkNotes\n")
    plan = plan_record(contact({"email": "ada@example.com"}), Ids(), cfg)
    assert plan == Calls(
        [
            PlannedCall(
                "create-contact",
                {},
                {
                    "locationId": "loc1",
                    "email": "ada@example.com",
                    "tags": ["talknotes"],
                    "source": "TalkNotes",
                },
                key="loc1:create-contact:c1",
                records=CONTACT_REC,
                on_duplicate="adopt",
                find_duplicate=True,
            )
        ],
        applied={"email": "ada@example.com"},
    )


def test_known_contact_is_updated_with_only_the_fields_that_differ_from_applied() -> None:
    """The email changed since HighLevel was last written: update-contact sends just it."""
    applied = {**SAM_HL, "email": "sam@old.example.com"}
    plan = plan_record(contact(SAM, applied=applied, status="synced"), Ids(C1), DEFAULTS)
    assert plan == Calls(
        [PlannedCall("update-contact", {"contactId": "H1"}, {"email": "sam.reyes@example.com"})],
        applied={"email": "sam.reyes@example.com"},
    )


def test_known_contact_cleared_field_is_sent_as_null() -> None:
    """An explicit null (the newest value of phone) clears it in HighLevel: phone: None."""
    values = {**SAM, "phone": None}
    plan = plan_record(contact(values, applied=SAM_HL, status="synced"), Ids(C1), DEFAULTS)
    assert plan == Calls(
        [PlannedCall("update-contact", {"contactId": "H1"}, {"phone": None})],
        applied={"phone": None},
    )


def test_known_contact_whose_newest_phone_is_invalid_loses_the_old_one() -> None:
    """The newest phone is dropped as invalid: HighLevel's older phone is cleared, so the end
    state is the same whether the contact was created before or after that phone arrived."""
    values = {**SAM, "phone": "555-0104"}
    plan = plan_record(contact(values, applied=SAM_HL, status="synced"), Ids(C1), DEFAULTS)
    warning = "phone: not a valid number for region US: '555-0104' (dropped: not sent to HighLevel)"
    assert plan == Calls(
        [PlannedCall("update-contact", {"contactId": "H1"}, {"phone": None})],
        applied={"phone": None},
        warnings=[warning],
    )


def test_known_contact_already_as_desired_is_skipped() -> None:
    """HighLevel already holds what the record says (applied == desired): no call."""
    plan = plan_record(contact(SAM, applied=SAM_HL, status="synced"), Ids(C1), DEFAULTS)
    assert plan == Skip("no change")


def test_external_id_targets_that_contact_and_links_it() -> None:
    """external_id names the HighLevel contact: update it and record the link to it."""
    values = {"external_id": "HX9", "full_name": "Sam Reyes"}
    plan = plan_record(contact(values), Ids(), DEFAULTS)
    body = {"firstName": "Sam", "lastName": "Reyes", "name": "Sam Reyes"}
    assert plan == Calls(
        [PlannedCall("update-contact", {"contactId": "HX9"}, body, records=CONTACT_REC)],
        applied=body,
    )


def test_external_id_wins_over_the_id_map() -> None:
    """The id map says H1 but TalkNotes says HX9: HX9 is updated and re-linked."""
    values = {"external_id": "HX9", "email": "sam@example.com"}
    plan = plan_record(contact(values), Ids(C1), DEFAULTS)
    assert plan == Calls(
        [
            PlannedCall(
                "update-contact",
                {"contactId": "HX9"},
                {"email": "sam@example.com"},
                records=CONTACT_REC,
            )
        ],
        applied={"email": "sam@example.com"},
    )


def test_external_id_equal_to_the_mapped_contact_and_no_change_is_skipped() -> None:
    """external_id already linked and nothing changed: no call, no new link."""
    values = {"external_id": "H1", "email": "sam@example.com"}
    applied = {"email": "sam@example.com"}
    plan = plan_record(contact(values, applied=applied, status="synced"), Ids(C1), DEFAULTS)
    assert plan == Skip("no change")


def test_deleted_contact_that_was_synced_is_deleted_in_highlevel() -> None:
    """A delete of a contact HighLevel has: delete-contact, and the record ends deleted."""
    st = contact(SAM, applied=SAM_HL, status="synced", deleted_at=T0 + 60)
    plan = plan_record(st, Ids(C1), DEFAULTS)
    assert plan == Calls([PlannedCall("delete-contact", {"contactId": "H1"})], deleted=True)


def test_deleted_contact_never_synced_is_skipped() -> None:
    """A delete of a contact HighLevel never had: nothing to call."""
    plan = plan_record(contact(SAM, deleted_at=T0 + 60), Ids(), DEFAULTS)
    assert plan == Skip("contact c1 is deleted", deleted=True)


def test_deleted_contact_already_deleted_is_skipped() -> None:
    """A record whose delete already ran (status deleted) is not deleted twice."""
    st = contact(SAM, applied=SAM_HL, status="deleted", deleted_at=T0 + 60)
    plan = plan_record(st, Ids(C1), DEFAULTS)
    assert plan == Skip("contact c1 is deleted", deleted=True)


def test_contact_with_nothing_to_create_it_from_waits() -> None:
    """Only custom fields so far (contact.updated before contact.created): wait."""
    plan = plan_record(contact({"custom_fields.company": "Reyes Roofing"}), Ids(), DEFAULTS)
    assert plan == Wait("contact c1 has no name, email or phone to create it from yet")


def test_invalid_phone_is_dropped_with_a_warning() -> None:
    """phone '555-0104' is not a valid US number: the contact syncs without it, warned."""
    values = {"full_name": "Sam Reyes", "phone": "555-0104"}
    plan = plan_record(contact(values), Ids(), DEFAULTS)
    body = {"firstName": "Sam", "lastName": "Reyes", "name": "Sam Reyes"}
    assert plan == Calls(
        [
            PlannedCall(
                "create-contact",
                {},
                {"locationId": "loc1", **body},
                key="loc1:create-contact:c1",
                records=CONTACT_REC,
                on_duplicate="adopt",
                find_duplicate=False,
            )
        ],
        applied=body,
        warnings=[
            "phone: not a valid number for region US: '555-0104' (dropped: not sent to HighLevel)"
        ],
    )


def test_invalid_phone_is_rejected_when_the_mapping_says_reject() -> None:
    """phone.on_invalid: reject turns the bad phone into a Reject naming the field."""
    cfg = load_mapping_text("contact:\n  phone:\n    on_invalid: reject\n")
    plan = plan_record(contact({"full_name": "Sam", "phone": "555-0104"}), Ids(), cfg)
    assert plan == Reject("phone: not a valid number for region US: '555-0104'")


# -- tasks ----------------------------------------------------------------------------------

TASK = {"taskName": "Call Sam back about the quote", "dueDate": "2026-03-06", "priority": "high"}
TASK_REC = IdRecord("task", "t1", "task.id")


def test_task_whose_contact_is_not_in_highlevel_waits_naming_the_contact() -> None:
    """The contact has no HighLevel id yet: the task waits for it."""
    plan = plan_record(task(TASK), Ids(), DEFAULTS)
    assert plan == Wait("contact c1 is not in HighLevel yet", for_contact=True)


def test_task_whose_contact_is_deleted_is_skipped() -> None:
    """HighLevel deleted the contact's tasks with it: nothing to write."""
    plan = plan_record(task(TASK), Ids(C1, deleted=[("contact", "c1")]), DEFAULTS)
    assert plan == Skip("contact c1 is deleted", deleted=True)


def test_task_without_a_name_not_in_highlevel_waits() -> None:
    """Only task.completed arrived so far: no title to create the task from yet."""
    plan = plan_record(task({"completed": True}), Ids(C1), DEFAULTS)
    assert plan == Wait("task t1 has no taskName yet (task.created not received)")


def test_new_task_is_created_once_keyed_on_its_contact() -> None:
    """task.created on a known contact: create-task, date-only due at 09:00 UTC, [High]."""
    plan = plan_record(task(TASK), Ids(C1), DEFAULTS)
    body = {
        "title": "[High] Call Sam back about the quote",
        "dueDate": "2026-03-06T09:00:00Z",
        "completed": False,
    }
    assert plan == Calls(
        [
            PlannedCall(
                "create-task",
                {"contactId": "H1"},
                body,
                key="loc1:create-task:t1",
                records=TASK_REC,
            )
        ],
        applied=body,
    )


def test_task_default_due_date_is_the_day_after_the_first_event_at_nine_utc() -> None:
    """No dueDate: due 09:00 UTC the day after first_at (23:59 on 2 March -> 3 March),
    whatever the time of the later events that set the fields."""
    st = task(
        {"taskName": "Call Sam back"},
        first_at=1_772_495_940.0,  # 2026-03-02T23:59:00Z
        at=1_772_928_000.0,  # 2026-03-08T00:00:00Z
    )
    plan = plan_record(st, Ids(C1), DEFAULTS)
    assert isinstance(plan, Calls)
    assert plan.calls[0].body == {
        "title": "Call Sam back",
        "dueDate": "2026-03-03T09:00:00Z",
        "completed": False,
    }


@pytest.mark.parametrize(
    ("priority", "title"),
    [
        pytest.param("Medium", "Call Sam back", id="medium-no-marker"),
        pytest.param("asap", "[Urgent] Call Sam back", id="asap-urgent"),
        pytest.param(" LOW ", "[Low] Call Sam back", id="low-trimmed-any-case"),
        pytest.param("P1", "[Urgent] Call Sam back", id="p1-urgent"),
    ],
)
def test_task_priority_becomes_a_title_marker(priority: str, title: str) -> None:
    """title_prefix: normal words add no marker, others add their label."""
    values = {"taskName": "Call Sam back", "dueDate": "2026-03-06", "priority": priority}
    plan = plan_record(task(values), Ids(C1), DEFAULTS)
    assert isinstance(plan, Calls)
    assert plan.calls[0].body == {
        "title": title,
        "dueDate": "2026-03-06T09:00:00Z",
        "completed": False,
    }
    assert plan.warnings == ()


def test_unknown_priority_word_becomes_the_label_with_a_warning() -> None:
    """An unknown word is kept as written as the label, and the plan warns."""
    values = {"taskName": "Call Sam back", "dueDate": "2026-03-06", "priority": "Someday"}
    plan = plan_record(task(values), Ids(C1), DEFAULTS)
    assert isinstance(plan, Calls)
    assert plan.calls[0].body is not None
    assert plan.calls[0].body["title"] == "[Someday] Call Sam back"
    assert plan.warnings == (
        "priority: unknown priority 'Someday', used as the label as written"
        " (map it to a level with tasks.priority.aliases)",
    )


def test_completed_task_in_highlevel_updates_only_completed() -> None:
    """task.completed on a task HighLevel has: update-task {completed: true}."""
    values = {**TASK, "completed": True}
    applied = {
        "title": "[High] Call Sam back about the quote",
        "dueDate": "2026-03-06T09:00:00Z",
        "completed": False,
    }
    ids = Ids({**C1, ("task", "t1"): "HT1"})
    plan = plan_record(task(values, applied=applied, status="synced"), ids, DEFAULTS)
    assert plan == Calls(
        [PlannedCall("update-task", {"contactId": "H1", "taskId": "HT1"}, {"completed": True})],
        applied={"completed": True},
    )


def test_completed_task_not_yet_in_highlevel_is_created_completed() -> None:
    """task.created and task.completed folded together: one create with completed true."""
    values = {**TASK, "completed": True}
    plan = plan_record(task(values), Ids(C1), DEFAULTS)
    assert isinstance(plan, Calls)
    assert [c.operation_id for c in plan.calls] == ["create-task"]
    assert plan.calls[0].body == {
        "title": "[High] Call Sam back about the quote",
        "dueDate": "2026-03-06T09:00:00Z",
        "completed": True,
    }


def test_task_in_highlevel_unchanged_is_skipped() -> None:
    """The task HighLevel has matches the record: no call."""
    applied = {
        "title": "[High] Call Sam back about the quote",
        "dueDate": "2026-03-06T09:00:00Z",
        "completed": False,
    }
    ids = Ids({**C1, ("task", "t1"): "HT1"})
    plan = plan_record(task(TASK, applied=applied, status="synced"), ids, DEFAULTS)
    assert plan == Skip("no change")


def test_unreadable_due_date_is_rejected() -> None:
    """tasks.due.on_invalid: reject (default): a due date it cannot read is a Reject."""
    values = {"taskName": "Call Sam back", "dueDate": "when pigs fly"}
    plan = plan_record(task(values), Ids(C1), DEFAULTS)
    assert plan == Reject("dueDate: not a date: 'when pigs fly'")


def test_a_due_date_in_words_is_read_from_the_time_it_was_set() -> None:
    """ "next Friday", set by an event of 2026-03-02 09:30 UTC (a Monday): Friday 2026-03-06 at
    the date-only time, 09:00 UTC (the default zone)."""
    values = {"taskName": "Call Sam back", "dueDate": "next Friday"}
    plan = plan_record(task(values), Ids(C1), DEFAULTS)
    assert isinstance(plan, Calls)
    assert plan.calls[0].body is not None
    assert plan.calls[0].body["dueDate"] == "2026-03-06T09:00:00Z"


def test_unreadable_due_date_falls_back_to_the_default_with_on_invalid_default() -> None:
    """tasks.due.on_invalid: default: the default due date, and a warning naming dueDate."""
    cfg = load_mapping_text("tasks:\n  due:\n    on_invalid: default\n")
    values = {"taskName": "Call Sam back", "dueDate": "when pigs fly"}
    plan = plan_record(task(values), Ids(C1), cfg)
    assert isinstance(plan, Calls)
    assert plan.calls[0].body is not None
    assert plan.calls[0].body["dueDate"] == "2026-03-03T09:00:00Z"
    assert plan.warnings == ("dueDate: not a date: 'when pigs fly' (default due date used)",)


# -- notes ----------------------------------------------------------------------------------

NOTE = {"noteTitle": "Roof quote", "noteContent": "Wants slate, not tile."}
N1 = {**C1, ("note", "n1"): "HN1"}


def test_new_note_is_created_once_keyed() -> None:
    """note.created on a known contact: create-note with body and title."""
    plan = plan_record(note(NOTE), Ids(C1), DEFAULTS)
    body = {"body": "Wants slate, not tile.", "title": "Roof quote"}
    assert plan == Calls(
        [
            PlannedCall(
                "create-note",
                {"contactId": "H1"},
                body,
                key="loc1:create-note:n1",
                records=IdRecord("note", "n1", "note.id"),
            )
        ],
        applied=body,
    )


def test_note_in_highlevel_is_updated_with_what_changed() -> None:
    """note.updated with new content: update-note sends the new body only."""
    applied = {"body": "Wants tile.", "title": "Roof quote"}
    plan = plan_record(note(NOTE, applied=applied, status="synced"), Ids(N1), DEFAULTS)
    assert plan == Calls(
        [
            PlannedCall(
                "update-note", {"contactId": "H1", "id": "HN1"}, {"body": "Wants slate, not tile."}
            )
        ],
        applied={"body": "Wants slate, not tile."},
    )


def test_note_waits_for_its_contact() -> None:
    """A note whose contact is not in HighLevel waits, naming the contact."""
    plan = plan_record(note(NOTE), Ids(), DEFAULTS)
    assert plan == Wait("contact c1 is not in HighLevel yet", for_contact=True)


def test_deleted_note_that_was_synced_is_deleted_in_highlevel() -> None:
    """note.deleted of a note HighLevel has: delete-note on its contact."""
    st = note(NOTE, status="synced", deleted_at=T0 + 60)
    plan = plan_record(st, Ids(N1), DEFAULTS)
    assert plan == Calls(
        [PlannedCall("delete-note", {"contactId": "H1", "id": "HN1"})], deleted=True
    )


def test_deleted_note_never_synced_is_skipped() -> None:
    """note.deleted of a note HighLevel never had: nothing to call."""
    plan = plan_record(note(NOTE, deleted_at=T0 + 60), Ids(C1), DEFAULTS)
    assert plan == Skip("note n1 is deleted", deleted=True)


def test_deleted_note_whose_create_was_unconfirmed_deletes_what_it_made() -> None:
    """note.deleted of a note whose create went out and was never confirmed (a crash): a
    delete-note keyed by that create, to find and delete what it made."""
    ids = Ids(C1, unconfirmed=[("note", "n1")])
    plan = plan_record(note(NOTE, deleted_at=T0 + 60), ids, DEFAULTS)
    call = PlannedCall(
        "delete-note",
        {"contactId": "H1"},
        key="loc1:create-note:n1",
        records=IdRecord("note", "n1", "note.id"),
    )
    assert plan == Calls([call], deleted=True)


def test_deleted_contact_whose_create_was_unconfirmed_deletes_what_it_made() -> None:
    """contact.deleted of a contact whose create's answer was lost: a delete-contact keyed by
    that create; once deleted (status deleted) nothing more."""
    ids = Ids(unconfirmed=[("contact", "c1")])
    plan = plan_record(contact(SAM, deleted_at=T0 + 60), ids, DEFAULTS)
    call = PlannedCall(
        "delete-contact",
        {},
        key="loc1:create-contact:c1",
        records=IdRecord("contact", "c1", "contact.id"),
    )
    assert plan == Calls([call], deleted=True)
    done = contact(SAM, deleted_at=T0 + 60, status="deleted")
    assert plan_record(done, ids, DEFAULTS) == Skip("contact c1 is deleted", deleted=True)


# -- purity ---------------------------------------------------------------------------------


def test_planning_is_pure_same_inputs_same_plan_and_no_clock() -> None:
    """The same state twice gives equal plans; a default due date follows first_at (2001),
    not the clock."""
    st = task({"taskName": "Call Sam back"}, first_at=1_000_000_000.0)  # 2001-09-09T01:46:40Z
    ids = Ids(C1)
    first = plan_record(st, ids, DEFAULTS)
    second = plan_record(st, ids, DEFAULTS)
    assert first == second
    assert isinstance(first, Calls)
    assert first.calls[0].body == {
        "title": "Call Sam back",
        "dueDate": "2001-09-10T09:00:00Z",
        "completed": False,
    }
    # The inputs are untouched.
    assert st.applied == {}
    assert ids.known == {("contact", "c1"): "H1"}


# -- two-way rules (the mapping's `sync:`) ---------------------------------------------------

HL_OWNS_PHONE = load_mapping_text("sync: {contact: {phone: {direction: to_talknotes}}}")
HL_CREATES = load_mapping_text("sync: {create: to_talknotes}")


def test_a_field_highlevel_owns_is_neither_written_nor_cleared() -> None:
    """phone is to_talknotes: TalkNotes' new phone and email; only the email is written, and
    HighLevel's phone is not cleared though the record's values give none to write."""
    values = {**SAM, "email": "sam@new.example.com", "phone": "+1 415 555 0199"}
    plan = plan_record(contact(values, applied=SAM_HL, status="synced"), Ids(C1), HL_OWNS_PHONE)
    assert plan == Calls(
        [PlannedCall("update-contact", {"contactId": "H1"}, {"email": "sam@new.example.com"})],
        applied={"email": "sam@new.example.com"},
    )


def test_with_records_born_only_in_highlevel_nothing_is_created_there() -> None:
    """sync.create to_talknotes: a contact, task and note not in HighLevel are skipped, not
    created; a linked contact is still updated."""
    assert plan_record(contact(SAM), Ids(), HL_CREATES) == Skip(
        "contact c1 is not in HighLevel, and sync.create is to_talknotes"
    )
    call_ann = {"taskName": "Call Ann", "dueDate": "2026-03-03T10:00:00Z"}
    assert plan_record(task(call_ann), Ids(C1), HL_CREATES) == Skip(
        "task t1 is not in HighLevel, and sync.create is to_talknotes"
    )
    assert plan_record(note({"noteContent": "hi"}), Ids(C1), HL_CREATES) == Skip(
        "note n1 is not in HighLevel, and sync.create is to_talknotes"
    )
    applied = {**SAM_HL, "email": "sam@old.example.com"}
    plan = plan_record(contact(SAM, applied=applied, status="synced"), Ids(C1), HL_CREATES)
    assert isinstance(plan, Calls)


def test_an_existing_task_keeps_what_its_record_never_said() -> None:
    """A task HighLevel has, completed there (applied says so), whose record never said
    `completed` (a follow-up born from a note): a new due date updates only the due date;
    the task is not reopened."""
    values = {"taskName": "Call Sam back", "dueDate": "2026-03-09T15:00:00Z"}
    applied = {"title": "Call Sam back", "dueDate": "2026-03-06T15:00:00Z", "completed": True}
    ids = Ids({**C1, ("task", "t1"): "HT1"})
    plan = plan_record(task(values, applied=applied, status="synced"), ids, DEFAULTS)
    assert plan == Calls(
        [
            PlannedCall(
                "update-task",
                {"contactId": "H1", "taskId": "HT1"},
                {"dueDate": "2026-03-09T15:00:00Z"},
            )
        ],
        applied={"dueDate": "2026-03-09T15:00:00Z"},
    )

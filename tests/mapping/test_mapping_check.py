"""check_record: the door check reports what would make one record impossible to apply."""

from __future__ import annotations

import pytest

from tnhl.mapping import MappingProblem, check_record, load_mapping_text

CFG = load_mapping_text("")
REJECT = load_mapping_text(
    "contact:\n  phone:\n    on_invalid: reject\n  email:\n    on_invalid: reject\n"
)
NO_IDENTIFIER: MappingProblem = {
    "field": "data",
    "problem": "a new contact needs at least one of email, phone, full_name, external_id"
    " with a usable (non-blank, valid) value",
}


def test_contact_that_maps_has_no_problems() -> None:
    """A well-formed new contact gives an empty list."""
    data = {"id": "c1", "full_name": "Sam Reyes", "email": "sam@example.com"}
    assert check_record("contact", data, CFG, create=True) == []


def test_dropped_values_are_warnings_not_problems() -> None:
    """Under on_invalid: drop a bad email and phone are not problems while a name remains."""
    data = {"full_name": "Sam Reyes", "email": "a@b..co", "phone": "555-0104"}
    assert check_record("contact", data, CFG, create=True) == []


def test_rejected_email_and_phone_are_both_reported() -> None:
    """With on_invalid: reject every refused field is listed, not only the first."""
    data = {"full_name": "Sam Reyes", "email": "a@b..co", "phone": "555-0104"}
    assert check_record("contact", data, REJECT, create=True) == [
        {"field": "email", "problem": "not an email address: 'a@b..co'"},
        {"field": "phone", "problem": "not a valid number for region US: '555-0104'"},
    ]


def test_rejected_identifier_is_not_also_reported_as_missing() -> None:
    """When the only identifier is refused, its own problem explains the record."""
    assert check_record("contact", {"email": "a@b..co"}, REJECT, create=True) == [
        {"field": "email", "problem": "not an email address: 'a@b..co'"}
    ]


def test_blank_name_only_contact_cannot_be_created() -> None:
    """A new contact whose only identifier is whitespace is refused as a whole."""
    data = {"id": "c1", "full_name": "   ", "email": " ", "external_id": ""}
    assert check_record("contact", data, CFG, create=True) == [NO_IDENTIFIER]


def test_dropped_email_leaves_a_new_contact_without_identifier() -> None:
    """A dropped invalid email that was the only identifier leaves nothing to create from."""
    assert check_record("contact", {"email": "a@b..co"}, CFG, create=True) == [NO_IDENTIFIER]


def test_blank_name_is_fine_for_a_known_contact() -> None:
    """An update needs no identifier in its content: it clears the name."""
    assert check_record("contact", {"full_name": "  "}, CFG, create=False) == []


def test_external_id_alone_identifies_a_contact() -> None:
    """external_id names an existing HighLevel contact, so it suffices."""
    assert check_record("contact", {"external_id": "hl-1"}, CFG, create=True) == []


def test_custom_field_problem_is_a_dotted_path() -> None:
    """A bad custom field value is reported as custom_fields.<name>."""
    cfg = load_mapping_text("contact:\n  custom_fields:\n    budget: {id: f1, type: number}\n")
    data = {"full_name": "Sam", "custom_fields": {"budget": "lots"}}
    assert check_record("contact", data, cfg, create=True) == [
        {"field": "custom_fields.budget", "problem": "not a number: 'lots'"}
    ]


def test_task_without_due_date_maps_without_a_clock() -> None:
    """A new task without dueDate gets the default due date from a fixed reference: no problem."""
    assert check_record("task", {"taskName": "Call Sam"}, CFG, create=True) == []


def test_task_with_unknown_priority_has_no_problem() -> None:
    """An unknown priority word only warns, so it is not a problem."""
    data = {"taskName": "Call Sam", "priority": "someday"}
    assert check_record("task", data, CFG, create=True) == []


def test_blank_task_name_and_ancient_due_date_are_both_reported() -> None:
    """A new task with a blank taskName and a year-1 dueDate lists both fields."""
    data = {"taskName": "  ", "dueDate": "0001-01-01"}
    assert check_record("task", data, CFG, create=True) == [
        {"field": "taskName", "problem": "required (HighLevel tasks need a title)"},
        {"field": "dueDate", "problem": "year out of range 1970-2200: '0001-01-01'"},
    ]


def test_bad_due_date_with_default_fallback_is_no_problem_on_create() -> None:
    """tasks.due.on_invalid: default replaces an unreadable due date on create, with a warning."""
    cfg = load_mapping_text("tasks:\n  due:\n    on_invalid: default\n")
    data = {"taskName": "T", "dueDate": "Friday"}
    assert check_record("task", data, cfg, create=True) == []
    assert check_record("task", data, cfg, create=False) == [
        {"field": "dueDate", "problem": "incomplete date (needs day, month and year): 'Friday'"}
    ]


def test_task_update_needs_no_name() -> None:
    """An update of a known task may leave taskName out."""
    assert check_record("task", {"completed": True}, CFG, create=False) == []


def test_bad_completed_flag_is_a_problem() -> None:
    """completed must be true or false."""
    data = {"taskName": "T", "completed": "maybe"}
    assert check_record("task", data, CFG, create=True) == [
        {"field": "completed", "problem": "not true or false: 'maybe'"}
    ]


def test_note_without_content_or_title_cannot_be_created() -> None:
    """A new note with blank noteContent and no title names noteContent."""
    assert check_record("note", {"noteContent": " \n", "noteTitle": None}, CFG, create=True) == [
        {"field": "noteContent", "problem": "required (a HighLevel note needs a body)"}
    ]


def test_note_title_stands_in_for_content() -> None:
    """A title alone is enough for a new note, and an update needs neither."""
    assert check_record("note", {"noteTitle": "Call"}, CFG, create=True) == []
    assert check_record("note", {"noteContent": ""}, CFG, create=False) == []


def test_check_does_not_change_the_data() -> None:
    """Setting fields aside to find every problem works on a deep copy."""
    cfg = load_mapping_text("contact:\n  custom_fields:\n    budget: {id: f1, type: number}\n")
    data = {"full_name": " ", "custom_fields": {"budget": "lots"}}
    check_record("contact", data, cfg, create=True)
    assert data == {"full_name": " ", "custom_fields": {"budget": "lots"}}
    task = {"taskName": " ", "dueDate": "0001-01-01"}
    check_record("task", task, CFG, create=True)
    assert task == {"taskName": " ", "dueDate": "0001-01-01"}


def test_data_that_is_not_an_object_is_a_problem() -> None:
    """A non-object payload is reported on data rather than raising."""
    assert check_record("note", ["x"], CFG, create=True) == [  # type: ignore[arg-type]
        {"field": "data", "problem": "must be an object"}
    ]


def test_unknown_kind_is_a_programming_error() -> None:
    """Only contact, task and note are records the mapping knows."""
    with pytest.raises(ValueError, match="kind must be contact, task or note"):
        check_record("appointment", {}, CFG, create=True)

"""Applying a mapping to TalkNotes records gives HighLevel request fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tnhl.mapping import TransformError, load_mapping_text, map_contact, map_note, map_task

CFG = load_mapping_text("")
EVENT_TIME = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def test_contact_seed_fields() -> None:
    """full_name, email and phone become names, a lowercased email and E.164."""
    out = map_contact(
        {"id": "c1", "full_name": "Dr. Jane  Smith", "email": "Jane@X.com", "phone": "2025550143"},
        CFG,
    )
    assert out.fields == {
        "firstName": "Jane",
        "lastName": "Smith",
        "name": "Dr. Jane Smith",
        "email": "jane@x.com",
        "phone": "+12025550143",
    }
    assert out.warnings == []


def test_bad_phone_dropped_with_warning_by_default() -> None:
    """The default drops an unusable phone and says so; the rest still maps."""
    out = map_contact({"email": "a@b.co", "phone": "call me"}, CFG)
    assert "phone" not in out.fields
    assert out.fields["email"] == "a@b.co"
    assert out.warnings
    assert out.warnings[0].startswith("phone:")


def test_bad_phone_rejected_when_configured() -> None:
    """With on_invalid: reject, an unusable phone raises TransformError on phone."""
    cfg = load_mapping_text("contact:\n  phone:\n    on_invalid: reject\n")
    with pytest.raises(TransformError, match=r"^phone:"):
        map_contact({"phone": "call me"}, cfg)


def test_explicit_null_clears_and_absent_leaves_alone() -> None:
    """A field sent as null maps to None (clear); a field not sent is not in the result."""
    out = map_contact({"id": "c1", "email": None}, CFG)
    assert out.fields == {"email": None}
    cfg = load_mapping_text("contact:\n  clear_on_null: false\n")
    assert map_contact({"id": "c1", "email": None}, cfg).fields == {}


def test_custom_fields_by_key_id_type_and_path() -> None:
    """Mapped custom fields are written {key|id, field_value} with their declared types."""
    cfg = load_mapping_text(
        "contact:\n"
        "  fields: {companyName: custom_fields.company}\n"
        "  custom_fields:\n"
        "    budget: {id: f1, type: number}\n"
        "    topics: {key: contact.topics, type: list}\n"
        "    region: {key: contact.region, path: 'meta.region'}\n"
    )
    data = {
        "custom_fields": {"budget": "1,200", "topics": "a, b ,", "company": "ACME", "x": 1},
        "meta": {"region": "EMEA"},
    }
    out = map_contact(data, cfg)
    assert out.fields["companyName"] == "ACME"
    assert out.fields["customFields"] == [
        {"id": "f1", "field_value": 1200},
        {"key": "contact.topics", "field_value": ["a", "b"]},
        {"key": "contact.region", "field_value": "EMEA"},
    ]


def test_unmapped_custom_fields_by_key() -> None:
    """unmapped_custom_fields: by_key sends other extras as text under their own key."""
    cfg = load_mapping_text("contact:\n  unmapped_custom_fields: by_key\n")
    out = map_contact({"custom_fields": {"b": 2, "a": "x"}}, cfg)
    assert out.fields["customFields"] == [
        {"key": "a", "field_value": "x"},
        {"key": "b", "field_value": "2"},
    ]


@pytest.mark.parametrize("value", ["lots", "inf", float("nan")])
def test_bad_number_custom_field_names_it(value: object) -> None:
    """A non-numeric or infinite value for a number custom field raises naming the field."""
    cfg = load_mapping_text("contact:\n  custom_fields:\n    budget: {id: f1, type: number}\n")
    with pytest.raises(TransformError, match=r"^custom_fields\.budget: not a"):
        map_contact({"custom_fields": {"budget": value}}, cfg)


def test_task_create_with_priority_title_prefix() -> None:
    """A created task gets title with the priority label, UTC due date and completed=false."""
    out = map_task(
        {"taskName": "Call Sam", "dueDate": "2026-12-01 17:00", "priority": "P1"},
        CFG,
        create=True,
        reference=EVENT_TIME,
    )
    assert out.fields == {
        "title": "[Urgent] Call Sam",
        "dueDate": "2026-12-01T17:00:00Z",
        "completed": False,
    }


def test_task_priority_body_line_and_normal_unlabelled() -> None:
    """body_line mode puts "Priority: High" first in the body; normal gets no marker."""
    cfg = load_mapping_text("tasks:\n  priority:\n    mode: body_line\n")
    data = {"taskName": "T", "description": "details", "priority": "high", "dueDate": "2026-12-01"}
    out = map_task(data, cfg, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == "T"
    assert out.fields["body"] == "Priority: High\n\ndetails"
    data["priority"] = "normal"
    assert "Priority" not in map_task(data, cfg, create=True, reference=EVENT_TIME).fields["body"]


def test_task_missing_due_defaults_from_event_time() -> None:
    """Without dueDate a created task is due the next day at 09:00 in the configured zone."""
    cfg = load_mapping_text("tasks:\n  due:\n    timezone: America/New_York\n")
    out = map_task({"taskName": "T"}, cfg, create=True, reference=EVENT_TIME)
    assert out.fields["dueDate"] == "2026-11-28T14:00:00Z"


def test_task_update_sends_only_given_fields() -> None:
    """An update without dueDate or completed leaves them out rather than defaulting."""
    out = map_task({"taskName": "New"}, CFG, create=False, reference=EVENT_TIME)
    assert out.fields == {"title": "New"}


def test_task_without_name_is_rejected_on_create() -> None:
    """HighLevel requires a title: a created task without taskName names the field."""
    with pytest.raises(TransformError, match=r"^taskName: required"):
        map_task({"dueDate": "2026-12-01"}, CFG, create=True, reference=EVENT_TIME)


def test_task_bad_due_rejects_or_defaults() -> None:
    """An unreadable dueDate rejects by default, or falls back to the default with a warning."""
    with pytest.raises(TransformError, match=r"^dueDate:"):
        map_task({"taskName": "T", "dueDate": "someday"}, CFG, create=True, reference=EVENT_TIME)
    cfg = load_mapping_text("tasks:\n  due:\n    on_invalid: default\n")
    out = map_task({"taskName": "T", "dueDate": "someday"}, cfg, create=True, reference=EVENT_TIME)
    assert out.fields["dueDate"] == "2026-11-28T09:00:00Z"
    assert out.warnings


def test_task_assignee_mapping() -> None:
    """Mapped assignees become assignedTo; unmapped ones warn, or pass through if configured."""
    cfg = load_mapping_text("tasks:\n  assignees: {sam: u-1}\n")
    base = {"taskName": "T", "dueDate": "2026-12-01"}
    assert (
        map_task({**base, "assignee": "sam"}, cfg, create=True, reference=None).fields["assignedTo"]
        == "u-1"
    )
    out = map_task({**base, "assignee": "kim"}, cfg, create=True, reference=None)
    assert "assignedTo" not in out.fields
    assert out.warnings
    cfg = load_mapping_text("tasks:\n  unmapped_assignee: pass_through\n")
    out = map_task({**base, "assignee": "u-9"}, cfg, create=True, reference=None)
    assert out.fields["assignedTo"] == "u-9"


def test_note_title_and_body() -> None:
    """noteTitle -> title, noteContent -> body; optionally the title also heads the body."""
    data = {"noteTitle": "Call", "noteContent": "Talked about X"}
    assert map_note(data, CFG, create=True).fields == {"body": "Talked about X", "title": "Call"}
    cfg = load_mapping_text("notes:\n  title_in_body: true\n")
    assert map_note(data, cfg, create=True).fields["body"] == "Call\n\nTalked about X"


def test_note_without_content_uses_title_or_rejects() -> None:
    """HighLevel needs a body: the title stands in, and with neither the event is rejected."""
    assert map_note({"noteTitle": "Only"}, CFG, create=True).fields["body"] == "Only"
    with pytest.raises(TransformError, match=r"^noteContent: required"):
        map_note({"noteTitle": " "}, CFG, create=True)


def test_unknown_priority_word_becomes_the_label_with_a_warning() -> None:
    """An unknown word keeps the task: it is the label as written, and a warning names it."""
    data = {"taskName": "Call Sam", "dueDate": "2026-12-01", "priority": "  Someday "}
    out = map_task(data, CFG, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == "[Someday] Call Sam"
    assert out.warnings == [
        "priority: unknown priority 'Someday', used as the label as written"
        " (map it to a level with tasks.priority.aliases)"
    ]


def test_unknown_priority_word_in_body_line_mode() -> None:
    """Under body_line the unknown word is the body's priority line."""
    cfg = load_mapping_text("tasks:\n  priority:\n    mode: body_line\n")
    data = {"taskName": "T", "dueDate": "2026-12-01", "priority": "whenever"}
    out = map_task(data, cfg, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == "T"
    assert out.fields["body"] == "Priority: whenever"


@pytest.mark.parametrize(
    ("priority", "title"),
    [
        (" MEDIUM ", "Call Sam"),
        ("Standard", "Call Sam"),
        ("important", "[High] Call Sam"),
        ("asap", "[Urgent] Call Sam"),
        ("Critical", "[Urgent] Call Sam"),
        ("minor", "[Low] Call Sam"),
        (4, "[Low] Call Sam"),
    ],
)
def test_spoken_priorities_label_the_title(priority: object, title: str) -> None:
    """Everyday words map case-insensitively to the four levels' labels, without warnings."""
    data = {"taskName": "Call Sam", "dueDate": "2026-12-01", "priority": priority}
    out = map_task(data, CFG, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == title
    assert out.warnings == []


def test_priority_aliases_from_the_mapping_file() -> None:
    """tasks.priority.aliases maps the user's own words (any case) to a level."""
    cfg = load_mapping_text("tasks:\n  priority:\n    aliases: {Someday: low, HOT: urgent}\n")
    base = {"taskName": "Call Sam", "dueDate": "2026-12-01"}
    out = map_task({**base, "priority": "someday"}, cfg, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == "[Low] Call Sam"
    assert out.warnings == []
    out = map_task({**base, "priority": " Hot"}, cfg, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == "[Urgent] Call Sam"


@pytest.mark.parametrize("priority", [True, {"level": "high"}, float("nan")])
def test_priority_that_is_no_word_is_ignored_with_warning(priority: object) -> None:
    """A bool, an object or a non-finite number adds no label; the task still maps."""
    data = {"taskName": "Call Sam", "dueDate": "2026-12-01", "priority": priority}
    out = map_task(data, CFG, create=True, reference=EVENT_TIME)
    assert out.fields["title"] == "Call Sam"
    assert len(out.warnings) == 1
    assert out.warnings[0].startswith("priority: not a priority")


def test_short_local_phone_is_dropped_with_a_warning() -> None:
    """555-0104 is not a valid US number: it is not sent, and the warning names phone and it."""
    out = map_contact({"full_name": "Sam Reyes", "phone": "555-0104"}, CFG)
    assert "phone" not in out.fields
    assert out.warnings == [
        "phone: not a valid number for region US: '555-0104' (dropped: not sent to HighLevel)"
    ]


def test_possible_validation_keeps_the_old_behaviour() -> None:
    """contact.phone.validation: possible still sends a possible-length number."""
    cfg = load_mapping_text("contact:\n  phone:\n    validation: possible\n")
    assert map_contact({"phone": "555-0104"}, cfg).fields == {"phone": "+15550104"}


def test_invalid_email_is_dropped_with_a_warning() -> None:
    """a@b..co is not sent; the warning names email and the value; the rest still maps."""
    out = map_contact({"email": "a@b..co", "phone": "+1 212 555 0123"}, CFG)
    assert out.fields == {"phone": "+12125550123"}
    assert out.warnings == [
        "email: not an email address: 'a@b..co' (dropped: not sent to HighLevel)"
    ]

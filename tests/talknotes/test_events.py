"""The TalkNotes event contract: what parses, what is refused, and how refusals are named."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tnhl.talknotes import (
    EVENT_TYPES,
    ContactData,
    InvalidEvent,
    MalformedEvent,
    NoteData,
    TaskData,
    entity_key,
    parse_event,
)

STAMP = "2026-03-02T09:30:00Z"


def body(type_: str, data: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"type": type_, "timestamp": STAMP, "data": data, **extra}).encode()


def problems(raw: bytes) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    return {p["field"]: p["problem"] for p in info.value.problems}


VALID: dict[str, dict[str, Any]] = {
    "contact.created": {"id": "c1", "email": "sam@example.com", "full_name": "Sam Reyes"},
    "contact.updated": {"id": "c1", "phone": "+44 20 7946 0958"},
    "contact.deleted": {"id": "c1"},
    "task.created": {"id": "t1", "contactId": "c1", "taskName": "Call Sam back"},
    "task.updated": {"id": "t1", "contactId": "c1", "taskName": "Call Sam", "priority": "high"},
    "task.completed": {"id": "t1", "contactId": "c1"},
    "note.created": {"id": "n1", "contactId": "c1", "noteContent": "Wants a quote"},
    "note.updated": {"id": "n1", "contactId": "c1", "noteTitle": "Q", "noteContent": "Quote"},
    "note.deleted": {"id": "n1", "contactId": "c1"},
}


def test_the_nine_types_are_the_contract() -> None:
    """The contract has exactly the nine event types of the issue."""
    assert set(EVENT_TYPES) == set(VALID)
    assert len(EVENT_TYPES) == 9


@pytest.mark.parametrize("type_", sorted(VALID))
def test_every_type_parses_and_keys_to_its_contact(type_: str) -> None:
    """A minimal valid body of each type parses, with the contact id as its entity key."""
    event = parse_event(body(type_, VALID[type_]))
    assert event.type == type_
    assert event.timestamp == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert entity_key(event) == "c1"


def test_data_model_follows_the_type() -> None:
    """`data` is the model of its entity, with the contract's field names."""
    contact = parse_event(body("contact.created", VALID["contact.created"]))
    task = parse_event(body("task.created", VALID["task.created"]))
    note = parse_event(body("note.created", VALID["note.created"]))
    assert isinstance(contact.data, ContactData)
    assert contact.data.full_name == "Sam Reyes"
    assert isinstance(task.data, TaskData)
    assert task.data.taskName == "Call Sam back"
    assert isinstance(note.data, NoteData)
    assert note.data.noteContent == "Wants a quote"


def test_unknown_fields_are_kept_as_extras() -> None:
    """Unknown keys in data and the envelope are kept for the mapping, not rejected."""
    event = parse_event(body("task.created", {**VALID["task.created"], "room": "B2"}, app="x"))
    assert event.data.model_extra == {"room": "B2"}
    assert event.model_extra == {"app": "x"}


def test_absent_and_null_differ_on_updates() -> None:
    """An update tells "unchanged" (absent) from "clear" (null) through model_fields_set."""
    event = parse_event(body("contact.updated", {"id": "c1", "email": None}))
    assert event.data.model_fields_set == {"id", "email"}


def test_naive_timestamp_is_refused() -> None:
    """A timestamp without a zone is refused, naming the field."""
    raw = json.dumps({"type": "contact.deleted", "timestamp": "2026-03-02T09:30:00", "data": {}})
    found = problems(raw.encode())
    assert "zone" in found["timestamp"]
    assert found["data.id"] == "is required"


def test_numeric_timestamp_is_refused() -> None:
    """A Unix number is not an ISO 8601 timestamp."""
    raw = json.dumps({"type": "contact.deleted", "timestamp": 1767000000, "data": {"id": "c"}})
    assert "ISO 8601" in problems(raw.encode())["timestamp"]


def test_offset_timestamp_keeps_its_zone() -> None:
    """A timestamp with an offset parses to an aware datetime with that offset."""
    raw = json.dumps(
        {"type": "contact.deleted", "timestamp": "2026-03-02T11:30:00+02:00", "data": {"id": "c"}}
    )
    stamp = parse_event(raw.encode()).timestamp
    assert stamp.utcoffset() == timedelta(hours=2)
    assert stamp.astimezone(UTC) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("type_", "data", "field", "words"),
    [
        ("task.created", {"id": "t", "contactId": "c"}, "data.taskName", "is required"),
        ("task.created", {"id": "t", "taskName": "x"}, "data.contactId", "is required"),
        ("task.created", {"id": "t", "contactId": "c", "taskName": ""}, "data.taskName", "empty"),
        (
            "task.created",
            {"id": "t", "contactId": "c", "taskName": "x", "priority": 1},
            "data.priority",
            "highest in some apps and lowest in others",
        ),
        (
            "task.created",
            {"id": "t", "contactId": "c", "taskName": "x", "dueDate": "0001-01-01"},
            "data.dueDate",
            "1970",
        ),
        (
            "task.updated",
            {"id": "t", "contactId": "c", "taskName": "x", "completed": "maybe"},
            "data.completed",
            "true or false",
        ),
        ("note.created", {"id": "n", "contactId": "c"}, "data.noteContent", "is required"),
        ("note.deleted", {"id": "n"}, "data.contactId", "is required"),
        ("contact.created", {"id": "c"}, "data", "at least one of"),
        ("contact.created", {"id": "c", "email": "not-an-email"}, "data.email", "email"),
        ("contact.updated", {"id": "c", "phone": "12"}, "data.phone", "phone"),
        ("contact.updated", {"id": "c", "phone": "call me"}, "data.phone", "phone"),
        ("contact.updated", {"id": ""}, "data.id", "empty"),
        ("contact.updated", {"id": 42}, "data.id", "string"),
        ("contact.updated", {"id": "c", "custom_fields": [1]}, "data.custom_fields", "object"),
        (
            "contact.updated",
            {"id": "c", "updated_at": "2026-01-01T00:00:00"},
            "data.updated_at",
            "zone",
        ),
    ],
)
def test_invalid_fields_are_named(type_: str, data: dict[str, Any], field: str, words: str) -> None:
    """Each invalid field is reported by its dotted path with a readable problem."""
    found = problems(body(type_, data))
    assert field in found, found
    assert words in found[field]


def test_every_problem_is_reported_at_once() -> None:
    """All problems come back together, so the sender fixes them in one round."""
    found = problems(body("task.created", {"priority": 2}))
    assert {"data.id", "data.contactId", "data.taskName", "data.priority"} <= set(found)


def test_unknown_and_missing_type() -> None:
    """A missing or unknown `type` names the field and lists the allowed values."""
    assert problems(b'{"timestamp": "2026-01-01T00:00:00Z", "data": {}}') == {"type": "is required"}
    found = problems(b'{"type": "contact.merged", "timestamp": "2026-01-01T00:00:00Z"}')
    assert "task.completed" in found["type"]


def test_missing_data_is_named() -> None:
    """A body without `data` names `data`."""
    assert problems(b'{"type": "note.deleted", "timestamp": "2026-01-01T00:00:00Z"}') == {
        "data": "is required"
    }


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe{}", b'{"a": }'])
def test_malformed_json_is_a_distinct_error(raw: bytes) -> None:
    """Bytes that are not JSON raise MalformedEvent (the app answers 400, not 422)."""
    with pytest.raises(MalformedEvent) as info:
        parse_event(raw)
    assert info.value.problems[0]["field"] == "(body)"


@pytest.mark.parametrize("raw", [b"[]", b'"event"', b"42", b"null"])
def test_json_that_is_not_an_object_is_invalid(raw: bytes) -> None:
    """JSON that is not an object is invalid (422), not malformed."""
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    assert not isinstance(info.value, MalformedEvent)
    assert info.value.problems == [{"field": "(body)", "problem": "must be a JSON object"}]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("HIGH", "HIGH"),
        ("Medium", "Medium"),
        ("  asap ", "asap"),
        ("P1", "P1"),
        ("1", "1"),
        ("Kunde wartet", "Kunde wartet"),
        ("x" * 64, "x" * 64),
    ],
)
def test_priority_is_any_text_kept_as_sent(sent: str, kept: str) -> None:
    """Any non-blank priority text up to 64 characters is accepted and kept, only trimmed."""
    event = parse_event(body("task.created", {**VALID["task.created"], "priority": sent}))
    assert isinstance(event.data, TaskData)
    assert event.data.priority == kept


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        (1, "not a JSON number or boolean"),
        (0.5, "not a JSON number or boolean"),
        (True, "not a JSON number or boolean"),
        ("x" * 65, "at most 64 characters"),
        (["high"], "must be a string"),
    ],
)
def test_priority_refusals_are_named(sent: object, words: str) -> None:
    """Numbers, booleans or over-long priorities are refused on data.priority."""
    found = problems(body("task.created", {**VALID["task.created"], "priority": sent}))
    assert set(found) == {"data.priority"}
    assert words in found["data.priority"]


@pytest.mark.parametrize("sent", ["", "   "])
def test_blank_priority_is_no_priority(sent: str) -> None:
    """A blank priority (as form tools send for an empty field) is accepted as none."""
    event = parse_event(body("task.created", {**VALID["task.created"], "priority": sent}))
    assert isinstance(event.data, TaskData)
    assert event.data.priority is None


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("2026-12-04", date(2026, 12, 4)),
        ("2026-12-04T17:00:00Z", datetime(2026, 12, 4, 17, tzinfo=UTC)),
        ("2026-12-04T17:00:00+01:00", datetime(2026, 12, 4, 16, tzinfo=UTC)),
        ("2026-12-04T17:00", datetime(2026, 12, 4, 17)),
    ],
)
def test_due_dates_in_each_accepted_form(due: str, expected: date | datetime) -> None:
    """dueDate accepts an ISO date or date-time with or without zone, and `due()` parses it."""
    event = parse_event(body("task.created", {**VALID["task.created"], "dueDate": due}))
    assert isinstance(event.data, TaskData)
    assert event.data.dueDate == due
    assert event.data.due() == expected


def test_invalid_event_message_names_fields() -> None:
    """The exception text lists `field: problem` pairs."""
    with pytest.raises(InvalidEvent, match=r"data\.taskName: is required"):
        parse_event(body("task.created", {"id": "t", "contactId": "c"}))

"""What can never apply is refused by the contract: control characters in ids, blank
identifiers, and dates HighLevel does not take."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tnhl.talknotes import ContactData, InvalidEvent, TaskData, parse_event

STAMP = "2026-03-02T09:30:00Z"
TASK = {"id": "t1", "contactId": "c1", "taskName": "Call Sam back"}
NO_CONTROL = "must not contain control characters (NUL, tab, newline, ...)"


def body(type_: str, data: dict[str, Any], timestamp: str = STAMP) -> bytes:
    return json.dumps({"type": type_, "timestamp": timestamp, "data": data}).encode()


def problems(raw: bytes) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    return {p["field"]: p["problem"] for p in info.value.problems}


@pytest.mark.parametrize("char", ["\x00", "\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [
        ("contact.updated", {"id": "c{}1"}, "data.id"),
        ("contact.deleted", {"id": "c{}1"}, "data.id"),
        ("task.created", {**TASK, "id": "t{}1"}, "data.id"),
        ("task.created", {**TASK, "contactId": "c{}1"}, "data.contactId"),
        ("note.deleted", {"id": "n1", "contactId": "c{}1"}, "data.contactId"),
        (
            "contact.created",
            {"id": "c1", "email": "a@b.io", "external_id": "x{}1"},
            "data.external_id",
        ),
    ],
)
def test_control_characters_in_ids_are_refused(
    char: str, type_: str, data: dict[str, Any], field: str
) -> None:
    """An id holding NUL or any other Cc character inside it is refused, naming that id."""
    sent = {key: value.replace("{}", char) for key, value in data.items()}
    assert problems(body(type_, sent)) == {field: NO_CONTROL}


def test_whitespace_around_an_id_is_trimmed() -> None:
    """Whitespace around an id (tab and newline included) is trimmed, not refused."""
    event = parse_event(body("task.created", {**TASK, "id": " t1\n", "contactId": "\tc1 "}))
    assert isinstance(event.data, TaskData)
    assert (event.data.id, event.data.contactId) == ("t1", "c1")


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", "\u2003"])
@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [
        ("contact.updated", {"id": "{}"}, "data.id"),
        ("task.created", {**TASK, "id": "{}"}, "data.id"),
        ("task.completed", {"id": "t1", "contactId": "{}"}, "data.contactId"),
    ],
)
def test_blank_ids_are_refused(blank: str, type_: str, data: dict[str, Any], field: str) -> None:
    """An id that is empty or only whitespace is refused."""
    sent = {key: value.replace("{}", blank) for key, value in data.items()}
    assert problems(body(type_, sent)) == {field: "must not be empty"}


def test_ids_keep_their_maximum_length() -> None:
    """Ids stay limited to 128 characters."""
    assert parse_event(body("contact.deleted", {"id": "c" * 128})).data.id == "c" * 128
    found = problems(body("contact.deleted", {"id": "c" * 129}))
    assert set(found) == {"data.id"}
    assert "128" in found["data.id"]


@pytest.mark.parametrize(
    "data",
    [
        {"id": "c1", "full_name": "   "},
        {"id": "c1", "full_name": "\t \n"},
        {"id": "c1", "external_id": "   "},
        {"id": "c1", "full_name": " ", "external_id": " ", "email": None, "phone": None},
    ],
)
def test_new_contact_with_only_blank_identifiers_is_refused(data: dict[str, Any]) -> None:
    """contact.created whose identifiers are all blank is refused as unidentifiable."""
    found = problems(body("contact.created", data))
    assert found == {
        "data": "a new contact needs at least one of email, phone, full_name, external_id"
    }


def test_new_contact_with_one_real_identifier_beside_blank_ones_is_accepted() -> None:
    """A blank external_id does not spoil a contact identified by its name."""
    event = parse_event(
        body("contact.created", {"id": "c1", "full_name": "Sam", "external_id": " "})
    )
    assert isinstance(event.data, ContactData)
    assert (event.data.full_name, event.data.external_id) == ("Sam", "")


@pytest.mark.parametrize(
    "due", ["0001-01-01", "9999-12-31", "1969-12-31", "2201-01-01", "0001-01-01T00:00:00Z"]
)
def test_due_dates_outside_1970_to_2200_are_refused(due: str) -> None:
    """A dueDate in a year HighLevel does not take is refused on data.dueDate."""
    found = problems(body("task.created", {**TASK, "dueDate": due}))
    assert found == {"data.dueDate": "must be in the years 1970 to 2200"}


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("1970-01-01", date(1970, 1, 1)),
        ("2200-12-31", date(2200, 12, 31)),
        ("2200-12-31T23:59:59Z", datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_due_dates_at_the_edges_are_accepted(due: str, expected: date | datetime) -> None:
    """The first and last days of the 1970-2200 range are accepted."""
    event = parse_event(body("task.created", {**TASK, "dueDate": due}))
    assert isinstance(event.data, TaskData)
    assert event.data.due() == expected


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59+00:00"]
)
def test_timestamps_outside_1970_to_2200_are_refused(stamp: str) -> None:
    """An event timestamp in a year outside 1970-2200 is refused on `timestamp`."""
    found = problems(body("contact.deleted", {"id": "c1"}, timestamp=stamp))
    assert found == {"timestamp": "must be in the years 1970 to 2200"}


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("2200-12-31T23:59:59Z", datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_timestamps_at_the_edges_are_accepted(stamp: str, expected: datetime) -> None:
    """Timestamps on the first and last days of the range are accepted."""
    assert parse_event(body("contact.deleted", {"id": "c1"}, timestamp=stamp)).timestamp == expected

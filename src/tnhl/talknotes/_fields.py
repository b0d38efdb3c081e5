"""The TalkNotes contract's field types: one `Annotated` type per kind of value, with its rule.

`_events.py` builds the event models from these; each type carries its own check and its JSON
Schema description, so a rule is written once and the OpenAPI document says it too. The rules
(each documented in docs/talknotes-contract.md):

- Ids (`id`, `contactId`, `external_id`) are trimmed and must not contain control characters:
  no app's id holds a NUL or a newline, and the store (PostgreSQL text) cannot hold NUL, so
  such an event could never apply; refused here it fails once, visibly, instead of later.
- `priority` is any non-blank text up to 64 characters, kept as sent (trimmed): the mapping
  turns words such as `medium`, `asap` or `P1` into a level and keeps unknown words as labels,
  so no task is lost over a word. JSON numbers and booleans are refused: 1 means "highest" in
  some apps and "lowest" in others, so the sender must say which by sending text ("P1", "1").
- `dueDate` is an ISO 8601 date (`2026-12-04`) or date-time, with or without a zone (a value
  without a zone is wall-clock time in the location's time zone, applied by the mapping), or
  words ("Friday 3pm", "tomorrow", "in 2 weeks") the mapping reads from the event's
  `timestamp`, refusing at the door (422 naming `data.dueDate`) what means no date.
  `dueDate` and the event `timestamp` must fall in the years 1970 to 2200: HighLevel takes
  no other dates, and `0001-01-01` or `9999-12-31` are placeholders, not dates.
- Timestamps are ISO 8601 text with a zone: a JSON number would otherwise be read as a Unix
  time, and a sync engine that guesses zones reorders events.
"""

from __future__ import annotations

__all__ = [
    "Body",
    "DueDate",
    "Email",
    "EventStamp",
    "ExternalId",
    "Id",
    "Phone",
    "Priority",
    "Stamp",
    "Text",
    "blank_is_none",
]

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE_CHARS = re.compile(r"\+?[0-9 ().\-/]+")
# Unicode category Cc is exactly these two ranges; a regex is quicker than unicodedata per char.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NO_CONTROL_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
_FIRST_YEAR, _LAST_YEAR = 1970, 2200


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("is not an email address (expected name@domain.tld)")
    return value


def _check_phone(value: str) -> str:
    # Shape only; normalising to E.164 needs the location's country and is the mapping's job.
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.fullmatch(value) or not 7 <= digits <= 15:
        raise ValueError("is not a phone number (7 to 15 digits, optional +, spaces, dashes)")
    return value


def _check_no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, tab, newline, ...)")
    return value


def _check_year(value: date) -> None:
    if not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise ValueError(f"must be in the years {_FIRST_YEAR} to {_LAST_YEAR}")


def _check_due(value: str) -> str:
    parsed: date
    if not value:
        raise ValueError("is empty")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            # Words ("Friday 3pm", "in 2 weeks"): read by the mapping from the event's time,
            # which refuses at the door what means no date.
            return value
    _check_year(parsed)
    return value


def _check_stamp(value: datetime) -> datetime:
    _check_year(value)
    return value


def _require_text(value: Any) -> Any:
    # JSON numbers would otherwise be read as Unix times; the contract says ISO 8601 text.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with a zone")
    return value


def _refuse_number(value: Any) -> Any:
    # A bare 1 is "highest" in some apps and "lowest" in others: guessing would be wrong for
    # half the senders, so they say which in text ("P1", "1", "urgent").
    if isinstance(value, bool | int | float):
        raise ValueError(
            'must be text such as "high" or "P1", not a JSON number or boolean (1 means '
            "highest in some apps and lowest in others; send it as text)"
        )
    return value


_ID_RULE = "Surrounding whitespace is trimmed; control characters (NUL, tab, ...) are refused."
Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_check_no_control),
    Field(
        description="1 to 128 characters, not blank. " + _ID_RULE,
        json_schema_extra={"pattern": _NO_CONTROL_PATTERN},
    ),
]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=128),
    AfterValidator(_check_no_control),
    Field(
        description="Up to 128 characters (blank does not identify a new contact). " + _ID_RULE,
        json_schema_extra={"pattern": _NO_CONTROL_PATTERN},
    ),
]
Text = Annotated[str, StringConstraints(max_length=256)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_check_email),
    Field(description="An email address, name@domain.tld."),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=32),
    AfterValidator(_check_phone),
    Field(description="7 to 15 digits, in any national or E.164 format (+, spaces, dashes)."),
]
DueDate = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64),
    AfterValidator(_check_due),
    Field(
        description="ISO 8601 date or date-time in the years 1970 to 2200 (without a zone it "
        "is wall-clock time in the location's time zone), or words read from the event's "
        "timestamp (Friday 3pm, tomorrow, in 2 weeks).",
        examples=["2026-12-04", "2026-12-04T17:00:00Z", "2026-12-04T17:00", "Friday 3pm"],
    ),
]


def blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Priority = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    BeforeValidator(_refuse_number),
    Field(
        description="Any non-blank text up to 64 characters, kept as sent (trimmed). The "
        "mapping reads words such as low, medium, high, urgent, asap and P-levels (P1 is the "
        "most urgent) and keeps other words as labels. JSON numbers and booleans are refused: "
        '1 means highest in some apps and lowest in others, so send "P1" or "1" as text.',
        examples=["high", "Medium", "P1"],
    ),
]
Body = Annotated[str, StringConstraints(min_length=1, max_length=65_536)]
Stamp = Annotated[AwareDatetime, BeforeValidator(_require_text)]
EventStamp = Annotated[Stamp, AfterValidator(_check_stamp)]

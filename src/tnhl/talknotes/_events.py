"""The TalkNotes event contract: the pydantic models of `POST /webhooks/talknotes` bodies.

TalkNotes publishes no API, so tnhl defines this contract (docs/talknotes-contract.md).
Decisions, each documented there too:

- The body is `{type, timestamp, data}`; `timestamp` is ISO 8601 *with* a zone (naive is
  rejected: a sync engine that guesses zones reorders events).
- Field names follow the seed flows (`email`, `external_id`, `full_name`, `phone`; `contactId`,
  `taskName`, `dueDate`, `priority`; `noteTitle`, `noteContent`) plus `id`.
- Unknown keys are kept, not rejected: in `data` they land in the model's `model_extra`, so a
  field mapping can use them without a contract change; nothing unknown is ever an error.
- Updates are partial: a key that is absent means "unchanged", an explicit `null` means
  "clear" (`model_fields_set` tells the two apart). Creates must say something useful: a new
  contact needs an identifier that is not blank.
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
"""

from __future__ import annotations

__all__ = [
    "EVENT_TYPES",
    "ContactData",
    "ContactRef",
    "EventType",
    "NewContactData",
    "NoteData",
    "NoteRef",
    "Priority",
    "TalkNotesEvent",
    "TaskCompletedData",
    "TaskData",
    "entity_key",
    "event_adapter",
    "parse_event",
]

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from tnhl.talknotes._errors import invalid_event_from

EventType = Literal[
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
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

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


def _blank_is_none(value: Any) -> Any:
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


class _Data(BaseModel):
    # extra="allow": unknown keys are kept in model_extra for the mapping (see module doc).
    model_config = ConfigDict(extra="allow", frozen=True)


class ContactData(_Data):
    """A TalkNotes contact (person). Only `id` is required on updates."""

    id: Id
    email: Email | None = None
    external_id: ExternalId | None = None
    full_name: Text | None = None
    phone: Phone | None = None
    custom_fields: dict[str, Any] | None = None
    updated_at: Stamp | None = None


class NewContactData(ContactData):
    """The data of `contact.created`: a contact with at least one identifying field."""

    @model_validator(mode="after")
    def _identifiable(self) -> NewContactData:
        # Blank values identify no one: HighLevel would get a contact nobody can find.
        identifiers = (self.email, self.phone, self.full_name, self.external_id)
        if not any(value is not None and value.strip() for value in identifiers):
            raise ValueError(
                "a new contact needs at least one of email, phone, full_name, external_id"
            )
        return self


class ContactRef(_Data):
    """The data of `contact.deleted`: which contact."""

    id: Id


class _TaskFields(_Data):
    # camelCase field names are the contract's (the seed flows' names users already know).
    id: Id
    contactId: Id
    dueDate: DueDate | None = None
    # Blank means "no priority" (form tools such as Zapier send "" for an empty field): the
    # task is kept without a marker rather than refused.
    priority: Annotated[Priority | None, BeforeValidator(_blank_is_none)] = None
    description: Annotated[str, StringConstraints(max_length=65_536)] | None = None
    completed: bool | None = None
    assignee: Text | None = None
    updated_at: Stamp | None = None

    def due(self) -> date | datetime | None:
        """`dueDate` parsed: a `date`, or a `datetime` (naive when it carried no zone); None
        when absent or in words (the mapping reads those from the event's time)."""
        if self.dueDate is None:
            return None
        try:
            if "T" in self.dueDate or " " in self.dueDate:
                return datetime.fromisoformat(self.dueDate)
            return date.fromisoformat(self.dueDate)
        except ValueError:
            return None


class TaskData(_TaskFields):
    """A to-do for a contact (`task.created`, `task.updated`: the full task)."""

    taskName: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class TaskCompletedData(_TaskFields):
    """The data of `task.completed`: which task; the other task fields may come along."""

    taskName: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None


class NoteData(_Data):
    """A note on a contact (`note.created`, `note.updated`)."""

    id: Id
    contactId: Id
    noteTitle: Text | None = None
    noteContent: Body
    updated_at: Stamp | None = None


class NoteRef(_Data):
    """The data of `note.deleted`: which note, on which contact."""

    id: Id
    contactId: Id


EventData = ContactData | ContactRef | TaskData | TaskCompletedData | NoteData | NoteRef


class TalkNotesEvent(BaseModel):
    """One TalkNotes webhook body. Parse with `parse_event`, which returns the subclass
    matching `type` (so `data` has the right model)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: EventType
    timestamp: EventStamp = Field(
        description="When it happened; ISO 8601 with a zone, in the years 1970 to 2200."
    )
    data: EventData


class ContactCreated(TalkNotesEvent):
    type: Literal["contact.created"]
    data: NewContactData


class ContactUpdated(TalkNotesEvent):
    type: Literal["contact.updated"]
    data: ContactData


class ContactDeleted(TalkNotesEvent):
    type: Literal["contact.deleted"]
    data: ContactRef


class TaskCreated(TalkNotesEvent):
    type: Literal["task.created"]
    data: TaskData


class TaskUpdated(TalkNotesEvent):
    type: Literal["task.updated"]
    data: TaskData


class TaskCompleted(TalkNotesEvent):
    type: Literal["task.completed"]
    data: TaskCompletedData


class NoteCreated(TalkNotesEvent):
    type: Literal["note.created"]
    data: NoteData


class NoteUpdated(TalkNotesEvent):
    type: Literal["note.updated"]
    data: NoteData


class NoteDeleted(TalkNotesEvent):
    type: Literal["note.deleted"]
    data: NoteRef


AnyEvent = Annotated[
    ContactCreated
    | ContactUpdated
    | ContactDeleted
    | TaskCreated
    | TaskUpdated
    | TaskCompleted
    | NoteCreated
    | NoteUpdated
    | NoteDeleted,
    Field(discriminator="type"),
]
# One adapter, built once: validate_json parses and validates in a single pass (no json.loads
# then model_validate), which keeps the intake path lean.
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def event_adapter() -> TypeAdapter[AnyEvent]:
    """The pydantic adapter of the whole contract (for JSON schemas and OpenAPI)."""
    return _ADAPTER


def parse_event(body: bytes | str) -> TalkNotesEvent:
    """Parse and validate a webhook body.

    Raises `MalformedEvent` when it is not JSON, `InvalidEvent` (with `.problems`, each naming
    a dotted field such as `data.taskName`) when it is JSON but not a valid event.
    """
    try:
        return _ADAPTER.validate_json(body)
    except ValidationError as exc:
        raise invalid_event_from(exc, EVENT_TYPES) from None


def entity_key(event: TalkNotesEvent) -> str:
    """The TalkNotes contact id the event belongs to, so the engine can order per contact."""
    data = event.data
    if isinstance(data, ContactData | ContactRef):
        return data.id
    return data.contactId


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type's whole body (KeyError for an unknown type)."""
    for model in get_args(get_args(AnyEvent)[0]):
        if get_args(model.model_fields["type"].annotation) == (event_type,):
            schema: dict[str, Any] = model.model_json_schema()
            return schema
    raise KeyError(f"{event_type!r} is not a TalkNotes event type")

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
- Single values follow the rules of their field types (ids, `priority`, `dueDate`,
  timestamps), written and explained in `_fields.py`.
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
    "TalkNotesEvent",
    "TaskCompletedData",
    "TaskData",
    "entity_key",
    "event_adapter",
    "event_schema",
    "parse_event",
]

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
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
from tnhl.talknotes._fields import (
    Body,
    DueDate,
    Email,
    EventStamp,
    ExternalId,
    Id,
    Phone,
    Priority,
    Stamp,
    Text,
    blank_is_none,
)

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
    priority: Annotated[Priority | None, BeforeValidator(blank_is_none)] = None
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

"""Pydantic models of tasks, notes, appointments, the small request bodies and the envelopes.

Sources: the official spec ``apps/contacts.json`` (``TaskSchema``, ``CreateTaskParams``,
``UpdateTaskBody``, ``GetNoteSchema``, ``NotesDTO``, ``GetEventSchema``, ``TagsDTO``,
``FollowersDTO``, ``UpdateTagsDTO``, ``ContactsBusinessUpdate``, ``CreateWorkflowDto`` and the
``*SuccessfulResponseDto`` envelopes). The list meta of ``GET /contacts/`` is the unreferenced
``ContactsMetaSchema`` (highlevel-api.md §5).
"""

from __future__ import annotations

from pydantic import Field

from tnhl.highlevel._models import Contact, WireModel

__all__ = [
    "AppointmentEvent",
    "BulkBusinessInput",
    "BulkTagsInput",
    "ContactEnvelope",
    "ContactList",
    "ContactListMeta",
    "ContactUpdateResponse",
    "DuplicateLookupResponse",
    "EmptyBody",
    "EventList",
    "FollowersInput",
    "Note",
    "NoteCreate",
    "NoteEnvelope",
    "NoteList",
    "NoteUpdate",
    "Succeeded",
    "TagsInput",
    "Task",
    "TaskCompleted",
    "TaskCreate",
    "TaskEnvelope",
    "TaskList",
    "TaskUpdate",
    "UpsertResponse",
    "WorkflowInput",
]


class Task(WireModel):
    """A task of a contact (TaskSchema)."""

    id: str
    title: str | None = None
    body: str | None = None
    assigned_to: str | None = None
    due_date: str | None = None
    completed: bool | None = None
    contact_id: str | None = None


class TaskCreate(WireModel):
    """Body of ``create-task``: title, dueDate and completed are required by the spec."""

    title: str
    due_date: str
    completed: bool
    body: str | None = None
    assigned_to: str | None = None


class TaskUpdate(WireModel):
    """Body of ``update-task``: every field optional."""

    title: str | None = None
    body: str | None = None
    due_date: str | None = None
    completed: bool | None = None
    assigned_to: str | None = None


class TaskCompleted(WireModel):
    """Body of ``update-task-completed``."""

    completed: bool


class Note(WireModel):
    """A note of a contact (GetNoteSchema)."""

    id: str
    body: str | None = None
    user_id: str | None = None
    date_added: str | None = None
    contact_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteCreate(WireModel):
    """Body of ``create-note`` (NotesDTO; body required)."""

    body: str
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteUpdate(WireModel):
    """Body of ``update-note`` (UpdateNoteDTO; every field optional)."""

    body: str | None = None
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class AppointmentEvent(WireModel):
    """An appointment of a contact (GetEventSchema); times are ``YYYY-MM-DD HH:mm:ss``."""

    id: str
    calendar_id: str | None = None
    location_id: str | None = None
    contact_id: str | None = None
    group_id: str | None = None
    assigned_user_id: str | None = None
    status: str | None = None
    appointment_status: str | None = None
    title: str | None = None
    notes: str | None = None
    address: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    date_added: str | None = None
    date_updated: str | None = None
    users: list[str] | None = None
    assigned_resources: list[str] | None = None


class TagsInput(WireModel):
    """Body of ``add-tags`` and ``remove-tags``."""

    tags: list[str]


class FollowersInput(WireModel):
    """Body of ``add-followers-contact`` and ``remove-followers-contact`` (user ids)."""

    followers: list[str]


class WorkflowInput(WireModel):
    """Body of the workflow operations; ``eventStartTime`` like ``2021-06-23T03:30:00+01:00``."""

    event_start_time: str | None = None


class EmptyBody(WireModel):
    """Body with no declared properties (``add-contact-to-campaign``)."""


class BulkTagsInput(WireModel):
    """Body of ``create-association`` (bulk tag update); ``removeAllTags`` only with remove."""

    contacts: list[str]
    tags: list[str]
    location_id: str
    remove_all_tags: bool | None = None


class BulkBusinessInput(WireModel):
    """Body of ``add-remove-contact-from-business``; a None businessId removes the business."""

    location_id: str
    ids: list[str]
    business_id: str | None


class Succeeded(WireModel):
    """``{succeded}`` (sic): the answer of deletes and campaign/workflow operations."""

    succeded: bool | None = None


class ContactEnvelope(WireModel):
    """``{contact}``: get-contact and create-contact."""

    contact: Contact


class ContactUpdateResponse(WireModel):
    """``{succeded, contact}``: update-contact."""

    succeded: bool | None = None
    contact: Contact | None = None


class UpsertResponse(WireModel):
    """``{new, contact, traceId}``: upsert-contact."""

    new: bool | None = None
    contact: Contact
    trace_id: str | None = None


class DuplicateLookupResponse(WireModel):
    """``{contact | null}``: get-duplicate-contact (shape observed, not in the spec)."""

    contact: Contact | None = None


class ContactListMeta(WireModel):
    """Paging meta of ``GET /contacts/`` (ContactsMetaSchema)."""

    total: int | None = None
    next_page_url: str | None = None
    start_after_id: str | None = None
    start_after: int | None = None
    current_page: int | None = None
    next_page: int | None = None
    prev_page: int | None = None


class ContactList(WireModel):
    """Contacts of a listing or search: ``{contacts, meta | count | total}``."""

    contacts: list[Contact] = Field(default_factory=list)
    meta: ContactListMeta | None = None
    count: int | None = None
    total: int | None = None


class TaskEnvelope(WireModel):
    """``{task}``."""

    task: Task


class TaskList(WireModel):
    """``{tasks}``."""

    tasks: list[Task] = Field(default_factory=list)


class NoteEnvelope(WireModel):
    """``{note}``."""

    note: Note


class NoteList(WireModel):
    """``{notes}``."""

    notes: list[Note] = Field(default_factory=list)


class EventList(WireModel):
    """``{events}``: get-appointments-for-contact."""

    events: list[AppointmentEvent] = Field(default_factory=list)

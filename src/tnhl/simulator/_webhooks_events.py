"""The payload shapes of HighLevel's contact, note, task and appointment webhook events.

Field sets follow the official docs (`docs/webhook events/*.md` in GoHighLevel/highlevel-api-docs;
docs/highlevel-api.md §11): a flat JSON object with `type`, `locationId` and the entity's fields
at top level, except appointment events, which nest the entity under `appointment`. Signed
deliveries also carry `webhookId` and an ISO `timestamp`. A test checks these sets against the
official schemas, so drift shows up there.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EVENT_FIELDS", "NESTED_UNDER", "build_payload"]

_CONTACT = (
    "id",
    "address1",
    "city",
    "state",
    "companyName",
    "country",
    "source",
    "dateAdded",
    "dateOfBirth",
    "dnd",
    "email",
    "name",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "tags",
    "website",
    "attachments",
    "assignedTo",
    "customFields",
)
_NOTE = ("id", "body", "contactId", "dateAdded")
_TASK = ("id", "assignedTo", "body", "contactId", "title", "dateAdded", "dueDate")
_APPOINTMENT = (
    "id",
    "address",
    "title",
    "calendarId",
    "contactId",
    "groupId",
    "appointmentStatus",
    "assignedUserId",
    "users",
    "notes",
    "source",
    "startTime",
    "endTime",
    "dateAdded",
    "dateUpdated",
)

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "ContactCreate": _CONTACT,
    "ContactUpdate": _CONTACT,
    "ContactDelete": _CONTACT,
    "ContactTagUpdate": _CONTACT,
    "ContactDndUpdate": (*_CONTACT, "dndSettings"),
    "NoteCreate": _NOTE,
    "NoteUpdate": _NOTE,
    "NoteDelete": _NOTE,
    "TaskCreate": _TASK,
    "TaskComplete": _TASK,
    "TaskDelete": _TASK,
    "AppointmentCreate": _APPOINTMENT,
    "AppointmentUpdate": _APPOINTMENT,
    "AppointmentDelete": _APPOINTMENT,
}
NESTED_UNDER: dict[str, str] = {
    "AppointmentCreate": "appointment",
    "AppointmentUpdate": "appointment",
    "AppointmentDelete": "appointment",
}


def build_payload(
    event_type: str, location_id: str, data: dict[str, Any], *, webhook_id: str, timestamp: str
) -> dict[str, Any]:
    """The event's envelope around the documented subset of `data` (the entity as stored).

    Fields the event does not document are left out, so a caller may pass its whole stored
    entity; documented fields the entity lacks are left out rather than invented.
    """
    fields = EVENT_FIELDS.get(event_type)
    if fields is None:
        known = ", ".join(sorted(EVENT_FIELDS))
        raise ValueError(f"event_type: {event_type!r} is not one of {known}")
    if not location_id:
        raise ValueError("location_id: must not be empty")
    entity = {name: data[name] for name in fields if name in data}
    payload: dict[str, Any] = {"type": event_type, "locationId": location_id}
    nest = NESTED_UNDER.get(event_type)
    if nest is None:
        payload.update(entity)
    else:
        payload[nest] = entity
    payload["webhookId"] = webhook_id
    payload["timestamp"] = timestamp
    return payload

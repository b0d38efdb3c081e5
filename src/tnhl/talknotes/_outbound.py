"""HighLevel's side, told to TalkNotes (issue 9): the outbound event body and its delivery.

`outbound_event` turns one HighLevel webhook payload (docs/highlevel-api.md section 11: a flat
object, the entity's fields at top level; appointments nest theirs under `appointment`) into
the body TalkNotes receives, shaped like the inbound contract: `{type, timestamp, data}` with
the same type names and field names (`full_name`, `taskName`, `noteContent`, ...). `data`
carries the TalkNotes `id` when tnhl knows it (else null) and `highlevel_id` always; tasks,
notes and appointments carry both `contactId` (TalkNotes) and `highlevel_contact_id`.

`WebhookOut` delivers a body as a Standard Webhooks POST signed with the connection's outbound
secret. One event keeps one `webhook-id` across retries (the receiver dedupes on it). A
receiver may answer 2xx with `{"id": "<its id>"}` to link a record born in HighLevel.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from tnhl.talknotes._errors import TalkNotesError
from tnhl.talknotes._signing import decode_secret, sign

__all__ = [
    "OUTBOUND_TYPES",
    "Delivered",
    "DeliveryFailed",
    "TalkNotesOut",
    "WebhookOut",
    "changed_at",
    "content_digest",
    "epoch_of",
    "iso_z",
    "outbound_event",
]

# HighLevel webhook type -> the TalkNotes type it becomes. Types not here are not propagated.
OUTBOUND_TYPES: Mapping[str, str] = {
    "ContactCreate": "contact.created",
    "ContactUpdate": "contact.updated",
    "ContactTagUpdate": "contact.updated",
    "ContactDndUpdate": "contact.updated",
    "ContactDelete": "contact.deleted",
    "TaskCreate": "task.created",
    "TaskComplete": "task.completed",
    # No HighLevel webhook has this type: reconciliation reports a polled open task as one.
    "TaskUpdate": "task.updated",
    "TaskDelete": "task.deleted",
    "NoteCreate": "note.created",
    "NoteUpdate": "note.updated",
    "NoteDelete": "note.deleted",
    "AppointmentCreate": "appointment.created",
    "AppointmentUpdate": "appointment.updated",
    "AppointmentDelete": "appointment.deleted",
}


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _full_name(p: Mapping[str, Any]) -> str | None:
    name = _text(p, "name")
    if name is not None:
        return name
    parts = [x for x in (_text(p, "firstName"), _text(p, "lastName")) if x]
    return " ".join(parts) or None


def _contact(p: Mapping[str, Any]) -> dict[str, Any]:
    tags = p.get("tags")
    fields = p.get("customFields")
    custom = {
        str(f["id"]): f.get("value")
        for f in fields or ()
        if isinstance(f, Mapping) and isinstance(f.get("id"), str)
    }
    return {
        "full_name": _full_name(p),
        "email": _text(p, "email"),
        "phone": _text(p, "phone"),
        "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        # Keyed by HighLevel's custom field id: the connection's mapping names them.
        "custom_fields": custom,
    }


def _task(p: Mapping[str, Any], completed: bool) -> dict[str, Any]:
    return {
        "taskName": _text(p, "title"),
        "description": _text(p, "body"),
        "dueDate": _text(p, "dueDate"),
        "assignee": _text(p, "assignedTo"),
        "completed": completed,
    }


def _appointment(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "title": _text(p, "title"),
        "startTime": _text(p, "startTime"),
        "endTime": _text(p, "endTime"),
        "status": _text(p, "appointmentStatus"),
        "address": _text(p, "address"),
        "notes": _text(p, "notes"),
    }


def epoch_of(value: Any) -> float | None:
    """An ISO 8601 time (`Z` or an offset; none: UTC, as HighLevel's contact appointments give
    "2021-07-16 11:00:00") as epoch seconds; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def iso_z(epoch: float) -> str:
    """Epoch seconds as the ISO 8601 UTC time the outbound events carry (milliseconds, Z)."""
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _when(p: Mapping[str, Any], now: float) -> str:
    """The change's own time when the payload has one, else the webhook's, else now."""
    for key in ("dateUpdated", "timestamp", "dateAdded"):
        at = epoch_of(_text(p, key))
        if at is not None:
            return iso_z(at)
    return iso_z(now)


def outbound_event(
    payload: Mapping[str, Any],
    *,
    talknotes_id: str | None,
    talknotes_contact_id: str | None,
    now: float,
) -> dict[str, Any] | None:
    """The TalkNotes body for one HighLevel webhook payload; None for a type not propagated.

    `talknotes_id` / `talknotes_contact_id` are the TalkNotes ids tnhl's id map holds for the
    entity and its contact (None when the record was born in HighLevel and not linked yet).
    """
    hl_type = payload.get("type")
    out_type = OUTBOUND_TYPES.get(hl_type) if isinstance(hl_type, str) else None
    if out_type is None:
        return None
    kind = out_type.split(".", 1)[0]
    entity = payload.get("appointment") if kind == "appointment" else payload
    if not isinstance(entity, Mapping):
        entity = {}
    data: dict[str, Any] = {"id": talknotes_id, "highlevel_id": _text(entity, "id")}
    if kind == "contact":
        data.update(_contact(entity) if not out_type.endswith("deleted") else {})
    else:
        data["contactId"] = talknotes_contact_id
        data["highlevel_contact_id"] = _text(entity, "contactId")
        if kind == "task" and not out_type.endswith("deleted"):
            data.update(_task(entity, completed=out_type == "task.completed"))
        elif kind == "note" and not out_type.endswith("deleted"):
            data["noteContent"] = _text(entity, "body")
        elif kind == "appointment" and not out_type.endswith("deleted"):
            data.update(_appointment(entity))
    return {"type": out_type, "timestamp": _when({**payload, **entity}, now), "data": data}


def content_digest(body: Mapping[str, Any]) -> str:
    """What an outbound event says about its entity, as a digest: its `data` without the
    TalkNotes ids (a link added later is not news) and without its type's wording (a task
    told as created and then polled as updated, with the same fields, is the same content)."""
    data = {k: v for k, v in body["data"].items() if k not in ("id", "contactId")}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def changed_at(body: Mapping[str, Any]) -> float:
    """The time of the change an outbound event tells (its `timestamp`), as epoch seconds."""
    at = epoch_of(body["timestamp"])
    if at is None:
        raise ValueError(f"timestamp: not an ISO 8601 time: {body['timestamp']!r}")
    return at


@dataclass(frozen=True)
class Delivered:
    """A 2xx answer; `linked_id` is the id the receiver gave the record, if it said one."""

    status: int
    linked_id: str | None


class DeliveryFailed(TalkNotesError):
    """The receiver did not take the event: `retry` says whether trying later may help."""

    def __init__(self, status: int | None, problem: str, *, retry: bool) -> None:
        self.status = status
        self.problem = problem
        self.retry = retry
        super().__init__(f"TalkNotes delivery failed ({status or 'no answer'}): {problem}")


class TalkNotesOut(Protocol):
    """Where HighLevel's changes go: one event body, under its stable delivery id."""

    def deliver(self, message_id: str, body: Mapping[str, Any]) -> Delivered: ...

    def close(self) -> None: ...


class WebhookOut:
    """Signed Standard Webhooks POSTs to one connection's `talknotes_outbound_url`."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        decode_secret(secret)  # refuse an unusable secret now, not at the first delivery
        self._url = url
        self._secret = secret
        self._client = client or httpx.Client(timeout=timeout)
        self._clock = clock

    def deliver(self, message_id: str, body: Mapping[str, Any]) -> Delivered:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            **sign(self._secret, message_id, int(self._clock()), raw),
        }
        try:
            response = self._client.post(self._url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(None, type(exc).__name__, retry=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return Delivered(status, _linked_id(response))
        # A refusal of this body will not change on a retry; a busy or broken receiver may.
        retry = status in (408, 409, 425, 429) or status >= 500
        raise DeliveryFailed(status, response.text[:200] or response.reason_phrase, retry=retry)

    def close(self) -> None:
        self._client.close()


def _linked_id(response: httpx.Response) -> str | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    linked = answer.get("id") if isinstance(answer, dict) else None
    return linked.strip() if isinstance(linked, str) and linked.strip() else None

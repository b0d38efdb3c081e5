"""Reading back a create whose outcome is unknown, before anything is re-sent.

A create that was sent but never confirmed (a crash, a timeout, a 5xx after sending) may exist in
HighLevel. HighLevel has no idempotency keys (docs/highlevel-api.md section 4), so the executor
looks for what it would have created and adopts it; only a read-back that proves it absent lets
the create go out again. Candidates already mapped to another TalkNotes record are ignored, so two
genuinely identical tasks are never merged into one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from tnhl.sync._plan_types import PlannedCall as Call

__all__ = ["CallFn", "can_read_back", "read_back"]


class CallFn(Protocol):
    """`HighLevelClient.call`'s shape."""

    def __call__(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any: ...


# highlevel_id -> True when it already belongs to another TalkNotes record of this kind.
Taken = Callable[[str, str], bool]


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def _first_free(candidates: Iterable[Mapping[str, Any]], kind: str, taken: Taken) -> str | None:
    for item in candidates:
        hl_id = item.get("id")
        if isinstance(hl_id, str) and hl_id and not taken(kind, hl_id):
            return hl_id
    return None


def _task(call: Call, client: CallFn, taken: Taken) -> str | None:
    body = call.body or {}
    contact_id = call.params.get("contactId")
    listing = client("get-all-tasks", params={"contactId": contact_id})
    tasks = listing.get("tasks", []) if isinstance(listing, dict) else []
    due = _instant(body.get("dueDate"))
    same = [
        t
        for t in tasks
        if isinstance(t, dict)
        and t.get("title") == body.get("title")
        and _instant(t.get("dueDate")) == due
        and (t.get("body") or None) == (body.get("body") or None)
    ]
    return _first_free(same, "task", taken)


def _note(call: Call, client: CallFn, taken: Taken) -> str | None:
    body = call.body or {}
    contact_id = call.params.get("contactId")
    listing = client("get-all-notes", params={"contactId": contact_id})
    notes = listing.get("notes", []) if isinstance(listing, dict) else []
    same = [
        n
        for n in notes
        if isinstance(n, dict)
        and n.get("body") == body.get("body")
        and (n.get("title") or None) == (body.get("title") or None)
    ]
    return _first_free(same, "note", taken)


def _contact(call: Call, client: CallFn, taken: Taken) -> str | None:
    body = call.body or {}
    location = body.get("locationId")
    email, phone = body.get("email"), body.get("phone")
    if email or phone:
        params: dict[str, object] = {"locationId": location}
        if email:
            params["email"] = email
        else:
            params["number"] = phone
        found = client("get-duplicate-contact", params=params)
        contact = found.get("contact") if isinstance(found, dict) else None
        return _first_free([contact] if isinstance(contact, dict) else [], "contact", taken)
    # Neither email nor phone: search by the exact name fields we sent.
    filters = [
        {"field": name, "operator": "eq", "value": body[name]}
        for name in ("firstName", "lastName")
        if body.get(name)
    ]
    if not filters:
        return None
    found = client(
        "search-contacts-advanced",
        json={"locationId": location, "pageLimit": 100, "filters": filters},
    )
    contacts = found.get("contacts", []) if isinstance(found, dict) else []
    return _first_free([c for c in contacts if isinstance(c, dict)], "contact", taken)


_READERS: dict[str, Callable[[Call, CallFn, Taken], str | None]] = {
    "create-task": _task,
    "create-note": _note,
    "create-contact": _contact,
}


def can_read_back(operation_id: str) -> bool:
    """Whether a lost create of this operation is found by reading back (else it is idempotent:
    upsert-contact matches by email/phone, updates and deletes repeat harmlessly)."""
    return operation_id in _READERS


def read_back(call: Call, client: CallFn, taken: Taken) -> str | None:
    """The HighLevel id of what `call` created earlier, or None when it is proven absent."""
    reader = _READERS.get(call.operation_id)
    if reader is None:
        raise ValueError(f"no read-back for operation {call.operation_id!r}")
    return reader(call, client, taken)

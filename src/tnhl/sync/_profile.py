"""A contact's profile (issue 9, the brief's first use case): one `profile.updated` event with
the contact's fields, tags and custom fields, its open and completed tasks, its notes and its
upcoming appointments, as HighLevel holds them.

Built from the store, not by re-reading HighLevel: every HighLevel change tnhl hears of (a
webhook, a reconciliation poll, the echo of its own write) leaves the entity's content in
`told`, and a change of content marks its contact's profile changed. The pump sends changed
profiles, at most one per contact per `profile_interval`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tnhl.store import SqlStore, Told
from tnhl.talknotes import epoch_of, iso_z

__all__ = ["build_profile", "profile_digest", "stored_profile"]

Row = tuple[Told, str | None]  # an entity as HighLevel holds it, and its TalkNotes id


def _start(appointment: Mapping[str, Any]) -> float | None:
    # HighLevel's contact appointments give "2021-07-16 11:00:00" (no zone): read as UTC.
    return epoch_of(appointment.get("startTime"))


def _item(row: Row) -> dict[str, Any]:
    told, link = row
    data = dict(told.data or {})
    data.pop("contactId", None)
    data.pop("highlevel_contact_id", None)
    return {**data, "id": link, "highlevel_id": told.highlevel_id}


def build_profile(contact_id: str, rows: Sequence[Row], now: float) -> dict[str, Any] | None:
    """The `profile.updated` body of HighLevel contact `contact_id` from its `rows`; None when
    the contact is unknown or deleted (there is no profile to show)."""
    own = next(
        (r for r in rows if r[0].highlevel_id == contact_id and r[0].kind == "contact"), None
    )
    if own is None or own[0].deleted or own[0].data is None:
        return None
    live = [r for r in rows if r is not own and not r[0].deleted and r[0].data is not None]
    tasks = sorted((_item(r) for r in live if r[0].kind == "task"), key=_by_due)
    notes = [_item(r) for r in live if r[0].kind == "note"]
    upcoming = [r for r in live if r[0].kind == "appointment" and _upcoming(r[0], now)]
    upcoming.sort(key=lambda r: _start(r[0].data or {}) or now)
    contact = {k: v for k, v in own[0].data.items() if k not in ("id", "highlevel_id")}
    data = {
        "id": own[1],
        "highlevel_id": contact_id,
        **contact,
        "tasks": {
            "open": [t for t in tasks if not t.get("completed")],
            "completed": [t for t in tasks if t.get("completed")],
        },
        "notes": notes,
        "appointments": [_item(r) for r in upcoming],
    }
    return {"type": "profile.updated", "timestamp": iso_z(now), "data": data}


def _upcoming(row: Told, now: float) -> bool:
    start = _start(row.data or {})
    return start is None or start >= now  # one without a readable start is shown


def _by_due(task: Mapping[str, Any]) -> tuple[str, str]:
    return (str(task.get("dueDate") or ""), str(task["highlevel_id"]))


def profile_digest(body: Mapping[str, Any]) -> str:
    """The profile's content as a digest (its `data`; the time it was built is not content)."""
    canonical = json.dumps(body["data"], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_profile(
    store: SqlStore, location_id: str, contact_id: str, now: float
) -> dict[str, Any] | None:
    """HighLevel contact `contact_id`'s profile as the store holds it (None: no profile)."""
    return build_profile(contact_id, store.profile_rows(location_id, contact_id), now)

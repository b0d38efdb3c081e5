"""An inbox row -> the Delta it contributes to its record (the store's fold callback).

Parse once: the body intake validated is parsed into the contract's typed models here, and only
the keys the sender set are taken (`exclude_unset`), so an absent key leaves a field alone and
an explicit null clears it. Custom fields fold key by key (`custom_fields.<name>`), so two
events that each set one custom field both keep theirs.
"""

from __future__ import annotations

from typing import Any

from tnhl.store import Delta, EventVerdict, InboxRow
from tnhl.sync._plan_types import CUSTOM
from tnhl.talknotes import InvalidEvent, MalformedEvent, parse_event

__all__ = ["CUSTOM", "event_delta"]

_NOT_FIELDS = frozenset({"id", "contactId", "updated_at"})
_DELETES = frozenset({"contact.deleted", "note.deleted"})


def event_delta(row: InboxRow) -> Delta | EventVerdict:
    """The record change `row` stands for, or a verdict settling it without a record."""
    if row.source != "talknotes":
        # HighLevel webhooks are stored for the HighLevel -> TalkNotes direction (a later issue).
        return EventVerdict(row.id, "skipped", "HighLevel -> TalkNotes is not synced yet")
    try:
        event = parse_event(row.body)
    except (InvalidEvent, MalformedEvent) as exc:
        # Intake validated it; only an event stored by an older contract can land here.
        return EventVerdict(row.id, "dead", f"invalid event: {exc.summary()}")
    kind, _, action = event.type.partition(".")
    data = event.data
    raw: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    fields: dict[str, Any] = {}
    if event.type not in _DELETES:
        for name, value in raw.items():
            if name in _NOT_FIELDS:
                continue
            if name == "custom_fields" and isinstance(value, dict):
                fields.update({CUSTOM + k: v for k, v in value.items()})
            else:
                fields[name] = value
        if event.type == "task.completed" and "completed" not in fields:
            fields["completed"] = True
    own = str(raw["id"])
    contact = own if kind == "contact" else str(raw["contactId"])
    return Delta(
        inbox_id=row.id,
        kind=kind,  # type: ignore[arg-type]  # the contract's types are contact|task|note.*
        talknotes_id=own,
        contact_id=contact,
        at=event.timestamp.timestamp(),
        tiebreak=row.event_id,
        fields=fields,
        delete=action == "deleted",
    )

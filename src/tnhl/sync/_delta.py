"""An inbox row -> the Delta it contributes to its record (the store's fold callback).

Parse once: the body intake validated is parsed into the contract's typed models here, and only
the keys the sender set are taken (`exclude_unset`), so an absent key leaves a field alone and
an explicit null clears it. Custom fields fold key by key (`custom_fields.<name>`), so two
events that each set one custom field both keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tnhl.mapping import MappingConfig, check_record
from tnhl.store import Delta, EventVerdict, InboxRow
from tnhl.sync._plan_types import CUSTOM
from tnhl.talknotes import (
    OUTBOUND_TYPES,
    InvalidEvent,
    MalformedEvent,
    Problem,
    TalkNotesEvent,
    parse_event,
)
from tnhl.webhooks import UNTYPED

__all__ = ["door_check", "event_delta"]

_NOT_FIELDS = frozenset({"id", "contactId", "updated_at"})
_DELETES = frozenset({"contact.deleted", "note.deleted"})


def event_delta(row: InboxRow) -> Delta | EventVerdict:
    """The record change `row` stands for, or a verdict settling it without a record."""
    if row.source == "recipe":
        return EventVerdict(row.id, "pending", "recipe actions to run")  # the recipe engine's
    if row.source != "talknotes":
        # The outbound fold takes what HighLevel -> TalkNotes sends; the rest lands here.
        return EventVerdict(row.id, "skipped", _not_told(row.event_type))
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


def _not_told(event_type: str) -> str:
    """Why a HighLevel event is not sent on to TalkNotes."""
    if event_type == UNTYPED:
        return (
            "HighLevel sent no type (as for invoice, product and association events); "
            "only contact, task, note and appointment events go to TalkNotes"
        )
    if event_type in OUTBOUND_TYPES:
        return "no connection with a talknotes_outbound_url serves this location"
    return f"{event_type} events are not sent to TalkNotes"


def door_check(mapping: MappingConfig) -> Callable[[TalkNotesEvent], list[Problem]]:
    """Intake's check: what the user's mapping would refuse in an event's own content, so the
    sender hears 422 naming the field instead of a 202 followed by a dead letter."""

    def check(event: TalkNotesEvent) -> list[Problem]:
        kind, _, action = event.type.partition(".")
        if action == "deleted":
            return []
        data = event.data.model_dump(mode="json", exclude_unset=True)
        problems = check_record(kind, data, mapping, create=action == "created", at=event.timestamp)
        return [
            {
                "field": "data" if p["field"] == "data" else f"data.{p['field']}",
                "problem": p["problem"],
            }
            for p in problems
        ]

    return check

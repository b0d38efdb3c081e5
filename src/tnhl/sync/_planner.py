"""The pure planner: a TalkNotes event + the id map + the mapping -> HighLevel operations.

No I/O and no clock: the same inputs always give the same plan, so every rule is testable
without a network or a store. The executor runs the plans; this module only decides.

Contacts: `external_id` (TalkNotes' record of the HighLevel id) wins, then the id map, and only
then a create (upsert-contact, or create-contact that adopts HighLevel's duplicate). Tasks and
notes wait for their contact. Consecutive updates of one contact coalesce into one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from tnhl.mapping import (
    Mapped,
    MappingConfig,
    TransformError,
    map_contact,
    map_note,
    map_task,
    normalise_completed,
)

from ._plan_types import (
    BatchStep,
    Calls,
    E,
    IdLookup,
    IdRecord,
    Plan,
    PlannedCall,
    Reject,
    Skip,
    Wait,
)

__all__ = ["merge_payloads", "plan_batch", "plan_event", "update_body"]

# UpdateContactDto has no locationId, companyName or gender, and HighLevel rejects unknown
# properties with 422 (highlevel-api.md 3.4). `tags` on update overwrites every tag, so tnhl
# only sends tags when it creates a contact.
_NOT_ON_UPDATE = frozenset(
    {"locationId", "companyName", "gender", "tags", "createNewIfDuplicateAllowed"}
)
_CONTACT_WRITES = frozenset({"contact.created", "contact.updated"})
_WRITES = _CONTACT_WRITES | {"task.created", "task.updated", "note.created", "note.updated"}


def update_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` reduced to what update-contact accepts (also used after adopting a duplicate)."""
    return {k: v for k, v in body.items() if k not in _NOT_ON_UPDATE}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _when(value: str | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            return None
    return None


def _plan_contact(
    data: Mapping[str, Any], location_id: str, ids: IdLookup, cfg: MappingConfig
) -> Plan:
    tn_id = _text(data.get("id"))
    if tn_id is None:
        return Reject("contact.id: required")
    try:
        mapped = map_contact(data, cfg)
    except TransformError as exc:
        return Reject(str(exc))
    warnings = list(mapped.warnings)
    external = _text(data.get("external_id"))
    known = ids.highlevel_id("contact", tn_id)
    target = external or known
    if target is not None:
        body = update_body(mapped.fields)
        dropped = sorted(set(mapped.fields) - set(body))
        if dropped:
            warnings.append(f"not sent on update (HighLevel's update-contact refuses): {dropped}")
        record = IdRecord("contact", tn_id, "contact.id") if target != known else None
        if not body and record is None:
            return Skip("nothing to update")
        call = PlannedCall("update-contact", {"contactId": target}, body, records=record)
        return Calls([call], warnings)
    fields = {k: v for k, v in mapped.fields.items() if v is not None}
    if not fields:
        return Reject("contact has no name, email or phone to create it from")
    c = cfg.contact
    body = {"locationId": location_id, **fields}
    if c.tags:
        body["tags"] = list(c.tags)
    if c.source is not None:
        body["source"] = c.source
    record = IdRecord("contact", tn_id, "contact.id")
    if c.create_mode == "upsert" and "email" in fields:
        # No key: an upsert lost in flight is simply sent again and HighLevel matches it.
        return Calls([PlannedCall("upsert-contact", {}, body, records=record)], warnings)
    # Upsert with a phone but no email has been reported to answer 422 (highlevel-api.md 4,
    # n8n issue #11353), so a phone-only contact is created and adopts HighLevel's duplicate;
    # without email or phone there is nothing to match a duplicate on: a plain create.
    key = f"{location_id}:create-contact:{tn_id}"
    adopt = c.create_mode == "create" or "phone" in fields
    call = PlannedCall(
        "create-contact",
        {},
        body,
        key=key,
        records=record,
        on_duplicate="adopt" if adopt else None,
    )
    return Calls([call], warnings)


def _plan_contact_delete(data: Mapping[str, Any], ids: IdLookup) -> Plan:
    tn_id = _text(data.get("id"))
    if tn_id is None:
        return Reject("contact.id: required")
    target = _text(data.get("external_id")) or ids.highlevel_id("contact", tn_id)
    if target is None:
        return Skip(f"contact {tn_id} was never synced to HighLevel")
    return Calls([PlannedCall("delete-contact", {"contactId": target})])


def _plan_task(
    event_type: str,
    data: Mapping[str, Any],
    location_id: str,
    ids: IdLookup,
    cfg: MappingConfig,
    reference: datetime | None,
) -> Plan:
    tn_id, tn_contact = _text(data.get("id")), _text(data.get("contactId"))
    if tn_id is None:
        return Reject("task.id: required")
    if tn_contact is None:
        return Reject("task.contactId: required")
    contact = ids.highlevel_id("contact", tn_contact)
    if contact is None:
        return Wait(f"contact {tn_contact} is not in HighLevel yet")
    task = ids.highlevel_id("task", tn_id)
    if event_type == "task.completed":
        completed = data.get("completed")
        try:
            done = True if completed is None else normalise_completed(completed)
        except TransformError as exc:
            return Reject(str(exc))
        if task is not None:
            params = {"contactId": contact, "taskId": task}
            return Calls([PlannedCall("update-task-completed", params, {"completed": done})])
        if _text(data.get("taskName")) is None:
            return Skip(f"task {tn_id} was never synced and the event has no taskName")
        data = {**data, "completed": done}
    try:
        mapped = map_task(data, cfg, create=task is None, reference=reference)
    except TransformError as exc:
        return Reject(str(exc))
    return _write_child("task", "taskId", location_id, tn_id, contact, task, mapped)


def _plan_note(
    event_type: str, data: Mapping[str, Any], location_id: str, ids: IdLookup, cfg: MappingConfig
) -> Plan:
    tn_id, tn_contact = _text(data.get("id")), _text(data.get("contactId"))
    if tn_id is None:
        return Reject("note.id: required")
    if tn_contact is None:
        return Reject("note.contactId: required")
    note = ids.highlevel_id("note", tn_id)
    contact = ids.highlevel_id("contact", tn_contact)
    if event_type == "note.deleted":
        if note is None or contact is None:
            return Skip(f"note {tn_id} was never synced to HighLevel")
        return Calls([PlannedCall("delete-note", {"contactId": contact, "id": note})])
    if contact is None:
        return Wait(f"contact {tn_contact} is not in HighLevel yet")
    try:
        mapped = map_note(data, cfg, create=note is None)
    except TransformError as exc:
        return Reject(str(exc))
    return _write_child("note", "id", location_id, tn_id, contact, note, mapped)


def _write_child(
    kind: Literal["task", "note"],
    id_param: str,
    location_id: str,
    tn_id: str,
    contact: str,
    existing: str | None,
    mapped: Mapped,
) -> Plan:
    """Update the task or note HighLevel already has, or create it exactly once (keyed)."""
    if existing is not None:
        if not mapped.fields:
            return Skip("nothing to update")
        params = {"contactId": contact, id_param: existing}
        return Calls([PlannedCall(f"update-{kind}", params, mapped.fields)], mapped.warnings)
    call = PlannedCall(
        f"create-{kind}",
        {"contactId": contact},
        mapped.fields,
        key=f"{location_id}:create-{kind}:{tn_id}",
        records=IdRecord(kind, tn_id, f"{kind}.id"),
    )
    return Calls([call], mapped.warnings)


def plan_event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    location_id: str,
    event_id: str,
    ids: IdLookup,
    mapping: MappingConfig,
    timestamp: str | datetime | None = None,
) -> Plan:
    """The plan for one TalkNotes event.

    `timestamp` (the event's time) anchors the default due date of a task without one;
    `event_id` only appears in reasons, keys are per TalkNotes record so replays collide.
    """
    if not isinstance(data, Mapping):
        return Reject(f"event {event_id}: data must be an object")
    if event_type in _CONTACT_WRITES:
        return _plan_contact(data, location_id, ids, mapping)
    if event_type == "contact.deleted":
        return _plan_contact_delete(data, ids)
    if event_type in ("task.created", "task.updated", "task.completed"):
        reference = _when(timestamp) or _when(data.get("updated_at"))
        return _plan_task(event_type, data, location_id, ids, mapping, reference)
    if event_type in ("note.created", "note.updated", "note.deleted"):
        return _plan_note(event_type, data, location_id, ids, mapping)
    return Reject(f"event {event_id}: unknown event type {event_type!r}")


def merge_payloads(
    items: Sequence[Mapping[str, Any]], *, clear_on_null: bool = True
) -> dict[str, Any]:
    """Fold consecutive payloads of one record, oldest first, into the latest value per field.

    An absent key never erases an earlier value. An explicit null does (it means "clear"),
    unless `clear_on_null` is off, in which case nulls are ignored like absent keys.
    `custom_fields` merge key by key under the same rule.
    """
    merged: dict[str, Any] = {}
    for data in items:
        if not isinstance(data, Mapping):
            continue
        for key, value in data.items():
            if value is None and not clear_on_null:
                continue
            if key == "custom_fields" and isinstance(value, Mapping):
                base = merged.get(key)
                fields = dict(base) if isinstance(base, Mapping) else {}
                for name, v in value.items():
                    if v is None and not clear_on_null:
                        continue
                    fields[name] = v
                merged[key] = fields
            else:
                merged[key] = value
    return merged


def _depends_on(event: E) -> set[tuple[str, str]]:
    """The (kind, talknotes id) pairs whose HighLevel ids this event's plan reads."""
    data = event.data if isinstance(event.data, Mapping) else {}
    kind = event.event_type.split(".", 1)[0]
    out: set[tuple[str, str]] = set()
    own = _text(data.get("id"))
    if own is not None and kind in ("contact", "task", "note"):
        out.add((kind, own))
    contact = _text(data.get("contactId"))
    if contact is not None:
        out.add(("contact", contact))
    return out


def _entity(event: E) -> tuple[str, str | None]:
    """(kind, talknotes id) of the record an event is about."""
    data = event.data if isinstance(event.data, Mapping) else {}
    return event.event_type.split(".", 1)[0], _text(data.get("id"))


def plan_batch(
    events: Sequence[E],
    *,
    location_id: str,
    ids: IdLookup,
    mapping: MappingConfig,
) -> list[BatchStep[E]]:
    """Plan a run of one contact's pending events, oldest first, coalescing where safe.

    Consecutive created/updated events of the same record (contact, task or note) become one
    step with one call carrying the latest value of each field (`merge_payloads`); such a run
    directly followed by that record's delete is skipped. Planning stops (leaving the rest of
    `events` unplanned, to be planned again after the executor has run these steps) after the
    first Wait, and before an event that needs an id that a planned call will record.
    """
    steps: list[BatchStep[E]] = []
    recorded: set[tuple[str, str]] = set()
    i = 0
    while i < len(events):
        first = events[i]
        if _depends_on(first) & recorded:
            break
        run = [first]
        entity = _entity(first)
        if first.event_type in _WRITES and entity[1] is not None:
            while (
                i + len(run) < len(events)
                and events[i + len(run)].event_type in _WRITES
                and _entity(events[i + len(run)]) == entity
            ):
                run.append(events[i + len(run)])
            after = events[i + len(run)] if i + len(run) < len(events) else None
            if (
                after is not None
                and after.event_type == f"{entity[0]}.deleted"
                and _entity(after) == entity
            ):
                reason = f"superseded by {entity[0]}.deleted later in the batch"
                steps.append(BatchStep(tuple(run), Skip(reason)))
                i += len(run)
                continue
        if len(run) > 1:
            clear = mapping.contact.clear_on_null
            data: Mapping[str, Any] = merge_payloads([e.data for e in run], clear_on_null=clear)
        else:
            data = first.data
        plan = plan_event(
            first.event_type,
            data,
            location_id=location_id,
            event_id=run[-1].event_id,
            ids=ids,
            mapping=mapping,
            # The first event's time anchors a default due date, so it does not move when
            # later events join the run on a retry.
            timestamp=first.timestamp,
        )
        steps.append(BatchStep(tuple(run), plan))
        i += len(run)
        if isinstance(plan, Wait):
            break
        if isinstance(plan, Calls):
            for call in plan.calls:
                if call.records is not None:
                    recorded.add((call.records.kind, call.records.talknotes_id))
    return steps

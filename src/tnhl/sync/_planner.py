"""The pure planner: a record's state + the id map + the mapping -> one Plan.

No I/O and no clock. The record's state is what every event received so far says, field by
field (newest timestamp wins, `_delta.py` and the store's fold), so the plan depends on the set
of events, never on their order. The plan is the difference between what the record should be
in HighLevel (the mapping of its current values) and what HighLevel was last given (`applied`):
a late, older event changes no value, so it changes nothing in HighLevel.

Contacts: `external_id` (TalkNotes' record of the HighLevel id) wins, then the id map, and only
then a create, which looks the duplicate up first. Tasks and notes wait for their contact.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from tnhl.mapping import (
    SYNCED_FIELDS,
    Mapped,
    MappingConfig,
    TransformError,
    map_contact,
    map_note,
    map_task,
)

from ._plan_types import (
    CUSTOM,
    Calls,
    IdLookup,
    IdRecord,
    Plan,
    PlannedCall,
    Reject,
    Skip,
    Wait,
    create_key,
)

if TYPE_CHECKING:  # the record's type only: the planner never calls the store
    from tnhl.store import RecordState

__all__ = ["CLEARABLE", "plan_record", "record_data", "update_body"]

# UpdateContactDto has no locationId, companyName or gender, and HighLevel rejects unknown
# properties with 422 (highlevel-api.md 3.4). `tags` on update overwrites every tag, so tnhl
# only sends tags when it creates a contact.
_NOT_ON_UPDATE = frozenset(
    {"locationId", "companyName", "gender", "tags", "createNewIfDuplicateAllowed"}
)
_MISSING = object()
# Contact fields cleared when the current values no longer give them (see _plan_contact).
CLEARABLE = ("email", "phone", "firstName", "lastName", "name")


def update_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` reduced to what update-contact accepts (also used after adopting a duplicate)."""
    return {k: v for k, v in body.items() if k not in _NOT_ON_UPDATE}


# HighLevel's fields each synced TalkNotes field is written to (SYNCED_FIELDS).
_WRITES = {"email": ("email",), "phone": ("phone",), "full_name": ("firstName", "lastName", "name")}


def _not_written(state: RecordState, cfg: MappingConfig) -> set[str]:
    """The fields HighLevel owns (`sync: direction: to_talknotes`): TalkNotes' values of them
    are never written (nor, for a contact, cleared)."""
    rules = cfg.sync
    return {
        f
        for f in SYNCED_FIELDS[state.kind]
        if rules.rule(state.kind, f).direction == "to_talknotes"
    }


def record_data(state: RecordState, skip: Set[str] = frozenset()) -> dict[str, Any]:
    """The record's current values as TalkNotes data (custom fields nested again), less the
    fields in `skip`."""
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in state.values().items():
        if name in skip:
            continue
        if name.startswith(CUSTOM):
            custom[name[len(CUSTOM) :]] = value
        else:
            data[name] = value
    if custom:
        data["custom_fields"] = custom
    return data


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _changed(desired: Mapping[str, Any], applied: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if applied.get(k, _MISSING) != v}


def _delete_created(state: RecordState, operation: str, params: Mapping[str, str]) -> PlannedCall:
    """The delete of a deleted record whose create went out and was never confirmed (a crash,
    a timeout): keyed by that create, it deletes what the create made, if it made anything."""
    kind: Literal["contact", "note"] = "contact" if state.kind == "contact" else "note"
    return PlannedCall(
        operation,
        params,
        key=create_key(state.location_id, kind, state.talknotes_id),
        records=IdRecord(kind, state.talknotes_id, f"{kind}.id"),
    )


def _plan_contact(state: RecordState, ids: IdLookup, cfg: MappingConfig) -> Plan:
    tn_id = state.talknotes_id
    owned = _not_written(state, cfg)
    data = record_data(state, owned)
    external = _text(data.get("external_id"))
    known = ids.highlevel_id("contact", tn_id)
    if state.deleted_at is not None:
        target = known or external
        if state.status == "deleted":
            return Skip(f"contact {tn_id} is deleted", deleted=True)
        if target is None:
            if not ids.create_unconfirmed("contact", tn_id):
                return Skip(f"contact {tn_id} is deleted", deleted=True)
            return Calls([_delete_created(state, "delete-contact", {})], deleted=True)
        return Calls([PlannedCall("delete-contact", {"contactId": target})], deleted=True)
    try:
        mapped = map_contact(data, cfg)
    except TransformError as exc:
        return Reject(str(exc))
    warnings = tuple(mapped.warnings)
    target = external or known
    if target is not None:
        desired = update_body(mapped.fields)
        changes = _changed(desired, state.applied)
        # A field HighLevel was given that the current values no longer map to (its newest
        # value was dropped as invalid): clear it, so HighLevel ends the same whether the
        # create ran before or after that value arrived.
        kept = {hl for f in owned for hl in _WRITES[f]}
        for name in CLEARABLE:
            if state.applied.get(name) is not None and name not in desired and name not in kept:
                changes[name] = None
        record = IdRecord("contact", tn_id, "contact.id") if target != known else None
        if not changes and record is None:
            return Skip("no change", warnings=warnings)
        call = PlannedCall("update-contact", {"contactId": target}, changes, records=record)
        return Calls([call], changes, warnings)
    if cfg.sync.create == "to_talknotes":
        return Skip(f"contact {tn_id} is not in HighLevel, and sync.create is to_talknotes")
    fields = {k: v for k, v in mapped.fields.items() if v is not None}
    if not any(fields.get(k) for k in ("email", "phone", "firstName", "lastName", "name")):
        return Wait(f"contact {tn_id} has no name, email or phone to create it from yet", warnings)
    c = cfg.contact
    body: dict[str, Any] = {"locationId": state.location_id, **fields}
    if c.tags:
        body["tags"] = list(c.tags)
    if c.source is not None:
        body["source"] = c.source
    call = PlannedCall(
        "create-contact",
        {},
        body,
        key=create_key(state.location_id, "contact", tn_id),
        records=IdRecord("contact", tn_id, "contact.id"),
        on_duplicate="adopt",
        find_duplicate="email" in fields or "phone" in fields,
    )
    return Calls([call], update_body(fields), warnings)


def _contact_of(state: RecordState, ids: IdLookup) -> str | Plan:
    if ids.is_deleted("contact", state.contact_id):
        # HighLevel deletes a contact's tasks and notes with it.
        return Skip(f"contact {state.contact_id} is deleted", deleted=True)
    contact = ids.highlevel_id("contact", state.contact_id)
    if contact is not None:
        return contact
    return Wait(f"contact {state.contact_id} is not in HighLevel yet", for_contact=True)


def _write_child(
    kind: Literal["task", "note"],
    id_param: str,
    state: RecordState,
    contact: str,
    existing: str | None,
    mapped: Mapped,
    cfg: MappingConfig,
) -> Plan:
    """Update what HighLevel already has, or create it exactly once (keyed)."""
    warnings = tuple(mapped.warnings)
    if existing is None and cfg.sync.create == "to_talknotes":
        return Skip(
            f"{kind} {state.talknotes_id} is not in HighLevel, and sync.create is to_talknotes"
        )
    if existing is not None:
        changes = _changed(mapped.fields, state.applied)
        if not changes:
            return Skip("no change", warnings=warnings)
        params = {"contactId": contact, id_param: existing}
        return Calls([PlannedCall(f"update-{kind}", params, changes)], changes, warnings)
    call = PlannedCall(
        f"create-{kind}",
        {"contactId": contact},
        mapped.fields,
        key=create_key(state.location_id, kind, state.talknotes_id),
        records=IdRecord(kind, state.talknotes_id, f"{kind}.id"),
    )
    return Calls([call], mapped.fields, warnings)


def _plan_task(state: RecordState, ids: IdLookup, cfg: MappingConfig) -> Plan:
    contact = _contact_of(state, ids)
    if not isinstance(contact, str):
        return contact
    data = record_data(state, _not_written(state, cfg))
    task = ids.highlevel_id("task", state.talknotes_id)
    if task is None and _text(data.get("taskName")) is None:
        return Wait(f"task {state.talknotes_id} has no taskName yet (task.created not received)")
    # The earliest event anchors a default due date, so it never moves with later events.
    reference = datetime.fromtimestamp(state.first_at, UTC) if state.first_at else None
    try:
        due = state.fields.get("dueDate")
        due_at = datetime.fromtimestamp(due[1], UTC) if due is not None else None
        mapped = map_task(data, cfg, create=True, reference=reference, due_reference=due_at)
    except TransformError as exc:
        return Reject(str(exc))
    if task is not None and "completed" not in data:
        # A task HighLevel has is not reopened for a `completed` its record never said (a
        # follow-up born from a note, done in HighLevel): the create's default is no change.
        mapped.fields.pop("completed", None)
    return _write_child("task", "taskId", state, contact, task, mapped, cfg)


def _plan_note(state: RecordState, ids: IdLookup, cfg: MappingConfig) -> Plan:
    note = ids.highlevel_id("note", state.talknotes_id)
    if state.deleted_at is not None:
        contact_id = ids.highlevel_id("contact", state.contact_id)
        if state.status == "deleted" or contact_id is None:
            return Skip(f"note {state.talknotes_id} is deleted", deleted=True)
        if note is None:
            if not ids.create_unconfirmed("note", state.talknotes_id):
                return Skip(f"note {state.talknotes_id} is deleted", deleted=True)
            call = _delete_created(state, "delete-note", {"contactId": contact_id})
            return Calls([call], deleted=True)
        params = {"contactId": contact_id, "id": note}
        return Calls([PlannedCall("delete-note", params)], deleted=True)
    contact = _contact_of(state, ids)
    if not isinstance(contact, str):
        return contact
    data = record_data(state, _not_written(state, cfg))
    if note is None and _text(data.get("noteContent")) is None:
        return Wait(f"note {state.talknotes_id} has no content yet (note.created not received)")
    try:
        mapped = map_note(data, cfg, create=True)
    except TransformError as exc:
        return Reject(str(exc))
    return _write_child("note", "id", state, contact, note, mapped, cfg)


def plan_record(state: RecordState, ids: IdLookup, mapping: MappingConfig) -> Plan:
    """The plan that brings HighLevel to what `state`'s events say (see the module doc)."""
    if state.kind == "contact":
        return _plan_contact(state, ids, mapping)
    if state.kind == "task":
        return _plan_task(state, ids, mapping)
    return _plan_note(state, ids, mapping)

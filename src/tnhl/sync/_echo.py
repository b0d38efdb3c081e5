"""What a HighLevel change means for a TalkNotes record tnhl holds (issue 9): an echo of
tnhl's own write, which side's change of a field wins, and what HighLevel now holds.

Pure: the outbound pump asks, the store is not read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tnhl.mapping import SYNCED_FIELDS, MappingConfig, SyncConfig
from tnhl.store import RecordState, Told

__all__ = [
    "SAME",
    "TRACKED",
    "held_in_highlevel",
    "is_echo",
    "name_custom_fields",
    "newest_wins",
    "tags_changed",
    "told_fields",
]

# (outbound data field, HighLevel body field tnhl writes) compared to tell an echo; the kinds
# are those tnhl writes (appointments it only tells).
SAME = {
    "contact": (("email", "email"), ("phone", "phone")),
    "task": (("taskName", "title"), ("description", "body"), ("dueDate", "dueDate")),
    "note": (("noteContent", "body"),),
}


def _norm(field: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if field == "email":
        return text.casefold()
    if field == "dueDate":
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return text
    return text


def _name_of(applied: Mapping[str, Any]) -> str | None:
    name = applied.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [applied.get(k) for k in ("firstName", "lastName")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def is_echo(kind: str, body: Mapping[str, Any], state: RecordState) -> bool:
    """True when the outbound event says nothing tnhl did not write itself: a delete of a
    record tnhl deleted, a completion it made, or the same values in every field it wrote."""
    data = body["data"]
    if body["type"].endswith(".deleted"):
        return state.deleted_at is not None
    applied = state.applied
    if body["type"] == "task.completed" and applied.get("completed") is not True:
        return False
    compared = 0
    for out_field, hl_field in SAME[kind]:
        if hl_field not in applied:
            continue
        compared += 1
        if _norm(out_field, data.get(out_field)) != _norm(out_field, applied[hl_field]):
            return False
    if kind == "contact" and any(k in applied for k in _NAMES):
        compared += 1
        if _norm("name", data.get("full_name")) != _norm("name", _name_of(applied)):
            return False
    return compared > 0


_NAMES = ("firstName", "lastName", "name")
# The fields of TalkNotes' records (its names) that both sides hold and tnhl writes.
TRACKED = SYNCED_FIELDS
_AFTER = 0.001
_WRITTEN = {kind: tuple(hl for _, hl in pairs) for kind, pairs in SAME.items()}
_WRITTEN["contact"] += _NAMES


def held_in_highlevel(
    kind: str, event_type: str, entity: Mapping[str, Any], applied: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields tnhl writes (and wrote before: a field it never wrote must stay out, or the
    planner would clear it) with the values HighLevel now holds."""
    held = {k: entity[k] for k in _WRITTEN[kind] if k in entity and k in applied}
    if event_type == "TaskComplete" and "completed" in applied:
        held["completed"] = True
    return held


def newest_wins(
    kind: str, data: dict[str, Any], state: RecordState, changed: float, rules: SyncConfig
) -> tuple[dict[str, tuple[Any, float]], bool]:
    """Per field TalkNotes set and HighLevel now holds otherwise, one side wins: the newer
    change (HighLevel's change time against the TalkNotes event's timestamp), unless the
    field's rule prefers a side or gives it a direction (`sync:` in the mapping). Where
    TalkNotes' wins, its value replaces HighLevel's in `data`: TalkNotes is not told the
    other, and HighLevel, which `applied` then shows still holds it, is written TalkNotes'
    again. Returns HighLevel's winning values with their time, to become the record's (a
    TalkNotes event older than that no longer overrides them; a preferred HighLevel value is
    stamped 1 ms after the TalkNotes one it beat), and whether any of TalkNotes' stood."""
    newer: dict[str, tuple[Any, float]] = {}
    stands = False
    for field in TRACKED[kind]:
        if field not in data:
            continue
        rule = rules.rule(kind, field)
        mine = state.fields.get(field)
        # A field TalkNotes never set is only told: made the record's, it would be written.
        if mine is None or _norm(field, mine[0]) == _norm(field, data[field]):
            continue
        if rule.direction == "to_talknotes" or rule.prefer == "highlevel":
            talknotes_wins = False
        elif rule.direction == "to_highlevel" or rule.prefer == "talknotes":
            talknotes_wins = True
        else:
            talknotes_wins = mine[1] > changed
        if talknotes_wins:
            data[field] = mine[0]
            stands = True
        else:
            newer[field] = (data[field], max(changed, mine[1] + _AFTER))
    return newer, stands


def told_fields(kind: str, data: dict[str, Any], rules: SyncConfig) -> dict[str, Any]:
    """`data` without the fields TalkNotes owns (`direction: to_highlevel`): never told."""
    owned = {f for f in TRACKED.get(kind, ()) if rules.rule(kind, f).direction == "to_highlevel"}
    return {k: v for k, v in data.items() if k not in owned}


def name_custom_fields(data: dict[str, Any], mapping: MappingConfig) -> None:
    """HighLevel's custom field ids in `data` replaced by the names the mapping gives them
    (`contact.custom_fields: {name: {id: ...}}`); a field mapped by `key` only, or not mapped,
    keeps its HighLevel id (HighLevel reports custom fields by id)."""
    custom = data.get("custom_fields")
    if not isinstance(custom, dict) or not custom:
        return
    names = {spec.id: name for name, spec in mapping.contact.custom_fields.items() if spec.id}
    data["custom_fields"] = {names.get(k, k): v for k, v in custom.items()}


def tags_changed(
    kind: str, data: Mapping[str, Any], before: Told | None, mapping: MappingConfig
) -> bool:
    """Whether a contact's tags differ from what TalkNotes last heard of them (or, never told,
    from the tags tnhl gave it at creation): tnhl writes no tags after a create, so a change
    of them is HighLevel's news even beside an echo of tnhl's own write."""
    if kind != "contact" or not isinstance(data.get("tags"), list):
        return False
    was = before.data.get("tags") if before is not None and before.data is not None else None
    if not isinstance(was, list):
        was = list(mapping.contact.tags)
    return {str(t).casefold() for t in data["tags"]} != {str(t).casefold() for t in was}

"""Notes become actions (issue 10): the follow-ups a note states, as TalkNotes task events,
and the milestones it states, as milestone notes on its contact.

When a note record is run, the follow-ups its current text states (`tnhl.mapping`'s
`find_follow_ups`, relative to the time the text was written, in the connection's zone) are
stored as `task.created` events of tasks tnhl names for them, before the note settles: a kill
in between finds them again next time, and the inbox's dedupe keeps them once. The engine then
runs them like any task: created once on the note's contact, and, when the sentence's date is
edited, updated (the same task: its id comes from the note and the sentence's key; a later
event wins its fields). A sentence removed from the note leaves its task alone: someone may be
working on it.

A milestone ("the contract was signed") becomes a note tnhl names for its cause (the note and
the family): once, whatever later edits of the note say.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from tnhl.mapping import MappingConfig, find_follow_ups, find_milestones, fires
from tnhl.store import InboundEvent, RecordState
from tnhl.talknotes import iso_z

__all__ = [
    "MILESTONE_PREFIX",
    "follow_up_events",
    "follow_up_task_id",
    "milestone_events",
    "note_events",
]

MILESTONE_PREFIX = "milestone-"  # the ids of the notes tnhl makes for milestones


def follow_up_task_id(note_id: str, key: str) -> str:
    """The TalkNotes id tnhl gives the task of one follow-up of a note (within the contract's
    128 characters, whatever the note's id)."""
    return "followup-" + hashlib.sha256(f"{note_id}\x1f{key}".encode()).hexdigest()[:24]


def _on(mapping: MappingConfig, action: str, state: RecordState, text: str, now: float) -> bool:
    """Whether a recipe running the built-in `action` is on and its conditions hold for the
    note (its context as `tnhl recipes test` shows it for a note event)."""
    data = {"id": state.talknotes_id, "contactId": state.contact_id, "noteContent": text}
    context = {
        "event": {"source": "talknotes", "type": "note.created", "data": data},
        "contact": {"id": state.contact_id},
        "now": iso_z(now),
    }
    at = datetime.fromtimestamp(now, UTC)
    return any(fires(recipe, context, at) for _, recipe in mapping.recipes_with(action))


def _text(
    state: RecordState, enabled: bool, mapping: MappingConfig, action: str, now: float
) -> tuple[str, float] | None:
    """A live note's text and when it was written; None for anything else or when off (its
    mapping section, or every recipe running `action`)."""
    register = state.fields.get("noteContent")
    if state.kind != "note" or state.deleted_at is not None or not enabled:
        return None
    if register is None or not isinstance(register[0], str):
        return None
    if not _on(mapping, action, state, register[0], now):
        return None
    return register[0], register[1]


def _event(
    state: RecordState, event_id: str, type_: str, written: float, data: dict[str, str], now: float
) -> InboundEvent:
    """A TalkNotes event of the note's contact, stamped when the note's text was written."""
    body = {"type": type_, "timestamp": iso_z(written), "data": data}
    return InboundEvent(
        "talknotes", event_id, type_, state.location_id, state.contact_id, json.dumps(body), now
    )


def follow_up_events(state: RecordState, mapping: MappingConfig, now: float) -> list[InboundEvent]:
    """The task events the note's current text implies; none for another kind of record, a
    deleted note, or with `followups.enabled` false."""
    config = mapping.followups
    found = _text(state, config.enabled, mapping, "tnhl.followups", now)
    if found is None:
        return []
    text, written = found
    reference = datetime.fromtimestamp(written, mapping.tasks.due.zone)
    events = []
    for f in find_follow_ups(text, reference, default_time=config.default_time):
        task_id = follow_up_task_id(state.talknotes_id, f.key)
        data = {
            "id": task_id,
            "contactId": state.contact_id,
            "taskName": f.title[:512],
            "dueDate": f.due.isoformat(),
            "description": f'From a note: "{f.sentence}"',
        }
        if config.assignee is not None:
            data["assignee"] = config.assignee
        # One event per (task, due time): a note repeated stores nothing; a new date, one.
        event_id = f"followup:{task_id}:{f.due.isoformat()}"
        events.append(_event(state, event_id, "task.created", written, data, now))
    return events


def milestone_events(state: RecordState, mapping: MappingConfig, now: float) -> list[InboundEvent]:
    """The milestone notes the note's current text states, on its contact; none for another
    kind of record, a deleted note, or with `milestones.enabled` false."""
    config = mapping.milestones
    found = _text(state, config.enabled, mapping, "tnhl.milestone_notes", now)
    if found is None:
        return []
    text, written = found
    day = datetime.fromtimestamp(written, mapping.tasks.due.zone).date().isoformat()
    events = []
    for m in find_milestones(text, config.families):
        cause = f"{state.talknotes_id}\x1f{m.family}".encode()
        note_id = MILESTONE_PREFIX + hashlib.sha256(cause).hexdigest()[:24]
        data = {
            "id": note_id,
            "contactId": state.contact_id,
            "noteTitle": f"Milestone: {m.family}",
            "noteContent": f"Milestone: {m.family}, {day}. From a TalkNotes note "
            f'({state.talknotes_id}): "{m.sentence}"',
        }
        # Once per cause: later edits of the note add nothing.
        events.append(_event(state, f"milestone:{note_id}", "note.created", written, data, now))
    return events


def note_events(state: RecordState, mapping: MappingConfig, now: float) -> list[InboundEvent]:
    """Everything a note's text turns into: its follow-ups' tasks and its milestone notes.
    Nothing for a milestone note tnhl made: it quotes the sentence it came from, which would
    state the milestone (and any follow-up in it) again."""
    if state.talknotes_id.startswith(MILESTONE_PREFIX):
        return []
    return follow_up_events(state, mapping, now) + milestone_events(state, mapping, now)

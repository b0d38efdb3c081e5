"""The operations catalog (issue 10): every trigger and action a recipe can name.

Built from the tables that already define each part, so nothing is listed twice:
- actions `highlevel.<operation>`: the 32 Contacts API operations (`tnhl.highlevel.OPERATIONS`);
- triggers `highlevel.<Event>`: every documented HighLevel webhook event
  (`tnhl.highlevel.WEBHOOK_EVENTS`);
- triggers `talknotes.<type>`: the TalkNotes contract's event types, and two that tnhl reads
  from a note's text (`talknotes.note.followup`, `talknotes.note.milestone`);
- actions `talknotes.send.<type>`: the events tnhl tells TalkNotes (signed, to the outbound URL);
- triggers `poll.*` (over the records tnhl holds) and `schedule.*` (the clock);
- actions `webhook.post` (a signed POST anywhere) and `tnhl.*` (records made through the sync
  engine: a task or note on the event's contact, follow-up tasks, milestone notes).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from tnhl.highlevel import OPERATIONS, WEBHOOK_EVENTS, Operation
from tnhl.talknotes import EVENT_TYPES, OUTBOUND_TYPES, event_schema

__all__ = ["CatalogEntry", "catalog", "get_entry"]

Kind = Literal["trigger", "action"]
_OBJ: dict[str, Any] = {"type": "object"}


def _props(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 1}
_TIME = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class CatalogEntry:
    """One trigger or action: what it takes (`input`, JSON Schema of a recipe's `with:` for a
    trigger, of an action's parameters for an action), what it gives (`output`: the trigger's
    event, the action's result) and the HighLevel scopes it needs."""

    id: str
    kind: Kind
    group: str
    summary: str
    input: Mapping[str, Any] = field(default_factory=lambda: _props())
    output: Mapping[str, Any] = field(default_factory=lambda: dict(_OBJ))
    scopes: tuple[str, ...] = ()
    on_notes: bool = False  # an action that reads a note's text: note triggers only
    # A HighLevel operation's request: what `tnhl call` takes and sends.
    operation: Operation | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "group": self.group,
            "summary": self.summary,
            "scopes": list(self.scopes),
        }
        op = self.operation
        if op is not None:
            out.update(
                operation=op.id,
                method=op.method,
                path=op.path,
                scope_declared=op.scope_declared,
                create=op.create,
            )
        return {**out, "input": dict(self.input), "output": dict(self.output)}


def _operation(op: Operation) -> CatalogEntry:
    params = {name: _STR for name in (*op.path_params, *op.query)}
    required = tuple(op.path_params) + tuple(op.required_query)
    inputs: dict[str, Any] = {"params": _props(required, **params)}
    if op.request is not None:
        inputs["body"] = op.request.model_json_schema()
    output = op.response.model_json_schema() if op.response is not None else dict(_OBJ)
    summary = f"{op.method} {op.path}: {op.summary}"
    return CatalogEntry(
        f"highlevel.{op.id}",
        "action",
        "highlevel",
        summary,
        _props(("params",) if required else (), **inputs),
        output,
        (op.scope,),
        operation=op,
    )


def _entries() -> tuple[CatalogEntry, ...]:
    out: list[CatalogEntry] = [_operation(op) for op in OPERATIONS.values()]
    for event in WEBHOOK_EVENTS.values():
        summary = f"HighLevel webhook {event.name} ({event.title}): {event.description}"
        out.append(
            CatalogEntry(
                f"highlevel.{event.name}",
                "trigger",
                "highlevel",
                summary,
                output=event.schema,
                scopes=event.scopes,
            )
        )
    for type_ in EVENT_TYPES:
        out.append(
            CatalogEntry(
                f"talknotes.{type_}",
                "trigger",
                "talknotes",
                f"TalkNotes sent {type_}",
                output=event_schema(type_),
            )
        )
    data = event_schema("note.created")
    out += [
        CatalogEntry(
            "talknotes.note.followup",
            "trigger",
            "talknotes",
            "A TalkNotes note states a follow-up with a time (once per sentence)",
            output=_props(data=data, followup=_FOLLOWUP),
        ),
        CatalogEntry(
            "talknotes.note.milestone",
            "trigger",
            "talknotes",
            "A TalkNotes note states a milestone of a family (once per note and family)",
            output=_props(data=data, milestone=_MILESTONE),
        ),
    ]
    sends = sorted({*OUTBOUND_TYPES.values(), "profile.updated"})
    for type_ in sends:
        out.append(
            CatalogEntry(
                f"talknotes.send.{type_}",
                "action",
                "talknotes",
                f"Tell TalkNotes {type_} (signed, to the connection's outbound URL)",
                _props(("data",), data=_OBJ),
                _DELIVERED,
            )
        )
    out += _POLL + _SCHEDULE + _TNHL
    return tuple(out)


_FOLLOWUP = _props(title=_STR, due=_STR, sentence=_STR)
_MILESTONE = _props(family=_STR, sentence=_STR)
_DELIVERED = _props(status={"type": "integer"}, id={"type": ["string", "null"]})
_TASK_OUT = _props(task=_props(id=_STR, contactId=_STR, taskName=_STR, dueDate=_STR))
_POLL = [
    CatalogEntry(
        "poll.task.due_soon",
        "trigger",
        "poll",
        "A task tnhl holds is due within `hours` and not completed (once per task and due date)",
        _props(hours=_INT),
        _TASK_OUT,
    ),
    CatalogEntry(
        "poll.task.overdue",
        "trigger",
        "poll",
        "A task tnhl holds is past its due date and not completed (once per task and due date)",
        _props(),
        _TASK_OUT,
    ),
    CatalogEntry(
        "poll.contact.idle",
        "trigger",
        "poll",
        "A contact has had no TalkNotes change for `days` (once per contact and last change)",
        _props(("days",), days=_INT),
        _props(contact=_props(id=_STR, last_change=_STR)),
    ),
]
_SLOT = _props(slot=_STR)
_SCHEDULE = [
    CatalogEntry(
        "schedule.every",
        "trigger",
        "schedule",
        "Every `minutes` minutes (once per period)",
        _props(("minutes",), minutes=_INT),
        _SLOT,
    ),
    CatalogEntry(
        "schedule.daily",
        "trigger",
        "schedule",
        "Every day at `at` (HH:MM) in the connection's time zone",
        _props(("at",), at=_TIME),
        _SLOT,
    ),
    CatalogEntry(
        "schedule.weekly",
        "trigger",
        "schedule",
        "Every week on `day` at `at` (HH:MM) in the connection's time zone",
        _props(("day", "at"), day={"enum": list(_DAYS)}, at=_TIME),
        _SLOT,
    ),
]
_TNHL = [
    CatalogEntry(
        "webhook.post",
        "action",
        "webhook",
        "POST a JSON body to a URL, signed per Standard Webhooks when a secret is given",
        _props(("url",), url=_STR, secret=_STR, body={}),
        _DELIVERED,
    ),
    CatalogEntry(
        "tnhl.task",
        "action",
        "tnhl",
        "A task on the event's contact, made through the sync engine (once; waits for the "
        "contact to reach HighLevel)",
        _props(("title",), title=_STR, due=_STR, description=_STR, assignee=_STR, contact=_STR),
        _props(id=_STR),
    ),
    CatalogEntry(
        "tnhl.note",
        "action",
        "tnhl",
        "A note on the event's contact, made through the sync engine (once; waits for the "
        "contact to reach HighLevel)",
        _props(("content",), title=_STR, content=_STR, contact=_STR),
        _props(id=_STR),
    ),
    CatalogEntry(
        "tnhl.followups",
        "action",
        "tnhl",
        "Tasks from the follow-ups the note states (settings: the mapping's followups)",
        on_notes=True,
    ),
    CatalogEntry(
        "tnhl.milestone_notes",
        "action",
        "tnhl",
        "A milestone note per milestone family the note states (settings: the mapping's "
        "milestones)",
        on_notes=True,
    ),
]


@cache
def catalog() -> Mapping[str, CatalogEntry]:
    """Every entry, by id, in catalog order."""
    return MappingProxyType({e.id: e for e in _entries()})


def get_entry(entry_id: str, kind: Kind | None = None) -> CatalogEntry:
    """The entry `entry_id` (of `kind`, when given); KeyError naming it otherwise."""
    entry = catalog().get(entry_id)
    if entry is None or (kind is not None and entry.kind != kind):
        what = {"trigger": "a trigger", "action": "an action", None: "a trigger or action"}[kind]
        ids = [e.id for e in catalog().values() if kind is None or e.kind == kind]
        near = difflib.get_close_matches(entry_id, ids, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise KeyError(
            f"{entry_id!r} is not {what} of the catalog{hint}; `tnhl catalog` lists them"
        )
    return entry

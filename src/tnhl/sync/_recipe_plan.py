"""Recipes, the pure part: which recipes an event triggers, the context their conditions and
templates read, and the steps their actions render to.

A context is plain data: `event` (source, type, id, timestamp, day, data: TalkNotes' data or
HighLevel's whole webhook body), `contact` (`id`: TalkNotes', `highlevel_id`, and `notes`, the
contact's TalkNotes notes when a recipe asks), `connection` (name, location_id), `now`, plus
`followup`/`milestone` for the note-text triggers, `task` for task polls and `slot` for
schedules. `tnhl recipes test` and the engine use the same functions, so a dry run prints what
the engine would do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tnhl.highlevel import OPERATIONS, WEBHOOK_EVENTS
from tnhl.mapping import MappingConfig, Recipe, find_follow_ups, find_milestones, fires, render
from tnhl.talknotes import iso_z

__all__ = [
    "BUILTIN_ACTIONS",
    "GENERATED_PREFIXES",
    "NOTE_TEXT",
    "TEXT_TRIGGERS",
    "DryRun",
    "Firing",
    "Step",
    "dry_run",
    "event_context",
    "firings",
    "hook_recipe",
    "steps",
    "trigger_of",
]

BUILTIN_ACTIONS = frozenset({"tnhl.followups", "tnhl.milestone_notes"})  # run by the executor
# Event ids of the TalkNotes events tnhl makes itself: they trigger no recipe (no loops).
GENERATED_PREFIXES = ("followup:", "milestone:", "recipe:")
# Deliveries whose `type` is not their event's name (INSTALL, PLAN_CHANGE, ...); a `type` that
# several events share (a price's kind, a message's channel) names none of them.
_SHARED = {
    t
    for t in (e.body_type for e in WEBHOOK_EVENTS.values())
    if sum(e.body_type == t for e in WEBHOOK_EVENTS.values()) > 1
}
_BY_BODY_TYPE = {e.body_type: e.name for e in WEBHOOK_EVENTS.values() if e.body_type not in _SHARED}
NOTE_TEXT = ("talknotes.note.created", "talknotes.note.updated")
TEXT_TRIGGERS = ("talknotes.note.followup", "talknotes.note.milestone")  # read from NOTE_TEXT


def trigger_of(source: str, event_type: str) -> str | None:
    """The catalog trigger an inbox row of `source` and `event_type` is."""
    if source == "talknotes":
        return f"talknotes.{event_type}"
    if source == "highlevel":
        name = event_type if event_type in WEBHOOK_EVENTS else _BY_BODY_TYPE.get(event_type)
        return None if name is None else f"highlevel.{name}"
    return None


def _highlevel_contact(body: Mapping[str, Any], event_type: str) -> str | None:
    if event_type.startswith("Contact"):
        found = body.get("id")
    else:
        found = body.get("contactId")
        appointment = body.get("appointment")
        if found is None and isinstance(appointment, Mapping):
            found = appointment.get("contactId")
    return found if isinstance(found, str) and found else None


def event_context(
    source: str,
    event_id: str,
    body: Mapping[str, Any],
    *,
    location_id: str,
    connection: str,
    zone: ZoneInfo,
    now: float,
) -> dict[str, Any]:
    """The context of one event (contact ids as the event gives them; the engine adds what
    its id map knows)."""
    contact: dict[str, Any] = {"id": None, "highlevel_id": None}
    if source == "talknotes":
        found = body.get("data")
        data = dict(found) if isinstance(found, Mapping) else {}
        type_ = str(body.get("type", ""))
        contact["id"] = data.get("id") if type_.startswith("contact.") else data.get("contactId")
        stamp = body.get("timestamp")
    else:
        data = dict(body)
        type_ = str(body.get("type", ""))
        contact["highlevel_id"] = _highlevel_contact(body, type_)
        stamp = body.get("timestamp") or body.get("dateAdded")
    when = _parse_stamp(stamp) or now
    return {
        "event": {
            "source": source,
            "type": type_,
            "id": event_id,
            "timestamp": iso_z(when),
            "day": datetime.fromtimestamp(when, zone).date().isoformat(),
            "data": data,
        },
        "contact": contact,
        "connection": {"name": connection, "location_id": location_id},
        "now": iso_z(now),
    }


def _parse_stamp(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Firing:
    """One recipe fired for one cause: its id (the inbox event id, kept once) and context."""

    recipe: str
    event_id: str
    context: dict[str, Any]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _text_items(
    trigger: str, context: Mapping[str, Any], mapping: MappingConfig, zone: ZoneInfo
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The follow-ups or milestones a note event's text states: (cause, extra context)."""
    data = context["event"]["data"]
    text = data.get("noteContent") if isinstance(data, Mapping) else None
    if not isinstance(text, str):
        return
    note = str(data.get("id", ""))
    if trigger == "talknotes.note.followup":
        at = datetime.fromisoformat(context["event"]["timestamp"].replace("Z", "+00:00"))
        config = mapping.followups
        for f in find_follow_ups(text, at.astimezone(zone), default_time=config.default_time):
            item = {"title": f.title, "due": f.due.isoformat(), "sentence": f.sentence}
            yield f"{note}:{f.key}:{f.due.isoformat()}", {"followup": item}
    else:
        for m in find_milestones(text, mapping.milestones.families):
            yield f"{note}:{m.family}", {"milestone": {"family": m.family, "sentence": m.sentence}}


def firings(
    name: str,
    recipe: Recipe,
    trigger: str,
    cause: str,
    context: dict[str, Any],
    mapping: MappingConfig,
    zone: ZoneInfo,
    now: datetime,
) -> list[Firing]:
    """What `recipe` fires for an event that is `trigger` (`cause` names it): none when it is
    off, not triggered, runs only built-in actions, or its conditions do not hold."""
    if not recipe.enabled or all(a in BUILTIN_ACTIONS for a in recipe.action_ids()):
        return []
    items: list[tuple[str, dict[str, Any]]] = []
    for wanted in recipe.triggers:
        if wanted == trigger:
            items.append((cause, context))
        elif wanted in TEXT_TRIGGERS and trigger in NOTE_TEXT:
            for key, extra in _text_items(wanted, context, mapping, zone):
                items.append((f"{wanted}:{key}", {**context, **extra}))
    out = []
    for key, ctx in items:
        if not fires(recipe, ctx, now):
            continue
        if recipe.once_per is not None:
            once = render(recipe.once_per, ctx)
            if once is None or once == "":
                continue  # nothing to be once per (no contact): the recipe cannot apply
            key = "once:" + json.dumps(once, sort_keys=True, default=str)
        out.append(Firing(name, f"recipe:{name}:{_digest(key)}", ctx))
    return out


def hook_recipe(event: str, target_url: str) -> Recipe:
    """A REST hook subscription as a recipe: each firing of trigger `event`, its whole context,
    POSTed to `target_url` (unsigned: Zapier, Make and n8n cannot verify; the webhook-id header
    names the firing, the same on every retry)."""
    action = {"webhook.post": {"url": target_url, "body": "{{ @ }}"}}
    return Recipe.model_validate({"trigger": event, "actions": [action]})


@dataclass(frozen=True)
class Step:
    """One rendered action: its catalog id and parameters, and what it does in words."""

    action: str
    params: dict[str, Any]
    description: str


def _describe(action: str, params: Mapping[str, Any]) -> str:
    if action.startswith("highlevel."):
        op = OPERATIONS[action.removeprefix("highlevel.")]
        path = op.path
        for name, value in dict(params.get("params") or {}).items():
            if value not in (None, ""):  # unknown until the engine runs it: left as {name}
                path = path.replace("{" + name + "}", str(value))
        body = params.get("body")
        return f"{op.method} {path}" + (f" {json.dumps(body, default=str)}" if body else "")
    if action.startswith("talknotes.send."):
        return f"tell TalkNotes {action.removeprefix('talknotes.send.')} {params.get('data')}"
    if action == "webhook.post":
        return f"POST {params.get('url')} (signed: {'yes' if params.get('secret') else 'no'})"
    if action == "tnhl.task":
        return f"task {params.get('title')!r} due {params.get('due') or 'by the default'}"
    if action == "tnhl.note":
        return f"note {params.get('title') or ''!r}: {params.get('content')!r}"
    return action


def steps(recipe: Recipe, context: Mapping[str, Any]) -> list[Step]:
    """The recipe's actions rendered for `context` (built-in ones are the executor's)."""
    out = []
    for action in recipe.actions:
        name, params = next(iter(action.items()))
        if name in BUILTIN_ACTIONS:
            continue
        rendered = render(params, context)
        out.append(Step(name, rendered, _describe(name, rendered)))
    return out


@dataclass(frozen=True)
class DryRun:
    """What one recipe would do for an event: the firing and its steps in words."""

    recipe: str
    event_id: str
    steps: tuple[str, ...]


def _builtin_steps(action: str, context: Mapping[str, Any], mapping: MappingConfig) -> list[str]:
    trigger = (
        "talknotes.note.followup" if action == "tnhl.followups" else "talknotes.note.milestone"
    )
    zone = mapping.tasks.due.zone
    out = []
    for _, extra in _text_items(trigger, context, mapping, zone):
        if "followup" in extra:
            f = extra["followup"]
            out.append(f"task {f['title']!r} due {f['due']} (follow-up)")
        else:
            out.append(f"note 'Milestone: {extra['milestone']['family']}' (milestone)")
    return out


def dry_run(
    body: Mapping[str, Any],
    mapping: MappingConfig,
    *,
    now: float,
    connection: str = "default",
    location_id: str = "",
) -> list[DryRun]:
    """What the recipes of `mapping` would do for one event `body` (a TalkNotes event or a
    HighLevel webhook body), computed exactly as the engine does, writing nothing."""
    talknotes = isinstance(body.get("data"), Mapping) and "." in str(body.get("type", ""))
    source = "talknotes" if talknotes else "highlevel"
    trigger = trigger_of(source, str(body.get("type", "")))
    if trigger is None:
        return []
    zone = mapping.tasks.due.zone
    ctx = event_context(
        source, "dry-run", body, location_id=location_id, connection=connection, zone=zone, now=now
    )
    at = datetime.fromtimestamp(now, zone)
    out = []
    for name, recipe in mapping.recipes.items():
        if not recipe.enabled:
            continue
        builtins = [a for a in recipe.action_ids() if a in BUILTIN_ACTIONS]
        if builtins and trigger in recipe.triggers and fires(recipe, ctx, at):
            lines = [s for a in builtins for s in _builtin_steps(a, ctx, mapping)]
            if lines:
                out.append(DryRun(name, "(through the note's record)", tuple(lines)))
        for f in firings(name, recipe, trigger, f"{source}:dry-run", ctx, mapping, zone, at):
            out.append(
                DryRun(name, f.event_id, tuple(s.description for s in steps(recipe, f.context)))
            )
    return out

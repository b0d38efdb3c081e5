"""Poll and schedule triggers of recipes: what fires at `now`, each cause once.

- `poll.task.due_soon` (`hours`, default 24) and `poll.task.overdue`: the tasks tnhl holds
  from TalkNotes (not deleted, not completed), by their due date as the engine reads it; once
  per task and due date (a moved date fires again).
- `poll.contact.idle` (`days`): a contact with no TalkNotes change for that long; once per
  contact and last change.
- `schedule.every` (`minutes`), `schedule.daily` (`at`), `schedule.weekly` (`day`, `at`), in
  the connection's zone: once per period, the period starting when it is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from tnhl.mapping import MappingConfig, Recipe, TransformError, parse_due_date
from tnhl.store import RecordState, SqlStore
from tnhl.sync._recipe_plan import Firing, firings
from tnhl.talknotes import iso_z

__all__ = ["poll_firings", "schedule_slot"]

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def schedule_slot(trigger: str, params: dict[str, Any], now: datetime) -> str | None:
    """The period `now` (aware, in the connection's zone) is in, once it is due; None before
    the first time of day on a day (or week) it has not come yet."""
    if trigger == "schedule.every":
        period = int(params["minutes"]) * 60
        start = int(now.timestamp()) // period * period
        return iso_z(start)
    hh, mm = (int(x) for x in str(params["at"]).split(":"))
    due = datetime.combine(now.date(), time(hh, mm), now.tzinfo)
    if trigger == "schedule.weekly":
        due -= timedelta(days=(now.weekday() - _DAYS.index(str(params["day"]))) % 7)
    if now < due:  # not yet today (this week): the last period's
        due -= timedelta(days=7 if trigger == "schedule.weekly" else 1)
    if now < due:
        return None
    return due.isoformat()


def _value(state: RecordState, name: str) -> Any:
    register = state.fields.get(name)
    return None if register is None else register[0]


def _due(state: RecordState, mapping: MappingConfig) -> datetime | None:
    value = _value(state, "dueDate")
    register = state.fields.get("dueDate")
    if value is None or register is None:
        return None
    due = mapping.tasks.due
    try:
        text = parse_due_date(
            value,
            zone=due.zone,
            date_only_time=due.date_only_time,
            day_first=due.day_first,
            reference=datetime.fromtimestamp(register[1], UTC),
        )
    except TransformError:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _task_causes(
    store: SqlStore,
    loc: str,
    mapping: MappingConfig,
    trigger: str,
    params: dict[str, Any],
    now: datetime,
) -> list[tuple[str, dict[str, Any]]]:
    hours = float(params.get("hours", 24))
    out = []
    for state in store.records_of(loc, "task"):
        if _value(state, "completed") is True:
            continue
        due = _due(state, mapping)
        if due is None:
            continue
        soon = now <= due <= now + timedelta(hours=hours)
        if (trigger == "poll.task.due_soon" and soon) or (
            trigger == "poll.task.overdue" and due < now
        ):
            task = {
                "id": state.talknotes_id,
                "contactId": state.contact_id,
                "taskName": _value(state, "taskName"),
                "dueDate": iso_z(due.timestamp()),
            }
            out.append(
                (
                    f"{state.talknotes_id}:{task['dueDate']}",
                    {"task": task, "contact": {"id": state.contact_id, "highlevel_id": None}},
                )
            )
    return out


def _idle_causes(
    store: SqlStore, loc: str, params: dict[str, Any], now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    limit = now.timestamp() - float(params["days"]) * 86400
    out = []
    for state in store.records_of(loc, "contact"):
        last = max((r[1] for r in state.fields.values()), default=state.first_at or 0.0)
        if last <= limit:
            contact = {"id": state.talknotes_id, "highlevel_id": None, "last_change": iso_z(last)}
            out.append((f"{state.talknotes_id}:{last}", {"contact": contact}))
    return out


def poll_firings(
    store: SqlStore,
    connection: str,
    loc: str,
    mapping: MappingConfig,
    recipes: Mapping[str, Recipe],
    now: float,
) -> list[Firing]:
    """What the connection's poll and schedule `recipes` fire at `now`."""
    zone = mapping.tasks.due.zone
    at = datetime.fromtimestamp(now, zone)
    out: list[Firing] = []
    for name, recipe in recipes.items():
        trigger = recipe.triggers[0]
        if not recipe.enabled or not trigger.startswith(("poll.", "schedule.")):
            continue
        base: dict[str, Any] = {
            "event": {
                "source": trigger.split(".")[0],
                "type": trigger,
                "timestamp": iso_z(now),
                "day": at.date().isoformat(),
            },
            "contact": {"id": None, "highlevel_id": None},
            "connection": {"name": connection, "location_id": loc},
            "now": iso_z(now),
        }
        causes: list[tuple[str, dict[str, Any]]]
        if trigger.startswith("schedule."):
            slot = schedule_slot(trigger, recipe.with_, at)
            causes = [] if slot is None else [(slot, {"slot": slot})]
        elif trigger == "poll.contact.idle":
            causes = _idle_causes(store, loc, recipe.with_, at)
        else:
            causes = _task_causes(store, loc, mapping, trigger, recipe.with_, at)
        for cause, extra in causes:
            ctx = {**base, **extra}
            out += firings(name, recipe, trigger, f"{trigger}:{cause}", ctx, mapping, zone, at)
    return out

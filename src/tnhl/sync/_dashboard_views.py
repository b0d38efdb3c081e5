"""What the dashboard's pages show, as plain data from the store, the settings and the mappings
(`_dashboard.py` serves them; the templates only lay them out).

Nothing here writes, except `replay`. Every body, record value and error passes through
`redacted`/`redact` first: a key that looks like a secret loses its value, and a bearer token,
PIT or `whsec_` secret anywhere in a text is masked, so the dashboard never shows a credential.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tnhl.highlevel import redact
from tnhl.mapping import (
    MappingConfig,
    TransformError,
    map_contact,
    map_note,
    map_task,
)
from tnhl.store import InboxRow, RecordNotFoundError, SqlStore
from tnhl.sync._admin import event_detail, outcome_of, redacted, status_report
from tnhl.sync._connections import ConnectionSettings
from tnhl.sync._recipe_plan import dry_run
from tnhl.sync._settings import Settings

__all__ = [
    "STATES",
    "EventFilter",
    "ago",
    "connections_page",
    "dead_page",
    "events_page",
    "preview_page",
    "recipes_page",
    "story_page",
    "when",
]

STATES = ("received", "pending", "done", "skipped", "dead")
SOURCES = ("talknotes", "highlevel", "recipe")
# Searching contacts reads the newest events of the filter and matches them here: the store
# looks events up by id only. Beyond this window an exact event id still finds its event.
_SEARCH_WINDOW = 2000


def _pretty_body(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return redact(body)  # not JSON (a folder could not read it): the text, masked
    return json.dumps(redacted(parsed), indent=2, ensure_ascii=False, sort_keys=False)


def when(ts: float | None) -> str:
    """Epoch seconds as a UTC time people read."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(ts: float | None, now: float) -> str:
    """How long before `now` (or after, for a time to come) `ts` is, in words."""
    if ts is None:
        return ""
    delta = now - ts
    ahead = delta < 0
    s = abs(delta)
    if s < 1:
        return "now"
    if s < 90:
        text = f"{s:.0f} s"
    elif s < 5400:
        text = f"{s / 60:.0f} min"
    elif s < 172_800:
        text = f"{s / 3600:.0f} h"
    else:
        text = f"{s / 86_400:.0f} days"
    return f"in {text}" if ahead else f"{text} ago"


def _names(settings: Settings) -> dict[str, str]:
    """location id -> connection name."""
    return {c.location_id: c.name for c in settings.connection_list()}


def connections_page(
    store: SqlStore,
    settings: Settings,
    now: float,
    paused: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`tnhl status` as the dashboard shows it; `paused` (location -> why, from the running
    service) is fresher than the snapshot file and wins over it."""
    report = status_report(store, settings, now=now)
    for conn in report["connections"]:
        why = (paused or {}).get(conn["location_id"])
        if why:
            conn["health"] = f"paused: HighLevel refused its credentials ({redact(why)})"
        elif conn["health"] == "1 dead letters":
            conn["health"] = "1 dead letter"
        limit = conn.get("rate_limit")
        if limit:
            used, cap = int(limit.get("used_in_window", 0)), int(limit.get("limit") or 0)
            conn["gauge"] = {"used": used, "limit": cap, "percent": _percent(used, cap)}
            if limit.get("credentials_refused"):
                limit["credentials_refused"] = redact(str(limit["credentials_refused"]))
        conn["health_class"] = _health_class(conn["health"])
    report["states"] = STATES
    return report


def _percent(used: int, cap: int) -> int:
    return 0 if cap <= 0 else max(0, min(100, round(100 * used / cap)))


def _health_class(health: str) -> str:
    if health == "ok":
        return "ok"
    return "bad" if health.startswith("paused") or "dead" in health else "warn"


@dataclass(frozen=True)
class EventFilter:
    """The event log's search box and filters, as the query string gives them."""

    q: str = ""
    connection: str = ""
    state: str = ""
    source: str = ""
    limit: int = 100

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> EventFilter:
        try:
            limit = max(1, min(500, int(query.get("limit", "100"))))
        except ValueError:
            limit = 100
        state = query.get("state", "")
        source = query.get("source", "")
        return cls(
            q=query.get("q", "").strip()[:255],
            connection=query.get("connection", ""),
            state=state if state in STATES else "",
            source=source if source in SOURCES else "",
            limit=limit,
        )


def _row(ev: InboxRow, names: Mapping[str, str], now: float) -> dict[str, Any]:
    outcome = outcome_of(ev)
    return {
        "id": ev.id,
        "source": ev.source,
        "event_id": ev.event_id,
        "event_type": ev.event_type,
        "connection": names.get(ev.location_id, ev.location_id),
        "contact": ev.entity_key,
        "state": ev.state,
        "attempts": ev.attempts,
        "received": when(ev.received_at),
        "received_ago": ago(ev.received_at, now),
        "outcome": redact(outcome or "")[:160],
    }


def events_page(
    store: SqlStore, settings: Settings, flt: EventFilter, now: float
) -> dict[str, Any]:
    """The newest events matching the filters, newest first; `q` is an event id (exact, or part
    of one), an inbox id, or a contact (TalkNotes or HighLevel id, or part of one)."""
    names = _names(settings)
    locations = {c.name: c.location_id for c in settings.connection_list()}
    location = locations.get(flt.connection)
    common: dict[str, Any] = {
        "location_id": location,
        "state": flt.state or None,
        "source": flt.source or None,
    }
    if not flt.q:
        rows = store.list_events(limit=flt.limit, **common)
    else:
        found: dict[int, InboxRow] = {}
        if flt.q.lstrip("#").isdigit():
            try:
                ev = store.get_event(int(flt.q.lstrip("#")))
            except RecordNotFoundError:
                pass
            else:
                if _matches(ev, common):
                    found[ev.id] = ev
        for ev in store.list_events(event_id=flt.q, limit=flt.limit, **common):
            found[ev.id] = ev
        needle = flt.q.lower()
        for ev in store.list_events(limit=_SEARCH_WINDOW, **common):
            if needle in ev.entity_key.lower() or needle in ev.event_id.lower():
                found[ev.id] = ev
        rows = sorted(found.values(), key=lambda e: e.id)[-flt.limit :]
    return {
        "events": [_row(ev, names, now) for ev in reversed(rows)],
        "filter": flt,
        "connections": list(locations),
        "states": STATES,
        "sources": SOURCES,
    }


def _matches(ev: InboxRow, common: Mapping[str, Any]) -> bool:
    return all(
        want is None or getattr(ev, field) == want
        for field, want in (
            ("location_id", common["location_id"]),
            ("state", common["state"]),
            ("source", common["source"]),
        )
    )


def story_page(store: SqlStore, settings: Settings, inbox_id: int, now: float) -> dict[str, Any]:
    """One event's story (RecordNotFoundError when there is none): what arrived, what became
    of it, its warnings and tries, its dead letter and its record, secrets masked."""
    detail = event_detail(store, inbox_id)
    names = _names(settings)
    ev = store.get_event(inbox_id)
    try:
        dead = store.get_dead(inbox_id=inbox_id)
    except RecordNotFoundError:
        dead = None
    record = detail.get("record")
    unfinished = ev.state in ("received", "pending")
    settled = ev.state in ("done", "skipped")  # an error from before is history, not news
    return {
        "event": _row(ev, names, now),
        "location_id": ev.location_id,
        "result": redact(ev.result or ""),
        "error": "" if settled else redact(ev.last_error or ""),
        "earlier_error": redact(ev.last_error or "") if settled else "",
        "warnings": [redacted(w) for w in detail["warnings"]],
        "next_attempt": ago(ev.next_attempt_at, now) if unfinished else "",
        "done": f"{when(ev.done_at)} ({ago(ev.done_at, now)})" if ev.done_at else "",
        "leased": bool(ev.lease_until and ev.lease_until > now),
        "unfinished": unfinished,
        "body": _pretty_body(ev.body),
        "calls": [
            {**c, "answer": json.dumps(c["answer"], indent=2, default=str)}
            if not isinstance(c["answer"], str)
            else c
            for c in detail["calls"]
        ],
        "record_key": ev.record_key,
        "record": None
        if record is None
        else {
            "key": record["key"],
            "status": record["status"],
            "highlevel_id": record["highlevel_id"],
            "values": json.dumps(redacted(record["values"]), indent=2, default=str),
            "in_highlevel": json.dumps(redacted(record["in_highlevel"]), indent=2, default=str),
            "last_error": redact(record["last_error"] or ""),
        },
        "dead": None
        if dead is None
        else {
            "id": dead.id,
            "reason": redact(dead.reason),
            "error": redact(dead.error or ""),
            "dead_at": f"{when(dead.dead_at)} ({ago(dead.dead_at, now)})",
            "replayed_at": when(dead.replayed_at),
            "replayable": dead.replayed_at is None and ev.state == "dead",
        },
    }


def dead_page(
    store: SqlStore, settings: Settings, now: float, *, connection: str = "", everything: bool
) -> dict[str, Any]:
    """Dead letters, oldest first (replayed ones too with `everything`)."""
    names = _names(settings)
    locations = {c.name: c.location_id for c in settings.connection_list()}
    letters = store.list_dead(
        include_replayed=everything, limit=500, location_id=locations.get(connection)
    )
    return {
        "letters": [
            {
                "id": d.id,
                "inbox_id": d.inbox_id,
                "event_id": d.event.event_id,
                "event_type": d.event.event_type,
                "connection": names.get(d.event.location_id, d.event.location_id),
                "contact": d.event.entity_key,
                "reason": redact(d.reason)[:240],
                "attempts": d.event.attempts,
                "dead_at": when(d.dead_at),
                "dead_ago": ago(d.dead_at, now),
                "replayed_at": when(d.replayed_at),
                "state": d.event.state,
            }
            for d in letters
        ],
        "connections": list(locations),
        "connection": connection if connection in locations else "",
        "everything": everything,
    }


def recipes_page(
    connections: Sequence[ConnectionSettings],
    mappings: Mapping[str, MappingConfig],
    switched: Mapping[str, Mapping[str, bool]],
) -> dict[str, Any]:
    """Each connection's recipes, on or off (and whether the dashboard set that, over the
    mapping file), with their triggers and actions."""
    out = []
    for conn in connections:
        mapping = mappings.get(conn.location_id)
        recipes = [] if mapping is None else list(mapping.recipes.items())
        here = switched.get(conn.location_id, {})
        out.append(
            {
                "name": conn.name,
                "location_id": conn.location_id,
                "recipes": [
                    {
                        "name": name,
                        "on": r.enabled,
                        "switched": name in here,
                        "triggers": list(r.triggers),
                        "actions": list(r.action_ids()),
                        "description": r.description,
                    }
                    for name, r in recipes
                ],
            }
        )
    return {"connections": out}


def preview_page(
    text: str, conn: ConnectionSettings, mapping: MappingConfig, now: float
) -> dict[str, Any]:
    """What the recipes would do for one pasted event, and the HighLevel fields a TalkNotes
    event maps to: a dry run, nothing stored or sent."""
    out: dict[str, Any] = {"text": text, "error": "", "runs": None, "plan": None}
    try:
        body = json.loads(text)
    except ValueError as exc:
        out["error"] = f"not JSON: {exc}"
        return out
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        out["error"] = "type: an event is a JSON object with a string type"
        return out
    runs = dry_run(body, mapping, now=now, connection=conn.name, location_id=conn.location_id)
    out["runs"] = [{"recipe": r.recipe, "steps": [redact(s) for s in r.steps]} for r in runs]
    out["plan"] = _record_plan(body, mapping, now)
    return out


def _record_plan(body: Mapping[str, Any], mapping: MappingConfig, now: float) -> Any:
    data = body.get("data")
    kind, _, action = str(body["type"]).partition(".")
    if not isinstance(data, Mapping) or kind not in ("contact", "task", "note"):
        return None  # a HighLevel webhook: it goes to TalkNotes, not through the mapping
    if action == "deleted":
        return {"kind": kind, "fields": None, "warnings": [], "refused": ""}
    mappers: dict[str, Callable[[], Any]] = {
        "contact": lambda: map_contact(data, mapping),
        "task": lambda: map_task(
            data, mapping, create=action == "created", reference=_stamp(body, now)
        ),
        "note": lambda: map_note(data, mapping, create=action == "created"),
    }
    try:
        mapped = mappers[kind]()
    except TransformError as exc:
        return {"kind": kind, "fields": None, "warnings": [], "refused": redact(str(exc))}
    return {
        "kind": kind,
        "fields": json.dumps(redacted(mapped.fields), indent=2, default=str),
        "warnings": [redact(w) for w in mapped.warnings],
        "refused": "",
    }


def _stamp(body: Mapping[str, Any], now: float) -> datetime:
    stamp = body.get("timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.fromtimestamp(now, UTC)

"""What `tnhl status` and `tnhl dlq` show and do, as plain data (the CLI only renders it)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tnhl.highlevel import RateLimiter, redact
from tnhl.store import (
    DeadLetter,
    EventCall,
    InboxRow,
    SqlStore,
    StoreStats,
    current_revision,
    open_store,
    upgrade_to_head,
)
from tnhl.sync._errors import SettingsError
from tnhl.sync._pauses import NEEDS_LOGIN
from tnhl.sync._settings import Settings

__all__ = [
    "dead_letter_detail",
    "dead_letter_summary",
    "event_detail",
    "event_summary",
    "limiter_path",
    "open_settings_store",
    "status_report",
]

_BODY_PREVIEW = 80


def limiter_path(settings: Settings) -> Path:
    """Where the running service writes its rate-limit snapshot for `tnhl status`."""
    return settings.data_dir / "ratelimit.json"


def write_limiter_snapshot(
    path: Path,
    limiter: RateLimiter,
    locations: Sequence[str],
    now: float,
    paused: Mapping[str, str] | None = None,
) -> None:
    """Write each location's limiter state, and why a connection is paused (its credentials
    refused), atomically (temp file + rename)."""
    out: dict[str, Any] = {}
    for location in locations:
        snap = limiter.snapshot(location)
        until = snap.paused_until if snap.paused_until and snap.paused_until > now else None
        out[location] = {
            "limit": snap.limit,
            "interval_seconds": snap.interval,
            "used_in_window": snap.used_in_window,
            "remaining": snap.remaining,
            "daily_remaining": snap.daily_remaining,
            "paused_for_seconds": round(until - now, 3) if until else 0.0,
            "credentials_refused": (paused or {}).get(location),
        }
    data = {"written_at": now, "locations": out}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out_file:
        out_file.write(json.dumps(data))
    os.replace(tmp, path)


def open_settings_store(settings: Settings, *, create: bool = True) -> SqlStore:
    """The store named by the settings, migrated to the newest schema. With `create=False`
    (commands that only look at it) a store that does not exist yet is a SettingsError
    saying where it was looked for, and nothing is created there."""
    field = "database_url" if settings.database_url else "data_dir"
    setting = f"{field} (TNHL_{field.upper()})"
    if create:
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return open_store(settings.store_url, setting=setting)
    where = _sqlite_file(settings.store_url)
    if where is not None and not where.is_file():
        raise SettingsError(field, f"no tnhl store at {where.absolute()}; {_ELSEWHERE}")
    store = open_store(settings.store_url, setting=setting, migrate=False)
    try:
        if current_revision(store.engine) is None:
            raise SettingsError(field, f"that database holds no tnhl store; {_ELSEWHERE}")
        upgrade_to_head(store.engine)
    except BaseException:
        store.close()
        raise
    return store


_ELSEWHERE = (
    "run this command in the folder where `tnhl run` ran, or point --data-dir or "
    "--database-url at its store"
)


def _sqlite_file(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for another backend or a URL that is no URL: the
    store names those itself)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser()


def _rate_limits(settings: Settings, now: float) -> dict[str, Any]:
    path = limiter_path(settings)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    age = max(0.0, now - float(data.get("written_at", now)))
    out: dict[str, Any] = {}
    for loc, snap in data.get("locations", {}).items():
        out[loc] = {**snap, "as_of_seconds_ago": round(age, 1)}
    return out


def status_report(
    store: SqlStore,
    settings: Settings,
    *,
    now: float | None = None,
    connection: str | None = None,
) -> dict[str, Any]:
    """Events by state, the oldest unsettled event's age, leases, dead letters and rate
    limits, for the whole store and per connection (`connection`: that one only; an unknown
    name is a SettingsError)."""
    now = time.time() if now is None else now
    connections = settings.connection_list()
    if connection is not None:
        connections = [c for c in connections if c.name == connection]
        if not connections:
            known = ", ".join(c.name for c in settings.connection_list()) or "none"
            raise SettingsError("connection", f"no connection named {connection!r} ({known})")
    limits = _rate_limits(settings, now)
    whole = connection is None
    report = _figures(store.stats(now=now)) if whole else {}
    if whole:
        report["rate_limits"] = limits
        served = {c.location_id for c in settings.connection_list()}
        # Events no connection will ever run: filed under a location id since changed.
        report["unserved"] = {
            loc: n for loc, n in store.event_locations().items() if loc not in served
        }
    report["connections"] = [
        _connection_report(store, c.name, c.location_id, limits.get(c.location_id), now)
        for c in connections
    ]
    return report


def _figures(stats: StoreStats) -> dict[str, Any]:
    age = stats.oldest_unfinished_age
    return {
        "events": dict(stats.counts),
        "oldest_pending_age_seconds": round(age, 3) if age is not None else None,
        "leased": stats.leased,
        "dead_letters": stats.dead_letters,
        "events_with_warnings": stats.events_with_warnings,
        "records_waiting": stats.waiting_records,
    }


def _connection_report(
    store: SqlStore, name: str, location: str, limit: dict[str, Any] | None, now: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "location_id": location}
    out.update(_figures(store.stats(now=now, location_id=location)))
    out["rate_limit"] = limit
    refused = (limit or {}).get("credentials_refused")
    if refused and str(refused).startswith(NEEDS_LOGIN):
        out["health"] = f"{refused} (paused; its events are kept)"
    elif refused:
        out["health"] = f"paused: HighLevel refused its credentials ({refused})"
    elif limit and limit.get("paused_for_seconds"):
        out["health"] = f"rate limited for {limit['paused_for_seconds']:g} s"
    elif out["dead_letters"]:
        out["health"] = f"{out['dead_letters']} dead letters"
    else:
        out["health"] = "ok"
    return out


def dead_letter_summary(dead: DeadLetter) -> dict[str, Any]:
    ev = dead.event
    return {
        "id": dead.id,
        "inbox_id": dead.inbox_id,
        "event_id": ev.event_id,
        "event_type": ev.event_type,
        "entity": ev.entity_key,
        "reason": dead.reason,
        "attempts": ev.attempts,
        "dead_at": dead.dead_at,
        "replayed_at": dead.replayed_at,
    }


def dead_letter_detail(dead: DeadLetter) -> dict[str, Any]:
    out = dead_letter_summary(dead)
    out["error"] = dead.error
    out["event"] = {
        k: v for k, v in dataclasses.asdict(dead.event).items() if k not in ("lease_owner",)
    }
    return out


MASK = "••• redacted"
# Keys whose values are never shown, whatever they hold (a body is the sender's to shape).
_SECRET_KEY = re.compile(
    r"(?i)secret|token|passw|pwd|api[-_]?key|authori[sz]ation|^auth$|signature|credential"
    r"|private[-_]?key|cookie|session|bearer"
)


def redacted(value: Any, key: str | None = None) -> Any:
    """`value` with every secret-looking key's value masked and every text `redact`ed."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


def outcome_of(ev: InboxRow) -> str | None:
    """What became of an event, in words: a finished one's result (its last error, from
    before a retry, a replay or going live, is history), else its error or result so far."""
    if ev.state in ("done", "skipped") or ev.last_error is None:
        return ev.result
    return ev.last_error


def event_summary(ev: InboxRow) -> dict[str, Any]:
    """One line of `tnhl events list`: what arrived, and what became of it."""
    return {
        "id": ev.id,
        "source": ev.source,
        "event_id": ev.event_id,
        "event_type": ev.event_type,
        "location_id": ev.location_id,
        "entity": ev.entity_key,
        "state": ev.state,
        "attempts": ev.attempts,
        "received_at": ev.received_at,
        "done_at": ev.done_at,
        "outcome": outcome_of(ev),
    }


def _call(c: EventCall) -> dict[str, Any]:
    try:
        answer: Any = redacted(json.loads(c.answer))
    except ValueError:
        answer = c.answer  # masked when stored; an error's text, or a cut-off body
    return {
        "at": datetime.fromtimestamp(c.at, UTC).isoformat(timespec="milliseconds"),
        "operation": c.operation,
        "request": c.request,
        "status": c.status,
        "seconds": round(c.seconds, 3),
        "answer": answer,
    }


def event_detail(store: SqlStore, inbox_id: int) -> dict[str, Any]:
    """One stored event: its state and outcome, the mapping's warnings, its body, each
    HighLevel call its record made (status and answer) and its record."""
    ev = store.get_event(inbox_id)
    out: dict[str, Any] = {
        k: v for k, v in dataclasses.asdict(ev).items() if k not in ("lease_owner", "warnings")
    }
    out["warnings"] = json.loads(ev.warnings) if ev.warnings else []
    try:
        out["body"] = redacted(json.loads(ev.body))  # secrets never shown
    except ValueError:
        out["body"] = redact(ev.body)
    out["calls"] = [_call(c) for c in store.event_calls(inbox_id)]
    if ev.record_key is not None:
        kind, _, talknotes_id = ev.record_key.partition(":")
        state = store.get_record(ev.location_id, kind, talknotes_id)
        if state is not None:
            out["record"] = {
                "key": state.record_key,
                "status": state.status,
                "values": state.values(),
                "in_highlevel": dict(state.applied),
                "highlevel_id": store.get_highlevel_id(ev.location_id, kind, talknotes_id),
                "last_error": state.last_error,
            }
    return out

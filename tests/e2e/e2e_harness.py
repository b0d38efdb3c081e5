"""Helpers for the end-to-end tests: a service wired to a running simulator, signed posting,
waiting with deadlines, and the check of the simulator's state against the TalkNotes stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tnhl.highlevel._core import RetryPolicy
from tnhl.mapping import (
    TransformError,
    default_mapping,
    normalise_email,
    normalise_priority,
    parse_due_date,
    split_name,
    to_e164,
)
from tnhl.simulator import RunningSimulator, serve_in_thread
from tnhl.store import SqlStore
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes._generator import generate, signed_requests

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def events_for_e2e(n: int, *, seed: int, people: int) -> list[dict[str, Any]]:
    """The generator's default stream: distinct emails and phones, no external_id."""
    return generate(n, seed=seed, n_people=people)


def settings_for(sim: RunningSimulator, data_dir: Path, secret: str, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "highlevel_base_url": sim.base_url,
        "highlevel_token": sim.token,
        "location_id": sim.location_id,
        "talknotes_secret": secret,
        "data_dir": data_dir,
        "workers": 3,
        "poll_interval": 0.02,
        "sweep_interval": 0.2,
        "retry_scale": 1e-4,
        "http_timeout": 2.0,
    }
    values.update(kw)
    if values.get("highlevel_token") is None:
        values.pop("highlevel_token")
    return load_settings(**values)


@contextmanager
def running_service(settings: Any) -> Iterator[tuple[Service, str]]:
    service = Service.from_settings(settings, retry=FAST_RETRY)
    service.start()
    try:
        with serve_in_thread(service.app) as base:
            yield service, base
    finally:
        service.stop()


def post_events(base: str, events: list[dict[str, Any]], secret: str, prefix: str = "m") -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        for headers, body in signed_requests(
            events, secret, timestamp=int(time.time()), id_prefix=prefix
        ):
            r = http.post("/webhooks/talknotes", content=body, headers=headers)
            assert r.status_code == 202, r.text


def settled(store: SqlStore, n: int) -> bool:
    c = store.stats().counts
    return c.get("done", 0) + c.get("skipped", 0) + c.get("dead", 0) >= n


@dataclass
class Expected:
    """The TalkNotes side after the whole stream: who exists, with which tasks and notes."""

    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_notes: set[str] = field(default_factory=set)


def expected_state(events: list[dict[str, Any]]) -> Expected:
    exp = Expected()
    for e in events:
        kind, data = e["type"], e["data"]
        if kind in ("contact.created", "contact.updated"):
            person = exp.people.setdefault(data["id"], {})
            for k, v in data.items():
                if k == "custom_fields":
                    person.setdefault(k, {}).update(v)
                else:
                    person[k] = v
        elif kind == "contact.deleted":
            exp.deleted.add(data["id"])
        elif kind.startswith("task."):
            task = exp.tasks.setdefault(data["id"], {})
            task.update(data)
            if data.get("priority") is not None:
                task.setdefault("_priorities", []).append(data["priority"])
        elif kind in ("note.created", "note.updated"):
            exp.notes.setdefault(data["id"], {}).update(data)
        elif kind == "note.deleted":
            exp.deleted_notes.add(data["id"])
    return exp


def check_simulator(sim: RunningSimulator, store: SqlStore, events: list[dict[str, Any]]) -> None:
    """One contact per person, every task and note once, on the right contact, fields mapped."""
    exp = expected_state(events)
    loc = sim.location_id
    mapping = default_mapping()
    contacts = {c["id"]: c for c in sim.state.all("contact") if c.get("locationId") == loc}
    alive = {pid: p for pid, p in exp.people.items() if pid not in exp.deleted}
    assert len(contacts) == len(alive), (
        f"{len(contacts)} contacts in HighLevel, {len(alive)} people"
    )
    hl_of: dict[str, str] = {}
    for pid, person in alive.items():
        hl_id = store.get_highlevel_id(loc, "contact", pid)
        assert hl_id in contacts, f"person {pid} has no contact in HighLevel"
        hl_of[pid] = hl_id
        contact = contacts[hl_id]
        if person.get("email"):
            assert contact.get("email") == normalise_email(person["email"]), pid
        if person.get("phone"):
            region = mapping.contact.phone.default_region
            try:
                phone = to_e164(person["phone"], region=region)
            except TransformError:
                phone = None  # the default mapping drops a phone it cannot read
            if phone is not None:
                assert contact.get("phone") == phone, pid
        if person.get("full_name"):
            n = mapping.contact.name
            parts = split_name(
                person["full_name"],
                rule=n.split,
                prefixes=n.prefixes,
                suffixes=n.suffixes,
                particles=n.particles,
            )
            assert contact.get("firstName") == parts.first, pid
            assert contact.get("lastName") == parts.last, pid
    assert len(set(hl_of.values())) == len(hl_of), "two people share one HighLevel contact"

    tasks = [t for t in sim.state.all("task") if t.get("contactId") in contacts]
    live_tasks = {tid: t for tid, t in exp.tasks.items() if t["contactId"] in alive}
    assert len(tasks) == len(live_tasks), (
        f"{len(tasks)} tasks in HighLevel, {len(live_tasks)} expected"
    )
    by_id = {t["id"]: t for t in tasks}
    for tid, task in live_tasks.items():
        hl_task = by_id.get(store.get_highlevel_id(loc, "task", tid) or "")
        assert hl_task is not None, f"task {tid} missing"
        assert hl_task["contactId"] == hl_of[task["contactId"]], f"task {tid} on the wrong contact"
        assert bool(hl_task.get("completed")) == bool(task.get("completed")), tid
        # Title: the default mapping prefixes the priority's label ("[High] Call Sam back").
        # Title: the latest name, prefixed with a priority label. HighLevel tasks have no
        # priority field, and the planner only knows the priorities of the events it sees
        # together (coalesced updates keep an earlier one; a lone update without one drops
        # it), so any label from the task's history, or none, is accepted.
        titles = {task["taskName"]}
        for priority in task.get("_priorities", []):
            level = normalise_priority(priority)
            label = mapping.tasks.priority.labels.get(level) if level else None
            if label:
                titles.add(f"[{label}] {task['taskName']}")
        assert hl_task["title"] in titles, (tid, hl_task["title"], titles)
        # Due date: the given one in HighLevel's UTC form (zone-less values read as UTC).
        if task.get("dueDate"):
            due = parse_due_date(
                task["dueDate"],
                zone=ZoneInfo(mapping.tasks.due.timezone),
                date_only_time=mapping.tasks.due.date_only_time,
            )
            assert _instant(hl_task["dueDate"]) == _instant(due), tid

    notes = [n for n in sim.state.all("note") if n.get("contactId") in contacts]
    live_notes = {
        nid: n
        for nid, n in exp.notes.items()
        if n["contactId"] in alive and nid not in exp.deleted_notes
    }
    assert len(notes) == len(live_notes), (
        f"{len(notes)} notes in HighLevel, {len(live_notes)} expected"
    )
    by_id = {n["id"]: n for n in notes}
    for nid, note in live_notes.items():
        hl_note = by_id.get(store.get_highlevel_id(loc, "note", nid) or "")
        assert hl_note is not None, f"note {nid} missing"
        assert hl_note["contactId"] == hl_of[note["contactId"]], f"note {nid} on the wrong contact"
        assert hl_note["body"] == note["noteContent"], nid
        assert (hl_note.get("title") or None) == (note.get("noteTitle") or None), nid

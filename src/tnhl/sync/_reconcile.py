"""Reconciliation (issue 9): HighLevel's changes that no webhook brought (lost, sent while tnhl
was stopped, or never sent: a Private Integration Token cannot subscribe to webhooks), found by
polling, per connection with an outbound URL.

Every `reconcile_interval` seconds, `POST /contacts/search` for the contacts whose
`dateUpdated` is at or after the cursor less `OVERLAP_MS`, sorted by `dateUpdated` then id and
paged by `searchAfter` (keyset paging: a contact updated during the poll moves behind the page
being read instead of shifting the pages under it). The overlap is there because HighLevel's
search index is eventually consistent ("updates may take a few seconds to appear in search
results", docs/highlevel-api.md section 5).

Each contact becomes a HighLevel event in the inbox (a `ContactUpdate` shaped like the webhook)
whose id is made of (contact id, dateUpdated): the overlap re-reads a change but stores it once.
For a contact past the cursor (or newly visible), its tasks, notes and appointments are read too
(three GETs) and stored as events whose ids cover their content and the contact's dateUpdated.
The cursor, `(dateUpdated, id)` of the last contact fully stored, moves after each page: a kill
loses nothing, the next poll starts again from it. The outbound pump then tells TalkNotes only
what it was not already told, and never tnhl's own writes (echoes).

Every `reconcile_sweep_interval` seconds a deletion sweep pages through all contacts; each
contact TalkNotes knows (`known_highlevel_ids`) that is missing is confirmed gone with
`GET /contacts/{id}` before a `ContactDelete` event is stored.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from tnhl.highlevel import APIError
from tnhl.store import InboundEvent, SqlStore
from tnhl.sync._calls import already_gone
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._readback import CallFn
from tnhl.talknotes import epoch_of, iso_z

__all__ = [
    "CHILDREN",
    "OVERLAP_MS",
    "PollReport",
    "Reconciler",
    "SweepReport",
    "child_events",
    "contact_event",
    "contacts_of",
    "patient",
    "search_body",
]

log = structlog.get_logger("tnhl.sync")

OVERLAP_MS = 60_000
_PAGE = 100
_SWEEP_PAGE = 500
# (operation, answer key, event type for an open item, for a done one, nested under)
CHILDREN = (
    ("get-all-tasks", "tasks", "TaskUpdate", "TaskComplete", None),
    ("get-all-notes", "notes", "NoteUpdate", "NoteUpdate", None),
    (
        "get-appointments-for-contact",
        "events",
        "AppointmentUpdate",
        "AppointmentUpdate",
        "appointment",
    ),
)


@dataclass(frozen=True)
class PollReport:
    """One poll of one connection: contacts read, and events stored (new to the inbox)."""

    location_id: str
    contacts: int
    stored: int
    calls: int


@dataclass(frozen=True)
class SweepReport:
    """One deletion sweep: contacts listed, known ones missing, deletions stored."""

    location_id: str
    listed: int
    missing: int
    stored: int
    calls: int


def _ms(value: Any) -> int | None:
    at = epoch_of(value)
    return None if at is None else round(at * 1000)


def _iso(ms: int) -> str:
    return iso_z(ms / 1000)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def contact_event(location_id: str, contact: Mapping[str, Any], now: float) -> InboundEvent:
    """A polled contact as the HighLevel event the inbox stores (a webhook-shaped payload)."""
    payload = {**contact, "type": "ContactUpdate", "locationId": location_id}
    payload.pop("searchAfter", None)
    event_id = f"reconcile:{contact['id']}:{contact.get('dateUpdated')}"
    return InboundEvent(
        "highlevel",
        event_id[:255],
        "ContactUpdate",
        location_id,
        str(contact["id"]),
        json.dumps(payload),
        now,
    )


def child_events(
    location_id: str, contact: Mapping[str, Any], answers: Sequence[Any], now: float
) -> list[InboundEvent]:
    """A polled contact's tasks, notes and appointments (one answer per `CHILDREN` entry) as
    HighLevel events, stamped with the poll's time: the items carry no time of their own
    change, and what they hold is HighLevel's state as of now."""
    stamp = _iso(round(now * 1000))
    out = []
    for (_, key, open_type, done_type, nest), answer in zip(CHILDREN, answers, strict=True):
        items = answer.get(key) if isinstance(answer, Mapping) else None
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                continue
            item = {**item, "contactId": item.get("contactId") or contact["id"]}
            type_ = done_type if item.get("completed") is True else open_type
            body: dict[str, Any] = {"type": type_, "locationId": location_id, "timestamp": stamp}
            body.update({nest: item} if nest else item)
            event_id = f"reconcile:{type_}:{item['id']}:{_digest(item, contact.get('dateUpdated'))}"
            out.append(
                InboundEvent(
                    "highlevel",
                    event_id[:255],
                    type_,
                    location_id,
                    str(item["contactId"]),
                    json.dumps(body),
                    now,
                )
            )
    return out


def search_body(
    location_id: str,
    sort: str,
    after: list[Any] | None,
    *,
    page: int = _PAGE,
    since_ms: int | None = None,
) -> dict[str, Any]:
    """A contacts search sorted by `sort` (ascending; the id breaks ties), the page after
    `after` (a contact's `searchAfter`), only contacts updated since `since_ms` if given."""
    body: dict[str, Any] = {
        "locationId": location_id,
        "pageLimit": page,
        "sort": [{"field": sort, "direction": "asc"}],
    }
    if since_ms is not None:
        gte = {"gte": _iso(since_ms)}
        body["filters"] = [{"field": "dateUpdated", "operator": "range", "value": gte}]
    if after is not None:
        body["searchAfter"] = after
    return body


def contacts_of(answer: Any) -> list[Mapping[str, Any]]:
    found = answer.get("contacts") if isinstance(answer, Mapping) else None
    return [c for c in found or () if isinstance(c, Mapping) and isinstance(c.get("id"), str)]


def patient(call: CallFn, wait: Callable[[float], object] = time.sleep) -> CallFn:
    """`call` that waits for the rate limiter's slot instead of giving up: the connections'
    clients pace through the workers' limiter, which answers a call with no slot free with
    RescheduleNeeded (a worker reschedules the record; a poll or a backfill just waits, until
    `wait` reports a stop by returning True)."""

    def waiting(
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any:
        while True:
            try:
                return call(operation_id, params=params, json=json)
            except RescheduleNeeded as exc:
                if wait(max(exc.wait, 0.01)) is True:  # an Event's wait: it was set (stop)
                    raise

    return waiting


def _cursor(raw: str | None) -> tuple[int, str] | None:
    if raw is None:
        return None
    ms, _, last_id = raw.partition(":")
    return int(ms), last_id


class Reconciler:
    """Polls each connection in `calls` (location -> its HighLevel client's call) in turn."""

    def __init__(
        self,
        store: SqlStore,
        calls: Mapping[str, CallFn],
        *,
        interval: float = 300.0,
        sweep_interval: float = 86_400.0,
        clock: Callable[[], float] = time.time,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._stop = threading.Event()
        self._calls = {loc: patient(c, self._stop.wait) for loc, c in calls.items()}
        self._interval = interval
        self._sweep_every = sweep_interval
        self._clock = clock
        self._on_stored = on_stored
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tnhl-reconcile", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        next_poll = dict.fromkeys(self._calls, 0.0)
        while not self._stop.is_set():
            for loc in self._calls:
                now = self._clock()
                if now >= next_poll[loc]:
                    next_poll[loc] = now + self._interval
                    self._guarded("poll", loc, self.poll)
                if self._sweep_due(loc, now):
                    self._guarded("sweep", loc, self.sweep)
            wait = min(next_poll.values()) - self._clock()
            self._stop.wait(max(0.05, min(wait, self._sweep_every, 60.0)))

    def _guarded(self, what: str, loc: str, fn: Callable[[str], object]) -> None:
        try:
            report = fn(loc)
        except Exception as exc:  # HighLevel or the store unavailable: the next turn retries
            log.warning(f"reconciliation {what} failed", location_id=loc, error=type(exc).__name__)
            return
        log.info(f"reconciliation {what}", **vars(report))

    def _sweep_due(self, loc: str, now: float) -> bool:
        name = f"reconcile-sweep:{loc}"
        last = self._store.get_cursor(name)
        if last is None:  # the first sweep one interval after the connection is first seen
            self._store.set_cursor(name, repr(now))
            return False
        return now >= float(last) + self._sweep_every

    def _store_events(self, events: Sequence[InboundEvent]) -> int:
        stored = sum(1 for e in events if self._store.add_inbound(e))
        if stored and self._on_stored is not None:
            self._on_stored()
        return stored

    def poll(self, location_id: str) -> PollReport:
        """One poll of one connection: every contact changed since the cursor (and its
        tasks, notes and appointments) stored as events, the cursor moved past them."""
        call = self._calls[location_id]
        name = f"reconcile:{location_id}"
        now = self._clock()
        start = _cursor(self._store.get_cursor(name))
        if start is None:  # first poll of this connection: from now on (backfill is separate)
            start = (round(now * 1000), "")
            self._store.set_cursor(name, f"{start[0]}:")
        contacts = stored = calls = 0
        after: list[Any] | None = None
        while True:
            body = search_body(location_id, "dateUpdated", after, since_ms=start[0] - OVERLAP_MS)
            answer = call("search-contacts-advanced", json=body)
            calls += 1
            page = contacts_of(answer)
            last: tuple[int, str] | None = None
            for contact in page:
                contacts += 1
                key = (_ms(contact.get("dateUpdated")) or 0, str(contact["id"]))
                new = self._store_events([contact_event(location_id, contact, now)])
                if new or key > start:
                    answers = [call(op, params={"contactId": contact["id"]}) for op, *_ in CHILDREN]
                    calls += len(answers)
                    new += self._store_events(child_events(location_id, contact, answers, now))
                stored += new
                last = key
            if last is not None and last > start:
                self._store.set_cursor(name, f"{last[0]}:{last[1]}")
            if len(page) < _PAGE:
                return PollReport(location_id, contacts, stored, calls)
            after = page[-1].get("searchAfter") or [page[-1].get("dateUpdated"), page[-1]["id"]]

    def _all_ids(self, call: CallFn, location_id: str) -> tuple[set[str], int]:
        """Every contact id of a location, and the calls it took (pages of 500)."""
        ids: set[str] = set()
        after: list[Any] | None = None
        calls = 0
        while True:
            body = search_body(location_id, "dateAdded", after, page=_SWEEP_PAGE)
            calls += 1
            page = contacts_of(call("search-contacts-advanced", json=body))
            ids.update(str(c["id"]) for c in page)
            if len(page) < _SWEEP_PAGE or not page[-1].get("searchAfter"):
                return ids, calls
            after = page[-1]["searchAfter"]

    def sweep(self, location_id: str) -> SweepReport:
        """Find contacts TalkNotes knows that HighLevel no longer has (deleted while their
        webhook was lost): each missing one confirmed gone, then stored as a ContactDelete."""
        call = self._calls[location_id]
        now = self._clock()
        known = self._store.known_highlevel_ids(location_id, "contact")
        listed, calls = self._all_ids(call, location_id)
        events = []
        missing = sorted(known - listed)
        for hl_id in missing:
            calls += 1
            try:
                call("get-contact", params={"contactId": hl_id})
                continue  # there after all (created while the listing ran, or not yet indexed)
            except APIError as exc:
                if not already_gone(exc):
                    raise
            body = {
                "type": "ContactDelete",
                "locationId": location_id,
                "id": hl_id,
                "timestamp": _iso(round(now * 1000)),
            }
            events.append(
                InboundEvent(
                    "highlevel",
                    f"reconcile:delete:{hl_id}",
                    "ContactDelete",
                    location_id,
                    hl_id,
                    json.dumps(body),
                    now,
                )
            )
        stored = self._store_events(events)
        self._store.set_cursor(f"reconcile-sweep:{location_id}", repr(now))
        return SweepReport(location_id, len(listed), len(missing), stored, calls)

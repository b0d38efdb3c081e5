"""Recipes, the engine: one thread that fires recipes and runs what they fired.

Firing. Per connection the thread tails the inbox with a cursor kept in the store (each event
once, in arrival order, only events a few seconds old: on PostgreSQL ids may commit out of
order), and turns every event a recipe triggers, whose conditions hold, into a *firing*: an
inbox row of source `recipe` whose id names the recipe and its cause, so a cause fires a recipe
once, however often the event is read (and `once_per` makes that once per contact, say). The
cursor moves after the firings are stored. Polls (`poll.*`, over the records tnhl holds) and
schedules (`schedule.*`) fire the same way every `poll_interval`, each cause once (a task and
its due date, a contact and its last change, a period).

Running. Firings are claimed like HighLevel events (leased, one per contact at a time). Each
action has an operation key, marked sent before it goes out and succeeded after: a retried
firing skips what succeeded, never sends a create twice (one whose outcome is unknown is
dead-lettered, not re-sent), and a failure retries on the engine's schedule, then becomes a
dead letter `tnhl dlq replay` brings back (run with the recipe as it is then).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from tnhl.highlevel import OPERATIONS, APIError, HighLevelError
from tnhl.mapping import MappingConfig, Recipe
from tnhl.store import Delivery, InboundEvent, InboxRow, OpMark, SqlStore
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._readback import CallFn
from tnhl.sync._recipe_plan import (
    GENERATED_PREFIXES,
    Firing,
    Step,
    event_context,
    firings,
    steps,
    trigger_of,
)
from tnhl.sync._recipe_polls import poll_firings
from tnhl.sync._schedule import RetrySchedule
from tnhl.talknotes import (
    DeliveryFailed,
    InvalidEvent,
    TalkNotesOut,
    WebhookOut,
    iso_z,
    parse_event,
)

__all__ = ["RecipeConnection", "RecipeEngine"]

log = structlog.get_logger("tnhl.sync")
_GENERATED_IDS = ("followup-", "milestone-", "recipe-")


@dataclass
class RecipeConnection:
    """What a connection's recipes run with."""

    name: str
    location_id: str
    mapping: MappingConfig
    call: CallFn
    out: TalkNotesOut | None = None


class _Wait(Exception):
    """An action cannot run yet (its contact is not in HighLevel): retried later."""


class _Refused(Exception):
    """An action can never run as rendered: dead-lettered, naming why."""


class RecipeEngine:
    """Fires each connection's recipes and runs their actions, on one thread."""

    def __init__(
        self,
        store: SqlStore,
        connections: Mapping[str, RecipeConnection],
        schedule: RetrySchedule,
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        poll_interval: float = 60.0,
        settle: float = 2.0,
        lease_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._conns = dict(connections)
        self._schedule = schedule
        self._clock = clock
        self._interval = interval
        self._poll_every = poll_interval
        self._settle = settle
        self._lease = lease_seconds
        self._next_poll = 0.0
        self._name = f"recipes-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=10.0)
        self.fired = 0
        self.ran = 0

    @staticmethod
    def _cursor(location: str) -> str:
        return f"recipes:{location}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tnhl-recipes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._http.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.turn()
            except Exception as exc:  # the store away for a moment: try again next turn
                log.warning("recipes turn failed", error=type(exc).__name__, detail=str(exc)[:200])
                busy = 0
            if not busy:
                self._stop.wait(self._interval)

    def turn(self) -> int:
        """One pass: fire what new events, polls and schedules trigger; run due firings."""
        now = self._clock()
        n = sum(self.scan(loc, now) for loc in self._conns)
        if now >= self._next_poll:
            self._next_poll = now + self._poll_every
            n += sum(self.poll(loc, now) for loc in self._conns)
        return n + self.run_due(now)

    # firing ----------------------------------------------------------------------------------
    def _store_firings(self, loc: str, fired: list[Firing], now: float) -> int:
        for f in fired:
            entity = f.context.get("contact", {}).get("id") or f.recipe
            body = json.dumps({"recipe": f.recipe, "context": f.context}, default=str)
            event = InboundEvent("recipe", f.event_id, "recipe.fired", loc, str(entity), body, now)
            if self._store.add_inbound(event):
                self.fired += 1
        return len(fired)

    def scan(self, loc: str, now: float) -> int:
        """Fire the recipes the connection's new events trigger; the cursor moves after."""
        conn = self._conns[loc]
        name = self._cursor(loc)
        after = int(self._store.get_cursor(name) or 0)
        rows = self._store.events_after(loc, after, received_before=now - self._settle)
        if not rows:
            return 0
        recipes = {n: r for n, r in conn.mapping.recipes.items() if r.enabled}
        # Counting a contact's notes costs a read: only when a recipe asks for it.
        counts = any("contact.notes" in r.model_dump_json(by_alias=True) for r in recipes.values())
        for row in rows:
            if recipes:
                fired = self._row_firings(conn, recipes, row, now, counts)
                self._store_firings(loc, fired, now)
        self._store.set_cursor(name, str(rows[-1].id))
        return len(rows)

    def _row_firings(
        self,
        conn: RecipeConnection,
        recipes: Mapping[str, Recipe],
        row: InboxRow,
        now: float,
        counts: bool,
    ) -> list[Firing]:
        if row.source == "recipe" or row.event_id.startswith(GENERATED_PREFIXES):
            return []
        trigger = trigger_of(row.source, row.event_type)
        if trigger is None:
            return []
        try:
            body = json.loads(row.body)
        except ValueError:
            return []
        if not isinstance(body, dict):
            return []
        zone = conn.mapping.tasks.due.zone
        ctx = event_context(
            row.source,
            row.event_id,
            body,
            location_id=row.location_id,
            connection=conn.name,
            zone=zone,
            now=now,
        )
        self._link(row.location_id, ctx)
        if counts:
            ctx["contact"]["notes"] = self._notes(row.location_id, ctx, body)
        at = datetime.fromtimestamp(now, UTC)
        cause = f"{row.source}:{row.event_id}"
        out: list[Firing] = []
        for name, recipe in recipes.items():
            out += firings(name, recipe, trigger, cause, ctx, conn.mapping, zone, at)
        return out

    def _link(self, loc: str, ctx: dict[str, Any]) -> None:
        """Fill in the contact's other id from the id map, when it is known."""
        contact = ctx["contact"]
        if contact.get("id") and not contact.get("highlevel_id"):
            contact["highlevel_id"] = self._store.get_highlevel_id(loc, "contact", contact["id"])
        elif contact.get("highlevel_id") and not contact.get("id"):
            contact["id"] = self._store.get_talknotes_id(loc, "contact", contact["highlevel_id"])

    def _notes(self, loc: str, ctx: Mapping[str, Any], body: Mapping[str, Any]) -> int:
        """The contact's notes from TalkNotes (tnhl's own notes not counted), this one too."""
        contact = ctx["contact"].get("id")
        if not contact:
            return 0
        ids = {
            r.talknotes_id
            for r in self._store.records_of(loc, "note", contact_id=contact)
            if not r.talknotes_id.startswith(_GENERATED_IDS)
        }
        data = body.get("data")
        if body.get("type") == "note.created" and isinstance(data, dict) and data.get("id"):
            ids.add(str(data["id"]))
        return len(ids)

    def poll(self, loc: str, now: float) -> int:
        """Fire the connection's poll and schedule recipes."""
        conn = self._conns[loc]
        fired = poll_firings(self._store, conn.name, loc, conn.mapping, now)
        for f in fired:
            self._link(loc, f.context)
        return self._store_firings(loc, fired, now) if fired else 0

    # running ---------------------------------------------------------------------------------
    def run_due(self, now: float) -> int:
        rows = self._store.claim_outbound(
            self._name,
            now=now,
            lease_seconds=self._lease,
            locations=list(self._conns),
            source="recipe",
            limit=20,
        )
        if not rows:
            return 0
        deliveries = [self._run(row) for row in rows]
        self._store.finish_outbound(self._name, deliveries, now=self._clock())
        self.ran += len(rows)
        return len(rows)

    def _run(self, row: InboxRow) -> Delivery:
        conn = self._conns[row.location_id]
        body = json.loads(row.body)
        recipe = conn.mapping.recipes.get(body.get("recipe", ""))
        if recipe is None or not recipe.enabled:
            return Delivery(row.id, "skipped", f"recipe {body.get('recipe')} is off or gone")
        ctx = body["context"]
        self._link(row.location_id, ctx)
        done: list[tuple[str, str | None]] = []
        try:
            for i, step in enumerate(steps(recipe, ctx)):
                key = f"{row.location_id}:recipe:{row.event_id}:{i}"
                op = self._store.get_op(key)
                if op is not None and op.state == "succeeded":
                    continue
                if op is not None and op.state in ("sent", "unknown") and _creates(step):
                    raise _Refused(
                        f"{step.action} was sent before and its outcome is unknown: not sent again"
                    )
                self._store.send_ops(
                    [OpMark(key, step.action, row.id, json.dumps(step.params, default=str))]
                )
                done.append((key, self._perform(conn, row, i, step)))
        except _Refused as exc:
            return Delivery(row.id, "dead", f"rejected: {exc}", ops_done=tuple(done))
        except (_Wait, RescheduleNeeded, DeliveryFailed, HighLevelError, httpx.HTTPError) as exc:
            return self._failed(row, exc, tuple(done))
        return Delivery(
            row.id, "done", f"ran {len(recipe.actions)} action(s)", ops_done=tuple(done)
        )

    def _failed(
        self, row: InboxRow, exc: Exception, done: tuple[tuple[str, str | None], ...]
    ) -> Delivery:
        reason = _reason(exc)
        final = (
            isinstance(exc, APIError)
            and exc.status is not None
            and 400 <= exc.status < 500
            and exc.status not in (401, 408, 409, 429)
        ) or (isinstance(exc, DeliveryFailed) and not exc.retry)
        delay = None if final else self._schedule.delay(row.attempts + 1)
        if isinstance(exc, RescheduleNeeded) and not final:
            delay = exc.wait
        if delay is None:
            return Delivery(row.id, "dead", reason, ops_done=done)
        return Delivery(row.id, "retry", reason, retry_at=self._clock() + delay, ops_done=done)

    def _perform(self, conn: RecipeConnection, row: InboxRow, i: int, step: Step) -> str | None:
        p = step.params
        if step.action.startswith("highlevel."):
            op = OPERATIONS[step.action.removeprefix("highlevel.")]
            params = dict(p.get("params") or {})
            for name in op.path_params:
                if params.get(name) in (None, ""):
                    raise _Wait(f"{step.action}: params.{name} is empty (not in HighLevel yet?)")
            answer = conn.call(op.id, params=params, json=p.get("body"))
            return _answer_id(answer)
        message_id = "rcp_" + hashlib.sha256(f"{row.event_id}:{i}".encode()).hexdigest()[:32]
        if step.action.startswith("talknotes.send."):
            if conn.out is None:
                raise _Refused("this connection has no talknotes_outbound_url")
            event = {
                "type": step.action.removeprefix("talknotes.send."),
                "timestamp": iso_z(self._clock()),
                "data": p.get("data"),
            }
            return conn.out.deliver(message_id, event).linked_id
        if step.action == "webhook.post":
            self._post(message_id, p)
            return None
        self._record(conn, row, i, step)
        return None

    def _post(self, message_id: str, p: Mapping[str, Any]) -> None:
        url, secret = str(p.get("url") or ""), p.get("secret")
        if not url.startswith(("http://", "https://")):
            raise _Refused(f"webhook.post: url must be http(s), got {url!r}")
        if isinstance(secret, str) and secret.startswith("env:"):
            secret = os.environ.get(secret[4:])
            if not secret:
                raise _Refused(f"webhook.post: the environment has no {p.get('secret', '')[4:]}")
        body = p.get("body")
        if secret:
            WebhookOut(url, str(secret), client=self._http, clock=self._clock).deliver(
                message_id, body or {}
            )
            return
        response = self._http.post(url, json=body, headers={"webhook-id": message_id})
        if response.status_code >= 300:
            retry = response.status_code in (408, 409, 425, 429) or response.status_code >= 500
            raise DeliveryFailed(response.status_code, response.text[:200], retry=retry)

    def _record(self, conn: RecipeConnection, row: InboxRow, i: int, step: Step) -> None:
        """tnhl.task / tnhl.note: a TalkNotes event on the contact, run by the engine."""
        p = step.params
        ctx_contact = json.loads(row.body)["context"].get("contact", {})
        contact = p.get("contact") or ctx_contact.get("id")
        if not contact:
            raise _Refused(f"{step.action}: no TalkNotes contact (give `contact`)")
        record_id = "recipe-" + hashlib.sha256(f"{row.event_id}:{i}".encode()).hexdigest()[:24]
        if step.action == "tnhl.task":
            data = {
                "id": record_id,
                "contactId": contact,
                "taskName": p.get("title"),
                "dueDate": p.get("due"),
                "description": p.get("description"),
                "assignee": p.get("assignee"),
            }
            type_ = "task.created"
        else:
            data = {
                "id": record_id,
                "contactId": contact,
                "noteTitle": p.get("title"),
                "noteContent": p.get("content"),
            }
            type_ = "note.created"
        body = {
            "type": type_,
            "timestamp": iso_z(self._clock()),
            "data": {k: v for k, v in data.items() if v not in (None, "")},
        }
        text = json.dumps(body)
        try:
            parse_event(text)
        except InvalidEvent as exc:
            raise _Refused(f"{step.action}: {exc.summary()}") from None
        event = InboundEvent(
            "talknotes",
            f"recipe:{record_id}",
            type_,
            row.location_id,
            str(contact),
            text,
            self._clock(),
        )
        self._store.add_inbound(event)


def _creates(step: Step) -> bool:
    op = OPERATIONS.get(step.action.removeprefix("highlevel."))
    return step.action.startswith("highlevel.") and op is not None and op.create


def _answer_id(answer: Any) -> str | None:
    if isinstance(answer, dict):
        for key in ("contact", "task", "note"):
            inner = answer.get(key)
            if isinstance(inner, dict) and isinstance(inner.get("id"), str):
                return str(inner["id"])
        if isinstance(answer.get("id"), str):
            return str(answer["id"])
    return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, DeliveryFailed):
        return f"delivery refused: {exc.status} {exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]

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
firing skips what succeeded, never sends a create twice (one whose outcome is unknown is read
back, and re-sent only when proven absent), and a failure retries on the engine's schedule,
then becomes a dead letter `tnhl dlq replay` brings back (run with the recipe as it is then).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from tnhl.mapping import Recipe
from tnhl.store import InboundEvent, InboxRow, SqlStore
from tnhl.sync._dryrun import DryRuns
from tnhl.sync._recipe_actions import Actions, RecipeConnection
from tnhl.sync._recipe_plan import (
    BUILTIN_ACTIONS,
    GENERATED_PREFIXES,
    NOTE_TEXT,
    TEXT_TRIGGERS,
    Firing,
    event_context,
    firings,
    hook_recipe,
    trigger_of,
)
from tnhl.sync._recipe_polls import poll_firings
from tnhl.sync._recipe_run import HOOK_PREFIX, FiringRunner
from tnhl.sync._schedule import RetrySchedule
from tnhl.sync._trace import CallTracer

__all__ = ["RecipeEngine"]


log = structlog.get_logger("tnhl.sync")
_GENERATED_IDS = ("followup-", "milestone-", "recipe-")
LOOP_WINDOW = 600.0  # seconds in which `loop_limit` firings for one contact mean a loop


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
        dry_runs: DryRuns | None = None,
        tracer: CallTracer | None = None,
        loop_limit: int = 20,
    ) -> None:
        self._store = store
        self._dry_runs = dry_runs
        self._loop_limit = loop_limit
        self._looped: dict[tuple[str, str, str], float] = {}  # logged until
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
        self._actions = Actions(store, clock)
        self._runner = FiringRunner(
            store,
            self._conns,
            self._actions,
            schedule,
            recipes=self.recipes,
            link=self._link,
            tracer=tracer or CallTracer(),
            clock=clock,
        )
        self._wake = threading.Event()
        self.fired = 0
        self.ran = 0

    @property
    def connections(self) -> Mapping[str, RecipeConnection]:
        return self._conns

    @staticmethod
    def _cursor(location: str) -> str:
        return f"recipes:{location}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tnhl-recipes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._actions.http.close()

    def wake(self) -> None:
        """Look for work now (a perform request is waiting)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.turn()
            except Exception as exc:  # the store away for a moment: try again next turn
                log.warning("recipes turn failed", error=type(exc).__name__, detail=str(exc)[:200])
                busy = 0
            if not busy:
                self._wake.wait(self._interval)
                self._wake.clear()

    def turn(self) -> int:
        """One pass: fire what new events, polls and schedules trigger; run due firings."""
        now = self._clock()
        n = sum(self.scan(loc, now) for loc in self._conns)
        if now >= self._next_poll:
            self._next_poll = now + self._poll_every
            n += sum(self.poll(loc, now) for loc in self._conns)
        return n + self.run_due(now)

    def recipes(self, loc: str) -> dict[str, Recipe]:
        """The connection's enabled recipes and its REST hook subscriptions, by name."""
        conn = self._conns[loc]
        out = {n: r for n, r in conn.mapping.recipes.items() if r.enabled}
        for hook in self._store.list_hooks(loc):
            out[f"{HOOK_PREFIX}{hook.id}"] = hook_recipe(hook.event, hook.target_url)
        return out

    # firing ----------------------------------------------------------------------------------
    def _store_firings(self, loc: str, fired: list[Firing], now: float) -> int:
        for f in fired:
            contact = f.context.get("contact", {}).get("id")
            if contact and self._loops(loc, f.recipe, str(contact), now):
                continue
            entity = contact or f.recipe
            body = json.dumps({"recipe": f.recipe, "context": f.context}, default=str)
            event = InboundEvent("recipe", f.event_id, "recipe.fired", loc, str(entity), body, now)
            if self._store.add_inbound(event):
                self.fired += 1
        return len(fired)

    def _loops(self, loc: str, recipe: str, contact: str, now: float) -> bool:
        """Whether `recipe` fired `loop_limit` times for `contact` in the last LOOP_WINDOW
        seconds. Then it is taken to feed itself (its action causing, through HighLevel or
        TalkNotes, the event that triggers it) and does not fire; logged once a window."""
        recent = self._store.list_events(
            location_id=loc,
            source="recipe",
            entity_key=contact,
            since=now - LOOP_WINDOW,
            limit=max(200, 4 * self._loop_limit),
        )
        prefix = f"recipe:{recipe}:"
        if sum(r.event_id.startswith(prefix) for r in recent) < self._loop_limit:
            return False
        key = (loc, recipe, contact)
        if self._looped.get(key, 0.0) <= now:
            self._looped[key] = now + LOOP_WINDOW
            log.error(
                "recipe fires in a loop: not fired again for this contact for now",
                recipe=recipe,
                contact=contact,
                times=self._loop_limit,
                minutes=LOOP_WINDOW / 60,
            )
        return True

    def scan(self, loc: str, now: float) -> int:
        """Fire the recipes the connection's new events trigger; the cursor moves after."""
        conn = self._conns[loc]
        name = self._cursor(loc)
        after = int(self._store.get_cursor(name) or 0)
        rows = self._store.events_after(loc, after, received_before=now - self._settle)
        if not rows:
            return 0
        # Only recipes that fire here (built-in-only ones run in the executor), and only rows
        # one of them is triggered by, are read further: parsing and looking up ids for every
        # event cost the workers a sixth of their throughput (bench e2e).
        recipes = {
            n: r
            for n, r in self.recipes(loc).items()
            if not all(a in BUILTIN_ACTIONS for a in r.action_ids())
        }
        wanted = {t for r in recipes.values() for t in r.triggers}
        if wanted & set(TEXT_TRIGGERS):
            wanted |= set(NOTE_TEXT)
        # Counting a contact's notes costs a read: only when a recipe asks for it.
        counts = any("contact.notes" in r.model_dump_json(by_alias=True) for r in recipes.values())
        for row in rows:
            if trigger_of(row.source, row.event_type) in wanted:
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
        cause = _cause(row, body)
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
        fired = poll_firings(self._store, conn.name, loc, conn.mapping, self.recipes(loc), now)
        for f in fired:
            self._link(loc, f.context)
        return self._store_firings(loc, fired, now) if fired else 0

    # running ---------------------------------------------------------------------------------
    def run_due(self, now: float) -> int:
        held = self._dry_runs.locations() if self._dry_runs is not None else frozenset()
        live = [loc for loc in self._conns if loc not in held]  # dry runs' firings wait
        if not live:
            return 0
        rows = self._store.claim_outbound(
            self._name,
            now=now,
            lease_seconds=self._lease,
            locations=live,
            source="recipe",
            limit=20,
        )
        if not rows:
            return 0
        deliveries = [self._runner.run(row) for row in rows]
        self._store.finish_outbound(self._name, deliveries, now=self._clock())
        self.ran += len(rows)
        return len(rows)

    def perform(self, loc: str, action: str, params: dict[str, Any], key: str) -> str:
        """Store a request to run one action now (the REST hooks' perform), once per `key`;
        its event id. The engine runs it like a firing."""
        event_id = f"perform:{key}"
        body = json.dumps({"perform": {"action": action, "params": params}, "context": {}})
        now = self._clock()
        self._store.add_inbound(
            InboundEvent("recipe", event_id, "recipe.perform", loc, event_id, body, now)
        )
        self.wake()
        return event_id


def _cause(row: InboxRow, body: Mapping[str, Any]) -> str:
    """What a firing is once for: a TalkNotes record's creation (sent again under another
    webhook id, it is the same creation), else the event itself."""
    data = body.get("data")
    if row.source == "talknotes" and row.event_type.endswith(".created") and isinstance(data, dict):
        return f"talknotes:{row.event_type}:{data.get('id')}"
    return f"{row.source}:{row.event_id}"

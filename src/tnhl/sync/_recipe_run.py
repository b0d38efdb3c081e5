"""Recipes, running what fired: each claimed firing's actions, once each (see
`_recipe_engine`'s docstring, "Running"), and its HighLevel calls kept for its story."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import httpx

from tnhl.highlevel import APIError, HighLevelError
from tnhl.mapping import Recipe
from tnhl.store import Delivery, EventCall, InboxRow, OpMark, SqlStore
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._recipe_actions import Actions, RecipeConnection, Refused, Wait, creates
from tnhl.sync._recipe_plan import Step, steps
from tnhl.sync._schedule import RetrySchedule
from tnhl.sync._trace import CallTracer, event_calls
from tnhl.talknotes import DeliveryFailed

__all__ = ["HOOK_PREFIX", "FiringRunner"]

HOOK_PREFIX = "hook-"  # a REST hook subscription runs as the recipe hook-<id>


class FiringRunner:
    """Runs firings the engine claimed; `recipes(location)` gives the recipes as they are now
    and `link(location, context)` fills a context's contact ids from the id map."""

    def __init__(
        self,
        store: SqlStore,
        conns: Mapping[str, RecipeConnection],
        actions: Actions,
        schedule: RetrySchedule,
        *,
        recipes: Callable[[str], dict[str, Recipe]],
        link: Callable[[str, dict[str, Any]], None],
        tracer: CallTracer,
        clock: Callable[[], float],
    ) -> None:
        self._store, self._conns, self._actions = store, conns, actions
        self._schedule, self._recipes, self._link = schedule, recipes, link
        self._tracer, self._clock = tracer, clock

    def _steps(self, row: InboxRow, body: Mapping[str, Any]) -> list[Step] | str:
        """The steps a row runs, or why it runs none."""
        perform = body.get("perform")
        if isinstance(perform, dict):
            action, params = str(perform["action"]), dict(perform.get("params") or {})
            return [Step(action, params, action)]
        name = str(body.get("recipe", ""))
        recipe = self._recipes(row.location_id).get(name)
        if recipe is None:
            return f"recipe {name} is off or gone"
        ctx = body["context"]
        self._link(row.location_id, ctx)
        return steps(recipe, ctx)

    def run(self, row: InboxRow) -> Delivery:
        """Run a firing's actions; its HighLevel requests go with the outcome, to its story."""
        calls: list[EventCall] = []
        return replace(self._run_steps(row, calls), calls=tuple(calls))

    def _run_steps(self, row: InboxRow, calls: list[EventCall]) -> Delivery:
        conn = self._conns[row.location_id]
        body = json.loads(row.body)
        planned = self._steps(row, body)
        if isinstance(planned, str):
            return Delivery(row.id, "skipped", planned)
        done: list[tuple[str, str | None]] = []
        try:
            for i, step in enumerate(planned):
                key = f"{row.location_id}:recipe:{row.event_id}:{i}"
                op = self._store.get_op(key)
                if op is not None and op.state == "succeeded":
                    continue
                if op is not None and op.state in ("sent", "unknown") and creates(step):
                    # Sent before, outcome unknown (a crash, a timeout): sent again only when
                    # reading back proves it absent, as the sync engine does.
                    if op.request_body is None:
                        raise Refused(f"{step.action} was sent before and cannot be read back")
                    find = partial(self._actions.find_created, conn, step.action, op.request_body)
                    found = self._traced(step.action, calls, find)
                    if found is not None:
                        done.append((key, found))
                        continue
                mark = OpMark(key, step.action, row.id, json.dumps(step.params, default=str))
                self._store.send_ops([mark])
                perform = partial(self._actions.perform, conn, row, i, step)
                done.append((key, self._traced(step.action, calls, perform)))
        except Refused as exc:
            return Delivery(row.id, "dead", f"rejected: {exc}", ops_done=tuple(done))
        except DeliveryFailed as exc:
            name = str(body.get("recipe", ""))
            if exc.status == 410 and name.startswith(HOOK_PREFIX):
                # Zapier's REST Hooks: 410 Gone from a target means "unsubscribe me".
                self._store.delete_hook(row.location_id, int(name.removeprefix(HOOK_PREFIX)))
                return Delivery(row.id, "skipped", "the target answered 410: unsubscribed")
            return self._failed(row, exc, tuple(done))
        except (Wait, RescheduleNeeded, HighLevelError, httpx.HTTPError) as exc:
            return self._failed(row, exc, tuple(done))
        return Delivery(row.id, "done", f"ran {len(planned)} action(s)", ops_done=tuple(done))

    def _traced(
        self, action: str, calls: list[EventCall], run: Callable[[], str | None]
    ) -> str | None:
        """`run()`, its HighLevel requests added to `calls` (only HighLevel's answers: a
        webhook's are the outcome's)."""
        at, started = self._clock(), time.monotonic()
        with self._tracer.recording() as seen:
            try:
                return run()
            finally:
                took = time.monotonic() - started
                calls += event_calls(action, at, took, seen) if seen else []

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


def _reason(exc: Exception) -> str:
    if isinstance(exc, DeliveryFailed):
        return f"delivery refused: {exc.status} {exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]

"""The adapter from the pure planner (`_planner.plan_batch`) to the executor's `Step`s."""

from __future__ import annotations

from collections.abc import Sequence

from tnhl.mapping import MappingConfig
from tnhl.sync._plan import Call, EventView, IdLookup, PlanFn, Record, Step
from tnhl.sync._plan_types import Calls, Plan, PlannedCall, Reject, Skip, Wait
from tnhl.sync._planner import plan_batch

__all__ = ["make_planner"]


def _call(c: PlannedCall) -> Call:
    rec = c.records
    return Call(
        operation_id=c.operation_id,
        params=dict(c.params),
        body=None if c.body is None else dict(c.body),
        key=c.key,
        record=Record(rec.kind, rec.talknotes_id, rec.response_path) if rec else None,
        on_duplicate=c.on_duplicate,
    )


def _step(ids: tuple[int, ...], plan: Plan) -> Step:
    if isinstance(plan, Calls):
        return Step(ids, "calls", tuple(_call(c) for c in plan.calls))
    if isinstance(plan, Wait):
        return Step(ids, "wait", reason=plan.reason)
    if isinstance(plan, Skip):
        return Step(ids, "skip", reason=plan.reason)
    if isinstance(plan, Reject):
        return Step(ids, "reject", reason=plan.reason)
    raise TypeError(f"unknown plan {type(plan).__name__}")


def make_planner(mapping: MappingConfig) -> PlanFn:
    """A `PlanFn` over the real planner with `mapping` (the user's file over the defaults)."""

    def plan(events: Sequence[EventView], lookup: IdLookup) -> list[Step]:
        if not events:
            return []
        steps = plan_batch(events, location_id=events[0].location_id, ids=lookup, mapping=mapping)
        return [_step(tuple(e.inbox_id for e in s.events), s.plan) for s in steps]

    return plan

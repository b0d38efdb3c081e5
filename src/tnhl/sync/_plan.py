"""The executor's view of a plan: what to do with a prefix of one entity's pending events.

The pure planner (`_planner.py`, another module) decides; `_planning.py` adapts its output to
these small types so the executor depends on one narrow shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "Action",
    "Call",
    "EventView",
    "IdLookup",
    "PlanFn",
    "Record",
    "Step",
]

Action = Literal["calls", "wait", "skip", "reject"]


@dataclass(frozen=True)
class Record:
    """After the call, store `kind`/`talknotes_id` -> the HighLevel id found at `response_path`."""

    kind: str
    talknotes_id: str
    response_path: str


@dataclass(frozen=True)
class Call:
    """One HighLevel operation; `key` set means a create that must happen exactly once."""

    operation_id: str
    params: Mapping[str, object] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    key: str | None = None
    record: Record | None = None
    on_duplicate: Literal["adopt"] | None = None


@dataclass(frozen=True)
class Step:
    """What to do for the inbox rows `inbox_ids` (a prefix of the pending run, in order)."""

    inbox_ids: tuple[int, ...]
    action: Action
    calls: tuple[Call, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class EventView:
    """One inbox row as the planner needs it: parsed, with its ids."""

    inbox_id: int
    event_id: str
    location_id: str
    event_type: str
    data: Mapping[str, Any]
    timestamp: str | None = None


class IdLookup(Protocol):
    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None: ...


PlanFn = Callable[[Sequence[EventView], IdLookup], list[Step]]

"""What the dashboard and `tnhl events show` read besides the inbox (issue 11): each HighLevel
call an event's record made, and recipes switched on or off over the mapping file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tnhl.store._models import EventCall
from tnhl.store._schema import event_calls, recipe_switches

__all__ = ["add_calls", "calls_of", "recipe_switches_of", "switch_recipe"]

# A record retried for a day files a call or two per try; its story needs the latest ones.
CALLS_SHOWN = 200


def add_calls(conn: sa.Connection, rows: Sequence[tuple[int, EventCall]]) -> None:
    """File each (inbox id, call), in one statement."""
    if not rows:
        return
    conn.execute(
        sa.insert(event_calls),
        [
            {
                "inbox_id": inbox_id,
                "at": c.at,
                "operation": c.operation,
                "request": c.request,
                "status": c.status,
                "seconds": c.seconds,
                "answer": c.answer,
            }
            for inbox_id, c in rows
        ],
    )


def calls_of(conn: sa.Connection, inbox_id: int) -> list[EventCall]:
    """An event's calls, oldest first (the latest CALLS_SHOWN)."""
    q = (
        sa.select(event_calls)
        .where(event_calls.c.inbox_id == inbox_id)
        .order_by(event_calls.c.id.desc())
        .limit(CALLS_SHOWN)
    )
    found = [
        EventCall(r.at, r.operation, r.request, r.status, r.seconds, r.answer)
        for r in conn.execute(q)
    ]
    return found[::-1]


def switch_recipe(
    conn: sa.Connection, location_id: str, recipe: str, enabled: bool, now: float, insert: Any
) -> None:
    stmt = insert(recipe_switches).values(
        location_id=location_id, recipe=recipe, enabled=enabled, changed_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["location_id", "recipe"],
            set_={"enabled": enabled, "changed_at": now},
        )
    )


def recipe_switches_of(conn: sa.Connection, location_id: str) -> dict[str, bool]:
    q = sa.select(recipe_switches.c.recipe, recipe_switches.c.enabled).where(
        recipe_switches.c.location_id == location_id
    )
    return {r.recipe: bool(r.enabled) for r in conn.execute(q)}

"""Inbox operations as functions of an open connection; `SqlStore` wraps each in a transaction.

The inbox is the durable truth: one row per verified event, deduplicated on (source, event id).
Workers never claim TalkNotes events themselves: events are folded into records (`_work.py`),
and records are what is claimed. HighLevel events left pending by the fold, and recipe rows
(stored pending, never folded), are claimed by their runners (`_outbound.claim_outbound`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, cast

import sqlalchemy as sa

from tnhl.store._errors import InvalidRecordError, RecordNotFoundError
from tnhl.store._models import (
    RECIPE,
    SOURCES,
    UNFINISHED_STATES,
    InboundEvent,
    InboxRow,
    StoreStats,
)
from tnhl.store._schema import dead_letters, event_calls, inbox, outbound_ops, records

__all__ = [
    "add_inbound",
    "events_after",
    "get_event",
    "purge_finished",
    "row",
    "stats",
    "validate_event",
]

_ID_MAX = 255
_UNFINISHED = inbox.c.state.in_(UNFINISHED_STATES)
_NO_ID = sa.literal(2**63 - 1, sa.BigInteger())  # above every id: no row is too new


def validate_event(ev: InboundEvent) -> None:
    """Raise InvalidRecordError naming the first unusable field of `ev`."""
    if ev.source not in SOURCES:
        raise InvalidRecordError(
            "source", f"must be one of {', '.join(SOURCES)}, not {ev.source!r}"
        )
    for name, limit in (
        ("event_id", _ID_MAX),
        ("event_type", 64),
        ("location_id", _ID_MAX),
        ("entity_key", _ID_MAX),
    ):
        value = getattr(ev, name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRecordError(name, "is required (a non-empty string)")
        if len(value) > limit:
            raise InvalidRecordError(name, f"is longer than {limit} characters")
    if not isinstance(ev.body, str):
        raise InvalidRecordError("body", "must be the raw body as text")
    for name in ("event_id", "event_type", "location_id", "entity_key", "body"):
        if "\x00" in getattr(ev, name):  # PostgreSQL text cannot hold NUL; JSON never needs it
            raise InvalidRecordError(name, "contains a NUL character")
    if not isinstance(ev.received_at, int | float) or not math.isfinite(ev.received_at):
        raise InvalidRecordError("received_at", "must be epoch seconds (a finite number)")


def row(r: sa.Row[Any]) -> InboxRow:
    m = r._mapping
    return InboxRow(**{f.name: m[f.name] for f in dataclasses.fields(InboxRow)})


def add_inbound(conn: sa.Connection, ev: InboundEvent, insert: Any) -> bool:
    """Insert unless (source, location, event_id) exists; True when the row is new. A recipe
    row belongs to no record: it is stored pending, for its runner, and never folded."""
    stmt = (
        insert(inbox)
        .values(
            source=ev.source,
            event_id=ev.event_id,
            event_type=ev.event_type,
            location_id=ev.location_id,
            entity_key=ev.entity_key,
            body=ev.body,
            received_at=float(ev.received_at),
            state="pending" if ev.source == RECIPE else "received",
            attempts=0,
            next_attempt_at=float(ev.received_at),
        )
        .on_conflict_do_nothing(index_elements=["source", "location_id", "event_id"])
        .returning(inbox.c.id)
    )
    # RETURNING, not rowcount: drivers report rowcount unreliably once RETURNING is involved.
    return conn.execute(stmt).first() is not None


def get_event(conn: sa.Connection, inbox_id: int) -> InboxRow:
    r = conn.execute(sa.select(inbox).where(inbox.c.id == inbox_id)).first()
    if r is None:
        raise RecordNotFoundError(f"no event with inbox id {inbox_id}")
    return row(r)


def list_events(
    conn: sa.Connection,
    *,
    location_id: str | None,
    state: str | None,
    limit: int,
    source: str | None = None,
    event_id: str | None = None,
    entity_key: str | None = None,
    since: float | None = None,
) -> list[InboxRow]:
    """The newest `limit` events (of one location, in one state, of one source, with one
    event id, of one entity, received at or after `since`), oldest first."""
    q = sa.select(inbox).order_by(inbox.c.id.desc()).limit(limit)
    if entity_key is not None:
        q = q.where(inbox.c.entity_key == entity_key)
    if since is not None:
        q = q.where(inbox.c.received_at >= since)
    if source is not None:
        q = q.where(inbox.c.source == source)
    if event_id is not None:
        q = q.where(inbox.c.event_id == event_id)
    if location_id is not None:
        q = q.where(inbox.c.location_id == location_id)
    if state is not None:
        q = q.where(inbox.c.state == state)
    return [row(r) for r in reversed(conn.execute(q).all())]


def events_after(
    conn: sa.Connection, location_id: str, after_id: int, received_before: float, limit: int
) -> list[InboxRow]:
    """Up to `limit` rows of a location after `after_id`, oldest (lowest id) first, any state
    and source, and only up to the first row received after `received_before`: none from that
    one on, even older ones, so a cursor moved to the last row returned never passes a row it
    has not read (ids are not in received_at order across intake replicas' clocks). One
    statement; the location's rows after the cursor are read by index (location_id, id)."""
    mine = sa.and_(inbox.c.location_id == location_id, inbox.c.id > after_id)
    too_new = (
        sa.select(sa.func.min(inbox.c.id))
        .where(mine, inbox.c.received_at > received_before)
        .scalar_subquery()
    )
    q = (
        sa.select(inbox)
        .where(mine, inbox.c.id < sa.func.coalesce(too_new, _NO_ID))
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [row(r) for r in conn.execute(q)]


def purge_finished(conn: sa.Connection, before: float, limit: int) -> int:
    """Delete up to `limit` done or skipped events that finished before `before`.

    Their (source, location, event_id) stop being deduplicated, so keep them at least as long
    as a sender may redeliver (DESIGN.md: 7 days). Outbound operations keep their keys (exactly-once
    creates must outlive the event) and lose only the link to it. Dead events are kept, and so
    are recipe rows: their event ids are the memory that a recipe fired for its cause.
    """
    ids = list(
        conn.execute(
            sa.select(inbox.c.id)
            .where(
                inbox.c.state.in_(("done", "skipped")),
                inbox.c.done_at < before,
                inbox.c.source != RECIPE,
            )
            .order_by(inbox.c.id)
            .limit(limit)
        ).scalars()
    )
    if not ids:
        return 0
    conn.execute(
        sa.update(outbound_ops).where(outbound_ops.c.inbox_id.in_(ids)).values(inbox_id=None)
    )
    conn.execute(sa.delete(dead_letters).where(dead_letters.c.inbox_id.in_(ids)))
    conn.execute(sa.delete(event_calls).where(event_calls.c.inbox_id.in_(ids)))
    return conn.execute(sa.delete(inbox).where(inbox.c.id.in_(ids))).rowcount


def stats(conn: sa.Connection, now: float, location_id: str | None = None) -> StoreStats:
    def mine(q: Any, table: sa.Table) -> Any:
        return q if location_id is None else q.where(table.c.location_id == location_id)

    by_state = mine(sa.select(inbox.c.state, sa.func.count()), inbox).group_by(inbox.c.state)
    counts = {cast(str, state): int(n) for state, n in conn.execute(by_state).all()}
    oldest = conn.execute(
        mine(sa.select(sa.func.min(inbox.c.received_at)).where(_UNFINISHED), inbox)
    ).scalar()
    leased = conn.execute(
        mine(sa.select(sa.func.count()).where(records.c.lease_until > now), records)
    ).scalar_one()
    waiting = conn.execute(
        mine(sa.select(sa.func.count()).where(records.c.status == "waiting"), records)
    ).scalar_one()
    warned = conn.execute(
        mine(sa.select(sa.func.count()).where(inbox.c.warnings.is_not(None)), inbox)
    ).scalar_one()
    dead_q = (
        sa.select(sa.func.count())
        .select_from(dead_letters.join(inbox, inbox.c.id == dead_letters.c.inbox_id))
        .where(dead_letters.c.replayed_at.is_(None))
    )
    dead = conn.execute(mine(dead_q, inbox)).scalar_one()
    return StoreStats(
        counts={s: counts.get(s, 0) for s in ("received", "pending", "done", "dead", "skipped")},
        oldest_unfinished_age=None if oldest is None else max(0.0, now - float(oldest)),
        leased=int(leased),
        dead_letters=int(dead),
        waiting_records=int(waiting),
        events_with_warnings=int(warned),
    )

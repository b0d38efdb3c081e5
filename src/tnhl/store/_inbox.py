"""Inbox operations as functions of an open connection; `SqlStore` wraps each in a transaction.

Ordering rule: an entity's events apply in arrival order, so only its HEAD (the oldest event
not yet done, dead or skipped) may be claimed, and only when it is due and nobody holds a live
lease on it. The events behind the head come along in the same claim so they can be coalesced.
On PostgreSQL the claim locks rows with FOR UPDATE SKIP LOCKED so concurrent claimers pass each
other instead of waiting; on SQLite the claim runs under BEGIN IMMEDIATE (one writer at a time).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, cast

import sqlalchemy as sa

from tnhl.store._errors import (
    InvalidRecordError,
    LeaseLostError,
    OutOfOrderError,
    RecordNotFoundError,
)
from tnhl.store._models import (
    SOURCES,
    UNFINISHED_STATES,
    Claim,
    EntityKey,
    EventState,
    InboundEvent,
    InboxRow,
    StoreStats,
)
from tnhl.store._schema import dead_letters, inbox, outbound_ops

__all__ = [
    "add_inbound",
    "claim",
    "complete",
    "get_event",
    "owned",
    "purge_finished",
    "ready_entities",
    "release",
    "requeue_expired",
    "retry_later",
    "row",
    "stats",
    "update_owned",
    "validate_event",
]

_ID_MAX = 255
_UNFINISHED = inbox.c.state.in_(UNFINISHED_STATES)


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
    """Insert unless (source, event_id) exists; True when the row is new."""
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
            state="received",
            attempts=0,
            next_attempt_at=float(ev.received_at),
        )
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(inbox.c.id)
    )
    # RETURNING, not rowcount: drivers report rowcount unreliably once RETURNING is involved.
    return conn.execute(stmt).first() is not None


def _heads(now: float, entity: EntityKey | None) -> sa.Select[Any]:
    # Heads are found with one grouped pass over the unfinished rows. (A NOT EXISTS "no earlier
    # unfinished event" probe per row is quadratic per entity on PostgreSQL when it picks a hash
    # anti-join: 0.7 s at 50,000 queued events.)
    heads = sa.select(sa.func.min(inbox.c.id)).where(_UNFINISHED)
    if entity is not None:
        heads = heads.where(
            inbox.c.location_id == entity.location_id, inbox.c.entity_key == entity.entity_key
        )
    heads = heads.group_by(inbox.c.location_id, inbox.c.entity_key)
    # The outer conditions are checked again on PostgreSQL after a row lock is granted, so a
    # head finished or leased meanwhile by another worker is skipped, never claimed twice.
    return (
        sa.select(inbox)
        .where(
            inbox.c.id.in_(heads.scalar_subquery()),
            _UNFINISHED,
            inbox.c.next_attempt_at <= now,
            sa.or_(inbox.c.lease_until.is_(None), inbox.c.lease_until <= now),
        )
        .order_by(inbox.c.id)
    )


def ready_entities(conn: sa.Connection, now: float, limit: int) -> list[EntityKey]:
    """Entities whose head is due and not leased, oldest head first."""
    rows = conn.execute(_heads(now, None).limit(limit)).all()
    return [EntityKey(r.location_id, r.entity_key) for r in rows]


def claim(
    conn: sa.Connection,
    worker: str,
    *,
    now: float,
    lease_seconds: float,
    limit: int,
    max_run: int,
    entity: EntityKey | None,
) -> list[Claim]:
    """Lease up to `limit` entities' heads, each with up to `max_run - 1` events behind it."""
    pg = conn.dialect.name == "postgresql"
    q = _heads(now, entity).limit(limit)
    if pg:
        q = q.with_for_update(skip_locked=True, of=inbox)
    heads = [row(r) for r in conn.execute(q).all()]
    lease_until = now + lease_seconds
    claims: list[Claim] = []
    for head in heads:
        run = [head, *_followers(conn, head, now, max_run - 1, pg)]
        ids = [e.id for e in run]
        conn.execute(
            sa.update(inbox)
            .where(inbox.c.id.in_(ids))
            .values(
                state="pending",
                attempts=inbox.c.attempts + 1,
                lease_owner=worker,
                lease_until=lease_until,
            )
        )
        events = tuple(
            dataclasses.replace(
                e,
                state="pending",
                attempts=e.attempts + 1,
                lease_owner=worker,
                lease_until=lease_until,
            )
            for e in run
        )
        claims.append(Claim(head.entity, events, worker, lease_until))
    return claims


def _followers(
    conn: sa.Connection, head: InboxRow, now: float, count: int, pg: bool
) -> list[InboxRow]:
    """The consecutive unfinished events behind `head` that are free to lease with it."""
    if count <= 0:
        return []
    q = (
        sa.select(inbox)
        .where(
            inbox.c.location_id == head.location_id,
            inbox.c.entity_key == head.entity_key,
            _UNFINISHED,
            inbox.c.id > head.id,
        )
        .order_by(inbox.c.id)
        .limit(count)
    )
    candidates = [row(r) for r in conn.execute(q).all()]
    if pg and candidates:
        # Lock without waiting; a row locked by someone else (a late complete) ends the run,
        # so the run stays consecutive.
        locked = {
            r.id
            for r in conn.execute(
                q.with_only_columns(inbox.c.id).with_for_update(skip_locked=True)
            ).all()
        }
    else:
        locked = {c.id for c in candidates}
    run: list[InboxRow] = []
    for c in candidates:
        free = c.lease_until is None or c.lease_until <= now
        if c.id not in locked or c.next_attempt_at > now or not free:
            break
        run.append(c)
    return run


def owned(ids: list[int], worker: str) -> sa.ColumnElement[bool]:
    return sa.and_(inbox.c.id.in_(ids), inbox.c.lease_owner == worker, _UNFINISHED)


def update_owned(conn: sa.Connection, ids: list[int], worker: str, **values: Any) -> None:
    unique = sorted(set(ids))
    done = conn.execute(sa.update(inbox).where(owned(unique, worker)).values(**values)).rowcount
    if done != len(unique):
        raise LeaseLostError(worker, unique)  # the caller's transaction rolls back


def complete(
    conn: sa.Connection,
    ids: list[int],
    *,
    worker: str,
    result: str | None,
    state: EventState,
    now: float,
) -> None:
    if state not in ("done", "skipped"):
        raise InvalidRecordError("state", f"must be 'done' or 'skipped', not {state!r}")
    update_owned(
        conn,
        ids,
        worker,
        state=state,
        result=result,
        done_at=now,
        lease_owner=None,
        lease_until=None,
    )
    # An entity's events apply in order: refuse (and roll back) finishing one while an earlier
    # one is still unfinished, e.g. a head that was given back or replayed meanwhile.
    done, earlier = inbox.alias("done"), inbox.alias("earlier")
    blocking = conn.execute(
        sa.select(done.c.id, sa.func.min(earlier.c.id))
        .join(
            earlier,
            sa.and_(
                earlier.c.location_id == done.c.location_id,
                earlier.c.entity_key == done.c.entity_key,
                earlier.c.id < done.c.id,
            ),
        )
        .where(done.c.id.in_(ids), earlier.c.state.in_(UNFINISHED_STATES))
        .group_by(done.c.id)
        .order_by(done.c.id)
    ).first()
    if blocking is not None:
        raise OutOfOrderError(
            f"inbox id {blocking[0]} cannot finish before the earlier event {blocking[1]} "
            "of the same entity"
        )


def release(conn: sa.Connection, ids: list[int], *, worker: str) -> int:
    """Give back leased events that were not attempted; their claim does not count.

    Giving back an event gives back the worker's events behind it too: they cannot apply
    before it, and another worker will claim them with it.
    """
    mine = conn.execute(
        sa.select(inbox.c.location_id, inbox.c.entity_key, sa.func.min(inbox.c.id))
        .where(owned(ids, worker))
        .group_by(inbox.c.location_id, inbox.c.entity_key)
    ).all()
    released = 0
    for location_id, entity_key, first in mine:
        released += conn.execute(
            sa.update(inbox)
            .where(
                inbox.c.location_id == location_id,
                inbox.c.entity_key == entity_key,
                inbox.c.id >= first,
                inbox.c.lease_owner == worker,
                _UNFINISHED,
            )
            .values(
                lease_owner=None,
                lease_until=None,
                attempts=sa.case((inbox.c.attempts > 0, inbox.c.attempts - 1), else_=0),
            )
        ).rowcount
    return released


def retry_later(
    conn: sa.Connection,
    inbox_id: int,
    *,
    worker: str,
    at: float,
    error: str | None,
    count_attempt: bool = True,
) -> None:
    """Schedule the next try. `count_attempt=False` (e.g. waiting out a rate limit) undoes the
    claim's attempt, so the wait does not bring the event closer to the dead-letter queue."""
    extra: dict[str, Any] = {}
    if not count_attempt:
        extra["attempts"] = sa.case((inbox.c.attempts > 0, inbox.c.attempts - 1), else_=0)
    update_owned(
        conn,
        [inbox_id],
        worker,
        **extra,
        state="pending",
        next_attempt_at=at,
        last_error=error,
        lease_owner=None,
        lease_until=None,
    )
    # The events behind it cannot apply before it does: give them back now rather than
    # leaving the entity blocked until their lease runs out.
    ev = get_event(conn, inbox_id)
    behind = conn.execute(
        sa.select(inbox.c.id).where(
            inbox.c.location_id == ev.location_id,
            inbox.c.entity_key == ev.entity_key,
            inbox.c.id > inbox_id,
            inbox.c.lease_owner == worker,
            _UNFINISHED,
        )
    ).scalars()
    release(conn, list(behind), worker=worker)


def get_event(conn: sa.Connection, inbox_id: int) -> InboxRow:
    r = conn.execute(sa.select(inbox).where(inbox.c.id == inbox_id)).first()
    if r is None:
        raise RecordNotFoundError(f"no event with inbox id {inbox_id}")
    return row(r)


def requeue_expired(conn: sa.Connection, now: float) -> int:
    """Clear every lease that ran out, so the work can be claimed again."""
    return conn.execute(
        sa.update(inbox)
        .where(_UNFINISHED, inbox.c.lease_until.is_not(None), inbox.c.lease_until <= now)
        .values(lease_owner=None, lease_until=None)
    ).rowcount


def purge_finished(conn: sa.Connection, before: float, limit: int) -> int:
    """Delete up to `limit` done or skipped events that finished before `before`.

    Their (source, event_id) stop being deduplicated, so keep them at least as long as a sender
    may redeliver (DESIGN.md: 7 days). Outbound operations keep their keys (exactly-once
    creates must outlive the event) and lose only the link to it. Dead events are kept.
    """
    ids = list(
        conn.execute(
            sa.select(inbox.c.id)
            .where(inbox.c.state.in_(("done", "skipped")), inbox.c.done_at < before)
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
    return conn.execute(sa.delete(inbox).where(inbox.c.id.in_(ids))).rowcount


def stats(conn: sa.Connection, now: float) -> StoreStats:
    counts = {
        cast(str, state): int(n)
        for state, n in conn.execute(
            sa.select(inbox.c.state, sa.func.count()).group_by(inbox.c.state)
        ).all()
    }
    oldest = conn.execute(sa.select(sa.func.min(inbox.c.received_at)).where(_UNFINISHED)).scalar()
    leased = conn.execute(
        sa.select(sa.func.count()).where(_UNFINISHED, inbox.c.lease_until > now)
    ).scalar_one()
    dead = conn.execute(
        sa.select(sa.func.count())
        .select_from(dead_letters)
        .where(dead_letters.c.replayed_at.is_(None))
    ).scalar_one()
    return StoreStats(
        counts={s: counts.get(s, 0) for s in ("received", "pending", "done", "dead", "skipped")},
        oldest_unfinished_age=None if oldest is None else max(0.0, now - float(oldest)),
        leased=int(leased),
        dead_letters=int(dead),
    )

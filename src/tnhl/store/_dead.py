"""Dead letters: events that will not be retried until someone replays them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tnhl.store._errors import InvalidRecordError, RecordNotFoundError
from tnhl.store._inbox import get_event, row, update_owned
from tnhl.store._models import UNFINISHED_STATES, DeadLetter, InboxRow
from tnhl.store._schema import dead_letters, inbox

__all__ = ["dead_letter", "get_dead", "list_dead", "replay_dead"]


def dead_letter(
    conn: sa.Connection,
    inbox_id: int,
    *,
    worker: str,
    reason: str,
    error: str | None,
    now: float,
) -> int:
    """Finish the event as dead and file it in dead_letters; returns the dead letter's id."""
    if not reason:
        raise InvalidRecordError("reason", "is required")
    update_owned(
        conn,
        [inbox_id],
        worker,
        state="dead",
        last_error=error,
        done_at=now,
        lease_owner=None,
        lease_until=None,
    )
    existing = conn.execute(
        sa.select(dead_letters.c.id).where(dead_letters.c.inbox_id == inbox_id)
    ).scalar()
    values = {"reason": reason, "error": error, "dead_at": now, "replayed_at": None}
    if existing is not None:
        conn.execute(sa.update(dead_letters).where(dead_letters.c.id == existing).values(**values))
        return int(existing)
    new_id = conn.execute(
        sa.insert(dead_letters).values(inbox_id=inbox_id, **values).returning(dead_letters.c.id)
    ).scalar_one()
    return int(new_id)


def _dead_query() -> sa.Select[Any]:
    cols = [c.label(f"dl_{c.name}") for c in dead_letters.c]
    return sa.select(inbox, *cols).join(dead_letters, dead_letters.c.inbox_id == inbox.c.id)


def _dead(r: sa.Row[Any]) -> DeadLetter:
    m = r._mapping
    return DeadLetter(
        id=m["dl_id"],
        inbox_id=m["dl_inbox_id"],
        reason=m["dl_reason"],
        error=m["dl_error"],
        dead_at=m["dl_dead_at"],
        replayed_at=m["dl_replayed_at"],
        event=row(r),
    )


def list_dead(
    conn: sa.Connection, *, include_replayed: bool, limit: int, offset: int
) -> list[DeadLetter]:
    q = _dead_query()
    if not include_replayed:
        q = q.where(dead_letters.c.replayed_at.is_(None))
    q = q.order_by(dead_letters.c.id).limit(limit).offset(offset)
    return [_dead(r) for r in conn.execute(q).all()]


def get_dead(
    conn: sa.Connection, *, dead_letter_id: int | None, inbox_id: int | None
) -> DeadLetter:
    if (dead_letter_id is None) == (inbox_id is None):
        raise InvalidRecordError("dead_letter_id", "give exactly one of dead_letter_id, inbox_id")
    q = _dead_query()
    if dead_letter_id is not None:
        q = q.where(dead_letters.c.id == dead_letter_id)
    else:
        q = q.where(dead_letters.c.inbox_id == inbox_id)
    r = conn.execute(q).first()
    if r is None:
        which = f"id {dead_letter_id}" if dead_letter_id is not None else f"inbox id {inbox_id}"
        raise RecordNotFoundError(f"no dead letter with {which}")
    return _dead(r)


def replay_dead(
    conn: sa.Connection, *, dead_letter_id: int | None, inbox_id: int | None, now: float
) -> InboxRow:
    """Put a dead event back to pending with its attempts reset; a no-op if already replayed."""
    dl = get_dead(conn, dead_letter_id=dead_letter_id, inbox_id=inbox_id)
    if dl.event.state != "dead":
        return dl.event
    conn.execute(
        sa.update(inbox)
        .where(inbox.c.id == dl.inbox_id, inbox.c.state == "dead")
        .values(
            state="pending",
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            done_at=None,
            result=None,
        )
    )
    # The replayed event is now its entity's head: events behind it that a worker holds must
    # wait for it, so their leases end (that worker's outcome will be refused, not applied).
    conn.execute(
        sa.update(inbox)
        .where(
            inbox.c.location_id == dl.event.location_id,
            inbox.c.entity_key == dl.event.entity_key,
            inbox.c.id > dl.inbox_id,
            inbox.c.state.in_(UNFINISHED_STATES),
            inbox.c.lease_owner.is_not(None),
        )
        .values(lease_owner=None, lease_until=None)
    )
    conn.execute(sa.update(dead_letters).where(dead_letters.c.id == dl.id).values(replayed_at=now))
    return get_event(conn, dl.inbox_id)

"""Dead letters: events that will not be retried until someone replays them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tnhl.store._errors import InvalidRecordError, RecordNotFoundError
from tnhl.store._inbox import get_event, row
from tnhl.store._models import RECIPE, DeadLetter, InboxRow
from tnhl.store._move import move_events
from tnhl.store._schema import dead_letters, inbox, records

__all__ = ["get_dead", "list_dead", "replay_dead"]


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
    conn: sa.Connection,
    *,
    include_replayed: bool,
    limit: int,
    offset: int,
    location_id: str | None = None,
) -> list[DeadLetter]:
    q = _dead_query()
    if location_id is not None:
        q = q.where(inbox.c.location_id == location_id)
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
    conn: sa.Connection,
    *,
    dead_letter_id: int | None,
    inbox_id: int | None,
    now: float,
    location_id: str | None = None,
) -> InboxRow:
    """Put a dead event back to work, its record due now (or, with another `location_id`,
    moved there: see `move_events`); a no-op if already replayed."""
    dl = get_dead(conn, dead_letter_id=dead_letter_id, inbox_id=inbox_id)
    if dl.event.state != "dead":
        return dl.event
    if location_id is not None and location_id != dl.event.location_id:
        if dl.event.source != "talknotes":
            raise InvalidRecordError(
                "location_id",
                f"only a TalkNotes event can move; this one came from {dl.event.source}",
            )
        move_events(conn, dl.event.location_id, location_id, now, inbox_ids=[dl.inbox_id])
        return get_event(conn, dl.inbox_id)
    conn.execute(
        sa.update(inbox)
        .where(inbox.c.id == dl.inbox_id, inbox.c.state == "dead")
        .values(
            # Folded events go back to their record (still holding their fields), a recipe row
            # (never folded) to its runner; another event that never reached a record (a
            # HighLevel one, or a crash of the fold) is folded again.
            state="pending"
            if dl.event.record_key is not None or dl.event.source == RECIPE
            else "received",
            attempts=0,
            next_attempt_at=now,
            done_at=None,
            result=None,
        )
    )
    if dl.event.record_key is not None:
        # Due at once with a clean slate; a worker holding it sees the new version at settle.
        conn.execute(
            sa.update(records)
            .where(
                records.c.location_id == dl.event.location_id,
                records.c.record_key == dl.event.record_key,
            )
            .values(
                status="retry",
                attempts=0,
                crashes=0,
                waiting_since=None,
                version=records.c.version + 1,
                due_at=sa.case(
                    (
                        sa.and_(records.c.lease_until.is_not(None), records.c.lease_until > now),
                        records.c.due_at,
                    ),
                    else_=now,
                ),
            )
        )
    conn.execute(sa.update(dead_letters).where(dead_letters.c.id == dl.id).values(replayed_at=now))
    return get_event(conn, dl.inbox_id)

"""TalkNotes events moved from one location to another: filed under a location id that was
wrong and has since been corrected (issue 11), they would otherwise wait forever, since no
connection serves the old id any more."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from tnhl.store._records import _check_ids
from tnhl.store._schema import dead_letters, inbox, records

__all__ = ["event_locations", "move_events"]

_MOVABLE = ("received", "pending", "dead")


def move_events(
    conn: sa.Connection,
    from_location: str,
    to_location: str,
    now: float,
    *,
    inbox_ids: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Move the unfinished and dead TalkNotes events of `from_location` (those of `inbox_ids`
    only, when given) to `to_location`, received again there with their tries reset, to be
    folded into that location's records; their dead letters count as replayed. An event whose
    id is already received there (TalkNotes sent it again after the fix) is skipped instead.
    The records of the moved events left under `from_location` without an event are deleted:
    nothing would claim them.
    Returns (moved, skipped)."""
    _check_ids(from_location=from_location, to_location=to_location)
    q = sa.select(inbox.c.id, inbox.c.event_id, inbox.c.record_key).where(
        inbox.c.source == "talknotes",
        inbox.c.location_id == from_location,
        inbox.c.state.in_(_MOVABLE),
    )
    if inbox_ids is not None:
        q = q.where(inbox.c.id.in_(list(inbox_ids)))
    rows = conn.execute(q.order_by(inbox.c.id)).all()
    if not rows:
        return 0, 0
    there = set(
        conn.execute(
            sa.select(inbox.c.event_id).where(
                inbox.c.source == "talknotes",
                inbox.c.location_id == to_location,
                inbox.c.event_id.in_([r.event_id for r in rows]),
            )
        ).scalars()
    )
    skip = [r.id for r in rows if r.event_id in there]
    move = [r.id for r in rows if r.event_id not in there]
    if skip:
        conn.execute(
            sa.update(inbox)
            .where(inbox.c.id.in_(skip))
            .values(state="skipped", done_at=now, result=f"already received under {to_location}")
        )
    if move:
        conn.execute(
            sa.update(inbox)
            .where(inbox.c.id.in_(move))
            .values(
                location_id=to_location,
                record_key=None,
                state="received",
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_until=None,
                done_at=None,
                result=None,
            )
        )
    ids = [r.id for r in rows]
    conn.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.inbox_id.in_(ids), dead_letters.c.replayed_at.is_(None))
        .values(replayed_at=now)
    )
    # Only the moved events' records: another record of that location may have lost its
    # events to retention and still be history worth keeping.
    keys = sorted({r.record_key for r in rows if r.record_key is not None})
    if keys:
        left = sa.select(inbox.c.id).where(
            inbox.c.location_id == records.c.location_id,
            inbox.c.record_key == records.c.record_key,
        )
        conn.execute(
            sa.delete(records).where(
                records.c.location_id == from_location,
                records.c.record_key.in_(keys),
                ~sa.exists(left),
            )
        )
    return len(move), len(skip)


def event_locations(conn: sa.Connection) -> dict[str, int]:
    """Each location's unfinished and dead events (a count), for telling which locations
    have events no connection would ever run."""
    q = (
        sa.select(inbox.c.location_id, sa.func.count())
        .where(inbox.c.state.in_(_MOVABLE))
        .group_by(inbox.c.location_id)
    )
    return {str(loc): int(n) for loc, n in conn.execute(q).all()}

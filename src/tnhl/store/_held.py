"""Records held by a dry run (issue 11): released when the connection goes live, or dropped.

A held record is one whose last try ended with a reason starting with the dry run's prefix
(`tnhl.sync`'s `DRY_RUN`), given back due far ahead. Releasing makes them due now; dropping
skips their pending events (`dropped at go-live`) and forgets the records, so a later event of
the same TalkNotes record starts from its own fields, not the dropped ones.
"""

from __future__ import annotations

import sqlalchemy as sa

from tnhl.store._models import RecordState
from tnhl.store._schema import inbox, records
from tnhl.store._work import record_state

__all__ = ["drop_held", "held_records", "release_held"]


def _held(location_id: str, prefix: str, now: float) -> sa.ColumnElement[bool]:
    return sa.and_(
        records.c.location_id == location_id,
        records.c.last_error.startswith(prefix, autoescape=True),
        sa.or_(records.c.lease_until.is_(None), records.c.lease_until <= now),
    )


def held_records(
    conn: sa.Connection, location_id: str, prefix: str, now: float
) -> list[RecordState]:
    q = sa.select(records).where(_held(location_id, prefix, now)).order_by(records.c.record_key)
    return [record_state(r) for r in conn.execute(q)]


def release_held(conn: sa.Connection, location_id: str, prefix: str, now: float) -> int:
    done = conn.execute(
        sa.update(records).where(_held(location_id, prefix, now)).values(due_at=now)
    )
    return int(done.rowcount)


def drop_held(conn: sa.Connection, location_id: str, prefix: str, now: float) -> int:
    keys = [
        r.record_key
        for r in conn.execute(
            sa.select(records.c.record_key).where(_held(location_id, prefix, now))
        )
    ]
    if not keys:
        return 0
    mine = sa.and_(inbox.c.location_id == location_id, inbox.c.record_key.in_(keys))
    conn.execute(
        sa.update(inbox)
        .where(mine, inbox.c.state == "pending")
        .values(state="skipped", done_at=now, result="dropped at go-live")
    )
    conn.execute(
        sa.delete(records).where(
            records.c.location_id == location_id, records.c.record_key.in_(keys)
        )
    )
    return len(keys)

"""Reads a claim batch needs at once, and marking a create sent before it goes out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tnhl.store import _records
from tnhl.store._bulk import insert_rows, keyed, one_of
from tnhl.store._errors import InvalidRecordError
from tnhl.store._models import BatchRead, OpMark, RecordState
from tnhl.store._schema import id_map, outbound_ops, records
from tnhl.store._work import record_state

__all__ = ["get_record", "read_batch", "send_ops"]


def get_record(conn: sa.Connection, location_id: str, record_key: str) -> RecordState | None:
    r = conn.execute(
        sa.select(records).where(
            records.c.location_id == location_id, records.c.record_key == record_key
        )
    ).first()
    return None if r is None else record_state(r)


def _resend(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "state": "sent",
            "attempts": outbound_ops.c.attempts + 1,
            "updated_at": stmt.excluded.updated_at,
        },
        where=outbound_ops.c.state != "succeeded",
    )


_RESEND = ("resend", _resend)


def send_ops(conn: sa.Connection, marks: Sequence[OpMark], *, now: float) -> None:
    """Mark the creates under these keys sent (inserting each on its first try), before they
    go out. One statement. A first body is kept: a create re-planned later with newer content
    is looked for by either body when its outcome is unknown. A succeeded create stays
    succeeded, and asking to send it again is refused (nothing is marked)."""
    for m in marks:
        _records.check_op(m.key, m.operation_id)
    rows = [
        {
            "key": m.key,
            "inbox_id": m.inbox_id,
            "operation_id": m.operation_id,
            "state": "sent",
            "request_body": m.body,
            "attempts": 1,
            "created_at": now,
            "updated_at": now,
        }
        for m in {m.key: m for m in reversed(marks)}.values()  # one row per key, the first
    ]
    marked = insert_rows(conn, outbound_ops, rows, returning=("key",), on_conflict=_RESEND)
    done = {r.key for r in marked}
    refused = sorted({m.key for m in marks} - done)
    if refused:
        # Sending a succeeded create again is exactly the duplicate the table prevents.
        raise InvalidRecordError(
            "state", f"operation {refused[0]!r} succeeded; it cannot be sent again"
        )


def read_batch(
    conn: sa.Connection, records_wanted: Sequence[tuple[str, str, str]], op_keys: Sequence[str]
) -> BatchRead:
    """The id links, tombstones and outbound ops a batch of records needs, whatever their
    locations, in three queries."""
    triples = sorted(set(records_wanted))
    links: dict[tuple[str, str, str], str] = {}
    deleted: set[tuple[str, str, str]] = set()
    if triples:
        cols = (id_map.c.location_id, id_map.c.kind, id_map.c.talknotes_id)
        for loc, kind, tn, hl in conn.execute(
            sa.select(*cols, id_map.c.highlevel_id).where(keyed(conn, cols, triples))
        ).all():
            links[(loc, kind, tn)] = hl
        keys = [(loc, f"{k}:{i}") for loc, k, i in triples]
        for loc, kind, tn in conn.execute(
            sa.select(records.c.location_id, records.c.kind, records.c.talknotes_id).where(
                keyed(conn, (records.c.location_id, records.c.record_key), keys),
                records.c.deleted_at.is_not(None),
            )
        ).all():
            deleted.add((loc, kind, tn))
    ops = {}
    if op_keys:
        for r in conn.execute(
            sa.select(outbound_ops).where(one_of(conn, outbound_ops.c.key, op_keys))
        ).all():
            op = _records.op_from_row(r)
            ops[op.key] = op
    return BatchRead(set(triples), links, deleted, set(op_keys), ops)

"""HighLevel events waiting to be told to TalkNotes: claimed from the inbox itself, one per
HighLevel entity at a time and oldest first (a contact's changes reach TalkNotes in the order
HighLevel sent them), leased like records, and finished as delivered, skipped, retried later
or dead-lettered (replayable like any dead letter). A delivery notes what TalkNotes now knows
of its entity (`told`) and the operations that succeeded (`ops_done`), in the same
transaction. Recipe rows (source "recipe": a recipe that fired) are claimed and finished the
same way by their runner."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tnhl.store._bulk import insert_rows, one_of
from tnhl.store._errors import InvalidRecordError
from tnhl.store._inbox import row
from tnhl.store._models import Delivery, InboxRow, RecordState, Told
from tnhl.store._profiles import mark_profile, told_row
from tnhl.store._schema import id_map, inbox, records, told
from tnhl.store._settle import dumps, file_dead, ops_succeeded
from tnhl.store._trail import add_calls
from tnhl.store._work import record_state, registers_of, set_register

__all__ = [
    "claim_outbound",
    "finish_outbound",
    "get_told",
    "known_highlevel_ids",
    "merge_applied",
    "records_of",
    "unlinked_records",
]

SCAN_PER_CLAIMED = 20  # rows read per row claimable: later events of a busy entity are passed
# Sources whose pending rows a runner claims; TalkNotes events are claimed with their records.
RUN_SOURCES = ("highlevel", "recipe")


def claim_outbound(
    conn: sa.Connection,
    worker: str,
    *,
    now: float,
    lease_seconds: float,
    limit: int,
    locations: Sequence[str] | None,
    source: str = "highlevel",
) -> list[InboxRow]:
    """Lease up to `limit` pending events of `source`, each the oldest unfinished one of its
    (location, entity) and due; an entity whose oldest is leased or waiting for a retry
    gives none (a later change never overtakes an earlier one)."""
    if source not in RUN_SOURCES:
        raise InvalidRecordError("source", f"must be one of {', '.join(RUN_SOURCES)}")
    scan = sa.select(
        inbox.c.id,
        inbox.c.location_id,
        inbox.c.entity_key,
        inbox.c.next_attempt_at,
        inbox.c.lease_until,
    ).where(inbox.c.source == source, inbox.c.state == "pending")
    if locations is not None:
        scan = scan.where(one_of(conn, inbox.c.location_id, locations))
    scan = scan.order_by(inbox.c.id).limit(max(limit * SCAN_PER_CLAIMED, 500))
    chosen: list[int] = []
    seen: set[tuple[str, str]] = set()
    for r in conn.execute(scan):
        entity = (r.location_id, r.entity_key)
        if entity in seen:
            continue
        seen.add(entity)
        if r.next_attempt_at <= now and (r.lease_until is None or r.lease_until <= now):
            chosen.append(r.id)
            if len(chosen) >= limit:
                break
    if not chosen:
        return []
    # Conditional, so two workers racing for one row cannot both lease it.
    taken = conn.execute(
        sa.update(inbox)
        .where(
            inbox.c.id.in_(chosen),
            sa.or_(inbox.c.lease_until.is_(None), inbox.c.lease_until <= now),
        )
        .values(lease_owner=worker, lease_until=now + lease_seconds)
        .returning(inbox.c.id)
    ).scalars()
    ids = sorted(taken)
    if not ids:
        return []
    return [
        row(r)
        for r in conn.execute(sa.select(inbox).where(inbox.c.id.in_(ids)).order_by(inbox.c.id))
    ]


def finish_outbound(
    conn: sa.Connection, worker: str, deliveries: Sequence[Delivery], now: float
) -> list[int]:
    """Settle what `worker` leased; returns the ids whose lease it had lost (left as they
    are: whoever holds them now settles them). Their `ops_done` are noted all the same: an
    operation that succeeded did, and its key must refuse a second send by the new holder."""
    ops_succeeded(conn, [op for d in deliveries for op in d.ops_done], now)
    add_calls(conn, [(d.inbox_id, c) for d in deliveries for c in d.calls])
    lost = []
    for d in deliveries:
        mine = sa.and_(inbox.c.id == d.inbox_id, inbox.c.lease_owner == worker)
        free = {"lease_owner": None, "lease_until": None}
        if d.outcome == "retry":
            values = {
                **free,
                "attempts": inbox.c.attempts + 1,
                "next_attempt_at": d.retry_at if d.retry_at is not None else now,
                "last_error": d.reason,
            }
        elif d.outcome == "dead":
            values = {**free, "state": "dead", "done_at": now, "last_error": d.reason}
        else:
            values = {**free, "state": d.outcome, "done_at": now, "result": d.reason}
        if conn.execute(sa.update(inbox).where(mine).values(**values)).rowcount == 0:
            lost.append(d.inbox_id)
        elif d.outcome == "dead":
            file_dead(conn, [d.inbox_id], d.reason, now, None)
        elif d.told is not None and d.outcome in ("done", "skipped"):
            _note_told(conn, d.told, now)
    return lost


_TOLD_VALUES = ("kind", "digest", "changed_at", "deleted", "told_at", "contact_id", "data")


def _replace_told(stmt: Any) -> Any:
    # From `excluded`, not the row's values: insert_rows compiles this statement once.
    return stmt.on_conflict_do_update(
        index_elements=["location_id", "highlevel_id"],
        set_={c: stmt.excluded[c] for c in _TOLD_VALUES},
    )


def _note_told(conn: sa.Connection, t: Told, now: float) -> None:
    """Note `t`; a change of content marks its contact's profile as changed."""
    before = conn.execute(
        sa.select(told.c.digest).where(
            told.c.location_id == t.location_id, told.c.highlevel_id == t.highlevel_id
        )
    ).scalar_one_or_none()
    row_ = {
        "location_id": t.location_id,
        "highlevel_id": t.highlevel_id,
        "kind": t.kind,
        "digest": t.digest,
        "changed_at": t.changed_at,
        "deleted": t.deleted,
        "told_at": now,
        "contact_id": t.contact_id,
        "data": None if t.data is None else dumps(t.data),
    }
    insert_rows(conn, told, [row_], on_conflict=("replace-told", _replace_told))
    if before != t.digest and t.contact_id:
        mark_profile(conn, t.location_id, t.contact_id, now)


def get_told(
    conn: sa.Connection, location_id: str, highlevel_ids: Sequence[str]
) -> dict[str, Told]:
    """What HighLevel holds (as last heard) of these entities of a location, by HighLevel id."""
    if not highlevel_ids:
        return {}
    q = sa.select(told).where(
        told.c.location_id == location_id, one_of(conn, told.c.highlevel_id, highlevel_ids)
    )
    return {r.highlevel_id: told_row(location_id, r) for r in conn.execute(q)}


def known_highlevel_ids(conn: sa.Connection, location_id: str, kind: str) -> set[str]:
    """The HighLevel ids of `kind` TalkNotes knows in a location: linked in the id map or
    told, less those it was told are deleted."""
    linked = sa.select(id_map.c.highlevel_id).where(
        id_map.c.location_id == location_id, id_map.c.kind == kind
    )
    seen = sa.select(told.c.highlevel_id, told.c.deleted).where(
        told.c.location_id == location_id, told.c.kind == kind
    )
    known = {str(x) for x in conn.execute(linked).scalars()}
    for hl_id, deleted in conn.execute(seen):
        (known.discard if deleted else known.add)(str(hl_id))
    return known


def merge_applied(
    conn: sa.Connection,
    location_id: str,
    kind: str,
    talknotes_id: str,
    fields: Mapping[str, Any],
    now: float,
    registers: Mapping[str, tuple[Any, float]] | None = None,
    replan: bool = False,
) -> bool:
    """Note what HighLevel now holds for a record (a change made there, told to TalkNotes):
    `fields` (HighLevel's names) into `applied`, so TalkNotes repeating them plans no write;
    `registers` (TalkNotes' names: (value, at)), HighLevel's winning values, into the
    record's registers as if TalkNotes had sent them at `at`: an older TalkNotes event no
    longer overrides them. With registers or `replan` the record is planned again (now, or
    at its settle when leased: a write of an older value in flight is followed by the
    newer). False if there is no such record."""
    where = sa.and_(
        records.c.location_id == location_id, records.c.record_key == f"{kind}:{talknotes_id}"
    )
    q = sa.select(records.c.applied, records.c.fields, records.c.lease_until)
    q = q.where(where)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    current = conn.execute(q).one_or_none()
    if current is None:
        return False
    values: dict[str, Any] = {
        "applied": dumps({**json.loads(current.applied), **fields}),
        "updated_at": now,
    }
    if registers:
        merged = registers_of(current.fields)
        for name, (value, at) in registers.items():
            set_register(merged, name, value, at, "highlevel")
        values["fields"] = dumps(merged)
    if registers or replan:
        values["version"] = records.c.version + 1
        if current.lease_until is None or current.lease_until <= now:
            values["due_at"] = now
    conn.execute(sa.update(records).where(where).values(**values))
    return True


def records_of(
    conn: sa.Connection, location_id: str, kind: str, contact_id: str | None
) -> list[RecordState]:
    """TalkNotes' live (not deleted) records of `kind` in a location, or of one contact."""
    q = sa.select(records).where(
        records.c.location_id == location_id,
        records.c.kind == kind,
        records.c.deleted_at.is_(None),
    )
    if contact_id is not None:
        q = q.where(records.c.contact_id == contact_id)
    return [record_state(r) for r in conn.execute(q.order_by(records.c.record_key))]


def unlinked_records(conn: sa.Connection, location_id: str, kind: str) -> list[RecordState]:
    """TalkNotes' records of `kind` in a location with no HighLevel id yet (a backfill links
    HighLevel's matching ones to them)."""
    link = sa.and_(
        id_map.c.location_id == records.c.location_id,
        id_map.c.kind == records.c.kind,
        id_map.c.talknotes_id == records.c.talknotes_id,
    )
    q = (
        sa.select(records)
        .select_from(records.outerjoin(id_map, link))
        .where(
            records.c.location_id == location_id,
            records.c.kind == kind,
            records.c.deleted_at.is_(None),
            id_map.c.highlevel_id.is_(None),
        )
    )
    return [record_state(r) for r in conn.execute(q)]

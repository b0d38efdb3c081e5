"""Records as the unit of work: fold events into records, claim due records, settle them.

Why records and not inbox heads: events arrive in any order. Folding each event into its
record's last-writer-wins registers (per field, the newest event timestamp wins) makes the
record's content a function of the SET of events received, never of their order, and a task
waiting for its contact is a record of its own that cannot block the contact's.

One claim is one write transaction: it folds the received events (oldest first, up to
`fold_limit`) and leases up to `limit` due records. A lease moves the record's `due_at` to the
lease's end, so a record whose worker died comes due again by itself (no sweeper). One settle
is one write transaction: the events' outcome, the id links, finished creates, the record's new
applied body and the next due time together. On PostgreSQL rows are locked with FOR UPDATE
(SKIP LOCKED where another worker's rows may simply be passed over).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tnhl.store import _records
from tnhl.store._errors import LeaseLostError
from tnhl.store._inbox import row
from tnhl.store._models import (
    Delta,
    EventVerdict,
    InboxRow,
    Link,
    PendingEvent,
    RecordClaim,
    RecordState,
    RecordStatus,
    Settlement,
)
from tnhl.store._schema import dead_letters, id_map, inbox, outbound_ops, records

__all__ = ["Folder", "claim", "lww_merge", "record_state", "settle"]

Folder = Callable[[InboxRow], "Delta | EventVerdict"]
_Registers = dict[str, tuple[Any, float, str]]


def _keyed(location_col: Any, key_col: Any, keys: Iterable[tuple[str, str]]) -> Any:
    """`(location, key) IN keys` written per location as `location = ? AND key IN (...)`:
    SQLite uses no index for a row-value IN list (a full scan per claim at 300k records)."""
    by_loc: dict[str, list[str]] = {}
    for loc, key in keys:
        by_loc.setdefault(loc, []).append(key)
    return sa.or_(
        *(sa.and_(location_col == loc, key_col.in_(ks)) for loc, ks in sorted(by_loc.items()))
    )


def lww_merge(
    fields: Mapping[str, tuple[Any, float, str]],
    deleted_at: float | None,
    first_at: float | None,
    deltas: Iterable[Delta],
) -> tuple[_Registers, float | None, float | None]:
    """Fold `deltas` into a record: per field the newest (at, tiebreak) wins; a delete is final
    (the earliest delete's time is kept); `first_at` is the earliest event time seen."""
    out: _Registers = dict(fields)
    for d in deltas:
        first_at = d.at if first_at is None else min(first_at, d.at)
        if d.delete:
            deleted_at = d.at if deleted_at is None else min(deleted_at, d.at)
        for name, value in d.fields.items():
            cur = out.get(name)
            if cur is None or (d.at, d.tiebreak) > (cur[1], cur[2]):
                out[name] = (value, d.at, d.tiebreak)
    return out, deleted_at, first_at


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def record_state(r: sa.Row[Any]) -> RecordState:
    m = r._mapping
    fields = {k: (v[0], float(v[1]), str(v[2])) for k, v in json.loads(m["fields"]).items()}
    return RecordState(
        location_id=m["location_id"],
        kind=m["kind"],
        talknotes_id=m["talknotes_id"],
        contact_id=m["contact_id"],
        fields=fields,
        deleted_at=m["deleted_at"],
        first_at=m["first_at"],
        applied=json.loads(m["applied"]),
        status=m["status"],
        version=m["version"],
        attempts=m["attempts"],
        crashes=m["crashes"],
        waiting_since=m["waiting_since"],
        last_error=m["last_error"],
    )


def _finish_events(
    conn: sa.Connection,
    ids: Sequence[int],
    state: str,
    reason: str,
    now: float,
    warnings: str | None = None,
    error: str | None = None,
) -> None:
    if not ids:
        return
    values: dict[str, Any] = {"state": state, "done_at": now, "lease_owner": None}
    values["lease_until"] = None
    if state == "dead":
        values["last_error"] = reason
    else:
        values["result"] = reason
    if warnings is not None:
        values["warnings"] = warnings
    conn.execute(sa.update(inbox).where(inbox.c.id.in_(list(ids))).values(**values))
    if state == "dead":
        _file_dead(conn, ids, reason, now, error)


def _file_dead(
    conn: sa.Connection, ids: Sequence[int], reason: str, now: float, error: str | None
) -> None:
    existing = set(
        conn.execute(
            sa.select(dead_letters.c.inbox_id).where(dead_letters.c.inbox_id.in_(list(ids)))
        ).scalars()
    )
    values = {"reason": reason or "dead", "error": error, "dead_at": now, "replayed_at": None}
    if existing:
        conn.execute(
            sa.update(dead_letters)
            .where(dead_letters.c.inbox_id.in_(sorted(existing)))
            .values(**values)
        )
    new = [{"inbox_id": i, **values} for i in ids if i not in existing]
    if new:
        conn.execute(sa.insert(dead_letters), new)


def _fold(conn: sa.Connection, rows: list[InboxRow], fold: Folder, now: float, pg: bool) -> None:
    groups: dict[tuple[str, str], list[Delta]] = {}
    pending: list[dict[str, Any]] = []
    for r in rows:
        try:
            result = fold(r)
        except Exception as exc:  # a folder bug must not stall the inbox: the event is dead
            result = EventVerdict(r.id, "dead", f"cannot read the event: {type(exc).__name__}")
        if isinstance(result, EventVerdict):
            _finish_events(conn, [r.id], result.state, result.reason, now)
            continue
        groups.setdefault((r.location_id, result.record_key), []).append(result)
        pending.append({"b_id": r.id, "b_key": result.record_key})
    if not groups:
        return
    conn.execute(
        sa.update(inbox)
        .where(inbox.c.id == sa.bindparam("b_id"))
        .values(state="pending", record_key=sa.bindparam("b_key")),
        pending,
    )
    keys = sorted(groups)
    if pg:
        # Sorted inserts and locks: two folders touching the same records never deadlock.
        conn.execute(
            postgresql.insert(records)
            .values([_new_row(loc, groups[(loc, key)][0], now) for loc, key in keys])
            .on_conflict_do_nothing(index_elements=["location_id", "record_key"])
        )
    q = sa.select(records).where(_keyed(records.c.location_id, records.c.record_key, keys))
    if pg:
        q = q.order_by(records.c.location_id, records.c.record_key).with_for_update()
    found = {(r.location_id, r.record_key): r for r in conn.execute(q).all()}
    missing = [k for k in keys if k not in found]
    if missing:
        conn.execute(sa.insert(records), [_new_row(k[0], groups[k][0], now) for k in missing])
    updates: list[dict[str, Any]] = []
    for key in keys:
        old = found.get(key)
        fields: Mapping[str, tuple[Any, float, str]] = {}
        deleted_at = first_at = lease_until = due_at = None
        status = "new"
        if old is not None:
            st = record_state(old)
            fields, deleted_at, first_at, status = st.fields, st.deleted_at, st.first_at, st.status
            lease_until, due_at = old.lease_until, old.due_at
        merged, deleted_at, first_at = lww_merge(fields, deleted_at, first_at, groups[key])
        if lease_until is not None and lease_until > now:
            due = due_at  # leased: the holder sees the new version at settle and re-queues
        elif status == "retry" and due_at is not None and due_at > now:
            due = due_at  # backing off after a failure: new events wait with it
        else:
            due = now
        updates.append(
            {
                "b_loc": key[0],
                "b_key": key[1],
                "b_fields": _dumps(merged),
                "b_deleted": deleted_at,
                "b_first": first_at,
                "b_due": due,
                "b_now": now,
            }
        )
    conn.execute(
        sa.update(records)
        .where(
            records.c.location_id == sa.bindparam("b_loc"),
            records.c.record_key == sa.bindparam("b_key"),
        )
        .values(
            fields=sa.bindparam("b_fields"),
            deleted_at=sa.bindparam("b_deleted"),
            first_at=sa.bindparam("b_first"),
            due_at=sa.bindparam("b_due"),
            updated_at=sa.bindparam("b_now"),
            version=records.c.version + 1,
        ),
        updates,
    )


def _new_row(location_id: str, d: Delta, now: float) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "record_key": d.record_key,
        "kind": d.kind,
        "talknotes_id": d.talknotes_id,
        "contact_id": d.contact_id,
        "fields": "{}",
        "applied": "{}",
        "status": "new",
        "version": 0,
        "attempts": 0,
        "crashes": 0,
        "updated_at": now,
    }


def claim(
    conn: sa.Connection,
    worker: str,
    *,
    now: float,
    lease_seconds: float,
    limit: int,
    fold: Folder,
    fold_limit: int,
) -> list[RecordClaim]:
    """Fold up to `fold_limit` received events, then lease up to `limit` due records."""
    pg = conn.dialect.name == "postgresql"
    if fold_limit > 0:
        q = sa.select(inbox).where(inbox.c.state == "received").order_by(inbox.c.id)
        q = q.limit(fold_limit)
        if pg:
            q = q.with_for_update(skip_locked=True)
        received = [row(r) for r in conn.execute(q).all()]
        if received:
            _fold(conn, received, fold, now, pg)
    if limit <= 0:
        return []
    q = sa.select(records).where(records.c.due_at <= now).order_by(records.c.due_at).limit(limit)
    if pg:
        q = q.with_for_update(skip_locked=True)
    due = [record_state(r) for r in conn.execute(q).all()]
    if not due:
        return []
    lease_until = now + lease_seconds
    keys = [(s.location_id, s.record_key) for s in due]
    conn.execute(
        sa.update(records)
        .where(_keyed(records.c.location_id, records.c.record_key, keys))
        .values(lease_owner=worker, lease_until=lease_until, due_at=lease_until)
    )
    events: dict[tuple[str, str], list[PendingEvent]] = {}
    for r in conn.execute(
        sa.select(
            inbox.c.id,
            inbox.c.event_id,
            inbox.c.event_type,
            inbox.c.received_at,
            inbox.c.location_id,
            inbox.c.record_key,
            inbox.c.state,
        )
        # No `state = 'pending'` in SQL: SQLite (no statistics) would pick the state index
        # and walk every pending event of the backlog; a record's own events are few.
        .where(_keyed(inbox.c.location_id, inbox.c.record_key, keys))
        .order_by(inbox.c.id)
    ).all():
        if r.state != "pending":
            continue
        ev = PendingEvent(r.id, r.event_id, r.event_type, r.received_at)
        events.setdefault((r.location_id, r.record_key), []).append(ev)
    return [
        RecordClaim(s, tuple(events.get((s.location_id, s.record_key), ())), worker, lease_until)
        for s in due
    ]


def _status(claim: RecordClaim, s: Settlement, applied: Mapping[str, Any]) -> RecordStatus:
    if s.outcome in ("applied", "skipped"):
        if s.deleted:
            return "deleted"
        return "synced" if applied else "new"
    if s.outcome == "reschedule":
        return claim.state.status
    if s.outcome == "waiting":
        return "waiting"
    return "dead" if s.outcome == "dead" else "retry"


def settle(conn: sa.Connection, claim: RecordClaim, s: Settlement, now: float) -> None:
    """Record how `claim`'s try ended (see `Settlement`), all or nothing."""
    st = claim.state
    pg = conn.dialect.name == "postgresql"
    parent_landed = False
    if s.outcome == "waiting" and s.for_contact and st.kind != "contact":
        # The contact may have landed while this child was being planned: its wake-up ran
        # before this child was 'waiting'. Reading the contact's row under its lock (taken
        # before the child's, the order every writer uses) closes that gap.
        pq = sa.select(records.c.status).where(
            records.c.location_id == st.location_id,
            records.c.record_key == f"contact:{st.contact_id}",
        )
        parent = conn.execute(pq.with_for_update() if pg else pq).scalar()
        parent_landed = parent in ("synced", "deleted") or (
            _records.find_mapping(conn, st.location_id, "contact", talknotes_id=st.contact_id)
            is not None
        )
    q = sa.select(records).where(
        records.c.location_id == st.location_id, records.c.record_key == st.record_key
    )
    if pg:
        q = q.with_for_update()
    current = conn.execute(q).first()
    if (
        current is None
        or current.lease_owner != claim.worker
        or current.lease_until != (claim.lease_until)
    ):
        raise LeaseLostError(claim.worker, [e.inbox_id for e in claim.events])
    for link in s.links:
        _link(conn, st.location_id, link, now)
    for key, highlevel_id in s.ops_done:
        done: dict[str, Any] = {"state": "succeeded", "updated_at": now}
        if highlevel_id is not None:
            done["highlevel_id"] = highlevel_id
        conn.execute(sa.update(outbound_ops).where(outbound_ops.c.key == key).values(**done))
    for key in s.ops_unknown:
        conn.execute(
            sa.update(outbound_ops)
            .where(outbound_ops.c.key == key, outbound_ops.c.state.in_(("sent", "unknown")))
            .values(state="unknown", response=s.error or s.reason, updated_at=now)
        )
    ids = [e.inbox_id for e in claim.events]
    warnings = _dumps(list(s.warnings)) if s.warnings else None
    if s.outcome == "applied":
        _finish_events(conn, ids, "done", s.reason or "applied", now, warnings)
    elif s.outcome == "skipped":
        _finish_events(conn, ids, "skipped", s.reason, now, warnings)
    elif s.outcome == "dead":
        _finish_events(conn, ids, "dead", s.reason, now, warnings, s.error)
    elif ids:
        values: dict[str, Any] = {"last_error": s.reason}
        if warnings is not None:
            values["warnings"] = warnings
        conn.execute(sa.update(inbox).where(inbox.c.id.in_(ids)).values(**values))
    applied = {**st.applied, **s.applied_fields}
    settled = s.outcome in ("applied", "skipped", "dead")
    if current.version != st.version or parent_landed:
        due: float | None = now  # events folded in meanwhile, or its contact landed: run now
    else:
        due = None if settled else (now if s.due_at is None else s.due_at)
    values = {
        "applied": _dumps(applied),
        "status": _status(claim, s, applied),
        "due_at": due,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
        "last_error": None if s.outcome in ("applied", "skipped") else (s.error or s.reason),
    }
    if settled:
        values.update(attempts=0, crashes=0, waiting_since=None)
    else:
        if s.count_attempt:
            values["attempts"] = records.c.attempts + 1
        if s.crashed:
            values["crashes"] = records.c.crashes + 1
        if s.outcome == "waiting":
            values["waiting_since"] = sa.func.coalesce(records.c.waiting_since, now)
    conn.execute(
        sa.update(records)
        .where(records.c.location_id == st.location_id, records.c.record_key == st.record_key)
        .values(**values)
    )
    if st.kind == "contact" and s.outcome in ("applied", "skipped") and (s.links or s.deleted):
        # The contact is in HighLevel now (or gone): its waiting tasks and notes run at once.
        conn.execute(
            sa.update(records)
            .where(
                records.c.location_id == st.location_id,
                records.c.contact_id == st.talknotes_id,
                records.c.kind != "contact",
                records.c.status == "waiting",
                sa.or_(records.c.lease_until.is_(None), records.c.lease_until <= now),
            )
            .values(due_at=now)
        )


def _link(conn: sa.Connection, location_id: str, link: Link, now: float) -> None:
    """Record (kind, TalkNotes id) -> HighLevel id; MappingConflictError if either is taken.

    One INSERT that does nothing on any conflict; only then the slow path, which tells a repeat
    of the same pair (fine) from a conflict (named precisely)."""
    insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    added = conn.execute(
        insert(id_map)
        .values(
            location_id=location_id,
            kind=link.kind,
            talknotes_id=link.talknotes_id,
            highlevel_id=link.highlevel_id,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(id_map.c.kind)
    ).first()
    if added is None:
        _records.put_mapping(
            conn, location_id, link.kind, link.talknotes_id, link.highlevel_id, None, now
        )

"""Records as the unit of work: fold events into records and claim due records.

Why records and not inbox heads: events arrive in any order. Folding each event into its
record's last-writer-wins registers (per field, the newest event timestamp wins) makes the
record's content a function of the SET of events received, never of their order, and a task
waiting for its contact is a record of its own that cannot block the contact's.

One claim is one write transaction: it folds the received events (oldest first, up to
`fold_limit`) and leases up to `limit` due records. A lease moves the record's `due_at` to the
lease's end, so a record whose worker died comes due again by itself (no sweeper); settling is
`_settle`'s. On PostgreSQL rows are locked with FOR UPDATE (SKIP LOCKED where another worker's
rows may simply be passed over).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tnhl.store._bulk import BulkUpdate, insert_rows, keyed
from tnhl.store._inbox import row
from tnhl.store._models import (
    Delta,
    EventVerdict,
    InboxRow,
    PendingEvent,
    RecordClaim,
    RecordState,
)
from tnhl.store._schema import inbox, records
from tnhl.store._settle import dumps, finish_verdicts

__all__ = ["Folder", "claim", "lww_merge", "record_state", "registers_of", "set_register"]

Folder = Callable[[InboxRow], "Delta | EventVerdict"]
_Registers = dict[str, tuple[Any, float, str]]


def registers_of(text: str) -> _Registers:
    """A record's `fields` column as its registers: field -> (value, at, tiebreak)."""
    return {k: (v[0], float(v[1]), str(v[2])) for k, v in json.loads(text).items()}


def set_register(registers: _Registers, name: str, value: Any, at: float, tiebreak: str) -> None:
    """`value` becomes field `name`'s when (at, tiebreak) is newer than the one it holds."""
    cur = registers.get(name)
    if cur is None or (at, tiebreak) > (cur[1], cur[2]):
        registers[name] = (value, at, tiebreak)


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
            set_register(out, name, value, d.at, d.tiebreak)
    return out, deleted_at, first_at


def record_state(r: sa.Row[Any]) -> RecordState:
    m = r._mapping
    fields = registers_of(m["fields"])
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
        written_at=m["written_at"],
    )


_S: sa.types.TypeEngine[Any] = sa.String()
_F: sa.types.TypeEngine[Any] = sa.Double()
_PENDING = BulkUpdate(
    {"b_id": sa.BigInteger(), "b_key": _S},
    lambda v: (
        sa.update(inbox)
        .where(inbox.c.id == v("b_id"))
        .values(state="pending", record_key=v("b_key"))
    ),
)
_FOLDED = BulkUpdate(
    {
        "b_loc": _S,
        "b_key": _S,
        "b_fields": sa.Text(),
        "b_deleted": _F,
        "b_first": _F,
        "b_due": _F,
        "b_now": _F,
    },
    lambda v: (
        sa.update(records)
        .where(records.c.location_id == v("b_loc"), records.c.record_key == v("b_key"))
        .values(
            fields=v("b_fields"),
            deleted_at=v("b_deleted"),
            first_at=v("b_first"),
            due_at=v("b_due"),
            updated_at=v("b_now"),
            version=records.c.version + 1,
        )
    ),
)


def _fold(conn: sa.Connection, rows: list[InboxRow], fold: Folder, now: float, pg: bool) -> None:
    groups: dict[tuple[str, str], list[Delta]] = {}
    pending: list[dict[str, Any]] = []
    verdicts: list[EventVerdict] = []
    for r in rows:
        try:
            result = fold(r)
        except Exception as exc:  # a folder bug must not stall the inbox: the event is dead
            result = EventVerdict(r.id, "dead", f"cannot read the event: {type(exc).__name__}")
        if isinstance(result, EventVerdict):
            verdicts.append(result)
            continue
        groups.setdefault((r.location_id, result.record_key), []).append(result)
        pending.append({"b_id": r.id, "b_key": result.record_key})
    finish_verdicts(conn, verdicts, now)
    if not groups:
        return
    _PENDING(conn, pending)
    keys = sorted(groups)
    if pg:
        # Sorted inserts and locks: two folders touching the same records never deadlock.
        insert_rows(conn, records, [_new_row(loc, groups[(loc, key)][0], now) for loc, key in keys])
    q = sa.select(records).where(keyed(conn, (records.c.location_id, records.c.record_key), keys))
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
                "b_fields": dumps(merged),
                "b_deleted": deleted_at,
                "b_first": first_at,
                "b_due": due,
                "b_now": now,
            }
        )
    _FOLDED(conn, updates)


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


# Each location's oldest `n` rows after the first `off`, in ONE statement whatever the number of
# locations: the database seeks a (location_id, ...) index once per location (about 10 us
# each), where one statement per location cost ~0.2 ms each in round trips (an empty claim over
# 100 connections took 23 ms). SQLite walks a JSON array of the locations; PostgreSQL an array,
# locking each location's rows as it takes them. Due records by (location_id, due_at); received
# events by (location_id, state, id).
_PerLocation = tuple[sa.TextualSelect, sa.TextualSelect]


def _per_location_sql(table: sa.Table, where: str, order: str) -> _PerLocation:
    name = table.name  # the parts are this module's constants, never input: hence the noqa
    return (
        sa.text(
            f"SELECT r.* FROM json_each(:locs) AS l JOIN {name} AS r ON r.rowid IN ("  # noqa: S608
            f" SELECT x.rowid FROM {name} AS x WHERE x.location_id = l.value AND {where}"
            f" ORDER BY x.{order} LIMIT :n OFFSET :off)"
        ).columns(*table.c),
        sa.text(
            f"SELECT r.* FROM unnest(CAST(:locs AS VARCHAR[])) AS l(loc) CROSS JOIN LATERAL ("  # noqa: S608
            f" SELECT * FROM {name} AS x WHERE x.location_id = l.loc AND {where}"
            f" ORDER BY x.{order} LIMIT :n OFFSET :off FOR UPDATE SKIP LOCKED) AS r"
        ).columns(*table.c),
    )


_DUE = _per_location_sql(records, "x.due_at <= :now", "due_at")
_RECEIVED = _per_location_sql(inbox, "x.state = 'received'", "id")


def _per_location(
    conn: sa.Connection,
    sql: _PerLocation,
    locs: Sequence[str],
    params: Mapping[str, Any],
    off: int,
    n: int,
    pg: bool,
) -> list[sa.Row[Any]]:
    args = {**params, "n": n, "off": off}
    if pg:
        return list(conn.execute(sql[1], {**args, "locs": list(locs)}).all())
    return list(conn.execute(sql[0], {**args, "locs": json.dumps(locs)}).all())


def _fair(
    conn: sa.Connection,
    sql: _PerLocation,
    locs: Sequence[str],
    params: Mapping[str, Any],
    limit: int,
    order: Callable[[sa.Row[Any]], Any],
    pg: bool,
) -> list[sa.Row[Any]]:
    """Up to `limit` rows, in `order`: first up to limit/len(locs) of each location (so a
    burst on one cannot fill the batch while another waits), then, if that leaves room, more
    of those that had more."""
    share = -(-limit // len(locs))
    first = _per_location(conn, sql, locs, params, 0, share, pg)
    out = sorted(first, key=order)[:limit]
    per_loc: dict[str, int] = {}
    for r in first:
        per_loc[r.location_id] = per_loc.get(r.location_id, 0) + 1
    full = [loc for loc, got in per_loc.items() if got == share]
    if len(out) < limit and full:
        more = _per_location(conn, sql, sorted(full), params, share, limit - len(out), pg)
        out += sorted(more, key=order)[: limit - len(out)]
    return out


def _due(
    conn: sa.Connection, now: float, limit: int, locations: Sequence[str] | None, pg: bool
) -> list[RecordState]:
    """Up to `limit` due records, oldest due first; with several `locations`, each in turn."""
    locs = None if locations is None else sorted(set(locations))
    if locs is None or len(locs) == 1:
        q = sa.select(records).where(records.c.due_at <= now)
        if locs is not None:
            q = q.where(records.c.location_id == locs[0])
        q = q.order_by(records.c.due_at).limit(limit)
        if pg:
            q = q.with_for_update(skip_locked=True)
        return [record_state(r) for r in conn.execute(q).all()]
    return [record_state(r) for r in _fair(conn, _DUE, locs, {"now": now}, limit, _due_order, pg)]


def _received(
    conn: sa.Connection, limit: int, locations: Sequence[str] | None, pg: bool
) -> list[InboxRow]:
    """Up to `limit` received events, oldest first; with several `locations`, each in turn
    (and up to `limit` HighLevel events besides): a backlog on one connection (or on each, as
    when an agency adds 100 sub-accounts at once) must not be folded whole before another's
    first events are. HighLevel's events are folded whatever their location: one for a
    location no connection serves must still be settled (recorded, then skipped), not sit."""
    locs = None if locations is None else sorted(set(locations))
    q = sa.select(inbox).where(inbox.c.state == "received")
    highlevel = inbox.c.source == "highlevel"
    if locs is not None and len(locs) == 1:
        q = q.where(sa.or_(inbox.c.location_id == locs[0], highlevel))
    elif locs is not None:
        q = q.where(highlevel)  # the others come each in turn, below
    q = q.order_by(inbox.c.id).limit(limit)
    if pg:
        q = q.with_for_update(skip_locked=True)
    rows = {r.id: r for r in conn.execute(q).all()}
    if locs is not None and len(locs) > 1:
        for r in _fair(conn, _RECEIVED, locs, {}, limit, _by_id, pg):
            rows.setdefault(r.id, r)
    return [row(r) for r in sorted(rows.values(), key=_by_id)]


def _by_id(r: sa.Row[Any]) -> int:
    return int(r.id)


def _due_order(r: sa.Row[Any]) -> tuple[float, str, str]:
    return (r.due_at, r.location_id, r.record_key)


def claim(
    conn: sa.Connection,
    worker: str,
    *,
    now: float,
    lease_seconds: float,
    limit: int,
    fold: Folder,
    fold_limit: int,
    locations: Sequence[str] | None = None,
) -> list[RecordClaim]:
    """Fold up to `fold_limit` received events, then lease up to `limit` due records; only
    of `locations` when given (the connections this worker serves), each served in turn."""
    pg = conn.dialect.name == "postgresql"
    if fold_limit > 0:
        received = _received(conn, fold_limit, locations, pg)
        if received:
            _fold(conn, received, fold, now, pg)
    if limit <= 0:
        return []
    due = _due(conn, now, limit, locations, pg)
    if not due:
        return []
    lease_until = now + lease_seconds
    keys = [(s.location_id, s.record_key) for s in due]
    conn.execute(
        sa.update(records)
        .where(keyed(conn, (records.c.location_id, records.c.record_key), keys))
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
        .where(keyed(conn, (inbox.c.location_id, inbox.c.record_key), keys))
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

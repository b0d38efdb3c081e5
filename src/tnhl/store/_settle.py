"""Settling claimed records: many settlements in ONE write transaction, a few statements each.

A settlement records how a record's try ended: the events' outcome, the id links, finished
creates, the record's new applied body and its next due time. Settling a batch together costs
one commit and about eight statements whatever the batch's size (each statement is compiled
once and run with `executemany`), instead of a commit and six statements per record.

All or nothing: if one settlement cannot be recorded (its lease was lost, its link conflicts)
nothing of the batch is, and the error names that record; the caller then settles the others
one by one. On PostgreSQL the batch's records and the contacts its waiting children wait for are
locked in ONE statement in (location, key) order, the order the fold locks in too, so two
writers never deadlock; the waiting children its contacts wake are locked after, skipping any
another transaction holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tnhl.store import _records
from tnhl.store._bulk import BulkUpdate, insert_rows, keyed
from tnhl.store._errors import LeaseLostError
from tnhl.store._models import (
    FINISHED_STATES,
    EventVerdict,
    Link,
    RecordClaim,
    RecordStatus,
    Settlement,
)
from tnhl.store._schema import dead_letters, id_map, inbox, outbound_ops, records
from tnhl.store._trail import add_calls

__all__ = ["dumps", "file_dead", "finish_verdicts", "ops_succeeded", "settle"]

Item = tuple[RecordClaim, Settlement]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


# Built once: building a Core statement costs more than SQLite takes to run it.
_S: sa.types.TypeEngine[Any] = sa.String()
_T: sa.types.TypeEngine[Any] = sa.Text()
_F: sa.types.TypeEngine[Any] = sa.Double()
_I: sa.types.TypeEngine[Any] = sa.BigInteger()
_FINISH_EVENT = BulkUpdate(
    {"b_id": _I, "b_state": _S, "b_done": _F, "b_result": _T, "b_error": _T, "b_warnings": _T},
    lambda v: (
        sa.update(inbox)
        .where(inbox.c.id == v("b_id"))
        .values(
            state=sa.func.coalesce(v("b_state"), inbox.c.state),
            done_at=sa.func.coalesce(v("b_done"), inbox.c.done_at),
            result=sa.func.coalesce(v("b_result"), inbox.c.result),
            last_error=sa.func.coalesce(v("b_error"), inbox.c.last_error),
            warnings=sa.func.coalesce(v("b_warnings"), inbox.c.warnings),
            lease_owner=None,
            lease_until=None,
        )
    ),
)
_OP_DONE = BulkUpdate(
    {"b_key": _S, "b_hl": _S, "b_now": _F},
    lambda v: (
        sa.update(outbound_ops)
        .where(outbound_ops.c.key == v("b_key"))
        .values(
            state="succeeded",
            highlevel_id=sa.func.coalesce(v("b_hl"), outbound_ops.c.highlevel_id),
            updated_at=v("b_now"),
        )
    ),
)
_OP_UNKNOWN = BulkUpdate(
    {"b_key": _S, "b_response": _T, "b_now": _F},
    lambda v: (
        sa.update(outbound_ops)
        # Two comparisons, not IN (...): an expanding IN cannot run in executemany.
        .where(
            outbound_ops.c.key == v("b_key"),
            sa.or_(outbound_ops.c.state == "sent", outbound_ops.c.state == "unknown"),
        )
        .values(state="unknown", response=v("b_response"), updated_at=v("b_now"))
    ),
)
_RECORD_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "b_loc": _S,
    "b_rkey": _S,
    "b_applied": _T,
    "b_status": _S,
    "b_due": _F,
    "b_now": _F,
    "b_error": _T,
    "b_keep": _I,
    "b_inc_attempts": _I,
    "b_inc_crashes": _I,
    "b_waiting": _I,
    "b_wrote": _I,
}
_RECORD = BulkUpdate(
    _RECORD_COLUMNS,
    lambda v: (
        sa.update(records)
        .where(records.c.location_id == v("b_loc"), records.c.record_key == v("b_rkey"))
        .values(
            applied=v("b_applied"),
            status=v("b_status"),
            due_at=v("b_due"),
            lease_owner=None,
            lease_until=None,
            updated_at=v("b_now"),
            last_error=v("b_error"),
            # keep = 0 resets a settled record's counters; inc adds this try to them.
            attempts=records.c.attempts * v("b_keep") + v("b_inc_attempts"),
            crashes=records.c.crashes * v("b_keep") + v("b_inc_crashes"),
            waiting_since=sa.case(
                (v("b_waiting") == 1, sa.func.coalesce(records.c.waiting_since, v("b_now"))),
                (v("b_keep") == 0, sa.null()),
                else_=records.c.waiting_since,
            ),
            written_at=sa.case((v("b_wrote") == 1, v("b_now")), else_=records.c.written_at),
        )
    ),
)
_WAKE = BulkUpdate(
    {"b_loc": _S, "b_rkey": _S, "b_now": _F},
    lambda v: (
        sa.update(records)
        .where(
            records.c.location_id == v("b_loc"),
            records.c.record_key == v("b_rkey"),
            records.c.status == "waiting",
            sa.or_(records.c.lease_until.is_(None), records.c.lease_until <= v("b_now")),
        )
        .values(due_at=v("b_now"))
    ),
)


def finish_verdicts(conn: sa.Connection, verdicts: Sequence[EventVerdict], now: float) -> None:
    """Settle events the fold decided at once (skipped, or dead and filed as dead letters;
    pending: left for the outbound pump): one statement for all of them."""
    _FINISH_EVENT(conn, [_event_params(v.inbox_id, v.state, v.reason, now, None) for v in verdicts])
    for v in verdicts:
        if v.state == "dead":
            file_dead(conn, [v.inbox_id], v.reason, now, None)


def _event_params(
    inbox_id: int, state: str | None, reason: str, now: float, warnings: str | None
) -> dict[str, Any]:
    finished = state in FINISHED_STATES
    return {
        "b_id": inbox_id,
        "b_state": state,
        "b_done": now if finished else None,
        "b_result": reason if state in ("done", "skipped") else None,
        "b_error": reason if state in ("dead", None) else None,
        "b_warnings": warnings,
    }


def file_dead(
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


def _event_state(s: Settlement) -> str | None:
    return {"applied": "done", "skipped": "skipped", "dead": "dead"}.get(s.outcome)


def _lands(claim: RecordClaim, s: Settlement) -> bool:
    """This settlement puts a contact in HighLevel (or removes it): its children may run."""
    ok = s.outcome in ("applied", "skipped") and (bool(s.links) or s.deleted)
    return claim.state.kind == "contact" and ok


def _waits_for_contact(claim: RecordClaim, s: Settlement) -> bool:
    return s.outcome == "waiting" and s.for_contact and claim.state.kind != "contact"


def settle(conn: sa.Connection, items: Sequence[Item], now: float) -> None:
    """Record how each claim's try ended (see `Settlement`), all in this transaction."""
    if not items:
        return
    pg = conn.dialect.name == "postgresql"
    mine = {(c.state.location_id, c.state.record_key) for c, _ in items}
    parents = {
        (c.state.location_id, f"contact:{c.state.contact_id}")
        for c, s in items
        if _waits_for_contact(c, s)
    }
    landing = {(c.state.location_id, c.state.talknotes_id) for c, s in items if _lands(c, s)}
    q = sa.select(
        records.c.location_id,
        records.c.record_key,
        records.c.lease_owner,
        records.c.lease_until,
        records.c.version,
        records.c.status,
    ).where(keyed(conn, (records.c.location_id, records.c.record_key), mine | parents))
    if pg:
        q = q.order_by(records.c.location_id, records.c.record_key).with_for_update()
    rows = {(r.location_id, r.record_key): r for r in conn.execute(q).all()}
    for claim, _ in items:
        cur = rows.get((claim.state.location_id, claim.state.record_key))
        if cur is None or cur.lease_owner != claim.worker or cur.lease_until != claim.lease_until:
            raise LeaseLostError(claim.worker, [e.inbox_id for e in claim.events])
    # Only now, with the landing contacts locked: a child settling "waiting" meanwhile either
    # committed before (found here) or reads its contact after this commits (and runs).
    children = _waiting_children(conn, landing, pg)
    _links(conn, items, now)
    _ops(conn, items, now)
    _events(conn, items, now)
    landed = _landed(conn, items, rows, landing, parents)
    _RECORD(conn, [_record_params(c, s, rows, landed, now) for c, s in items])
    _WAKE(conn, [{"b_loc": loc, "b_rkey": k, "b_now": now} for loc, k in sorted(children)])


def _waiting_children(
    conn: sa.Connection, landing: set[tuple[str, str]], pg: bool
) -> set[tuple[str, str]]:
    """The waiting tasks and notes of the contacts landing in this batch. On PostgreSQL a child
    another transaction holds is passed over (SKIP LOCKED: waiting for it could deadlock, the
    lock order being broken here): whoever holds it makes it due (a fold of a new event, its
    own settle, which reads this contact's row after this commits, or a claim)."""
    if not landing:
        return set()
    q = sa.select(records.c.location_id, records.c.record_key).where(
        keyed(conn, (records.c.location_id, records.c.contact_id), landing),
        records.c.kind != "contact",
        records.c.status == "waiting",
    )
    if pg:
        q = q.with_for_update(skip_locked=True)
    return {(r.location_id, r.record_key) for r in conn.execute(q).all()}


def _landed(
    conn: sa.Connection,
    items: Sequence[Item],
    rows: Mapping[tuple[str, str], Any],
    landing: set[tuple[str, str]],
    parents: set[tuple[str, str]],
) -> set[tuple[str, str]]:
    """The contacts (location, record key) among `parents` that are in HighLevel or gone, as
    of this transaction: waiting for them is over. Read under their locks (PostgreSQL): the
    contact may have landed while its child was being planned, its wake-up already run."""
    out = {(loc, f"contact:{tn}") for loc, tn in landing}
    for key in parents - out:
        r = rows.get(key)
        if r is not None and r.status in ("synced", "deleted"):
            out.add(key)
    unknown = {(loc, key.split(":", 1)[1]) for loc, key in parents - out}
    if unknown:
        q = sa.select(id_map.c.location_id, id_map.c.talknotes_id).where(
            id_map.c.kind == "contact",
            keyed(conn, (id_map.c.location_id, id_map.c.talknotes_id), unknown),
        )
        out |= {(r.location_id, f"contact:{r.talknotes_id}") for r in conn.execute(q).all()}
    return out


def _links(conn: sa.Connection, items: Sequence[Item], now: float) -> None:
    """(kind, TalkNotes id) -> HighLevel id for every link; MappingConflictError if either is
    taken. One INSERT that does nothing on any conflict; only for the rows it did not insert
    the slow path, which tells a repeat of the same pair (fine) from a conflict (named)."""
    wanted: dict[tuple[str, str, str], Link] = {}
    for claim, s in items:
        for link in s.links:
            wanted.setdefault((claim.state.location_id, link.kind, link.talknotes_id), link)
    if not wanted:
        return
    rows = [
        {
            "location_id": loc,
            "kind": kind,
            "talknotes_id": tn,
            "highlevel_id": link.highlevel_id,
            "updated_at": now,
        }
        for (loc, kind, tn), link in sorted(wanted.items())
    ]
    inserted = insert_rows(conn, id_map, rows, returning=("location_id", "kind", "talknotes_id"))
    added = {(r.location_id, r.kind, r.talknotes_id) for r in inserted}
    for (loc, kind, tn), link in sorted(wanted.items()):
        if (loc, kind, tn) not in added:
            _records.put_mapping(conn, loc, kind, tn, link.highlevel_id, None, now)


def ops_succeeded(conn: sa.Connection, done: Iterable[tuple[str, str | None]], now: float) -> None:
    """Mark operations succeeded, each with the HighLevel id it produced (None keeps the id
    noted before); one statement. A succeeded key is never marked sent again (`send_ops`)."""
    _OP_DONE(conn, [{"b_key": key, "b_hl": hl, "b_now": now} for key, hl in done])


def _ops(conn: sa.Connection, items: Sequence[Item], now: float) -> None:
    ops_succeeded(conn, [op for _, s in items for op in s.ops_done], now)
    unknown = [
        {"b_key": key, "b_response": s.error or s.reason, "b_now": now}
        for _, s in items
        for key in s.ops_unknown
    ]
    _OP_UNKNOWN(conn, unknown)
    unsent = sorted({key for _, s in items for key in s.ops_unsent})
    if unsent:
        stale = outbound_ops.c.key.in_(unsent) & (outbound_ops.c.state == "sent")
        conn.execute(sa.delete(outbound_ops).where(stale))


def _events(conn: sa.Connection, items: Sequence[Item], now: float) -> None:
    params = []
    for claim, s in items:
        warnings = dumps(list(s.warnings)) if s.warnings else None
        state = _event_state(s)
        reason = (s.reason or "applied") if s.outcome == "applied" else s.reason
        params += [_event_params(e.inbox_id, state, reason, now, warnings) for e in claim.events]
    _FINISH_EVENT(conn, params)
    add_calls(conn, [(e.inbox_id, c) for claim, s in items for e in claim.events for c in s.calls])
    for claim, s in items:
        if s.outcome == "dead" and claim.events:
            ids = [e.inbox_id for e in claim.events]
            file_dead(conn, ids, s.reason, now, s.error)


def _record_params(
    claim: RecordClaim,
    s: Settlement,
    rows: Mapping[tuple[str, str], Any],
    landed: set[tuple[str, str]],
    now: float,
) -> dict[str, Any]:
    st = claim.state
    applied = {**st.applied, **s.applied_fields}
    settled = s.outcome in ("applied", "skipped", "dead")
    parent_landed = _waits_for_contact(claim, s) and (
        (st.location_id, f"contact:{st.contact_id}") in landed
    )
    if rows[(st.location_id, st.record_key)].version != st.version or parent_landed:
        due: float | None = now  # events folded in meanwhile, or its contact landed: run now
    else:
        due = None if settled else (now if s.due_at is None else s.due_at)
    return {
        "b_loc": st.location_id,
        "b_rkey": st.record_key,
        "b_applied": dumps(applied),
        "b_status": _status(claim, s, applied),
        "b_due": due,
        "b_now": now,
        "b_error": None if s.outcome in ("applied", "skipped") else (s.error or s.reason),
        "b_keep": 0 if settled else 1,
        "b_inc_attempts": int(not settled and s.count_attempt),
        "b_inc_crashes": int(not settled and s.crashed),
        "b_waiting": int(s.outcome == "waiting" and not settled),
        "b_wrote": int(s.outcome == "applied" and bool(s.applied_fields)),
    }

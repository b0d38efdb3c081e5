"""`SqlStore`: the Store protocol on SQLite or PostgreSQL through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tnhl.store import (
    _batch,
    _dead,
    _inbox,
    _outbound,
    _records,
    _settle,
    _work,
)
from tnhl.store._errors import InvalidRecordError
from tnhl.store._models import (
    BatchRead,
    DeadLetter,
    Delivery,
    InboundEvent,
    InboxRow,
    OpMark,
    OutboundOp,
    RecordClaim,
    RecordState,
    Settlement,
    StoreStats,
)
from tnhl.store._sql_admin import AdminVerbs
from tnhl.store._sql_base import Clock
from tnhl.store._work import Folder

__all__ = ["Clock", "SqlStore"]


class SqlStore(AdminVerbs):
    """The store on an SQLAlchemy engine; safe to share between threads."""

    # inbox -----------------------------------------------------------------------------------
    def add_inbound(self, event: InboundEvent) -> bool:
        _inbox.validate_event(event)
        with self._write() as conn:
            return _inbox.add_inbound(conn, event, self._insert)

    def claim(
        self,
        worker: str,
        *,
        fold: Folder,
        now: float | None = None,
        lease_seconds: float = 60.0,
        limit: int = 1,
        fold_limit: int = 500,
        locations: Sequence[str] | None = None,
    ) -> list[RecordClaim]:
        if not worker or len(worker) > 255:
            raise InvalidRecordError("worker", "must be a non-empty name of at most 255 characters")
        if lease_seconds <= 0:
            raise InvalidRecordError("lease_seconds", "must be positive")
        if limit < 0 or fold_limit < 0:
            raise InvalidRecordError("limit" if limit < 0 else "fold_limit", "must be >= 0")
        with self._write() as conn:
            return _work.claim(
                conn,
                worker,
                now=self._now(now),
                lease_seconds=lease_seconds,
                limit=limit,
                fold=fold,
                fold_limit=fold_limit,
                locations=locations,
            )

    def settle(
        self, items: Sequence[tuple[RecordClaim, Settlement]], *, now: float | None = None
    ) -> None:
        with self._write() as conn:
            _settle.settle(conn, items, self._now(now))

    def get_record(self, location_id: str, kind: str, talknotes_id: str) -> RecordState | None:
        with self._read() as conn:
            return _batch.get_record(conn, location_id, f"{kind}:{talknotes_id}")

    def read_batch(
        self,
        *,
        records: Sequence[tuple[str, str, str]] = (),
        op_keys: Sequence[str] = (),
    ) -> BatchRead:
        with self._read() as conn:
            return _batch.read_batch(conn, records, op_keys)

    def send_ops(self, marks: Sequence[OpMark]) -> None:
        if not marks:
            return
        # Several in a transaction: one refused (succeeded) key must leave all unmarked.
        with self._one_statement() if len(marks) == 1 else self._write() as conn:
            _batch.send_ops(conn, marks, now=self._clock())

    def replay_dead(
        self,
        *,
        dead_letter_id: int | None = None,
        inbox_id: int | None = None,
        now: float | None = None,
        location_id: str | None = None,
    ) -> InboxRow:
        with self._write() as conn:
            return _dead.replay_dead(
                conn,
                dead_letter_id=dead_letter_id,
                inbox_id=inbox_id,
                now=self._now(now),
                location_id=location_id,
            )

    def list_dead(
        self,
        *,
        include_replayed: bool = False,
        limit: int = 100,
        offset: int = 0,
        location_id: str | None = None,
    ) -> list[DeadLetter]:
        with self._read() as conn:
            return _dead.list_dead(
                conn,
                include_replayed=include_replayed,
                limit=limit,
                offset=offset,
                location_id=location_id,
            )

    def get_dead(
        self, *, dead_letter_id: int | None = None, inbox_id: int | None = None
    ) -> DeadLetter:
        with self._read() as conn:
            return _dead.get_dead(conn, dead_letter_id=dead_letter_id, inbox_id=inbox_id)

    def get_event(self, inbox_id: int) -> InboxRow:
        with self._read() as conn:
            return _inbox.get_event(conn, inbox_id)

    def claim_outbound(
        self,
        worker: str,
        *,
        now: float | None = None,
        lease_seconds: float = 60.0,
        limit: int = 50,
        locations: Sequence[str] | None = None,
        source: str = "highlevel",
    ) -> list[InboxRow]:
        with self._write() as conn:
            return _outbound.claim_outbound(
                conn,
                worker,
                now=self._now(now),
                lease_seconds=lease_seconds,
                limit=limit,
                locations=locations,
                source=source,
            )

    def finish_outbound(
        self, worker: str, deliveries: Sequence[Delivery], *, now: float | None = None
    ) -> list[int]:
        if not deliveries:
            return []
        with self._write() as conn:
            return _outbound.finish_outbound(conn, worker, deliveries, self._now(now))

    def records_of(
        self, location_id: str, kind: str, *, contact_id: str | None = None
    ) -> list[RecordState]:
        with self._read() as conn:
            return _outbound.records_of(conn, location_id, kind, contact_id)

    def unlinked_records(self, location_id: str, kind: str) -> list[RecordState]:
        with self._read() as conn:
            return _outbound.unlinked_records(conn, location_id, kind)

    def known_highlevel_ids(self, location_id: str, kind: str) -> set[str]:
        with self._read() as conn:
            return _outbound.known_highlevel_ids(conn, location_id, kind)

    def merge_applied(
        self,
        location_id: str,
        kind: str,
        talknotes_id: str,
        fields: Mapping[str, Any],
        *,
        registers: Mapping[str, tuple[Any, float]] | None = None,
        replan: bool = False,
    ) -> bool:
        with self._write() as conn:
            return _outbound.merge_applied(
                conn, location_id, kind, talknotes_id, fields, self._clock(), registers, replan
            )

    def list_events(
        self,
        *,
        location_id: str | None = None,
        state: str | None = None,
        limit: int = 100,
        source: str | None = None,
        event_id: str | None = None,
        entity_key: str | None = None,
        since: float | None = None,
    ) -> list[InboxRow]:
        with self._read() as conn:
            return _inbox.list_events(
                conn,
                location_id=location_id,
                state=state,
                limit=limit,
                source=source,
                event_id=event_id,
                entity_key=entity_key,
                since=since,
            )

    def events_after(
        self, location_id: str, after_id: int, *, received_before: float, limit: int = 200
    ) -> list[InboxRow]:
        if limit < 0:
            raise InvalidRecordError("limit", "must be >= 0")
        with self._read() as conn:
            return _inbox.events_after(
                conn, location_id, int(after_id), float(received_before), limit
            )

    def purge_finished(self, *, older_than: float, limit: int = 10_000) -> int:
        with self._write() as conn:
            return _inbox.purge_finished(conn, float(older_than), limit)

    def stats(self, *, now: float | None = None, location_id: str | None = None) -> StoreStats:
        with self._read() as conn:
            return _inbox.stats(conn, self._now(now), location_id)

    # id map ----------------------------------------------------------------------------------
    def _mapping(self, location_id: str, kind: str, **ids: str) -> _records.Mapping | None:
        with self._read() as conn:
            return _records.find_mapping(conn, location_id, kind, **ids)

    def get_highlevel_id(self, location_id: str, kind: str, talknotes_id: str) -> str | None:
        m = self._mapping(location_id, kind, talknotes_id=talknotes_id)
        return None if m is None else m.highlevel_id

    def get_talknotes_id(self, location_id: str, kind: str, highlevel_id: str) -> str | None:
        m = self._mapping(location_id, kind, highlevel_id=highlevel_id)
        return None if m is None else m.talknotes_id

    def get_content_hash(self, location_id: str, kind: str, talknotes_id: str) -> str | None:
        m = self._mapping(location_id, kind, talknotes_id=talknotes_id)
        return None if m is None else m.content_hash

    def put_mapping(
        self,
        location_id: str,
        kind: str,
        talknotes_id: str,
        highlevel_id: str,
        content_hash: str | None = None,
    ) -> None:
        now = self._clock()
        self._write_retrying(
            lambda conn: _records.put_mapping(
                conn, location_id, kind, talknotes_id, highlevel_id, content_hash, now
            )
        )

    # outbound operations ---------------------------------------------------------------------
    def get_op(self, key: str) -> OutboundOp | None:
        with self._read() as conn:
            return _records.get_op(conn, key)


if TYPE_CHECKING:  # mypy proves SqlStore satisfies the Store protocol
    from tnhl.store._protocols import Store

    def _conforms(s: SqlStore) -> Store:
        return s

"""`SqlStore`: the Store protocol on SQLite or PostgreSQL through SQLAlchemy Core."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from tnhl.store import (
    _batch,
    _dead,
    _held,
    _inbox,
    _keys,
    _move,
    _outbound,
    _profiles,
    _records,
    _settle,
    _trail,
    _work,
)
from tnhl.store._engine import WRITE, translate_errors
from tnhl.store._errors import InvalidRecordError, StoreUnavailableError
from tnhl.store._models import (
    ApiKey,
    BatchRead,
    DeadLetter,
    Delivery,
    EventCall,
    Hook,
    InboundEvent,
    InboxRow,
    OpMark,
    OutboundOp,
    ProfileDue,
    RecordClaim,
    RecordState,
    Settlement,
    StoreStats,
    Told,
)
from tnhl.store._work import Folder

__all__ = ["Clock", "SqlStore"]

T = TypeVar("T")
Clock = Callable[[], float]


class SqlStore:
    """The store on an SQLAlchemy engine; safe to share between threads."""

    def __init__(
        self, engine: sa.Engine, *, clock: Clock = time.time, busy_timeout: float = 5.0
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._busy_timeout = busy_timeout
        # SQLite has one writer at a time. Threads of one process that meet its lock wait in
        # SQLite's busy handler, which sleeps and polls: a thread in a tight loop can starve the
        # others (intake among them). Queuing on a Python lock first hands the write lock over
        # as soon as it is free. Other processes still wait through busy_timeout.
        self._write_gate: threading.Lock | None = (
            threading.Lock() if engine.dialect.name == "sqlite" else None
        )
        # Shared with intake's inbox writer on SQLite, so every writer of this process queues
        # here; PostgreSQL has no process-wide write lock.
        self.write_lock = self._write_gate
        self._insert: Any = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        )

    def __repr__(self) -> str:
        # The URL may carry a password: show only the backend.
        return f"<SqlStore {self.engine.dialect.name}>"

    def close(self) -> None:
        self.engine.dispose()

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else float(now)

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with translate_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        gate = self._write_gate
        if gate is not None and not gate.acquire(timeout=self._busy_timeout):
            raise StoreUnavailableError(
                "the store cannot be used right now: other writers held it past the busy timeout"
            )
        try:
            with self._transaction() as conn:
                yield conn
        finally:
            if gate is not None:
                gate.release()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        with (
            translate_errors(),
            self.engine.connect().execution_options(**{WRITE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def _one_statement(self) -> Iterator[sa.Connection]:
        """A write of ONE statement, atomic by itself: on PostgreSQL it runs in autocommit, one
        round trip to the server instead of three (BEGIN, the statement, COMMIT)."""
        if self._write_gate is not None:
            with self._write() as conn:
                yield conn
            return
        with (
            translate_errors(),
            self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
        ):
            yield conn

    def _write_retrying(self, fn: Callable[[sa.Connection], T]) -> T:
        # On PostgreSQL two writers can both see "no row" and both insert; the loser gets an
        # IntegrityError and, on a second look, finds the winner's row.
        for attempt in (1, 2):
            try:
                with self._write() as conn:
                    return fn(conn)
            except exc.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

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

    def get_told(self, location_id: str, highlevel_ids: Sequence[str]) -> dict[str, Told]:
        with self._read() as conn:
            return _outbound.get_told(conn, location_id, highlevel_ids)

    def due_profiles(
        self,
        *,
        interval: float,
        now: float | None = None,
        limit: int = 20,
        locations: Sequence[str] | None = None,
        settle: float = 0.0,
    ) -> list[ProfileDue]:
        with self._read() as conn:
            return _profiles.due_profiles(conn, self._now(now), interval, limit, locations, settle)

    def profile_rows(self, location_id: str, contact_id: str) -> list[tuple[Told, str | None]]:
        with self._read() as conn:
            return _profiles.profile_rows(conn, location_id, contact_id)

    def profile_sent(
        self, due: ProfileDue, *, digest: str | None, now: float | None = None
    ) -> None:
        with self._write() as conn:
            _profiles.profile_sent(
                conn,
                due.location_id,
                due.contact_id,
                now=self._now(now),
                changed_at=due.changed_at,
                digest=digest,
            )

    def held_records(self, location_id: str, prefix: str) -> list[RecordState]:
        with self._read() as conn:
            return _held.held_records(conn, location_id, prefix, self._clock())

    def release_held(self, location_id: str, prefix: str) -> int:
        with self._write() as conn:
            return _held.release_held(conn, location_id, prefix, self._clock())

    def drop_held(self, location_id: str, prefix: str) -> int:
        with self._write() as conn:
            return _held.drop_held(conn, location_id, prefix, self._clock())

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

    # API keys -------------------------------------------------------------------------------
    def create_api_key(self, location_id: str) -> tuple[ApiKey, str]:
        with self._write() as conn:
            return _keys.create_api_key(conn, location_id, self._clock())

    def key_location(self, key: str) -> str | None:
        with self._read() as conn:
            return _keys.key_location(conn, key)

    def list_api_keys(self, location_id: str | None = None) -> list[ApiKey]:
        with self._read() as conn:
            return _keys.list_api_keys(conn, location_id)

    def revoke_api_key(self, key_id: int) -> bool:
        with self._write() as conn:
            return _keys.revoke_api_key(conn, key_id, self._clock())

    def add_hook(self, location_id: str, event: str, target_url: str) -> Hook:
        with self._write() as conn:
            return _keys.add_hook(conn, location_id, event, target_url, self._clock())

    def list_hooks(self, location_id: str | None = None) -> list[Hook]:
        with self._read() as conn:
            return _keys.list_hooks(conn, location_id)

    def delete_hook(self, location_id: str, hook_id: int) -> bool:
        with self._write() as conn:
            return _keys.delete_hook(conn, location_id, hook_id)

    # events under a location since corrected ------------------------------------------------
    def move_events(
        self, from_location: str, to_location: str, *, now: float | None = None
    ) -> tuple[int, int]:
        with self._write() as conn:
            return _move.move_events(conn, from_location, to_location, self._now(now))

    def event_locations(self) -> dict[str, int]:
        with self._read() as conn:
            return _move.event_locations(conn)

    # an event's calls, recipe switches -------------------------------------------------------
    def event_calls(self, inbox_id: int) -> list[EventCall]:
        with self._read() as conn:
            return _trail.calls_of(conn, inbox_id)

    def switch_recipe(self, location_id: str, recipe: str, enabled: bool) -> None:
        with self._write() as conn:
            _trail.switch_recipe(conn, location_id, recipe, enabled, self._clock(), self._insert)

    def recipe_switches(self, location_id: str) -> dict[str, bool]:
        with self._read() as conn:
            return _trail.recipe_switches_of(conn, location_id)

    # cursors ---------------------------------------------------------------------------------
    def get_cursor(self, name: str) -> str | None:
        with self._read() as conn:
            return _records.get_cursor(conn, name)

    def set_cursor(self, name: str, value: str) -> None:
        with self._write() as conn:
            _records.set_cursor(conn, name, value, self._clock(), self._insert)


if TYPE_CHECKING:  # mypy proves SqlStore satisfies the Store protocol
    from tnhl.store._protocols import Store

    def _conforms(s: SqlStore) -> Store:
        return s

"""`SqlBase`: what every verb of `SqlStore` runs on: the engine, the clock, and reading and
writing transactions (SQLite's one writer queued on a process lock first)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from tnhl.store._engine import WRITE, translate_errors
from tnhl.store._errors import StoreUnavailableError
from tnhl.store._fairlock import FairLock

__all__ = ["Clock", "SqlBase"]

T = TypeVar("T")
Clock = Callable[[], float]


class SqlBase:
    """An SQLAlchemy engine with the store's transaction helpers; safe to share between
    threads."""

    def __init__(
        self, engine: sa.Engine, *, clock: Clock = time.time, busy_timeout: float = 5.0
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._busy_timeout = busy_timeout
        # SQLite has one writer at a time. Threads of one process that meet its lock wait in
        # SQLite's busy handler, which sleeps and polls: a thread in a tight loop can starve the
        # others (intake among them). Queuing on a fair lock first hands the write lock over,
        # in arrival order, as soon as it is free. Other processes still wait through
        # busy_timeout.
        self._write_gate: FairLock | None = FairLock() if engine.dialect.name == "sqlite" else None
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

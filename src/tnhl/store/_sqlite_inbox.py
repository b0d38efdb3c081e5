"""The inbox's inline SQLite write path: a sqlite3 connection of its own, and its lock handling.

`FastInbox` in inline mode on a SQLite file writes through this instead of the store's engine:
one plain sqlite3 connection (same file and pragmas as the engine) skips SQLAlchemy's connection
and transaction machinery on the hot path. What that connection needs lives here: the raw
INSERT (the same row `SqlStore.add_inbound` writes), one `BEGIN IMMEDIATE ... COMMIT` per batch
with a row-by-row retry when one row fails, and waiting for other writers: never on the event
loop (`Busy` instead), a bounded time on a thread, so a sender hears 503 rather than hangs.
`FastInbox` (its modes, batching and answering) extends `SqliteWriter`, as `SqlStore` extends
`SqlBase`."""

from __future__ import annotations

import sqlite3

from tnhl.store._errors import StoreUnavailableError
from tnhl.store._fairlock import FairLock
from tnhl.store._models import InboundEvent

__all__ = ["Busy", "Params", "SqliteWriter", "row_params"]

Params = tuple[str, str, str, str, str, str, float, float]

# The same row SqlStore.add_inbound writes (checked by tests/store/test_fast_inbox.py).
_RAW_INSERT = (
    "INSERT INTO inbox (source, event_id, event_type, location_id, entity_key, body,"
    " received_at, next_attempt_at, state, attempts)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', 0)"
    " ON CONFLICT (source, location_id, event_id) DO NOTHING"
)

# How long a write off the loop waits for another writer before answering "unavailable".
_WAIT_MS = 1500


class Busy(Exception):
    """Another writer holds the lock right now (only raised where waiting is not allowed)."""


class SqliteWriter:
    """Inserts inbox rows into the SQLite file at `raw_path` (None: no file, nothing here is
    used) through a sqlite3 connection of its own, opened on first use, holding `lock` (the
    store's write lock) for each transaction. `FastInbox` builds on it."""

    def __init__(self, lock: FairLock, raw_path: str | None, busy_timeout_ms: int) -> None:
        self._lock = lock
        self._raw_path = raw_path
        self._raw: sqlite3.Connection | None = None
        self._raw_busy_ms = -1
        self._busy_timeout_ms = busy_timeout_ms

    def _connection(self, wait: bool) -> sqlite3.Connection:
        if self._raw is None:
            assert self._raw_path is not None
            conn = sqlite3.connect(self._raw_path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._raw = conn
            self._raw_busy_ms = -1
        # On the event loop never wait for SQLite's lock (0 ms); on a thread, wait a bounded
        # time, so the sender hears 503 within 2 s when another writer holds the database.
        busy_ms = min(self._busy_timeout_ms, _WAIT_MS) if wait else 0
        if busy_ms != self._raw_busy_ms:
            self._raw.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._raw_busy_ms = busy_ms
        return self._raw

    def _acquire(self, wait: bool) -> None:
        """Take the process's write lock: without waiting on the loop (`Busy`), else for a
        bounded time (StoreUnavailableError)."""
        if wait:
            if not self._lock.acquire(timeout=_WAIT_MS / 1000):
                raise StoreUnavailableError("the store cannot be used right now: writers busy")
        elif not self._lock.acquire(blocking=False):
            raise Busy

    def _write_raw_many(
        self, batch: list[Params], wait: bool = True
    ) -> list[bool | StoreUnavailableError]:
        """Insert `batch` in one transaction: True per new row, False per duplicate.

        When the store cannot take the transaction (locked past the busy timeout, disk full,
        ...) every row gets the error and nothing is stored. When one row's INSERT fails, the
        batch is rolled back and each row tried alone, so that row cannot fail the others.
        `wait=False` raises `Busy` instead of waiting for a lock.
        """
        try:
            self._acquire(wait)
        except StoreUnavailableError as exc:
            return [exc for _ in batch]
        try:
            try:
                conn = self._connection(wait)
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._rollback()
                if not wait and _is_busy(exc):
                    raise Busy from None
                return [_unavailable(exc) for _ in batch]
            try:
                # Row by row, not executemany: each row's rowcount tells new from duplicate
                # (a duplicate of an earlier row of the same batch included).
                added = [conn.execute(_RAW_INSERT, p).rowcount == 1 for p in batch]
            except sqlite3.Error:
                self._rollback()
                added = []
            if added:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    return [_unavailable(exc) for _ in batch]
                return list(added)
            results: list[bool | StoreUnavailableError] = []
            for params in batch:
                try:
                    results.append(self._insert_one(params, wait))
                except StoreUnavailableError as exc:
                    results.append(exc)
            return results
        finally:
            self._lock.release()

    def _rollback(self) -> None:
        conn = self._raw
        if conn is None or not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            # Closing a connection rolls its open transaction back; a new one is made on use.
            conn.close()
            self._raw = None

    def _write_raw(self, event: InboundEvent) -> bool:
        result = self._write_raw_many([row_params(event)])[0]
        if isinstance(result, StoreUnavailableError):
            raise result
        return result

    def _insert_one(self, params: Params, wait: bool) -> bool:
        """One autocommit INSERT (its own transaction); the caller holds the lock."""
        try:
            # rowcount, not RETURNING: an INSERT's rowcount is exact on sqlite3 (0 when the
            # conflict clause skipped the row).
            return self._connection(wait).execute(_RAW_INSERT, params).rowcount == 1
        except sqlite3.Error as exc:
            self._rollback()
            raise _unavailable(exc) from None


def row_params(event: InboundEvent) -> Params:
    """The raw INSERT's parameters for `event`."""
    received = float(event.received_at)
    return (
        event.source,
        event.event_id,
        event.event_type,
        event.location_id,
        event.entity_key,
        event.body,
        received,
        received,
    )


def _is_busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _unavailable(exc: sqlite3.Error) -> StoreUnavailableError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StoreUnavailableError(f"the store cannot be used right now: {reason}")

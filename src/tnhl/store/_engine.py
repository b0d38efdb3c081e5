"""Engines for the two supported backends, and translation of driver errors.

SQLite: WAL (readers never block the one writer), synchronous=NORMAL (durable across a process
kill; a power cut may lose the last transactions but never corrupts), a busy timeout so writers
queue instead of failing at once, and foreign keys on. Python's sqlite3 driver would otherwise
open transactions lazily; we switch that off and emit BEGIN ourselves, BEGIN IMMEDIATE for
writes, so a read-then-write (a claim) holds the write lock from its first statement and two
processes can never both read the same free row.
See https://www.sqlite.org/wal.html and https://www.sqlite.org/lang_transaction.html.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url

from tnhl.store._errors import StoreConfigError, StoreUnavailableError

__all__ = ["WRITE", "create_private", "make_engine", "translate_errors", "unavailable"]

WRITE = "tnhl_write"  # execution option: this transaction will write
DEFAULT_SETTING = "TNHL_DATABASE_URL"  # the settings field `database_url`


def make_engine(
    url: str,
    *,
    setting: str = DEFAULT_SETTING,
    busy_timeout: float = 5.0,
    pool_size: int = 8,
) -> sa.Engine:
    """An engine for `url`, or StoreConfigError naming `setting` when the URL is unusable."""
    if not isinstance(url, str) or not url.strip():
        raise StoreConfigError(
            setting, "is empty; expected sqlite:///path or postgresql+psycopg://"
        )
    try:
        parsed = make_url(url.strip())
    except exc.ArgumentError:
        raise StoreConfigError(
            setting, "is not a database URL; expected sqlite:///path or postgresql+psycopg://..."
        ) from None
    if parsed.drivername == "postgres":  # the scheme many hosting providers hand out
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, setting, busy_timeout, pool_size)
    if backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", "postgresql"):
            raise StoreConfigError(
                setting,
                f"driver {parsed.get_driver_name()!r} is not supported; use postgresql+psycopg",
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        query = dict(parsed.query)
        query.setdefault("connect_timeout", str(max(1, round(busy_timeout))))
        return sa.create_engine(parsed.set(query=query), pool_size=pool_size, future=True)
    raise StoreConfigError(
        setting,
        f"backend {backend!r} is not supported; use sqlite:///path or postgresql+psycopg://",
    )


def _sqlite_engine(parsed: sa.URL, setting: str, busy_timeout: float, pool_size: int) -> sa.Engine:
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        # An in-memory database is private to one connection: workers would not share it.
        raise StoreConfigError(setting, "needs a file path, e.g. sqlite:///var/tnhl/tnhl.db")
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        create_private(path)
    except OSError as e:
        raise StoreConfigError(
            setting, f"cannot create {str(path)!r} or its directory: {e.strerror}"
        ) from None
    engine = sa.create_engine(
        parsed.set(database=str(path)),
        # QueuePool: worker threads each take their own connection; sqlite3 allows it to move
        # between threads because a pooled connection is only ever used by one at a time.
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        pool_size=pool_size,
        max_overflow=pool_size,
    )
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            _enable_wal(cur, busy_timeout)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 when it does not exist yet (an empty file is an
    empty SQLite database): the store holds contact data, and SQLite gives its -wal and -shm
    files the mode of the database file, so all three stay readable by their owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)  # whatever the umask left
    os.close(fd)


def _enable_wal(cur: sqlite3.Cursor, busy_timeout: float) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite answers "locked" at once,
    # without its busy handler, while another connection is migrating it: retry until the
    # busy timeout, like every other statement. The mode is stored in the file, so later
    # connections find it set and pass straight through.
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def unavailable(error: Exception) -> StoreUnavailableError:
    """The StoreUnavailableError for a driver error, with the driver's reason but no URL."""
    orig = getattr(error, "orig", None) or error
    reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return StoreUnavailableError(f"the store cannot be used right now: {reason}")


# Errors that mean "not now" rather than "this request is wrong": locked, full, read-only,
# disk I/O, connection refused or dropped, pool exhausted, deadlock or serialization failure.
_TRANSIENT: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    exc.DisconnectionError,
)


def _is_transient(error: Exception) -> bool:
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    # psycopg reports deadlocks and serialization failures as their own DBAPI classes.
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01", "53100", "53200", "57P01", "57P03")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn transient driver errors into StoreUnavailableError; let the rest through."""
    try:
        yield
    except exc.SQLAlchemyError as e:
        if _is_transient(e):
            raise unavailable(e) from e
        raise

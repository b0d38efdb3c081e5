"""SQLite specifics and failure modes: settings, a locked or full database, bad URLs, a dead
PostgreSQL. Each failure is a real condition, not a mock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tnhl.store import (
    Delta,
    InboundEvent,
    InboxRow,
    Settlement,
    StoreConfigError,
    StoreUnavailableError,
    open_store,
)
from tnhl.store._engine import make_engine


def _fold(row: InboxRow) -> Delta:
    """Each event is an empty change of the contact named by its entity key."""
    return Delta(row.id, "contact", row.entity_key, row.entity_key, 1.0, row.event_id)


def event(n: int, body: str = "{}") -> InboundEvent:
    return InboundEvent("talknotes", f"e{n}", "note.created", "loc", "c1", body, 1.0)


def test_sqlite_store_creates_its_directory_and_runs_in_wal(tmp_path: Path) -> None:
    """The parent directory is created and every connection has WAL, NORMAL sync, FKs, timeout."""
    db = tmp_path / "a" / "b" / "tnhl.db"
    store = open_store(f"sqlite:///{db}", busy_timeout=2.5)
    try:
        assert db.exists()
        with store.engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 2500
    finally:
        store.close()


def test_a_locked_database_raises_store_unavailable(tmp_path: Path) -> None:
    """While another process-level connection holds the write lock, add_inbound gives up with
    StoreUnavailableError after the busy timeout; once the lock goes, it works."""
    db = tmp_path / "tnhl.db"
    store = open_store(f"sqlite:///{db}", busy_timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.add_inbound(event(1))
        with pytest.raises(StoreUnavailableError):
            store.claim("w1", fold=_fold)
        holder.execute("ROLLBACK")
        assert store.add_inbound(event(1)) is True
    finally:
        holder.close()
        store.close()


def test_a_full_database_raises_store_unavailable(tmp_path: Path) -> None:
    """When SQLite reports the disk full (capped with max_page_count), nothing is stored and
    the caller gets StoreUnavailableError."""
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    try:
        assert store.add_inbound(event(1))
        store.engine.dispose()

        @sa.event.listens_for(store.engine, "connect")
        def _cap(dbapi_conn: Any, _record: Any) -> None:
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        with pytest.raises(StoreUnavailableError, match="full"):
            store.add_inbound(event(2, body="x" * 200_000))
        assert store.stats().counts["received"] == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "is empty"),
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "backend 'mysql' is not supported"),
        ("sqlite://", "needs a file path"),
        ("sqlite:///:memory:", "needs a file path"),
        ("postgresql+asyncpg://u@h/db", "driver 'asyncpg' is not supported"),
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2' is not supported"),
    ],
)
def test_a_bad_url_names_the_setting(url: str, problem: str) -> None:
    """An unusable URL raises StoreConfigError naming the setting and the problem."""
    with pytest.raises(StoreConfigError) as info:
        open_store(url)
    assert str(info.value).startswith("TNHL_DATABASE_URL: ")
    assert problem in str(info.value)


def test_the_setting_name_is_the_callers() -> None:
    """A caller that reads the URL from elsewhere gets its own setting name in the error."""
    with pytest.raises(StoreConfigError, match=r"^store\.url: "):
        open_store("oracle://x", setting="store.url")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgresql_url_spellings_use_psycopg(scheme: str) -> None:
    """The common spellings of a PostgreSQL URL all select the psycopg 3 driver."""
    engine = make_engine(f"{scheme}://u@127.0.0.1/db")
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    engine.dispose()


def test_an_unreachable_postgresql_is_unavailable_without_leaking_the_password() -> None:
    """A database that is down raises StoreUnavailableError; the password is not in the message."""
    with pytest.raises(StoreUnavailableError) as info:
        open_store("postgresql+psycopg://tnhl:s3cret-pw@127.0.0.1:1/tnhl", busy_timeout=1)
    assert "s3cret-pw" not in str(info.value)
    assert "s3cret-pw" not in repr(info.value)
    assert "s3cret-pw" not in str(info.value.__cause__)


def test_busy_workers_do_not_starve_intake(tmp_path: Path) -> None:
    """Two threads claiming in a tight loop do not keep add_inbound from the write lock past the
    busy timeout (SQLite's own busy handler alone would let them: it sleeps and polls)."""
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}", busy_timeout=0.5)
    for n in range(20):
        store.add_inbound(InboundEvent("talknotes", f"x{n}", "t", "loc", f"c{n}", "{}", 1.0))
    stop = threading.Event()
    errors: list[BaseException] = []

    def hog() -> None:
        try:
            while not stop.is_set():
                for claim in store.claim("hog", fold=_fold, now=2.0, limit=5):
                    store.settle([(claim, Settlement("reschedule", "busy", due_at=2.0))], now=2.0)
        except BaseException as e:
            errors.append(e)

    hogs = [threading.Thread(target=hog) for _ in range(2)]
    for t in hogs:
        t.start()
    try:
        for n in range(100):
            assert store.add_inbound(event(1000 + n))  # StoreUnavailableError would fail here
    finally:
        stop.set()
        for t in hogs:
            t.join()
        store.close()
    assert errors == []

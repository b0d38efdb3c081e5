"""FastInbox: intake's writer of the store's inbox table, inline and group-commit modes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tnhl.store import FastInbox, InboundEvent, SqlStore, StoreUnavailableError, open_store

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    yield s
    s.close()


@pytest.mark.parametrize("inline", [True, False])
def test_rows_match_add_inbound_and_dedupe(store: SqlStore, inline: bool) -> None:
    """A new event is stored as add_inbound stores it; the same id again is a duplicate."""
    dups: list[str] = []
    inbox = FastInbox(store, inline=inline, on_duplicate=dups.append)
    try:
        assert inbox.add("talknotes", "e1", "contact.created", "loc", "c1", '{"a":1}', NOW)
        assert not inbox.add("talknotes", "e1", "contact.created", "loc", "c1", '{"a":1}', NOW)
    finally:
        inbox.close()
    assert dups == ["talknotes"]
    row = store.get_event(1)
    assert (row.event_id, row.entity_key, row.body) == ("e1", "c1", '{"a":1}')
    assert (row.state, row.attempts, row.record_key) == ("received", 0, None)
    assert row.received_at == NOW.timestamp()


def test_group_commit_answers_each_concurrent_caller(store: SqlStore) -> None:
    """40 threads, 20 distinct ids each sent twice: exactly 20 stored, 20 told duplicate."""
    inbox = FastInbox(store, inline=False)
    answers: list[bool] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        added = inbox.add("talknotes", f"e{i % 20}", "note.created", "loc", "c", "{}", NOW)
        with lock:
            answers.append(added)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    inbox.close()
    assert sorted(answers) == [False] * 20 + [True] * 20
    assert store.stats().counts["received"] == 20


@pytest.mark.parametrize("inline", [True, False])
def test_one_batch_with_the_same_id_from_two_connections_stores_both(
    store: SqlStore, inline: bool
) -> None:
    """Dedupe is per connection (location) inside a group commit too: msg_1 of A and msg_1 of
    B in one batch are both stored, a repeat of A's in that batch is the duplicate. The batch
    is handed to the committer's own write (`_write`) so it is one batch for certain."""
    inbox = FastInbox(store, inline=inline)
    try:
        events = [
            InboundEvent("talknotes", "msg_1", "note.created", loc, "c", "{}", NOW.timestamp())
            for loc in ("A", "B", "A")
        ]
        assert inbox._write(events) == [True, True, False]
    finally:
        inbox.close()
    assert store.stats().counts["received"] == 2


def test_locked_database_is_unavailable(tmp_path: Path) -> None:
    """A write lock held past the busy timeout makes add raise StoreUnavailableError."""
    import sqlite3

    db = tmp_path / "locked.db"
    s = open_store(f"sqlite:///{db}", busy_timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    inbox = FastInbox(s, inline=True)
    try:
        with pytest.raises(StoreUnavailableError):
            inbox.add("talknotes", "e1", "contact.created", "loc", "c1", "{}", NOW)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        s.close()


async def test_add_async_commits_concurrent_events_together(store: SqlStore) -> None:
    """Events submitted in one loop turn share one COMMIT; duplicates in it are told apart."""
    inbox = FastInbox(store, inline=True)
    statements: list[str] = []
    inbox._connection(False).set_trace_callback(statements.append)
    try:
        answers = await asyncio.gather(
            *(
                inbox.add_async("talknotes", f"e{i % 6}", "note.created", "loc", "c", "{}", NOW)
                for i in range(12)
            )
        )
    finally:
        inbox.close()
    assert answers == [True] * 6 + [False] * 6
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert store.stats().counts["received"] == 6


async def test_add_async_row_is_committed_before_it_returns(
    store: SqlStore, tmp_path: Path
) -> None:
    """When add_async returns True another connection already sees the row (committed)."""
    import sqlite3

    inbox = FastInbox(store, inline=True)
    other = sqlite3.connect(tmp_path / "tnhl.db")
    try:
        first = asyncio.ensure_future(
            inbox.add_async("talknotes", "a", "note.created", "loc", "c", "{}", NOW)
        )
        second = asyncio.ensure_future(
            inbox.add_async("highlevel", "a", "NoteCreate", "loc", "c", "{}", NOW)
        )
        assert await first
        seen = other.execute("SELECT source FROM inbox WHERE event_id = 'a'").fetchall()
        assert sorted(seen) == [("highlevel",), ("talknotes",)]
        assert await second
    finally:
        other.close()
        inbox.close()


async def test_add_async_locked_store_fails_the_whole_batch(tmp_path: Path) -> None:
    """A write lock held past the busy timeout: every caller gets StoreUnavailableError, and
    no row is kept."""
    import sqlite3

    db = tmp_path / "locked.db"
    s = open_store(f"sqlite:///{db}", busy_timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    inbox = FastInbox(s, inline=True)
    try:
        results = await asyncio.gather(
            *(
                inbox.add_async("talknotes", f"e{i}", "note.created", "loc", "c", "{}", NOW)
                for i in range(3)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(r, StoreUnavailableError) for r in results), results
        holder.execute("ROLLBACK")
        assert s.stats().counts.get("received", 0) == 0
        # The inbox recovers once the lock is gone.
        assert await inbox.add_async("talknotes", "e0", "note.created", "loc", "c", "{}", NOW)
    finally:
        holder.close()
        inbox.close()
        s.close()


async def test_add_async_one_refused_row_does_not_fail_the_others(
    store: SqlStore, tmp_path: Path
) -> None:
    """A row the database refuses fails alone; the rest of its batch is still stored."""
    import sqlite3

    with sqlite3.connect(tmp_path / "tnhl.db") as conn:
        conn.execute(
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON inbox WHEN NEW.event_id = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
        )
    inbox = FastInbox(store, inline=True)
    try:
        results = await asyncio.gather(
            *(
                inbox.add_async("talknotes", eid, "note.created", "loc", "c", "{}", NOW)
                for eid in ("g1", "bad", "g2")
            ),
            return_exceptions=True,
        )
    finally:
        inbox.close()
    assert results[0] is True
    assert results[2] is True
    assert isinstance(results[1], StoreUnavailableError)
    assert store.stats().counts["received"] == 2


async def test_foreign_write_lock_never_stalls_the_event_loop(tmp_path: Path) -> None:
    """While another process holds SQLite's write lock, the loop keeps running other work and
    add_async ends with StoreUnavailableError (a 503) instead of blocking the loop."""
    import sqlite3

    db = tmp_path / "held.db"
    s = open_store(f"sqlite:///{db}")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    inbox = FastInbox(s, inline=True)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(ticker())
    try:
        with pytest.raises(StoreUnavailableError):
            await inbox.add_async("talknotes", "e1", "contact.created", "loc", "c1", "{}", NOW)
        # The writer waited ~1.5 s off the loop; on the loop the ticker ran meanwhile.
        assert ticks > 20
    finally:
        stop.set()
        await task
        holder.execute("ROLLBACK")
        holder.close()
        inbox.close()
        s.close()

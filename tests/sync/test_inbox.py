"""FastInbox: intake's writer of the store's inbox table, inline and group-commit modes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tnhl.store import SqlStore, open_store
from tnhl.sync._inbox import FastInbox
from tnhl.webhooks import InboxUnavailable

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
    [claim] = store.claim_next("w", now=NOW.timestamp())
    [row] = claim.events
    assert (row.event_id, row.entity_key, row.body) == ("e1", "c1", '{"a":1}')
    assert row.received_at == NOW.timestamp()
    assert row.attempts == 1


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


def test_locked_database_is_unavailable(tmp_path: Path) -> None:
    """A write lock held past the busy timeout makes add raise InboxUnavailable."""
    import sqlite3

    db = tmp_path / "locked.db"
    s = open_store(f"sqlite:///{db}", busy_timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    inbox = FastInbox(s, inline=True)
    try:
        with pytest.raises(InboxUnavailable):
            inbox.add("talknotes", "e1", "contact.created", "loc", "c1", "{}", NOW)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        s.close()

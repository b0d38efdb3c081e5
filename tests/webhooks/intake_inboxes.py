"""Two real InboxWriter implementations for the intake tests (no dependency on tnhl.store).

`MemoryInbox` keeps rows in a dict; `SqliteInbox` writes them to a SQLite file with the stdlib
driver and a UNIQUE (source, event_id) constraint, as the real store does. Both can be switched
to "unavailable" to exercise the 503 / 429 paths.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tnhl.webhooks import InboxUnavailable


@dataclass(frozen=True)
class Row:
    source: str
    event_id: str
    event_type: str
    location_id: str
    entity_key: str
    body: str
    received_at: datetime


class MemoryInbox:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Row] = {}
        self._lock = threading.Lock()
        self.available = True
        self.calls = 0

    def add(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool:
        with self._lock:
            self.calls += 1
            if not self.available:
                raise InboxUnavailable("memory inbox switched off")
            key = (source, event_id)
            if key in self._rows:
                return False
            self._rows[key] = Row(
                source, event_id, event_type, location_id, entity_key, body, received_at
            )
            return True

    def rows(self) -> list[Row]:
        with self._lock:
            return list(self._rows.values())


class SqliteInbox:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE inbox (source TEXT NOT NULL, event_id TEXT NOT NULL,"
            " event_type TEXT NOT NULL, location_id TEXT NOT NULL, entity_key TEXT NOT NULL,"
            " body TEXT NOT NULL, received_at TEXT NOT NULL, UNIQUE (source, event_id))"
        )
        self._lock = threading.Lock()
        self.available = True

    def add(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool:
        if not self.available:
            raise InboxUnavailable("sqlite inbox switched off")
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO inbox VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        source,
                        event_id,
                        event_type,
                        location_id,
                        entity_key,
                        body,
                        received_at.isoformat(),
                    ),
                )
            except sqlite3.OperationalError as exc:
                raise InboxUnavailable(str(exc)) from exc
            return cur.rowcount == 1

    def rows(self) -> list[Row]:
        with self._lock:
            found = self._db.execute("SELECT * FROM inbox ORDER BY rowid").fetchall()
        return [
            Row(r[0], r[1], r[2], r[3], r[4], r[5], datetime.fromisoformat(r[6])) for r in found
        ]

    def close(self) -> None:
        self._db.close()

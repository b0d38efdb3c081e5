"""Optional SQLite persistence for the simulator's state (`tnhl simulate --state FILE`).

One row per record, written through on every change, so a restart finds what a client wrote.
The stdlib `sqlite3` keeps `tnhl simulate` quick to start (no SQLAlchemy import for a test double).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SqliteStateStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS settings (
    location_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""


class SqliteStateStore:
    """Write-through record store; callers serialise access (the state holds one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()
        self._seq = int(row[0])

    def load_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield `(kind, record)` in the order they were first written."""
        for kind, data in self._db.execute("SELECT kind, data FROM records ORDER BY seq"):
            yield kind, json.loads(data)

    def load_settings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for location_id, data in self._db.execute("SELECT location_id, data FROM settings"):
            yield location_id, json.loads(data)

    def put(self, kind: str, record_id: str, record: dict[str, Any]) -> None:
        self._seq += 1
        # Keep the first-write order so listings after a restart come back in the same order.
        self._db.execute(
            "INSERT INTO records (kind, id, data, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data",
            (kind, record_id, json.dumps(record), self._seq),
        )

    def delete(self, kind: str, record_id: str) -> None:
        self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def put_settings(self, location_id: str, data: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO settings (location_id, data) VALUES (?, ?) "
            "ON CONFLICT (location_id) DO UPDATE SET data = excluded.data",
            (location_id, json.dumps(data)),
        )

    def clear(self) -> None:
        self._db.execute("DELETE FROM records")

    def close(self) -> None:
        self._db.close()

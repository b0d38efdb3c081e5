"""One UPDATE for many rows, built once, run the cheapest way each backend allows.

SQLite runs in-process, so `executemany` of one compiled statement costs microseconds a row.
PostgreSQL executes each row of an `executemany` as a statement of its own (a server round of
work per row, 0.4 s for a 500-event fold here), so there the same UPDATE is one statement
joined to `unnest()` of one array parameter per column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

__all__ = ["BulkUpdate"]

Column = Callable[[str], Any]


class BulkUpdate:
    """`build(col)` returns the UPDATE, written with `col(name)` for each row's value."""

    def __init__(
        self, columns: Mapping[str, sa.types.TypeEngine[Any]], build: Callable[[Column], Any]
    ) -> None:
        self._names = list(columns)
        self._per_row = build(lambda name: sa.bindparam(name, type_=columns[name]))
        rows = (
            sa.func.unnest(*(sa.bindparam(n, type_=ARRAY(t)) for n, t in columns.items()))
            .table_valued(*(sa.column(n, t) for n, t in columns.items()))
            .render_derived(name="v")
        )
        self._joined = build(lambda name: rows.c[name])

    def __call__(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            conn.execute(self._joined, {n: [r[n] for r in rows] for n in self._names})
        else:
            conn.execute(self._per_row, list(rows))

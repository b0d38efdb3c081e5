"""Intake's inbox: the store's inbox table written with the least work per event.

Measured (bench/, 2 cores): `SqlStore.add_inbound` costs about 0.6 ms per event, mostly
SQLAlchemy building the INSERT again for every call, which held intake to a fifth of a bare
Starlette + SQLite insert. This writer compiles the same INSERT ... ON CONFLICT DO NOTHING
RETURNING once and runs it through `exec_driver_sql`, writing exactly the row `add_inbound`
writes (validated by the store's own `validate_event`), through the store's engine and its
write-transaction option (`BEGIN IMMEDIATE` on SQLite).

Two modes:
- `inline=True` (SQLite, the default for `tnhl run`): the insert runs on the event loop (intake
  `offload=False`), never in a worker thread: a thread hop (0.25 ms here) costs more than the
  insert. Intake awaits `add_async`, which group-commits on the loop: every event submitted
  before the loop's next turn is written in ONE `BEGIN IMMEDIATE ... COMMIT`, and each caller
  is answered only after that commit. Measured on the store's table (4 b-trees: rowid, unique
  (source, location, event_id), the two claim indexes): one autocommit INSERT per event 34-38
  us, 21-23 us per event in commits of 4, 14-18 us in commits of 16, because a WAL commit
  writes every page it touched once, however many rows changed it. `add` (synchronous) is one
  autocommit INSERT. On a SQLite file these writes go through `SqliteWriter` (_sqlite_inbox.py).
- `inline=False` (a network database): callers run in worker threads (intake `offload=True`)
  and hand their events to one committer thread, which writes every event waiting at that
  moment in ONE transaction (group commit) and then answers each caller.
Either way an event is durable before its request is answered, and dedupe is still the inbox's
unique (source, location, event_id).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tnhl.store._engine import WRITE, translate_errors
from tnhl.store._errors import StoreError, StoreUnavailableError
from tnhl.store._fairlock import FairLock
from tnhl.store._inbox import validate_event
from tnhl.store._models import InboundEvent
from tnhl.store._schema import inbox
from tnhl.store._sql import SqlStore
from tnhl.store._sqlite_inbox import Busy, Params, SqliteWriter, row_params

__all__ = ["FastInbox"]

_Item = tuple[InboundEvent, "Future[bool]"]
_Waiting = tuple[Params, "asyncio.Future[bool]"]


class FastInbox(SqliteWriter):
    """Intake's writer of the store's inbox table (the intake's `InboxWriter` protocol, with
    `StoreUnavailableError` for "cannot persist now"); call `close()` at the end."""

    def __init__(
        self,
        store: SqlStore,
        *,
        max_batch: int = 256,
        on_duplicate: Callable[[str], None] | None = None,
        inline: bool = False,
        write_lock: FairLock | None = None,
    ) -> None:
        self._store = store
        self._inline = inline
        self._max_batch = max_batch
        self._on_duplicate = on_duplicate
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        # Events submitted through add_async and not yet committed, per event loop.
        self._waiting: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}
        dialect = store.engine.dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        names = (
            "source",
            "event_id",
            "event_type",
            "location_id",
            "entity_key",
            "body",
            "received_at",
            "next_attempt_at",
        )
        # Built once with bind parameters: rebuilding the statement per event was most of the
        # per-event cost.
        self._stmt = (
            insert(inbox)
            .values(
                {
                    **{n: sa.bindparam(n) for n in names},
                    "state": "received",
                    "attempts": 0,
                }
            )
            .on_conflict_do_nothing(index_elements=["source", "location_id", "event_id"])
            .returning(inbox.c.id)
        )
        # Compiled once to the driver's own SQL: executing it through exec_driver_sql skips
        # SQLAlchemy's per-execution statement handling, the larger half of the remaining cost.
        compiled = self._stmt.compile(dialect=store.engine.dialect)
        self._sql = str(compiled)
        self._positional = compiled.positiontup
        # Inline on SQLite: one sqlite3 connection of our own (same file and pragmas as the
        # store's engine) skips SQLAlchemy's connection and transaction machinery on the hot path.
        raw_path: str | None = None
        busy_timeout_ms = 5000
        if inline and dialect == "sqlite" and store.engine.url.database:
            raw_path = store.engine.url.database
            with translate_errors(), store.engine.connect() as conn:  # the store's own timeout
                busy_timeout_ms = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 5000)
        # The store's own write lock (`SqlStore.write_lock`): no busy-handler sleeps.
        super().__init__(write_lock or FairLock(), raw_path, busy_timeout_ms)
        self._thread: threading.Thread | None = None
        if not inline:
            self._thread = threading.Thread(target=self._run, name="tnhl-inbox", daemon=True)
            self._thread.start()

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
        """Store one event (one autocommit INSERT inline); False if it is a duplicate."""
        event = _checked(source, event_id, event_type, location_id, entity_key, body, received_at)
        try:
            if self._inline:
                added = (
                    self._write_raw(event)
                    if self._raw_path is not None
                    else self._write([event])[0]
                )
            else:
                done: Future[bool] = Future()
                self._queue.put((event, done))
                added = done.result(timeout=60)
        except TimeoutError:
            raise StoreUnavailableError("the inbox did not answer within 60 s") from None
        return self._counted(source, added)

    def _counted(self, source: str, added: bool) -> bool:
        if not added and self._on_duplicate is not None:
            self._on_duplicate(source)
        return added

    async def add_async(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool:
        """`add` for callers on an event loop, group-committed on that loop (inline SQLite).

        Returns once the commit holding this event's row has completed: True if stored, False
        if (source, location, event_id) was already stored; `StoreUnavailableError` if it could
        not persist (then the row is not stored). Without a raw SQLite connection this is `add`.
        """
        if self._raw_path is None or not self._inline:
            return self.add(
                source, event_id, event_type, location_id, entity_key, body, received_at
            )
        event = _checked(source, event_id, event_type, location_id, entity_key, body, received_at)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            # The first event of a batch: commit on the loop's next turn, by when every request
            # the loop is handling in this turn has had the chance to join the batch.
            waiting = self._waiting[loop] = []
            loop.call_soon(self._flush, loop)
        waiting.append((row_params(event), fut))
        added = await fut
        return self._counted(source, added)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            results = self._write([event for event, _ in batch])
        except StoreUnavailableError as exc:
            for _, fut in batch:
                fut.set_exception(exc)
            return
        for (_, fut), added in zip(batch, results, strict=True):
            fut.set_result(added)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting.pop(loop, [])
        for start in range(0, len(waiting), self._max_batch):
            chunk = waiting[start : start + self._max_batch]
            params = [p for p, _ in chunk]
            try:
                results = self._write_raw_many(params, wait=False)
            except Busy:
                # Another writer holds the lock: wait for it on a thread, never on the loop
                # (a stalled loop would stall every request, /healthz included).
                later = loop.run_in_executor(None, self._write_raw_many, params)
                later.add_done_callback(partial(_answer_later, chunk))
                continue
            _answer(chunk, results)

    def _write(self, events: list[InboundEvent]) -> list[bool]:
        """Insert `events` in one transaction; True per new one (StoreUnavailableError if not)."""
        results: list[bool] = []
        seen: set[tuple[str, str, str]] = set()
        try:
            with (
                self._lock,
                translate_errors(),
                self._store.engine.connect().execution_options(**{WRITE: True}) as conn,
                conn.begin(),
            ):
                for event in events:
                    key = (event.source, event.location_id, event.event_id)
                    if key in seen:  # the same delivery twice in one batch: the second is a dup
                        results.append(False)
                        continue
                    seen.add(key)
                    values = {
                        "source": event.source,
                        "event_id": event.event_id,
                        "event_type": event.event_type,
                        "location_id": event.location_id,
                        "entity_key": event.entity_key,
                        "body": event.body,
                        "received_at": float(event.received_at),
                        "next_attempt_at": float(event.received_at),
                        "state": "received",
                        "attempts": 0,
                    }
                    params: Any = (
                        tuple(values[n] for n in self._positional)
                        if self._positional is not None
                        else values
                    )
                    row = conn.exec_driver_sql(self._sql, params).first()
                    results.append(row is not None)
        except StoreUnavailableError:
            raise
        except (StoreError, sa.exc.SQLAlchemyError) as exc:
            raise StoreUnavailableError(
                f"the store cannot be used right now: {type(exc).__name__}"
            ) from exc
        return results


def _checked(
    source: str,
    event_id: str,
    event_type: str,
    location_id: str,
    entity_key: str,
    body: str,
    received_at: datetime,
) -> InboundEvent:
    event = InboundEvent(
        source=source,  # type: ignore[arg-type]  # validated below
        event_id=event_id,
        event_type=event_type,
        location_id=location_id,
        entity_key=entity_key,
        body=body,
        received_at=received_at.timestamp(),
    )
    if source not in ("talknotes", "highlevel"):
        raise ValueError(f"source: unknown source {source!r}")
    validate_event(event)
    return event


def _answer(chunk: list[_Waiting], results: list[bool | StoreUnavailableError]) -> None:
    for (_, fut), result in zip(chunk, results, strict=True):
        if fut.done():  # the request was cancelled (client gone); its row may be stored
            continue
        if isinstance(result, bool):
            fut.set_result(result)
        else:
            fut.set_exception(result)


def _answer_later(
    chunk: list[_Waiting], done: asyncio.Future[list[bool | StoreUnavailableError]]
) -> None:
    try:
        results = done.result()
    except Exception as exc:  # a bug in the writer: every waiting request hears "retry"
        error = StoreUnavailableError(f"the store cannot be used right now: {exc!r}"[:200])
        results = [error for _ in chunk]
    _answer(chunk, results)

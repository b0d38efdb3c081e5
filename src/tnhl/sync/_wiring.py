"""Adapters between the real parts: the store as the executor and workers see it, the store as
intake's inbox, and the rate limiter as the HighLevel client sees it when the executor paces.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from tnhl.highlevel import LimiterSnapshot, RateLimiter
from tnhl.store import SqlStore
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._ports import InboxItem, OpState, WorkBatch

__all__ = ["PacedLimiter", "StoreAdapter"]


class _Serialized:
    """The store's write methods, one thread at a time within this process.

    SQLite admits one writer; threads that collide wait in SQLite's busy handler, which sleeps
    in steps of 1 to 100 ms. Measured with 4 workers, that made each write cost 3-4 ms instead
    of a fraction of one. A process-wide lock hands the write over without sleeping; other
    processes (a second `tnhl worker`) still meet at SQLite's lock as before.
    """

    def __init__(self, store: SqlStore, lock: threading.Lock) -> None:
        self._store = store
        self.lock = lock

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return method(*args, **kwargs)

        return locked


class StoreAdapter:
    """`SqlStore` as `ExecStore` + `ClaimSource` (tries counted as the executor counts them)."""

    def __init__(
        self, store: SqlStore, *, max_run: int = 50, write_lock: threading.Lock | None = None
    ) -> None:
        self.store = store
        self._max_run = max_run
        self._w = _Serialized(store, write_lock or threading.Lock())

    # ClaimSource
    def claim(
        self, worker: str, *, now: float, lease_seconds: float, limit: int
    ) -> Sequence[WorkBatch]:
        claims = self._w.claim_next(
            worker, now=now, lease_seconds=lease_seconds, limit=limit, max_run=self._max_run
        )
        return [
            WorkBatch(
                c.entity.location_id,
                c.entity.entity_key,
                tuple(
                    InboxItem(
                        id=e.id,
                        event_id=e.event_id,
                        event_type=e.event_type,
                        location_id=e.location_id,
                        entity_key=e.entity_key,
                        body=e.body,
                        # The store counts the claim itself; the executor wants earlier tries.
                        attempts=max(0, e.attempts - 1),
                        source=e.source,
                    )
                    for e in c.events
                ),
                c.lease_until,
            )
            for c in claims
        ]

    def requeue_expired(self, now: float) -> int:
        return int(self._w.requeue_expired(now=now))

    # ExecStore
    def get_highlevel_id(self, location_id: str, kind: str, talknotes_id: str) -> str | None:
        return self.store.get_highlevel_id(location_id, kind, talknotes_id)

    def get_talknotes_id(self, location_id: str, kind: str, highlevel_id: str) -> str | None:
        return self.store.get_talknotes_id(location_id, kind, highlevel_id)

    def put_mapping(
        self, location_id: str, kind: str, talknotes_id: str, highlevel_id: str
    ) -> None:
        self._w.put_mapping(location_id, kind, talknotes_id, highlevel_id)

    def begin_op(
        self, key: str, *, inbox_id: int, operation_id: str, body: Mapping[str, Any] | None
    ) -> OpState:
        text = json.dumps(body, sort_keys=True, default=str) if body is not None else None
        op = self._w.begin_op(key, inbox_id=inbox_id, operation_id=operation_id, body=text)
        return OpState(op.key, op.state, op.highlevel_id, op.request_body)

    def mark_sent(self, key: str) -> None:
        self._w.mark_sent(key)

    def finish_op(self, key: str, *, highlevel_id: str | None, response: str) -> None:
        self._w.finish_op(key, highlevel_id=highlevel_id, response=response)

    def mark_unknown(self, key: str, error: str) -> None:
        self._w.mark_unknown(key, error)

    def complete(self, inbox_ids: Sequence[int], *, worker: str, result: str) -> None:
        self._w.complete(
            list(inbox_ids), worker=worker, result=result, skipped=result.startswith("skipped")
        )

    def retry_later(
        self, inbox_id: int, *, worker: str, at: float, error: str, count_attempt: bool
    ) -> None:
        self._w.retry_later(
            inbox_id, worker=worker, at=at, error=error[:1000], count_attempt=count_attempt
        )

    def dead_letter(self, inbox_id: int, *, worker: str, reason: str, error: str) -> None:
        self._w.dead_letter(inbox_id, worker=worker, reason=reason, error=error or None)

    def release(self, inbox_ids: Sequence[int], *, worker: str) -> None:
        self._w.release(list(inbox_ids), worker=worker)


class PacedLimiter:
    """The limiter as the client sees it when the executor has already taken the slot.

    The executor calls `try_acquire` (never blocking) before each call; the client then calls
    `acquire`, which must not take a second slot. A retry inside the same call (the client's
    quick tries) takes a fresh slot if one is free, else raises `RescheduleNeeded` so the
    executor reschedules instead of the worker thread sleeping. `observe` forwards the headers
    so the limiter stays in step with HighLevel's own count.
    """

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner
        self._local = threading.local()

    def try_acquire(self, key: str) -> float:
        wait = self.inner.try_acquire(key)
        if wait <= 0:
            self._local.prepaid = key
        return wait

    def acquire(self, key: str) -> None:
        if getattr(self._local, "prepaid", None) == key:
            self._local.prepaid = None
            return
        wait = self.inner.try_acquire(key)
        if wait > 0:
            raise RescheduleNeeded(wait)

    async def aacquire(self, key: str) -> None:
        self.acquire(key)

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        self.inner.observe(key, status, headers)

    def snapshot(self, key: str) -> LimiterSnapshot:
        return self.inner.snapshot(key)

"""Finished events deleted after `retention_days` (with their calls), so the store does not
grow without end. Their ids stop being deduplicated then, so never before a week (senders may
deliver again within one: DESIGN.md). Dead letters wait for a person and recipe firings are
the memory that a recipe fired for its cause: the store keeps both (`purge_finished`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from tnhl.store import SqlStore

__all__ = ["Retention"]

log = structlog.get_logger("tnhl.sync")
DAY = 86_400.0


class Retention:
    """Run from the workers' sweep: at most once per `every` seconds, deletes what is due in
    batches of `batch`, each its own short write (intake is not held up), up to `most`."""

    def __init__(
        self,
        store: SqlStore,
        days: float,
        *,
        clock: Callable[[], float] = time.time,
        every: float = 3600.0,
        batch: int = 2000,
        most: int = 50,
    ) -> None:
        self._store, self._days, self._clock = store, days, clock
        self._every, self._batch, self._most = every, batch, most
        self._next = 0.0

    def sweep(self) -> int:
        """Delete what is due, if it is time; how many events were deleted."""
        now = self._clock()
        if self._days <= 0 or now < self._next:
            return 0
        self._next = now + self._every
        before, deleted = now - self._days * DAY, 0
        for _ in range(self._most):
            n = self._store.purge_finished(older_than=before, limit=self._batch)
            deleted += n
            if n < self._batch:
                break
        if deleted:
            log.info("old finished events deleted", events=deleted, days=self._days)
        return deleted

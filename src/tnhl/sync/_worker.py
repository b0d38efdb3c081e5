"""Workers: threads that claim ready work from the store and run it through the executor.

Why not huey in embedded mode (DESIGN.md names it; this is the written reason): the store is the
truth and `claim_next` already gives per-entity order, leases and due times. A huey queue in a
second SQLite file would add a second durable write per event on intake's hot path (intake must
reach >= 80 % of a bare insert) and a second source of truth to reconcile after a crash, while
adding nothing the store's lease + sweeper do not already give. So embedded mode pulls straight
from the store: N threads claim, execute, settle; a sweeper clears expired leases. Intake wakes
the workers (`wake()`) so a new event is picked up at once instead of at the next poll.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from tnhl.sync._executor import Executor
from tnhl.sync._ports import WorkBatch

__all__ = ["ClaimSource", "WorkerPool"]

log = structlog.get_logger("tnhl.sync")


class ClaimSource(Protocol):
    """Where workers get leased work from (the store, through `_wiring.StoreAdapter`)."""

    def claim(
        self, worker: str, *, now: float, lease_seconds: float, limit: int
    ) -> Sequence[WorkBatch]: ...
    def requeue_expired(self, now: float) -> int: ...
    def release(self, inbox_ids: Sequence[int], *, worker: str) -> None: ...


class WorkerPool:
    """`threads` workers plus one sweeper, started and stopped together."""

    def __init__(
        self,
        source: ClaimSource,
        executor: Executor,
        *,
        threads: int = 4,
        batch_limit: int = 50,
        lease_seconds: float = 60.0,
        poll_interval: float = 0.5,
        sweep_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        name: str = "worker",
        on_sweep: Callable[[], None] | None = None,
        max_deferred: int = 1000,
        lease_margin: float | None = None,
    ) -> None:
        self._source = source
        self._executor = executor
        self._threads_n = threads
        self._batch_limit = batch_limit
        self._lease = lease_seconds
        self._poll = poll_interval
        self._sweep_every = sweep_interval
        self._clock = clock
        self._name = name
        self._on_sweep = on_sweep
        self._stop = threading.Event()
        self._work = threading.Condition()
        self._signals = 0
        self._threads: list[threading.Thread] = []
        # Batches waiting for a rate-limit slot, still leased: (due, seq, batch, lease owner).
        # Holding them here, rather than rescheduling in the store, lets a worker take the slot
        # the moment it frees instead of a store round trip later (see `defer`).
        self._deferred: list[tuple[float, int, WorkBatch, str]] = []
        self._seq = 0
        self._max_deferred = max_deferred
        self._lease_margin = lease_seconds / 2 if lease_margin is None else lease_margin
        self.batches = 0
        self.errors = 0

    def start(self) -> None:
        for i in range(self._threads_n):
            t = threading.Thread(
                target=self._loop, args=(f"{self._name}-{i}",), name=f"tnhl-{self._name}-{i}"
            )
            t.daemon = True
            t.start()
            self._threads.append(t)
        sweeper = threading.Thread(target=self._sweeper, name=f"tnhl-{self._name}-sweeper")
        sweeper.daemon = True
        sweeper.start()
        self._threads.append(sweeper)

    def defer(self, batch: WorkBatch, at: float, worker: str) -> bool:
        """Keep `batch` (leased by `worker`) and run it again at `at`; False to decline.

        Declined when too many are held or when `at` leaves less than `lease_margin` of the
        lease, so a held batch always runs again well before its lease could expire.
        """
        if self._stop.is_set() or at > batch.lease_until - self._lease_margin:
            return False
        with self._work:
            if len(self._deferred) >= self._max_deferred:
                return False
            self._seq += 1
            heapq.heappush(self._deferred, (at, self._seq, batch, worker))
            self._work.notify()
        return True

    def _due(self) -> tuple[WorkBatch, str] | None:
        with self._work:
            if self._deferred and self._deferred[0][0] <= self._clock():
                _at, _seq, batch, worker = heapq.heappop(self._deferred)
                return batch, worker
        return None

    def wake(self) -> None:
        """New work may be ready (called by intake after it stored an event)."""
        with self._work:
            self._signals += 1
            self._work.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Let running batches finish (their calls are in flight), then end the threads."""
        self._stop.set()
        with self._work:
            self._work.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._work:
            held, self._deferred = self._deferred, []
        for _at, _seq, batch, worker in held:
            try:  # give held batches back now rather than when their lease runs out
                self._source.release([i.id for i in batch.items], worker=worker)
            except Exception as exc:
                log.warning("release failed", entity=batch.entity_key, error=type(exc).__name__)

    def _idle(self) -> None:
        with self._work:
            if self._signals == 0:
                timeout = self._poll
                if self._deferred:
                    timeout = min(timeout, max(0.0, self._deferred[0][0] - self._clock()))
                self._work.wait(timeout)
            self._signals = max(0, self._signals - 1)

    def _run(self, batch: WorkBatch, worker: str) -> None:
        try:
            self._executor.execute(batch, worker=worker)
        except Exception as exc:  # a lost lease or a store error: the sweeper recovers
            self.errors += 1
            log.warning(
                "batch failed",
                worker=worker,
                entity=batch.entity_key,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
        self.batches += 1

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            due = self._due()
            if due is not None:
                self._run(*due)
                continue
            try:
                batches = self._source.claim(
                    worker, now=self._clock(), lease_seconds=self._lease, limit=self._batch_limit
                )
            except Exception as exc:  # the store may be briefly unavailable: back off, go on
                self.errors += 1
                log.warning("claim failed", worker=worker, error=type(exc).__name__)
                self._stop.wait(self._poll)
                continue
            if not batches:
                self._idle()
                continue
            for batch in batches:
                self._run(batch, worker)

    def _sweeper(self) -> None:
        while not self._stop.wait(self._sweep_every):
            try:
                cleared = self._source.requeue_expired(self._clock())
                if cleared:
                    log.info("requeued expired leases", count=cleared)
                    with self._work:
                        self._signals += cleared
                        self._work.notify_all()
                if self._on_sweep is not None:
                    self._on_sweep()
            except Exception as exc:
                log.warning("sweep failed", error=type(exc).__name__)

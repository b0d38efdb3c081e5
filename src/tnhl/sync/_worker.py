"""Workers: threads that claim due records from the store and run them through the executor.

Why no separate queue (DESIGN.md): the store is the truth and a claim already gives per-record
leases and due times; a lease that runs out makes the record due again, so a killed worker
loses nothing and no sweeper is needed. Intake wakes the workers (`wake()`) so a new event is
folded and run at once instead of at the next poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import structlog

from tnhl.store import Folder, RecordClaim, SqlStore
from tnhl.sync._delta import event_delta
from tnhl.sync._executor import Executor
from tnhl.sync._held import HeldRecords, SlotWait

__all__ = ["WorkerPool"]

log = structlog.get_logger("tnhl.sync")


class WorkerPool:
    """`threads` workers plus one housekeeping thread, started and stopped together."""

    def __init__(
        self,
        store: SqlStore,
        executor: Executor,
        *,
        threads: int = 4,
        batch_limit: int = 50,
        fold_limit: int = 500,
        lease_seconds: float = 60.0,
        poll_interval: float = 0.5,
        sweep_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        name: str = "worker",
        on_sweep: Callable[[], None] | None = None,
        max_deferred: int = 1000,
        slot_wait: SlotWait | None = None,
        locations: Sequence[str] | None = None,
        fold: Folder = event_delta,
    ) -> None:
        self._store = store
        self._executor = executor
        self._fold = fold
        # The connections served: claims take only their records, each in turn.
        self._locations = None if locations is None else list(locations)
        self._threads_n = threads
        self._batch_limit = batch_limit
        self._fold_limit = fold_limit
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
        # Records waiting for rate-limit slots, still leased. Holding them here rather than
        # settling them lets a worker take the slots the moment they free, without a store
        # round trip per wait.
        self._slot_wait = slot_wait
        self._held = HeldRecords(slot_wait, limit=max_deferred, lease_margin=executor.lease_margin)
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
        housekeeper = threading.Thread(target=self._housekeeping, name=f"tnhl-{self._name}-hk")
        housekeeper.daemon = True
        housekeeper.start()
        self._threads.append(housekeeper)

    def wake(self) -> None:
        """New work may be ready (called by intake after it stored an event)."""
        with self._work:
            self._signals += 1
            self._work.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Let running batches finish (their calls are in flight), then end the threads.

        Held records keep their leases; they come due again when the leases end.
        """
        self._stop.set()
        with self._work:
            self._work.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._work:
            self._held.clear()

    def _due(self) -> list[RecordClaim]:
        with self._work:
            return self._held.due(self._clock(), self._batch_limit)

    def _idle(self, longest: float | None = None) -> None:
        with self._work:
            if self._signals == 0:
                timeout = self._poll if longest is None else min(self._poll, longest)
                at = self._held.next_at()
                if at is not None:
                    timeout = min(timeout, max(0.0, at - self._clock()))
                self._work.wait(timeout)
            self._signals = max(0, self._signals - 1)

    def _run(self, claims: list[RecordClaim]) -> None:
        try:
            deferred = self._executor.run(claims)
        except Exception as exc:  # a store error: the leases run out and the records recover
            self.errors += 1
            log.warning("batch failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        self.batches += 1
        if not deferred:
            return
        with self._work:
            back = self._held.hold([(c, d.wait, d.slots) for c, d in deferred], self._clock())
            self._work.notify()
        if not back:
            return
        try:
            self._executor.settle_deferred(back)
        except Exception as exc:  # as above: their leases run out and they come due again
            self.errors += 1
            log.warning("giving back held records failed", error=type(exc).__name__)

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            due = self._due()
            if due:
                self._run(due)
                continue
            locations, soonest = self._ready()
            if locations == []:
                self._idle(soonest)
                continue
            try:
                claims = self._store.claim(
                    worker,
                    fold=self._fold,
                    now=self._clock(),
                    lease_seconds=self._lease,
                    limit=self._batch_limit,
                    fold_limit=self._fold_limit,
                    locations=locations,
                )
            except Exception as exc:  # the store may be briefly unavailable: back off, go on
                self.errors += 1
                log.warning("claim failed", worker=worker, error=type(exc).__name__)
                self._stop.wait(self._poll)
                continue
            if not claims:
                self._idle()
                continue
            self._run(claims)

    def _ready(self) -> tuple[list[str] | None, float]:
        """The served locations with a rate-limit slot free now, and the seconds until the
        first of the others has one. A claim of a location with none would only hold its
        records or give them back (a claim, a plan and a settle each, for nothing: over 100
        busy connections that churn starved the real work)."""
        if self._locations is None or self._slot_wait is None:
            return self._locations, self._poll
        ready = []
        soonest = self._poll
        for loc in self._locations:
            wait = self._slot_wait(loc, 1)
            if wait <= 0:
                ready.append(loc)
            else:
                soonest = min(soonest, wait)
        return ready, soonest

    def _housekeeping(self) -> None:
        while not self._stop.wait(self._sweep_every):
            if self._on_sweep is None:
                continue
            try:
                self._on_sweep()
            except Exception as exc:
                log.warning("housekeeping failed", error=type(exc).__name__)

"""The rate limiter as the HighLevel client sees it when the executor has already paced."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from tnhl.highlevel import LimiterSnapshot, RateLimiter
from tnhl.sync._errors import RescheduleNeeded

__all__ = ["PacedLimiter"]


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

    def try_acquire(self, key: str, n: int = 1) -> float:
        """Hold `n` slots for this thread's next calls to `key`: those already held and not
        used count (a create planned with its duplicate check takes both slots at once, so it
        never makes the check and then waits for the create)."""
        held_key, held = getattr(self._local, "prepaid", (None, 0))
        have = held if held_key == key else 0
        if have >= n:
            return 0.0
        wait = self.inner.try_acquire(key, n - have)
        if wait <= 0:
            self._local.prepaid = (key, n)
        return wait

    def acquire(self, key: str) -> None:
        held_key, held = getattr(self._local, "prepaid", (None, 0))
        if held_key == key and held > 0:
            self._local.prepaid = (key, held - 1)
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

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

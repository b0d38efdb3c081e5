"""Time, injected: a `Clock` protocol, the real `SystemClock` and a deterministic `FakeClock`.

Everything in `tnhl.highlevel` that waits or reads the time (token expiry, rate limiting, retry
back-off) takes a clock, so tests run on fake time without sleeping.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of wall and monotonic time that can also wait."""

    def time(self) -> float:
        """Wall-clock time, epoch seconds."""
        ...

    def monotonic(self) -> float:
        """A clock that never goes backwards, for measuring durations."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for `seconds`."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock for tests: `sleep`/`asleep` advance the time at once instead of waiting.

    `time()` and `monotonic()` read the same counter, which starts at `start`. Every sleeper
    advances the shared counter by its own duration, so several threads sleeping "at once" move
    time forward by the sum; that only makes fake time pass faster, never backwards.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._sleeps: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (negative values are rejected)."""
        if seconds < 0:
            raise ValueError(f"seconds: must be >= 0, got {seconds!r}")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._sleeps.append(seconds)
            self._now += max(seconds, 0.0)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        # Give other tasks their turn, as a real sleep would.
        await asyncio.sleep(0)

    @property
    def sleeps(self) -> list[float]:
        """Every duration passed to `sleep`/`asleep`, in order (a copy)."""
        with self._lock:
            return list(self._sleeps)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"

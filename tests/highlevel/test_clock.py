"""Clock: the fake one moves only when told, from any thread; the real one really waits."""

from __future__ import annotations

import threading

import pytest

from tnhl.highlevel._clock import Clock, FakeClock, SystemClock


def test_fake_clock_starts_where_told_and_advances() -> None:
    """FakeClock starts at `start`; advance() moves wall and monotonic time together."""
    clock = FakeClock(start=1_000.0)
    assert clock.time() == 1_000.0
    assert clock.monotonic() == 1_000.0
    clock.advance(2.5)
    assert clock.time() == 1_002.5
    assert clock.monotonic() == 1_002.5


def test_fake_clock_rejects_going_backwards() -> None:
    """advance() with a negative value is an error, so fake time never runs backwards."""
    clock = FakeClock()
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)


def test_fake_sleep_advances_instantly_and_is_recorded() -> None:
    """sleep() returns at once, moves time by the duration and records it."""
    clock = FakeClock(start=5.0)
    clock.sleep(3.0)
    clock.sleep(0.5)
    assert clock.time() == 8.5
    assert clock.sleeps == [3.0, 0.5]


async def test_fake_asleep_advances_and_yields() -> None:
    """asleep() moves time and lets other tasks run (it is a real suspension point)."""
    import asyncio

    clock = FakeClock()
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    task = asyncio.create_task(other())
    await clock.asleep(2.0)
    assert ran == ["other"]
    assert clock.time() == 2.0
    await task


def test_fake_clock_is_thread_safe() -> None:
    """Concurrent sleeps from many threads lose no update: time is the sum of all sleeps."""
    clock = FakeClock()
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(1_000):
            clock.sleep(0.001)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.time() == pytest.approx(8.0)
    assert len(clock.sleeps) == 8_000


def test_system_clock_reads_real_time_and_waits() -> None:
    """SystemClock.sleep waits at least the requested time on the monotonic clock."""
    import time

    clock = SystemClock()
    assert isinstance(clock, Clock)
    assert abs(clock.time() - time.time()) < 1.0
    start = clock.monotonic()
    clock.sleep(0.02)
    assert clock.monotonic() - start >= 0.02
    clock.sleep(-1)  # negative durations are a no-op, not an error


async def test_system_clock_asleep_waits() -> None:
    """SystemClock.asleep suspends for at least the requested time."""
    clock = SystemClock()
    start = clock.monotonic()
    await clock.asleep(0.02)
    assert clock.monotonic() - start >= 0.02

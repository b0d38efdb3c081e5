"""The store's fair write lock (SQLite's one writer among a process's threads): waiters get it
in arrival order, a releaser asking again goes behind them, a timed-out waiter leaves the line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tnhl.store._fairlock import FairLock


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def _queued(lock: FairLock) -> int:
    return len(lock._waiting)


def test_waiters_get_the_lock_in_arrival_order() -> None:
    """Three threads queue behind the holder one after another: they get it A, B, C."""
    lock = FairLock()
    order: list[str] = []
    assert lock.acquire()

    def take(name: str) -> None:
        with lock:
            order.append(name)

    threads = []
    for n, name in enumerate("ABC", start=1):
        t = threading.Thread(target=take, args=(name,))
        t.start()
        threads.append(t)
        _until(lambda n=n: _queued(lock) == n, f"{name} never queued")
    lock.release()
    for t in threads:
        t.join(10)
    assert order == ["A", "B", "C"]
    assert not lock.locked()


def test_a_releaser_asking_again_goes_behind_the_waiter() -> None:
    """What threading.Lock does not promise: released with a thread waiting, the lock is that
    thread's, so the releaser's own next try (a worker's tight loop) does not get it."""
    lock = FairLock()
    got = threading.Event()
    assert lock.acquire()

    def wait_for_it() -> None:
        lock.acquire()
        got.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    _until(lambda: _queued(lock) == 1, "the waiter never queued")
    lock.release()
    assert lock.acquire(blocking=False) is False
    assert got.wait(10)
    waiter.join(10)
    lock.release()
    assert lock.acquire(blocking=False) is True


def test_a_waiter_that_times_out_leaves_the_line() -> None:
    """acquire(timeout=...) gives up with False and is no longer in line: the next release
    frees the lock instead of handing it to nobody."""
    lock = FairLock()
    assert lock.acquire()
    results: list[bool] = []
    t = threading.Thread(target=lambda: results.append(lock.acquire(timeout=0.05)))
    t.start()
    t.join(10)
    assert results == [False]
    assert _queued(lock) == 0
    lock.release()
    assert not lock.locked()
    assert lock.acquire(timeout=0) is True


def test_releasing_an_unheld_lock_is_an_error() -> None:
    """As threading.Lock: a release without an acquire raises instead of corrupting the line."""
    with pytest.raises(RuntimeError, match="unheld"):
        FairLock().release()

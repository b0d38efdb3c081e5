"""A lock handed over in arrival order, for SQLite's one writer among a process's threads.

`threading.Lock` is not fair: a thread that releases it and asks again at once (a worker
claiming in a loop) usually gets it back before a waiting thread is even scheduled, so intake
could wait past its busy timeout while workers write on. Here a release with threads waiting
hands the lock to the longest-waiting one directly, and an asker queues behind those already
waiting.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["FairLock"]


class FairLock:
    """`acquire(blocking=True, timeout=-1)` and `release()` as `threading.Lock`'s, first come
    first served."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._mutex:
            if not self._held and not self._waiting:
                self._held = True
                return True
            if not blocking:
                return False
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(None if timeout < 0 else timeout):
            return True  # handed over by release(): held by this thread now
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            if self._waiting:
                self._waiting.popleft().set()  # stays held, by the next in line
            else:
                self._held = False

    def locked(self) -> bool:
        return self._held

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

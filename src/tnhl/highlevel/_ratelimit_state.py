"""Rate-limit state: one `KeyState` per key, pure transitions, and pluggable storage.

The decisions (`take`, `correct`, `pause`) are pure functions of a `KeyState` and the time, so
every storage backend runs exactly the same logic: a backend only has to apply a function to one
key's state atomically (`LimiterState.update`). `MemoryLimiterState` does it under a lock;
`SqliteLimiterState` inside a `BEGIN IMMEDIATE` transaction, so several processes can share one
budget; `RedisLimiterState` with an optimistic WATCH/MULTI transaction, for several machines.

All times are wall-clock epoch seconds (`Clock.time()`): unlike a monotonic clock they mean the
same thing in every process sharing the state.
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from ._errors import HighLevelError

if TYPE_CHECKING:
    import redis

__all__ = [
    "DAY",
    "KeyState",
    "LimiterState",
    "MemoryLimiterState",
    "Policy",
    "RedisLimiterState",
    "SqliteLimiterState",
    "Taken",
    "day_of",
]

T = TypeVar("T")
DAY = 86_400.0


def day_of(wall: float) -> int:
    """The UTC day number of an epoch time (the daily budget resets at UTC midnight)."""
    return int(wall // DAY)


@dataclass(frozen=True)
class Policy:
    """The limits a key starts from before the server says otherwise."""

    burst: int
    interval: float
    daily: int
    margin: float  # extra seconds added to every window, for network skew


@dataclass(frozen=True)
class KeyState:
    """Everything known about one key's budget."""

    sends: tuple[float, ...] = ()  # send times still inside the window, ascending
    paused_until: float = 0.0
    day: int = -1
    daily_used: int = 0
    burst: int | None = None  # learned from X-RateLimit-Max
    interval: float | None = None  # learned from X-RateLimit-Interval-Milliseconds
    daily: int | None = None  # learned from X-RateLimit-Limit-Daily

    def limits(self, policy: Policy) -> tuple[int, float, int]:
        """(burst, window incl. margin, daily) in force for this key."""
        burst = self.burst if self.burst is not None else policy.burst
        interval = self.interval if self.interval is not None else policy.interval
        daily = self.daily if self.daily is not None else policy.daily
        return burst, interval + policy.margin, daily

    def rolled(self, now: float, policy: Policy) -> KeyState:
        """This state with expired sends dropped and the daily counter reset on a new day."""
        _, window, _ = self.limits(policy)
        expired = bisect.bisect_right(self.sends, now - window)  # the log is ascending
        state = replace(self, sends=self.sends[expired:]) if expired else self
        today = day_of(now)
        if state.day != today:
            state = replace(state, day=today, daily_used=0)
        return state

    def to_json(self) -> str:
        return json.dumps(
            {
                "sends": list(self.sends),
                "paused_until": self.paused_until,
                "day": self.day,
                "daily_used": self.daily_used,
                "burst": self.burst,
                "interval": self.interval,
                "daily": self.daily,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> KeyState:
        raw = json.loads(text)
        return cls(
            sends=tuple(float(t) for t in raw["sends"]),
            paused_until=float(raw["paused_until"]),
            day=int(raw["day"]),
            daily_used=int(raw["daily_used"]),
            burst=raw["burst"],
            interval=raw["interval"],
            daily=raw["daily"],
        )


@dataclass(frozen=True)
class Taken:
    """The outcome of one attempt: `wait == 0.0` means a slot was taken.

    `daily_reset_at` is set (and `wait` is meaningless) when the daily quota is used up.
    """

    wait: float
    daily_reset_at: float | None = None


def take(state: KeyState, now: float, policy: Policy, n: int = 1) -> tuple[KeyState, Taken]:
    """Try to take `n` slots at `now`, all or none (sliding-window log + daily counter)."""
    if state.sends and state.sends[-1] > now:
        # Another process with a clock slightly ahead stamped a later send: keep the log
        # ordered, at the cost of treating this send as happening a little later.
        now = state.sends[-1]
    state = state.rolled(now, policy)
    burst, window, daily = state.limits(policy)
    n = max(1, min(n, burst))  # more than a whole window could never be taken at once
    if state.daily_used + n > daily:
        return state, Taken(wait=0.0, daily_reset_at=(state.day + 1) * DAY)
    if state.paused_until > now:
        return state, Taken(wait=state.paused_until - now)
    if len(state.sends) + n <= burst:
        sends = (*state.sends, *([now] * n))
        return replace(state, sends=sends, daily_used=state.daily_used + n), Taken(wait=0.0)
    # The window holds `len(sends)` entries (possibly more than `burst` after a correction):
    # n slots are free once the entry at index len - burst + n - 1 has left the window.
    oldest_needed = state.sends[len(state.sends) - burst + n - 1]
    # A wait of exactly 0 would mean "taken" to callers; never return less than a microsecond.
    return state, Taken(wait=max(oldest_needed + window - now, 1e-6))


def free_in(state: KeyState, now: float, policy: Policy, slots: int) -> float:
    """Seconds until the `slots`-th slot from now is free, if each slot is spent the moment it
    frees (reading, not taking: to hold queued work until then). A sliding window frees a
    slot one window after it was spent, so slot k comes free when the k-th oldest send in the
    log leaves it, or, past the log, one window after the slot `burst` places before it."""
    state = state.rolled(now, policy)
    burst, window, _ = state.limits(policy)
    last = max(slots, 1) - 1  # the index of the last slot needed, counted from now
    windows, r = divmod(last, burst)
    j = len(state.sends) + r - burst  # the send whose leaving frees slot r
    at = (now if j < 0 else state.sends[j] + window) + windows * window
    return max(at - now, state.paused_until - now, 0.0)


def correct(
    state: KeyState,
    now: float,
    policy: Policy,
    *,
    burst: int | None,
    interval: float | None,
    remaining: int | None,
    daily: int | None,
    daily_remaining: int | None,
) -> KeyState:
    """Fold the server's view (rate-limit headers) into the local state.

    The server can only know about requests that reached it, so it never counts more than we
    do unless someone else spends the same budget (another process, another app on a Private
    Integration Token). When it does, phantom sends stamped `now` make up the difference: the
    most cautious guess, since they leave the window last.
    """
    state = state.rolled(now, policy)
    if burst is not None and burst > 0:
        state = replace(state, burst=burst)
    if interval is not None and interval > 0:
        state = replace(state, interval=interval)
    if daily is not None and daily > 0:
        state = replace(state, daily=daily)
    state = state.rolled(now, policy)  # the window may have changed
    cur_burst, _, cur_daily = state.limits(policy)
    if remaining is not None:
        server_used = min(max(cur_burst - remaining, 0), cur_burst)
        missing = server_used - len(state.sends)
        if missing > 0:
            state = replace(state, sends=(*state.sends, *([now] * missing)))
    if daily_remaining is not None:
        server_daily_used = max(cur_daily - daily_remaining, 0)
        if server_daily_used > state.daily_used:
            state = replace(state, daily_used=server_daily_used)
    return state


def pause(state: KeyState, now: float, policy: Policy, seconds: float | None) -> KeyState:
    """Stop taking slots for `seconds` (or one whole window) after a 429."""
    state = state.rolled(now, policy)
    _, window, _ = state.limits(policy)
    until = now + (seconds if seconds is not None else window)
    return replace(state, paused_until=max(state.paused_until, until))


class LimiterState(Protocol):
    """Where per-key rate-limit state lives; `update` must be atomic per key."""

    def update(self, key: str, fn: Callable[[KeyState], tuple[KeyState, T]]) -> T:
        """Apply `fn` to the key's state atomically, store the new state, return fn's result."""
        ...

    def read(self, key: str) -> KeyState:
        """The key's current state (a fresh `KeyState()` for an unknown key)."""
        ...


class MemoryLimiterState:
    """Thread-safe in-process state (one lock: every update is a few microseconds)."""

    def __init__(self) -> None:
        self._states: dict[str, KeyState] = {}
        self._lock = threading.Lock()

    def update(self, key: str, fn: Callable[[KeyState], tuple[KeyState, T]]) -> T:
        with self._lock:
            new, result = fn(self._states.get(key, KeyState()))
            self._states[key] = new
            return result

    def read(self, key: str) -> KeyState:
        with self._lock:
            return self._states.get(key, KeyState())


def _create_private(path: Path) -> None:
    """Create the file empty with mode 0600 unless it exists: SQLite gives its -wal and -shm
    files the database file's mode, so none of them is readable by other users."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)  # whatever the umask left
    os.close(fd)


class SqliteLimiterState:
    """State in a SQLite file, shared by every thread and process that opens the same path."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self._path = str(path)
        self._timeout = timeout
        self._local = threading.local()
        if self._path != ":memory:" and not self._path.startswith("file:"):
            _create_private(Path(path))
        self._connect().execute(
            "CREATE TABLE IF NOT EXISTS tnhl_rate_limits (key TEXT PRIMARY KEY, state TEXT)"
        )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so two processes can't
            # both read the same state and both take the last slot.
            conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # No fsync per commit: losing the last few stamps in a power cut only costs a few
            # extra requests, and the server's headers correct the count on the next response.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def update(self, key: str, fn: Callable[[KeyState], tuple[KeyState, T]]) -> T:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT state FROM tnhl_rate_limits WHERE key = ?", (key,)
            ).fetchone()
            current = KeyState.from_json(row[0]) if row else KeyState()
            new, result = fn(current)
            if new != current or row is None:
                conn.execute(
                    "INSERT INTO tnhl_rate_limits (key, state) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET state = excluded.state",
                    (key, new.to_json()),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def read(self, key: str) -> KeyState:
        row = (
            self._connect()
            .execute("SELECT state FROM tnhl_rate_limits WHERE key = ?", (key,))
            .fetchone()
        )
        return KeyState.from_json(row[0]) if row else KeyState()

    def __repr__(self) -> str:
        return f"SqliteLimiterState({Path(self._path).name!r})"


class RedisLimiterState:
    """State in Redis (one string per key), shared by every process on every machine.

    `update` is an optimistic transaction: WATCH the key, compute, MULTI/SET/EXEC, and start
    again if another client changed the key meanwhile. `fn` must therefore be pure (the
    limiter's functions are). Keys expire two days after their last change.
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = "tnhl:ratelimit:", max_attempts: int = 100
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._max_attempts = max_attempts

    def update(self, key: str, fn: Callable[[KeyState], tuple[KeyState, T]]) -> T:
        import redis as redis_lib  # deferred: only this backend needs the package

        name = self._prefix + key
        for _ in range(self._max_attempts):
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    raw = pipe.get(name)
                    current = KeyState.from_json(_text(raw)) if raw is not None else KeyState()
                    new, result = fn(current)
                    pipe.multi()
                    pipe.set(name, new.to_json(), ex=int(2 * DAY))
                    pipe.execute()
                    return result
                except redis_lib.WatchError:
                    continue
        raise HighLevelError(f"rate-limit state for {key!r}: too much contention in Redis")

    def read(self, key: str) -> KeyState:
        raw = self._redis.get(self._prefix + key)
        return KeyState.from_json(_text(raw)) if raw is not None else KeyState()

    def __repr__(self) -> str:
        return f"RedisLimiterState(prefix={self._prefix!r})"


def _text(raw: object) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

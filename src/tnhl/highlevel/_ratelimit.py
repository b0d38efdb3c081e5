"""Client-side pacing for HighLevel's per-location rate limits.

HighLevel allows 100 requests per 10 s and 200,000 per day per app and location, reports the
budget in `X-RateLimit-*` headers and answers 429 beyond it (highlevel-api.md section 9; the
official docs: docs/oauth/Authorization.md). `RateLimiter` paces calls *before* they are sent:

- A sliding-window log per key: a call is allowed only if fewer than `burst` calls were sent in
  the last `interval + margin` seconds, so no window of `interval` seconds, anywhere, ever holds
  more than `burst` sends.
- `margin` (default 0.3 s, added to every window) absorbs network skew: HighLevel counts
  arrivals, not our send times, so a request whose latency is up to 0.3 s longer than that of
  one sent a window later (a new TLS connection versus a reused one, a scheduling hiccup) still
  lands in a different window. At 100 per 10 s it costs 3 % of the peak rate. It is absolute,
  not a fraction of the interval, because latency jitter does not shrink with the window.
- The daily budget is a counter per UTC day (HighLevel does not document when its day resets,
  so the `X-RateLimit-Daily-Remaining` header corrects it). When it is spent, callers get
  `DailyQuotaExhaustedError` instead of waiting for hours.
- `observe()` folds each response's headers in (case-insensitive): the server's limits replace
  the defaults for that key, and if the server counts more requests than we sent (someone else
  shares the budget), the window is topped up. A 429 pauses the key for `Retry-After` seconds
  (seconds or an HTTP date), else for one whole window.

Why not pyrate-limiter (named in DESIGN.md): its `Limiter` sleeps with `time.sleep` /
`asyncio.sleep` rather than an injected clock, `try_acquire(blocking=False)` answers a bool
without the time to wait, and its buckets have no operation to merge a server-reported count or
to pause until a time. Those three are the core of this module, so the window log is written
here (about 60 lines of pure functions in `_ratelimit_state.py`) behind a `LimiterState`
protocol with in-memory and SQLite implementations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from ._clock import Clock, SystemClock
from ._errors import ConfigurationError, DailyQuotaExhaustedError
from ._ratelimit_state import (
    KeyState,
    LimiterState,
    MemoryLimiterState,
    Policy,
    Taken,
    correct,
    free_in,
    pause,
    take,
)

__all__ = ["LimiterSnapshot", "RateLimiter", "parse_retry_after"]

_MAX = "x-ratelimit-max"
_REMAINING = "x-ratelimit-remaining"
_INTERVAL_MS = "x-ratelimit-interval-milliseconds"
_DAILY = "x-ratelimit-limit-daily"
_DAILY_REMAINING = "x-ratelimit-daily-remaining"


@dataclass(frozen=True)
class LimiterSnapshot:
    """One key's budget as this limiter sees it (for `tnhl status`)."""

    key: str
    limit: int  # requests allowed per interval
    interval: float  # seconds (without the safety margin)
    used_in_window: int
    remaining: int
    daily_limit: int
    daily_used: int
    daily_remaining: int
    paused_until: float | None  # epoch seconds, None when not paused


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None  # a garbled header must not break a successful call
    return int(number) if math.isfinite(number) and number >= 0 else None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(when.timestamp() - now, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class RateLimiter:
    """Paces requests per key (a location id); safe across threads and usable from asyncio."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        state: LimiterState | None = None,
        burst: int = 100,
        interval: float = 10.0,
        daily: int = 200_000,
        margin: float = 0.3,
    ) -> None:
        if burst < 1:
            raise ConfigurationError("burst", f"must be at least 1, got {burst!r}")
        if not interval > 0:
            raise ConfigurationError("interval", f"must be > 0 seconds, got {interval!r}")
        if daily < 1:
            raise ConfigurationError("daily", f"must be at least 1, got {daily!r}")
        if margin < 0:
            raise ConfigurationError("margin", f"must be >= 0 seconds, got {margin!r}")
        self._clock: Clock = clock or SystemClock()
        self._state: LimiterState = state if state is not None else MemoryLimiterState()
        self._policy = Policy(burst=burst, interval=interval, daily=daily, margin=margin)

    @property
    def clock(self) -> Clock:
        return self._clock

    def try_acquire(self, key: str, n: int = 1) -> float:
        """Take `n` slots now, all or none (returns 0.0), or return the seconds until they may
        be free (`n` is capped at the window's size).

        Raises DailyQuotaExhaustedError when the day's budget is spent.
        """
        # The time is read inside the atomic update: read before it, a thread that waited for
        # the lock would stamp its slot in the past and the log would undercount the window.
        taken: Taken = self._state.update(
            key, lambda s: take(s, self._clock.time(), self._policy, n)
        )
        if taken.daily_reset_at is not None:
            raise DailyQuotaExhaustedError(key=key, resets_at=taken.daily_reset_at)
        return taken.wait

    def acquire(self, key: str) -> None:
        """Block (via the clock) until a slot is taken."""
        while (wait := self.try_acquire(key)) > 0:
            self._clock.sleep(wait)

    async def aacquire(self, key: str) -> None:
        """Wait (via the clock) until a slot is taken, without blocking the event loop."""
        while (wait := self.try_acquire(key)) > 0:
            await self._clock.asleep(wait)

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        """Correct the key's state from a response's status and rate-limit headers."""
        # httpx.Headers is already case-insensitive; a plain dict is not.
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        interval_ms = _int_header(lowered, _INTERVAL_MS)
        burst = _int_header(lowered, _MAX)
        interval = interval_ms / 1000.0 if interval_ms else None
        remaining = _int_header(lowered, _REMAINING)
        daily = _int_header(lowered, _DAILY)
        daily_remaining = _int_header(lowered, _DAILY_REMAINING)
        reported = any(v is not None for v in (burst, interval, remaining, daily, daily_remaining))
        if status != 429 and not reported:
            return
        now = self._clock.time()
        retry_after = parse_retry_after(lowered.get("retry-after"), now) if status == 429 else None

        def apply(state: KeyState) -> tuple[KeyState, None]:
            if reported:
                state = correct(
                    state,
                    now,
                    self._policy,
                    burst=burst,
                    interval=interval,
                    remaining=remaining,
                    daily=daily,
                    daily_remaining=daily_remaining,
                )
            if status == 429:
                state = pause(state, now, self._policy, retry_after)
            return state, None

        self._state.update(key, apply)

    def wait_for(self, key: str, slots: int) -> float:
        """Seconds until `slots` slots in a row will have come free, if nothing else is sent
        meanwhile; reading it takes nothing (to hold work until then, not try and fail)."""
        return free_in(self._state.read(key), self._clock.time(), self._policy, slots)

    def snapshot(self, key: str) -> LimiterSnapshot:
        """The key's current budget; reading it takes nothing."""
        now = self._clock.time()
        state = self._state.read(key).rolled(now, self._policy)
        burst, _, daily = state.limits(self._policy)
        used = len(state.sends)
        return LimiterSnapshot(
            key=key,
            limit=burst,
            interval=state.interval if state.interval is not None else self._policy.interval,
            used_in_window=used,
            remaining=max(burst - used, 0),
            daily_limit=daily,
            daily_used=state.daily_used,
            daily_remaining=max(daily - state.daily_used, 0),
            paused_until=state.paused_until if state.paused_until > now else None,
        )

    def __repr__(self) -> str:
        p = self._policy
        return f"RateLimiter(burst={p.burst}, interval={p.interval}, daily={p.daily})"

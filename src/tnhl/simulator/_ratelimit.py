"""HighLevel's rate limits, per app per location, with its five X-RateLimit-* headers.

docs/highlevel-api.md §9: 100 requests per 10 s and 200,000 per day per app per resource;
headers X-RateLimit-Max, -Remaining, -Interval-Milliseconds, -Limit-Daily, -Daily-Remaining;
429 past the limit. HighLevel documents neither the window algorithm nor the 429 body; we use a
fixed window starting at a bucket's first request (what the headers suggest: a max, what is left,
and the window length) and `{statusCode: 429, message: "Too many requests"}`.

`time_scale` shrinks every window so tests and benchmarks run fast: at 0.1 a 10 s window lasts
1 s of real time and a "day" lasts 2.4 h. The Interval header then reports the window really
enforced, in real milliseconds (1000 at 0.1), so a client pacing itself from the headers is
right; Max, Remaining and the daily counts are request counts and do not scale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from tnhl.simulator._http import error_response

__all__ = ["RATE_LIMIT_HEADERS", "RateLimitConfig", "SimRateLimiter", "too_many_requests"]

RATE_LIMIT_HEADERS = (
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
)
DAY_SECONDS = 86400.0


class RateLimitConfig(BaseModel):
    """HighLevel's documented defaults; every number can be changed for tests and benchmarks."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    burst: int = Field(100, ge=1)
    interval_ms: int = Field(10000, ge=1)
    daily: int = Field(200_000, ge=1)


@dataclass
class _Bucket:
    window_start: float
    used: int
    day_start: float
    used_today: int


def too_many_requests(headers: dict[str, str]) -> JSONResponse:
    """The 429 the simulator answers past a limit, carrying the rate-limit headers."""
    return error_response(429, "Too many requests", headers=headers)


class SimRateLimiter:
    """Counts requests per (app, location); thread-safe; clock injectable."""

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        time_scale: float = 1.0,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale: must be > 0")
        self.config = config
        self._clock = clock
        self._scale = time_scale
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._exhausted: set[str] = set()
        self._exhausted_all = False

    @property
    def interval_seconds(self) -> float:
        """The burst window in real (scaled) seconds."""
        return self.config.interval_ms / 1000.0 * self._scale

    @property
    def interval_ms(self) -> int:
        """The burst window actually enforced, in real milliseconds (at least 1)."""
        return max(round(self.config.interval_ms * self._scale), 1)

    def _headers(self, bucket: _Bucket, exhausted: bool) -> dict[str, str]:
        cfg = self.config
        daily_left = 0 if exhausted else max(cfg.daily - bucket.used_today, 0)
        return {
            "X-RateLimit-Max": str(cfg.burst),
            "X-RateLimit-Remaining": str(max(cfg.burst - bucket.used, 0)),
            # The window really enforced: a client pacing from the headers must see the scaled one.
            "X-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-RateLimit-Limit-Daily": str(cfg.daily),
            "X-RateLimit-Daily-Remaining": str(daily_left),
        }

    def check(self, app_id: str, location_id: str) -> tuple[bool, dict[str, str]]:
        """Count one request; answer whether it is allowed and the headers to send with it."""
        if not self.config.enabled:
            return True, {}
        now = self._clock()
        day = DAY_SECONDS * self._scale
        with self._lock:
            bucket = self._buckets.get((app_id, location_id))
            if bucket is None:
                bucket = _Bucket(now, 0, now, 0)
                self._buckets[(app_id, location_id)] = bucket
            if now - bucket.window_start >= self.interval_seconds:
                bucket.window_start, bucket.used = now, 0
            if now - bucket.day_start >= day:
                bucket.day_start, bucket.used_today = now, 0
            exhausted = self._exhausted_all or location_id in self._exhausted
            if exhausted or bucket.used_today >= self.config.daily:
                return False, self._headers(bucket, True)
            if bucket.used >= self.config.burst:
                return False, self._headers(bucket, False)
            bucket.used += 1
            bucket.used_today += 1
            return True, self._headers(bucket, False)

    def exhaust_daily(self, location_id: str | None = None) -> None:
        """Use up the daily quota of one location (None: every location) until `reset`."""
        with self._lock:
            if location_id is None:
                self._exhausted_all = True
            else:
                self._exhausted.add(location_id)

    def reset(self) -> None:
        """Forget every count and exhausted quota."""
        with self._lock:
            self._buckets.clear()
            self._exhausted.clear()
            self._exhausted_all = False

"""SimRateLimiter: per app per location windows, the five headers, 429s, time scale."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tnhl.simulator._ratelimit import (
    RATE_LIMIT_HEADERS,
    RateLimitConfig,
    SimRateLimiter,
    too_many_requests,
)
from tnhl.simulator._serve import serve_in_thread


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_headers_count_down_then_429() -> None:
    """Remaining counts down per request; past the burst the check fails with Remaining 0."""
    limiter = SimRateLimiter(RateLimitConfig(burst=3), clock=Clock())
    seen = []
    for _ in range(3):
        allowed, headers = limiter.check("app", "loc")
        assert allowed
        assert set(headers) == set(RATE_LIMIT_HEADERS)
        seen.append(headers["X-RateLimit-Remaining"])
    assert seen == ["2", "1", "0"]
    allowed, headers = limiter.check("app", "loc")
    assert not allowed
    assert headers == {
        "X-RateLimit-Max": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Interval-Milliseconds": "10000",
        "X-RateLimit-Limit-Daily": "200000",
        "X-RateLimit-Daily-Remaining": "199997",
    }


def test_buckets_are_per_app_and_location() -> None:
    """Another location or another app has its own budget."""
    limiter = SimRateLimiter(RateLimitConfig(burst=1), clock=Clock())
    assert limiter.check("app", "loc")[0]
    assert not limiter.check("app", "loc")[0]
    assert limiter.check("app", "loc2")[0]
    assert limiter.check("other", "loc")[0]


def test_window_resets_after_scaled_interval() -> None:
    """With time_scale 0.1 a 10 s window reopens after 1 s of clock time."""
    clock = Clock()
    limiter = SimRateLimiter(RateLimitConfig(burst=1), clock=clock, time_scale=0.1)
    assert limiter.check("a", "l")[0]
    clock.now += 0.99
    assert not limiter.check("a", "l")[0]
    clock.now += 0.01
    assert limiter.check("a", "l")[0]


def test_interval_header_reports_the_enforced_window() -> None:
    """Under time_scale the Interval header is the real window enforced; counts do not scale."""
    clock = Clock()
    limiter = SimRateLimiter(RateLimitConfig(burst=2), clock=clock, time_scale=0.1)
    allowed, headers = limiter.check("a", "l")
    assert allowed
    assert headers["X-RateLimit-Interval-Milliseconds"] == "1000"
    assert (headers["X-RateLimit-Max"], headers["X-RateLimit-Remaining"]) == ("2", "1")
    assert limiter.check("a", "l")[1]["X-RateLimit-Remaining"] == "0"
    # A client waiting the advertised interval finds the window open again.
    waited = int(headers["X-RateLimit-Interval-Milliseconds"]) / 1000
    clock.now += waited - 0.001
    assert not limiter.check("a", "l")[0]
    clock.now += 0.001
    allowed, headers = limiter.check("a", "l")
    assert allowed
    assert headers["X-RateLimit-Remaining"] == str(int(headers["X-RateLimit-Max"]) - 1)


def test_interval_header_never_rounds_to_zero() -> None:
    """A tiny scaled window is still advertised as at least 1 ms."""
    limiter = SimRateLimiter(RateLimitConfig(interval_ms=1), clock=Clock(), time_scale=0.01)
    assert limiter.check("a", "l")[1]["X-RateLimit-Interval-Milliseconds"] == "1"


def test_daily_limit_and_rollover() -> None:
    """The daily budget ends with Daily-Remaining 0 and comes back after a (scaled) day."""
    clock = Clock()
    limiter = SimRateLimiter(RateLimitConfig(burst=100, daily=2), clock=clock, time_scale=0.001)
    assert limiter.check("a", "l")[0]
    clock.now += 0.02  # past the 10 ms scaled burst window, same scaled day (86.4 s)
    assert limiter.check("a", "l")[1]["X-RateLimit-Daily-Remaining"] == "0"
    allowed, headers = limiter.check("a", "l")
    assert not allowed
    assert headers["X-RateLimit-Daily-Remaining"] == "0"
    clock.now += 86.4
    assert limiter.check("a", "l")[0]


def test_exhaust_daily_and_reset() -> None:
    """exhaust_daily refuses one location (or all) with Daily-Remaining 0 until reset."""
    limiter = SimRateLimiter(RateLimitConfig(), clock=Clock())
    limiter.exhaust_daily("l1")
    allowed, headers = limiter.check("a", "l1")
    assert (allowed, headers["X-RateLimit-Daily-Remaining"]) == (False, "0")
    assert limiter.check("a", "l2")[0]
    limiter.exhaust_daily()
    assert not limiter.check("a", "l2")[0]
    limiter.reset()
    assert limiter.check("a", "l1")[0]


def test_disabled_allows_everything() -> None:
    """With enabled=False nothing is counted and no headers are sent."""
    limiter = SimRateLimiter(RateLimitConfig(enabled=False, burst=1), clock=Clock())
    assert all(limiter.check("a", "l") == (True, {}) for _ in range(5))


def test_config_errors_name_the_field() -> None:
    """A non-positive burst is refused naming the field."""
    with pytest.raises(ValidationError, match="burst"):
        RateLimitConfig(burst=0)
    with pytest.raises(ValueError, match="time_scale"):
        SimRateLimiter(RateLimitConfig(), time_scale=0)


def test_headers_and_429_over_http() -> None:
    """Over loopback HTTP the headers count down, the 6th call is a 429, and the window reopens."""
    clock = Clock()
    limiter = SimRateLimiter(RateLimitConfig(burst=5), clock=clock, time_scale=0.05)

    async def endpoint(request: Request) -> Response:
        allowed, headers = limiter.check("app", request.path_params["loc"])
        if not allowed:
            return too_many_requests(headers)
        return JSONResponse({"ok": True}, headers=headers)

    app = Starlette(routes=[Route("/x/{loc}", endpoint)])
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=5) as http:
        answers = [http.get("/x/L") for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 5 + [429]
        assert [r.headers["x-ratelimit-remaining"] for r in answers] == [
            "4",
            "3",
            "2",
            "1",
            "0",
            "0",
        ]
        limited = answers[-1]
        assert limited.json() == {
            "statusCode": 429,
            "message": "Too many requests",
            "error": "Too Many Requests",
        }
        for name in RATE_LIMIT_HEADERS:
            assert name.lower() in limited.headers
        assert limited.headers["x-ratelimit-interval-milliseconds"] == "500"
        assert http.get("/x/other").status_code == 200
        clock.now += 0.5  # the 10 s window at time_scale 0.05
        assert http.get("/x/L").status_code == 200

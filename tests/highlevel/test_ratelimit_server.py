"""RateLimiter against a real server that enforces a strict sliding window (uvicorn, loopback).

The server counts request *arrivals* over the last `INTERVAL` seconds and answers 429 beyond
`LIMIT`, with HighLevel's X-RateLimit-* headers; time is scaled down (100 per 1 s instead of 100
per 10 s) so 300 calls take under three seconds. The limiter keeps its default 0.3 s margin:
latency jitter (here, new connections arrive 40-80 ms later than reused ones) does not scale
down with the window.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterator

import httpx
import pytest
from hl_oauth_loopback import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tnhl.highlevel._clock import SystemClock
from tnhl.highlevel._ratelimit import RateLimiter

LIMIT = 100
INTERVAL = 1.0
CALLS = 300


class StrictWindow:
    """A server-side sliding-window log: the (LIMIT+1)-th arrival within INTERVAL gets a 429."""

    def __init__(self) -> None:
        self.arrivals: deque[float] = deque()
        self.ok = 0
        self.rejected = 0
        self.lock = threading.Lock()

    async def handle(self, request: Request) -> JSONResponse:
        now = time.monotonic()
        with self.lock:
            while self.arrivals and self.arrivals[0] <= now - INTERVAL:
                self.arrivals.popleft()
            allowed = len(self.arrivals) < LIMIT
            if allowed:
                self.arrivals.append(now)
                self.ok += 1
            else:
                self.rejected += 1
            remaining = LIMIT - len(self.arrivals)
        headers = {
            "X-RateLimit-Max": str(LIMIT),
            "X-RateLimit-Remaining": str(max(remaining, 0)),
            "X-RateLimit-Interval-Milliseconds": str(int(INTERVAL * 1000)),
            "X-RateLimit-Limit-Daily": "200000",
            "X-RateLimit-Daily-Remaining": str(200000 - self.ok),
        }
        if not allowed:
            return JSONResponse(
                {"statusCode": 429, "message": "Too many requests"}, 429, headers=headers
            )
        return JSONResponse({"ok": True}, headers=headers)


@pytest.fixture
def window() -> Iterator[tuple[StrictWindow, str]]:
    """The strict server on loopback and its base URL."""
    state = StrictWindow()
    app = Starlette(routes=[Route("/contacts/{id}", state.handle)])
    with serve(app) as url:
        yield state, url


def test_the_server_really_enforces_the_window(window: tuple[StrictWindow, str]) -> None:
    """Control: 300 unpaced calls draw 429s, so a clean run below means something."""
    state, url = window
    with httpx.Client(base_url=url) as client:
        statuses = [client.get(f"/contacts/{i}").status_code for i in range(CALLS)]
    assert statuses.count(429) > 0
    assert state.rejected == statuses.count(429)


def test_three_hundred_paced_calls_from_threads_draw_no_429(
    window: tuple[StrictWindow, str],
) -> None:
    """Four threads, 300 calls through the limiter with the real clock: zero 429s, near-min time."""
    state, url = window
    limiter = RateLimiter(clock=SystemClock(), burst=LIMIT, interval=INTERVAL)
    statuses: list[int] = []
    with httpx.Client(base_url=url) as client:

        def work(n: int) -> None:
            for i in range(n):
                limiter.acquire("loc1")
                response = client.get(f"/contacts/{i}")
                limiter.observe("loc1", response.status_code, response.headers)
                statuses.append(response.status_code)

        start = time.monotonic()
        threads = [threading.Thread(target=work, args=(CALLS // 4,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    assert len(statuses) == CALLS
    assert state.rejected == 0
    assert statuses == [200] * CALLS
    # 300 calls at 100 per (1 s + 0.3 s margin) need two full windows, and not much more.
    assert elapsed >= 2 * (INTERVAL + 0.3)
    assert elapsed < 2 * (INTERVAL + 0.3) + 2.0


async def test_three_hundred_paced_calls_from_tasks_draw_no_429(
    window: tuple[StrictWindow, str],
) -> None:
    """Eight asyncio tasks, 300 calls through aacquire with the real clock: zero 429s."""
    state, url = window
    limiter = RateLimiter(clock=SystemClock(), burst=LIMIT, interval=INTERVAL)
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=url) as client:

        async def work(n: int) -> None:
            for i in range(n):
                await limiter.aacquire("loc1")
                response = await client.get(f"/contacts/{i}")
                limiter.observe("loc1", response.status_code, response.headers)
                statuses.append(response.status_code)

        await asyncio.gather(*(work(CALLS // 8 + (1 if k < CALLS % 8 else 0)) for k in range(8)))
    assert len(statuses) == CALLS
    assert state.rejected == 0
    snap = limiter.snapshot("loc1")
    assert snap.daily_used == CALLS
    assert snap.limit == LIMIT

"""RateLimiter on fake time: pacing, header correction, 429 pauses, daily quota, threads.

Every test runs against every `LimiterState` implementation (the `state` fixture).
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from tests.conftest import need

from tnhl.highlevel._clock import FakeClock
from tnhl.highlevel._errors import ConfigurationError, DailyQuotaExhaustedError
from tnhl.highlevel._ratelimit import RateLimiter, parse_retry_after
from tnhl.highlevel._ratelimit_state import (
    DAY,
    KeyState,
    LimiterState,
    MemoryLimiterState,
    RedisLimiterState,
    SqliteLimiterState,
    Taken,
)

T = TypeVar("T")
START = 1_700_000_000.0  # a fixed epoch, far from a UTC midnight (it is 22:13 UTC)


class RecordingState:
    """Delegates to a real state and records, inside the atomic update, every slot taken."""

    def __init__(self, inner: LimiterState) -> None:
        self.inner = inner
        self.taken: dict[str, list[float]] = {}

    def update(self, key: str, fn: Callable[[KeyState], tuple[KeyState, T]]) -> T:
        def wrapped(state: KeyState) -> tuple[KeyState, tuple[T, float | None]]:
            new, result = fn(state)
            granted = isinstance(result, Taken) and result.wait == 0.0
            if granted and result.daily_reset_at is None:  # type: ignore[union-attr]
                return new, (result, new.sends[-1])
            return new, (result, None)

        # Recorded only once the update committed: an optimistic backend may run `fn` twice.
        result, stamp = self.inner.update(key, wrapped)
        if stamp is not None:
            self.taken.setdefault(key, []).append(stamp)
        return result

    def read(self, key: str) -> KeyState:
        return self.inner.read(key)


def redis_client() -> redis.Redis:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        need(False, "Redis is not running on 127.0.0.1:6379")
    return client


@pytest.fixture(params=["memory", "sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordingState]:
    """Each LimiterState implementation, wrapped to record the send times it grants."""
    if request.param == "memory":
        yield RecordingState(MemoryLimiterState())
    elif request.param == "sqlite":
        yield RecordingState(SqliteLimiterState(tmp_path / "limits.sqlite"))
    else:  # a fresh prefix per test: tests never see each other's keys
        client = redis_client()
        prefix = f"tnhl-test:{uuid.uuid4().hex}:"
        yield RecordingState(RedisLimiterState(client, prefix=prefix))
        for name in client.scan_iter(match=prefix + "*"):
            client.delete(name)


def max_in_any_window(times: list[float], width: float) -> int:
    """The most sends inside any half-open window [t, t + width) over the recorded times."""
    ordered = sorted(times)
    # The busiest window can always be slid to start at a send time.
    return max(
        (bisect.bisect_left(ordered, t + width) - i for i, t in enumerate(ordered)), default=0
    )


def test_one_thousand_calls_never_exceed_the_burst_and_take_near_minimum_time(
    state: RecordingState,
) -> None:
    """1,000 calls on one key: no 10-s window holds more than 100, total time ~90-100 s."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state)
    for _ in range(1_000):
        limiter.acquire("loc")
    sends = state.taken["loc"]
    assert len(sends) == 1_000
    assert max_in_any_window(sends, 10.0) == 100
    elapsed = clock.time() - START
    assert 90.0 <= elapsed <= 100.0, elapsed


def test_try_acquire_takes_nothing_when_it_says_wait(state: RecordingState) -> None:
    """A positive answer means nothing was taken, and it names the exact wait."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, burst=3, interval=1.0, margin=0.1)
    assert [limiter.try_acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.advance(0.4)
    wait = limiter.try_acquire("k")
    assert wait == pytest.approx(0.7)  # the first send leaves the 1.1-s window at +1.1
    assert len(state.taken["k"]) == 3
    clock.advance(wait)
    assert limiter.try_acquire("k") == 0.0


def test_several_slots_are_taken_all_or_none(state: RecordingState) -> None:
    """try_acquire(k, 2) with one slot left takes nothing and waits for the second to free;
    with two free it takes both."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, burst=3, interval=1.0, margin=0.1)
    assert limiter.try_acquire("k") == 0.0
    clock.advance(0.2)
    assert limiter.try_acquire("k") == 0.0
    clock.advance(0.2)
    wait = limiter.try_acquire("k", 2)
    assert wait == pytest.approx(0.7)  # the first send (at +0) leaves the window at +1.1
    assert limiter.snapshot("k").used_in_window == 2
    clock.advance(wait)
    assert limiter.try_acquire("k", 2) == 0.0
    assert limiter.snapshot("k").used_in_window == 3  # the +0.2 send and the two just taken


def test_wait_for_tells_when_queued_slots_come_free_and_takes_nothing(
    state: RecordingState,
) -> None:
    """Burst 3, window 1.1 s, sends at +0, +0.2, +0.4, asked at +0.5: slot 1 frees at +1.1
    (the +0 send leaves), slot 3 at +1.5; slots 4 and 6 one window after slots 1 and 3 are
    spent (+2.2, +2.6), slot 7 one after slot 4 (+3.3). Asking takes no slot. After a 429
    nothing frees before the pause ends."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, burst=3, interval=1.0, margin=0.1)
    for step in (0.2, 0.2, 0.1):
        assert limiter.try_acquire("k") == 0.0
        clock.advance(step)
    assert limiter.wait_for("k", 1) == pytest.approx(0.6)
    assert limiter.wait_for("k", 3) == pytest.approx(1.0)
    assert limiter.wait_for("k", 4) == pytest.approx(1.7)
    assert limiter.wait_for("k", 6) == pytest.approx(2.1)
    assert limiter.wait_for("k", 7) == pytest.approx(2.8)
    assert limiter.wait_for("fresh", 3) == 0.0
    assert limiter.wait_for("fresh", 4) == pytest.approx(1.1)
    assert len(state.taken["k"]) == 3
    limiter.observe("k", 429, {"Retry-After": "5"})
    assert limiter.wait_for("k", 1) == pytest.approx(5.0)


def test_keys_have_separate_budgets(state: RecordingState) -> None:
    """A full window on one location does not slow another location down."""
    limiter = RateLimiter(clock=FakeClock(START), state=state, burst=2)
    limiter.try_acquire("a")
    limiter.try_acquire("a")
    assert limiter.try_acquire("a") > 0
    assert limiter.try_acquire("b") == 0.0


def test_headers_lower_the_budget_case_insensitively(state: RecordingState) -> None:
    """X-RateLimit-Max / -Interval-Milliseconds (any case) replace the defaults for the key."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, margin=0.0)
    limiter.acquire("k")
    limiter.observe("k", 200, {"x-ratelimit-MAX": "5", "X-RATELIMIT-INTERVAL-MILLISECONDS": "2000"})
    for _ in range(4):
        assert limiter.try_acquire("k") == 0.0
    assert limiter.try_acquire("k") == pytest.approx(2.0)
    snap = limiter.snapshot("k")
    assert (snap.limit, snap.interval, snap.used_in_window, snap.remaining) == (5, 2.0, 5, 0)


def test_remaining_header_tops_up_the_window_when_someone_else_spends(
    state: RecordingState,
) -> None:
    """If the server counts more requests than we sent, we wait for the server's count."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, margin=0.0)
    limiter.acquire("k")
    clock.advance(1.0)
    limiter.observe("k", 200, {"X-RateLimit-Max": "100", "X-RateLimit-Remaining": "0"})
    assert limiter.snapshot("k").remaining == 0
    # Our own send (one of the server's 100) leaves the window first, at +10 s ...
    assert limiter.try_acquire("k") == pytest.approx(9.0)
    clock.advance(9.0)
    assert limiter.try_acquire("k") == 0.0
    # ... the 99 requests someone else sent are assumed to be as late as possible (+1 s).
    assert limiter.try_acquire("k") == pytest.approx(1.0)


def test_remaining_header_never_frees_slots_we_used(state: RecordingState) -> None:
    """A stale header that reports fewer requests than we sent does not loosen the pacing."""
    limiter = RateLimiter(clock=FakeClock(START), state=state, burst=3)
    for _ in range(3):
        limiter.acquire("k")
    limiter.observe("k", 200, {"X-RateLimit-Max": "3", "X-RateLimit-Remaining": "2"})
    assert limiter.try_acquire("k") > 0


def test_daily_headers_correct_the_daily_count(state: RecordingState) -> None:
    """X-RateLimit-Limit-Daily / -Daily-Remaining set the daily budget; zero left raises."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state)
    limiter.acquire("k")
    limiter.observe(
        "k", 200, {"X-RateLimit-Limit-Daily": "1000", "X-RateLimit-Daily-Remaining": "2"}
    )
    snap = limiter.snapshot("k")
    assert (snap.daily_limit, snap.daily_used, snap.daily_remaining) == (1000, 998, 2)
    limiter.acquire("k")
    limiter.acquire("k")
    with pytest.raises(DailyQuotaExhaustedError):
        limiter.acquire("k")


def test_429_pauses_for_retry_after(state: RecordingState) -> None:
    """A 429 with Retry-After pauses the key exactly that long, and only that key."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state)
    limiter.observe("k", 429, {"Retry-After": "7"})
    assert limiter.try_acquire("k") == pytest.approx(7.0)
    assert limiter.snapshot("k").paused_until == pytest.approx(START + 7.0)
    assert limiter.try_acquire("other") == 0.0
    limiter.acquire("k")
    assert clock.time() == pytest.approx(START + 7.0)
    assert limiter.snapshot("k").paused_until is None


def test_429_without_retry_after_pauses_one_window(state: RecordingState) -> None:
    """Without Retry-After, a 429 pauses for the (server's) interval plus the margin."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, margin=0.5)
    limiter.observe("k", 429, {"X-RateLimit-Interval-Milliseconds": "4000"})
    assert limiter.try_acquire("k") == pytest.approx(4.5)


def test_daily_quota_raises_instead_of_waiting_and_resets_at_utc_midnight(
    state: RecordingState,
) -> None:
    """The day's budget spent: acquire raises with the key and reset time; next day works."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state, daily=5)
    for _ in range(5):
        limiter.acquire("loc")
    with pytest.raises(DailyQuotaExhaustedError) as info:
        limiter.acquire("loc")
    midnight = (START // DAY + 1) * DAY
    assert info.value.key == "loc"
    assert info.value.resets_at == midnight
    assert limiter.snapshot("loc").daily_remaining == 0
    clock.advance(midnight - clock.time())
    limiter.acquire("loc")
    assert limiter.snapshot("loc").daily_used == 1


def test_threads_share_one_budget(state: RecordingState) -> None:
    """Eight threads, 1,000 calls in all: every call gets a slot, no window exceeds 100."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(125):
                limiter.acquire("loc")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sends = state.taken["loc"]
    assert len(sends) == 1_000
    assert max_in_any_window(sends, 10.0) <= 100


async def test_asyncio_tasks_share_one_budget(state: RecordingState) -> None:
    """300 concurrent aacquire() tasks: all get slots, no 10-s window holds more than 100."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, state=state)
    await asyncio.gather(*(limiter.aacquire("loc") for _ in range(300)))
    sends = state.taken["loc"]
    assert len(sends) == 300
    assert max_in_any_window(sends, 10.0) <= 100


def test_bad_settings_name_the_field() -> None:
    """Nonsense limits are rejected with a ConfigurationError naming the setting."""
    for kwargs, field in [
        ({"burst": 0}, "burst"),
        ({"interval": 0.0}, "interval"),
        ({"daily": 0}, "daily"),
        ({"margin": -1.0}, "margin"),
    ]:
        with pytest.raises(ConfigurationError) as info:
            RateLimiter(**kwargs)  # type: ignore[arg-type]
        assert info.value.field == field


def test_garbled_headers_are_ignored() -> None:
    """Unparseable rate-limit headers change nothing (a good response must not fail)."""
    limiter = RateLimiter(clock=FakeClock(START))
    limiter.observe("k", 200, {"X-RateLimit-Max": "lots", "X-RateLimit-Remaining": "-3"})
    assert limiter.snapshot("k").limit == 100


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    """Retry-After is delta-seconds or an HTTP date; garbage gives None."""
    assert parse_retry_after("12", START) == 12.0
    assert parse_retry_after("1.5", START) == 1.5
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", 1_699_999_990.0) == 20.0
    assert parse_retry_after("soon", START) is None
    assert parse_retry_after("-4", START) is None
    assert parse_retry_after(None, START) is None


def test_sqlite_state_is_shared_between_limiters(tmp_path: Path) -> None:
    """Two limiters on the same SQLite file (as two processes would be) share one budget."""
    clock = FakeClock(START)
    path = tmp_path / "shared.sqlite"
    first = RateLimiter(clock=clock, state=SqliteLimiterState(path), burst=4)
    second = RateLimiter(clock=clock, state=SqliteLimiterState(path), burst=4)
    assert [first.try_acquire("k"), second.try_acquire("k")] == [0.0, 0.0]
    assert [first.try_acquire("k"), second.try_acquire("k")] == [0.0, 0.0]
    assert first.try_acquire("k") > 0
    assert second.try_acquire("k") > 0
    assert second.snapshot("k").used_in_window == 4


def test_redis_state_is_shared_between_limiters() -> None:
    """Two limiters on one Redis (as on two machines) share one budget."""
    client = redis_client()
    prefix = f"tnhl-test:{uuid.uuid4().hex}:"
    clock = FakeClock(START)
    first = RateLimiter(clock=clock, state=RedisLimiterState(client, prefix=prefix), burst=3)
    second = RateLimiter(clock=clock, state=RedisLimiterState(client, prefix=prefix), burst=3)
    try:
        assert [first.try_acquire("k"), second.try_acquire("k"), first.try_acquire("k")] == [
            0.0,
            0.0,
            0.0,
        ]
        assert second.try_acquire("k") > 0
        assert first.snapshot("k").used_in_window == 3
    finally:
        client.delete(prefix + "k")

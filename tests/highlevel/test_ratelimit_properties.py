"""Property: whatever the timing of calls and the headers seen, no window exceeds the burst."""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from tnhl.highlevel._clock import FakeClock
from tnhl.highlevel._ratelimit import RateLimiter

START = 1_700_000_000.0

# One step: wait `gap` seconds, then either call acquire() or observe a response whose
# headers report `remaining` (any value) and possibly a 429.
steps = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=3.0, allow_nan=False),
        st.sampled_from(["acquire", "acquire", "acquire", "observe", "429"]),
        st.integers(min_value=0, max_value=12),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(
    burst=st.integers(min_value=1, max_value=10),
    interval=st.floats(min_value=0.5, max_value=5.0, allow_nan=False),
    margin=st.floats(min_value=0.0, max_value=0.5, allow_nan=False),
    plan=steps,
)
def test_no_window_ever_holds_more_than_the_burst(
    burst: int, interval: float, margin: float, plan: list[tuple[float, str, int]]
) -> None:
    """Random gaps, header corrections and 429s never let `burst`+1 sends into one interval."""
    clock = FakeClock(START)
    limiter = RateLimiter(clock=clock, burst=burst, interval=interval, margin=margin)
    sends: list[float] = []
    for gap, action, remaining in plan:
        clock.advance(gap)
        if action == "acquire":
            limiter.acquire("k")  # FakeClock: sleeps advance time, so the stamp is clock.time()
            sends.append(clock.time())
        else:
            headers = {"X-RateLimit-Max": str(burst), "X-RateLimit-Remaining": str(remaining)}
            limiter.observe("k", 429 if action == "429" else 200, headers)
    ordered = sorted(sends)
    for i, t in enumerate(ordered):
        # Half-open [t, t + interval): sends exactly `interval` apart are in different windows.
        assert bisect.bisect_left(ordered, t + interval) - i <= burst
    snap = limiter.snapshot("k")
    assert 0 <= snap.remaining <= burst
    assert snap.daily_used >= len(sends)

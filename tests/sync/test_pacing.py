"""PacedLimiter: the slots the executor takes ahead are the ones the client's calls use."""

from __future__ import annotations

import pytest

from tnhl.highlevel import RateLimiter
from tnhl.highlevel._clock import FakeClock
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._pacing import PacedLimiter


def test_slots_held_ahead_are_used_by_the_next_calls_and_no_more_are_taken() -> None:
    """try_acquire(k, 2) takes two slots; the two calls that follow use them (the window
    holds 2, not 4); a third call takes the last free slot; a fourth must wait."""
    limiter = RateLimiter(clock=FakeClock(1_000.0), burst=3, interval=10.0, margin=0.0)
    paced = PacedLimiter(limiter)
    assert paced.try_acquire("k", 2) == 0.0
    assert paced.try_acquire("k") == 0.0  # the create after its check: already held
    paced.acquire("k")
    paced.acquire("k")
    assert limiter.snapshot("k").used_in_window == 2
    paced.acquire("k")
    assert limiter.snapshot("k").used_in_window == 3
    with pytest.raises(RescheduleNeeded):
        paced.acquire("k")

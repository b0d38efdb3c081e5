"""The retry schedule for a failing event (DESIGN.md, "Reliability rules").

10 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each +-25 % jitter, then the dead-letter queue.
`scale` shrinks every delay (tests and demos run the whole schedule in seconds).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["DEFAULT_DELAYS", "RetrySchedule"]

DEFAULT_DELAYS: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass
class RetrySchedule:
    """Delay before retry number `attempt` (1-based); None once the schedule is exhausted."""

    delays: tuple[float, ...] = DEFAULT_DELAYS
    jitter: float = 0.25
    scale: float = 1.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("retry scale must be > 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("retry jitter must be in [0, 1)")

    @property
    def max_attempts(self) -> int:
        """Tries in all: the first one plus one per delay."""
        return len(self.delays) + 1

    def delay(self, attempt: int) -> float | None:
        """Seconds to wait after failed try number `attempt` (1 = the first try)."""
        if attempt < 1 or attempt > len(self.delays):
            return None
        base = self.delays[attempt - 1] * self.scale
        return base * (1.0 + self.rng.uniform(-self.jitter, self.jitter))

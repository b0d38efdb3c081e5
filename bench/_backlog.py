"""A 2,000-event backlog for one location against HighLevel's limit, 100 requests per 10 s.

The simulator (own process) enforces the limit, time-scaled (`time_scale` 0.1: a 10 s window
lasts 1 s), and tnhl's limiter is given the same scaled window. The events are stored first (a
backlog, as after an outage), then the workers start. Figures: elapsed time against the limit's
minimum for the calls made (the first 100 at once, then 100 per window), and the 429s the
simulator answered (goal: none, and within 10 % of the minimum).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import make_service, settled_count, simulator_process, wait_until
from tnhl.cli._demo import demo_events
from tnhl.store import InboundEvent
from tnhl.talknotes import generate_secret


def run(events: int = 2000, time_scale: float = 0.2) -> dict[str, Any]:
    stream = demo_events(events, seed=29)
    secret = generate_secret()
    interval = 10.0 * time_scale
    # The window is scaled through interval_ms, not the simulator's time_scale. Either works: the
    # simulator reports the window it really enforces in X-RateLimit-Interval-Milliseconds, and
    # tnhl's limiter believes that header.
    config = {"rate_limit": {"enabled": True, "burst": 100, "interval_ms": round(interval * 1000)}}
    with tempfile.TemporaryDirectory() as tmp, simulator_process(config, Path(tmp)) as sim:
        service = make_service(
            sim, Path(tmp), secret, rate_limit_burst=100, rate_limit_interval=interval
        )
        try:
            now = time.time()
            for i, e in enumerate(stream):
                data = e["data"]
                entity = data["id"] if e["type"].startswith("contact.") else data["contactId"]
                service.store.add_inbound(
                    InboundEvent(
                        "talknotes",
                        f"bl_{i}",
                        e["type"],
                        sim.location_id,
                        entity,
                        json.dumps(e),
                        now,
                    )
                )
            start = time.monotonic()
            service.start()
            wait_until(lambda: settled_count(service.store) >= len(stream), 1800)
            elapsed = time.monotonic() - start
            dead = service.store.stats().counts.get("dead", 0)
        finally:
            service.stop()
        log = sim.requests()
    calls = int(log["total"])
    rejected = int(log["byStatus"].get("429", 0))
    minimum = math.floor((calls - 1) / 100) * interval
    return {
        "events": len(stream),
        "dead": dead,
        "time_scale": time_scale,
        "window_seconds": interval,
        "highlevel_calls": calls,
        "elapsed_seconds": round(elapsed, 2),
        "minimum_seconds": round(minimum, 2),
        "elapsed_over_minimum": round(elapsed / minimum, 3) if minimum else None,
        "goal_elapsed_over_minimum": 1.10,
        "http_429": rejected,
    }

"""End to end: signed TalkNotes webhooks over HTTP -> intake -> store -> workers -> simulator."""

from __future__ import annotations

from pathlib import Path

from e2e_harness import (
    check_simulator,
    events_for_e2e,
    post_events,
    running_service,
    settings_for,
    settled,
    wait_for,
)

from tnhl.simulator import SimulatorConfig, running_simulator
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.talknotes import generate_secret


def test_events_reach_highlevel_exactly_as_mapped(tmp_path: Path) -> None:
    """300 events for 40 people: one contact each, every task and note once, fields mapped."""
    secret = generate_secret()
    events = events_for_e2e(300, seed=5, people=40)
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        settings = settings_for(sim, tmp_path, secret, rate_limit_interval=1.0)
        with running_service(settings) as (service, base):
            post_events(base, events, secret)
            wait_for(lambda: settled(service.store, len(events)), 60, "all events settled")
            dead = service.store.list_dead()
            assert dead == [], [d.reason for d in dead]
            check_simulator(sim, service.store, events)

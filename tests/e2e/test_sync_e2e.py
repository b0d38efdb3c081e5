"""End to end: signed TalkNotes webhooks over HTTP -> intake -> store -> workers -> simulator."""

from __future__ import annotations

import random
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
from tnhl.simulator._faults import FaultConfig, StormConfig
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


def test_every_event_takes_effect_once_despite_faults(tmp_path: Path) -> None:
    """10 % 5xx, timeouts, dropped connections and a 429 storm: still exactly once each."""
    secret = generate_secret()
    events = events_for_e2e(300, seed=8, people=30)
    faults = FaultConfig(
        error_rates={500: 0.05, 503: 0.05},
        timeout_rate=0.03,
        timeout_seconds=1.5,
        drop_rate=0.02,
        storm_429=StormConfig(requests=10),
    )
    config = SimulatorConfig(
        rate_limit=RateLimitConfig(burst=100, interval_ms=1000), faults=faults, seed=8
    )
    with running_simulator(config, rng=random.Random(8)) as sim:
        settings = settings_for(sim, tmp_path, secret, rate_limit_interval=1.0, http_timeout=0.5)
        with running_service(settings) as (service, base):
            post_events(base, events, secret)
            wait_for(lambda: settled(service.store, len(events)), 90, "all events settled")
            dead = service.store.list_dead()
            assert dead == [], [d.reason for d in dead]
            check_simulator(sim, service.store, events)
            metrics = service.metrics.render().decode()
            statuses = [entry.status for entry in sim.log.entries()]
    # The faults really happened: HighLevel answered 5xx and 429, and the engine retried.
    assert statuses.count(429) >= 1
    assert sum(1 for s in statuses if s >= 500) >= 10
    assert 'tnhl_highlevel_calls_total{status="5xx"}' in metrics
    assert "tnhl_events_retried_total" in metrics

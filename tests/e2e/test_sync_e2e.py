"""End to end: signed TalkNotes webhooks over HTTP -> intake -> store -> workers -> simulator."""

from __future__ import annotations

import random
from pathlib import Path

from convergence_harness import (
    deliveries,
    highlevel_state,
    is_settled,
    send_concurrently,
    state_problems,
)
from convergence_stream import EVENTS, RECIPE_EVENTS
from e2e_harness import running_service, settings_for, wait_for
from pydantic import SecretStr

from tnhl.highlevel import EncryptedFileTokenStore, OAuthApp, generate_secret_key
from tnhl.simulator import (
    LocationConfig,
    OAuthClientConfig,
    RunningSimulator,
    SimulatorConfig,
    running_simulator,
)
from tnhl.simulator._faults import FaultConfig, StormConfig
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.store import SqlStore
from tnhl.talknotes import generate_secret


def _send_stream(base: str, secret: str, *, seed: int) -> None:
    """The hand-written stream (convergence_stream), shuffled with repeats, 4 senders."""
    items = deliveries(EVENTS, seed=seed)
    report = send_concurrently(base + "/webhooks/talknotes", items, secret, senders=4)
    assert report.refused == [], report.refused


def _check_literal_state(sim: RunningSimulator, store: SqlStore, timeout: float) -> None:
    """Everything settles, nothing is dead, and HighLevel holds exactly the literal state."""
    wait_for(
        lambda: is_settled(store.stats().counts, len(EVENTS) + RECIPE_EVENTS),
        timeout,
        "all settled",
    )
    dead = [f"{d.event.event_id}: {d.reason}" for d in store.list_dead()]
    assert dead == []
    problems = state_problems(highlevel_state(sim.base_url, sim.location_id))
    assert problems == []


def _metric(text: str, name: str) -> float:
    """The value of one sample line `name value` in a Prometheus text page (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_events_reach_highlevel_exactly_as_mapped(tmp_path: Path) -> None:
    """The hand-written stream, shuffled with repeats: HighLevel holds exactly its literal state."""
    secret = generate_secret()
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        settings = settings_for(sim, tmp_path, secret, rate_limit_interval=1.0)
        with running_service(settings) as (service, base):
            _send_stream(base, secret, seed=5)
            _check_literal_state(sim, service.store, 30)


def test_every_event_takes_effect_once_despite_faults(tmp_path: Path) -> None:
    """20 % 5xx, timeouts, dropped connections and a 429 storm: still exactly once each."""
    secret = generate_secret()
    faults = FaultConfig(
        error_rates={500: 0.1, 503: 0.1},
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
            _send_stream(base, secret, seed=8)
            _check_literal_state(sim, service.store, 90)
            metrics = service.metrics.render().decode()
            statuses = [entry.status for entry in sim.log.entries()]
    # The faults really happened: HighLevel answered 5xx and 429, and the engine retried.
    assert statuses.count(429) >= 1
    assert sum(1 for s in statuses if s >= 500) >= 5
    # Every one of the stream's 57 events settled, counted as applied or skipped (the client's
    # quick retries absorb most 5xx, so those need not reach the engine's counters).
    applied = _metric(metrics, "tnhl_events_applied_total")
    # The stream's 57 events, and the 4 milestone notes the first-completed-task recipe stored.
    assert applied + _metric(metrics, "tnhl_events_skipped_total") == len(EVENTS) + 4 == 61
    assert _metric(metrics, "tnhl_events_dead_total") == 0


def test_events_reach_highlevel_on_postgresql(tmp_path: Path, pg_database_url: str) -> None:
    """The same flow with the store on PostgreSQL (group-commit intake, SKIP LOCKED claims)."""
    secret = generate_secret()
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        settings = settings_for(
            sim, tmp_path, secret, rate_limit_interval=1.0, database_url=pg_database_url
        )
        with running_service(settings) as (service, base):
            assert service.store.engine.dialect.name == "postgresql"
            _send_stream(base, secret, seed=6)
            _check_literal_state(sim, service.store, 60)


def test_events_reach_highlevel_with_stored_oauth_tokens(tmp_path: Path) -> None:
    """No PIT: the service authenticates with the location's OAuth tokens from the token file."""
    secret = generate_secret()
    client = OAuthClientConfig(
        client_id="app-client",
        client_secret=SecretStr("app-secret"),
        company_id="Company0001",
        locations=["OAuthLocation0000001"],
    )
    config = SimulatorConfig(
        locations=[LocationConfig(id="OAuthLocation0000001")], oauth_clients=[client]
    )
    with running_simulator(config, location_id="OAuthLocation0000001") as sim:
        code = sim.parts.tokens.issue_code("app-client", sim.location_id)
        tokens = OAuthApp("app-client", "app-secret", base_url=sim.base_url).exchange_code(code)
        key = generate_secret_key()
        EncryptedFileTokenStore(tmp_path / "tokens.enc", key).save(sim.location_id, tokens)
        settings = settings_for(
            sim,
            tmp_path,
            secret,
            highlevel_token=None,
            oauth_client_id="app-client",
            oauth_client_secret="app-secret",
            token_file=tmp_path / "tokens.enc",
            token_file_key=key,
        )
        assert settings.highlevel_token is None
        with running_service(settings) as (service, base):
            _send_stream(base, secret, seed=9)
            _check_literal_state(sim, service.store, 60)

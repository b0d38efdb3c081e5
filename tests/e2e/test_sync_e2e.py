"""End to end: signed TalkNotes webhooks over HTTP -> intake -> store -> workers -> simulator."""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from e2e_harness import (
    check_simulator,
    events_for_e2e,
    post_events,
    running_service,
    settings_for,
    settled,
    wait_for,
)
from pydantic import SecretStr
from tests.conftest import need

from tnhl.highlevel import EncryptedFileTokenStore, OAuthApp, generate_secret_key
from tnhl.simulator import (
    LocationConfig,
    OAuthClientConfig,
    SimulatorConfig,
    running_simulator,
)
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


PG_SERVER = os.environ.get("TNHL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    admin = sa.create_engine(
        PG_SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2}
    )
    try:
        with admin.connect():
            reachable = True
    except sa.exc.OperationalError:
        reachable = False
    need(reachable, "PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"tnhl_e2e_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_events_reach_highlevel_on_postgresql(tmp_path: Path, pg_database_url: str) -> None:
    """The same flow with the store on PostgreSQL (group-commit intake, SKIP LOCKED claims)."""
    secret = generate_secret()
    events = events_for_e2e(200, seed=6, people=30)
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        settings = settings_for(
            sim, tmp_path, secret, rate_limit_interval=1.0, database_url=pg_database_url
        )
        with running_service(settings) as (service, base):
            assert service.store.engine.dialect.name == "postgresql"
            post_events(base, events, secret)
            wait_for(lambda: settled(service.store, len(events)), 60, "all events settled")
            dead = service.store.list_dead()
            assert dead == [], [d.reason for d in dead]
            check_simulator(sim, service.store, events)


def test_events_reach_highlevel_with_stored_oauth_tokens(tmp_path: Path) -> None:
    """No PIT: the service authenticates with the location's OAuth tokens from the token file."""
    secret = generate_secret()
    events = events_for_e2e(40, seed=9, people=6)
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
            post_events(base, events, secret)
            wait_for(lambda: settled(service.store, len(events)), 60, "all events settled")
            dead = service.store.list_dead()
            assert dead == [], [d.reason for d in dead]
            check_simulator(sim, service.store, events)

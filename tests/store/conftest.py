"""Store fixtures: one `store` per test on SQLite (a temp file) and on PostgreSQL (a database
created for this test session on 127.0.0.1:5432 and dropped after)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import need

from tnhl.store import SqlStore, open_store

PG_SERVER = os.environ.get("TNHL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = (
    "inbox, id_map, outbound_ops, dead_letters, cursors, records, told, profiles, api_keys, "
    "hooks, event_calls, recipe_switches"
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _pg_reachable() -> bool:
    engine = sa.create_engine(PG_SERVER, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this session, dropped afterwards."""
    need(_pg_reachable(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"tnhl_store_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend; the PostgreSQL database is emptied before each test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'tnhl.db'}"
    url: str = request.getfixturevalue("pg_url")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            exists = conn.exec_driver_sql("SELECT to_regclass('inbox')").scalar()
            if exists is not None:
                conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[SqlStore]:
    s = open_store(store_url, clock=clock)
    try:
        yield s
    finally:
        s.close()

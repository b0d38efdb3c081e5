"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from convergence_harness import make_secret
from talknotes_receiver import TalkNotesReceiver
from tests.conftest import need

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


@pytest.fixture
def talknotes() -> Iterator[tuple[str, str, TalkNotesReceiver]]:
    """A TalkNotes receiver on a loopback port: (its URL, its outbound secret, the receiver)."""
    secret = make_secret()
    receiver = TalkNotesReceiver(secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tnhl", secret, receiver
    server.shutdown()
    server.server_close()

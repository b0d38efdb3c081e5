"""The intake app under a real uvicorn server on loopback, with a real SQLite inbox."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from intake_inboxes import SqliteInbox

from tnhl.talknotes import generate_secret, sign
from tnhl.webhooks import create_intake_app

SECRET = generate_secret()


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[SqliteInbox]:
    db = SqliteInbox(tmp_path / "inbox.sqlite3")
    yield db
    db.close()


@pytest.fixture
def base_url(inbox: SqliteInbox) -> Iterator[str]:
    """uvicorn serving the intake app on a free loopback port, in a thread."""
    app = create_intake_app(
        inbox=inbox, talknotes_secret=SECRET, location_id="loc_main", offload=True
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during startup"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def body_for(i: int) -> bytes:
    return json.dumps(
        {
            "type": "note.created",
            "timestamp": "2026-03-02T09:30:00Z",
            "data": {"id": f"n{i}", "contactId": f"c{i % 7}", "noteContent": f"Note {i}"},
        }
    ).encode()


def test_accepts_over_loopback_in_well_under_a_second(base_url: str, inbox: SqliteInbox) -> None:
    """Over real HTTP each signed event is stored in SQLite and answered 202 in < 0.5 s."""
    latencies = []
    with httpx.Client(base_url=base_url) as client:
        for i in range(30):
            body = body_for(i)
            headers = sign(SECRET, f"msg_{i}", int(time.time()), body)
            started = time.perf_counter()
            response = client.post("/webhooks/talknotes", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 202, response.text
    assert len(inbox.rows()) == 30
    assert max(latencies) < 0.5, f"slowest 202 took {max(latencies):.3f} s"


def test_rejection_over_loopback_stores_nothing(base_url: str, inbox: SqliteInbox) -> None:
    """A bad signature over real HTTP is 401 and leaves the SQLite inbox empty."""
    body = body_for(1)
    headers = sign(generate_secret(), "msg_1", int(time.time()), body)
    with httpx.Client(base_url=base_url) as client:
        response = client.post("/webhooks/talknotes", content=body, headers=headers)
    assert response.status_code == 401
    assert inbox.rows() == []


async def test_concurrent_deliveries_and_redeliveries(base_url: str, inbox: SqliteInbox) -> None:
    """40 concurrent deliveries of 20 events (each twice) store exactly 20 rows."""
    now = int(time.time())
    async with httpx.AsyncClient(base_url=base_url) as client:

        async def deliver(i: int) -> str:
            body = body_for(i % 20)
            headers = sign(SECRET, f"msg_{i % 20}", now, body)
            response = await client.post("/webhooks/talknotes", content=body, headers=headers)
            assert response.status_code == 202
            return str(response.json()["status"])

        statuses = await asyncio.gather(*(deliver(i) for i in range(40)))
    assert statuses.count("accepted") == 20
    assert statuses.count("duplicate") == 20
    assert sorted(r.event_id for r in inbox.rows()) == sorted(f"msg_{i}" for i in range(20))

"""The whole service over real HTTP (intake on uvicorn, SQLite store, workers), client faked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sync_fakes import FakeClient

from tnhl.simulator._serve import serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import generate, signed_requests


class LockedClient(FakeClient):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self, operation_id: str, **kw: Any) -> Any:
        with self._lock:
            return super().__call__(operation_id, **kw)


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def test_signed_events_over_http_are_applied_and_counted(tmp_path: Path) -> None:
    """60 generated events POSTed over HTTP end done or skipped; /metrics counts them."""
    secret = generate_secret()
    settings = load_settings(
        data_dir=tmp_path,
        talknotes_secret=secret,
        location_id="loc1",
        workers=2,
        poll_interval=0.05,
        retry_scale=1e-5,
    )
    client = LockedClient()
    service = Service.from_settings(settings, client_call=client)
    events = generate(60, seed=3, n_people=8)
    service.start()
    try:
        with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
            for headers, body in signed_requests(events, secret, timestamp=int(time.time())):
                r = http.post("/webhooks/talknotes", content=body, headers=headers)
                assert r.status_code == 202, r.text
            # A repeat delivery is a duplicate, not a second event.
            headers, body = signed_requests(events[:1], secret, timestamp=int(time.time()))[0]
            assert (
                http.post("/webhooks/talknotes", content=body, headers=headers).status_code == 202
            )

            def settled() -> bool:
                c = service.store.stats().counts
                return c.get("done", 0) + c.get("skipped", 0) + c.get("dead", 0) == 60

            wait_for(settled)
            metrics = http.get("/metrics").text
    finally:
        service.stop()
    stats_counts = load_counts(tmp_path)
    assert stats_counts.get("dead", 0) == 0
    assert 'tnhl_events_received_total{source="talknotes"} 60.0' in metrics
    assert 'tnhl_events_duplicate_total{source="talknotes"} 1.0' in metrics
    assert "tnhl_highlevel_calls_total" in metrics
    created = {e["data"]["id"] for e in events if e["type"] == "contact.created"}
    deleted = {e["data"]["id"] for e in events if e["type"] == "contact.deleted"}
    ops = client.ops()
    # One create per person; a person deleted before it synced may be skipped altogether.
    creates = ops.count("upsert-contact") + ops.count("create-contact")
    assert len(created - deleted) <= creates <= len(created)


def load_counts(data_dir: Path) -> dict[str, int]:
    from tnhl.store import open_store

    store = open_store(f"sqlite:///{data_dir / 'tnhl.db'}")
    try:
        return dict(store.stats().counts)
    finally:
        store.close()

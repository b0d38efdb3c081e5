"""Intake throughput: tnhl's intake app against a bare Starlette + SQLite insert, same run.

Both run under uvicorn on loopback, both write each event durably to SQLite in WAL mode before
answering; the load generator (another process) sends the same signed events to both. Runs
alternate (bare, tnhl, bare, tnhl, ...) and the median of each is kept, because 2-core machines
are noisy.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench._load import post_all
from tnhl.simulator._serve import serve_in_thread
from tnhl.store import FastInbox, open_store
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import generate, signed_requests
from tnhl.webhooks import create_intake_app


def bare_app(db: Path) -> Starlette:
    """The baseline: read the body, INSERT it (unique id), commit, answer 202."""
    local = threading.local()

    def conn() -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(local, "c", None)
        if c is None:
            c = sqlite3.connect(db, timeout=30)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            local.c = c
        return c

    with sqlite3.connect(db) as c:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute(
            "CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE,"
            " body TEXT, received_at REAL)"
        )

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        event_id = request.headers.get("webhook-id", "")
        c = conn()
        with c:
            c.execute(
                "INSERT OR IGNORE INTO inbox (event_id, body, received_at) VALUES (?, ?, ?)",
                (event_id, body.decode(), time.time()),
            )
        return JSONResponse({"status": "accepted", "id": event_id}, status_code=202)

    return Starlette(routes=[Route("/webhooks/talknotes", receive, methods=["POST"])])


def tnhl_app(db: Path, secret: str) -> tuple[Starlette, Any, FastInbox]:
    """tnhl's intake as `tnhl run` serves it on SQLite (FastInbox inline)."""
    store = open_store(f"sqlite:///{db}")
    inbox = FastInbox(store, inline=True)  # as Service.from_settings builds it on SQLite
    app = create_intake_app(inbox=inbox, talknotes_secret=secret, location_id="loc", offload=False)
    return app, store, inbox


def run(events: int = 2000, rounds: int = 3, concurrency: int = 16) -> dict[str, Any]:
    secret = generate_secret()
    stream = generate(events, seed=11, n_people=200)
    bare_rates: list[float] = []
    tnhl_rates: list[float] = []
    for r in range(rounds):
        # Fresh ids per round so nothing is a duplicate; signatures fresh (5-minute window).
        reqs = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix=f"r{r}")
        with tempfile.TemporaryDirectory() as tmp:
            with serve_in_thread(bare_app(Path(tmp) / "bare.db")) as base:
                elapsed, statuses = post_all(f"{base}/webhooks/talknotes", reqs, concurrency)
                assert statuses == {202: events}, statuses
                bare_rates.append(events / elapsed)
            app, store, inbox = tnhl_app(Path(tmp) / "tnhl.db", secret)
            try:
                with serve_in_thread(app) as base:
                    elapsed, statuses = post_all(f"{base}/webhooks/talknotes", reqs, concurrency)
                    assert statuses == {202: events}, statuses
                    tnhl_rates.append(events / elapsed)
                stored = store.stats().counts.get("received", 0)
                assert stored == events, f"tnhl stored {stored} of {events}"
            finally:
                inbox.close()
                store.close()
    bare = statistics.median(bare_rates)
    ours = statistics.median(tnhl_rates)
    return {
        "events_per_round": events,
        "rounds": rounds,
        "concurrency": concurrency,
        "bare_events_per_s": round(bare, 1),
        "tnhl_events_per_s": round(ours, 1),
        "ratio": round(ours / bare, 3),
        "goal_ratio": 0.8,
        "bare_runs": [round(x, 1) for x in bare_rates],
        "tnhl_runs": [round(x, 1) for x in tnhl_rates],
    }

"""End to end with the simulator at zero latency and no rate limit.

Events go over HTTP (signed, from a separate load process) into `tnhl run`'s app; workers apply
them to the simulator over loopback. Figures: events/s from the first receipt to the last write,
p50/p99 of receipt -> HighLevel write (inbox received_at -> done_at) under that burst (mostly
time queued behind the burst) and, separately, for notes sent one at a time at a steady pace the
engine keeps up with (the latency one user sees), and HighLevel calls per event for events about
contacts HighLevel already knows (contacts created in a first phase).
Baseline in the same run: the HighLevel client calling the simulator directly (calls/s), the
ceiling any engine on this machine could reach. The simulator runs in its own process.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench._common import (
    SimProcess,
    latencies,
    make_service,
    percentile,
    settled_count,
    simulator_process,
    wait_until,
)
from bench._load import post_all
from tnhl.cli._demo import demo_events
from tnhl.highlevel._auth import PrivateIntegrationToken
from tnhl.highlevel._client import HighLevelClient
from tnhl.simulator import serve_in_thread
from tnhl.store._schema import inbox
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import signed_requests


def _client_baseline(sim: SimProcess, calls: int, threads: int = 4) -> float:
    """Direct create-contact calls per second from `threads` threads (no engine)."""
    client = HighLevelClient(
        PrivateIntegrationToken(sim.token, location_id=sim.location_id), base_url=sim.base_url
    )
    per = calls // threads

    def work(t: int) -> None:
        for i in range(per):
            client.call(
                "create-contact",
                json={"locationId": sim.location_id, "email": f"base{t}-{i}@bench.example"},
            )

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    client.close()
    return per * threads / elapsed


def _paced_latencies(
    service: Any, url: str, secret: str, contacts: list[dict[str, Any]], now: int, n: int = 100
) -> list[float]:
    """Receipt -> write for `n` notes on known contacts, each sent after the last one landed."""
    notes = [
        {
            "type": "note.created",
            "timestamp": "2026-03-02T10:00:00Z",
            "data": {
                "id": f"paced-note-{i}",
                "contactId": contacts[i % len(contacts)]["data"]["id"],
                "noteTitle": "Follow-up",
                "noteContent": f"Paced note {i}: call back about the quote.",
            },
        }
        for i in range(n)
    ]
    # The burst's own work done first: the tasks born from its notes (follow-ups) settle late,
    # and counted as these notes' they would let the next note go before this one landed.
    wait_until(lambda: _busy(service.store) == 0, 120)
    out = []
    with httpx.Client() as http:
        for k, (headers, body) in enumerate(
            signed_requests(notes, secret, timestamp=now, id_prefix="p")
        ):
            http.post(url, content=body, headers=headers).raise_for_status()
            wait_until(lambda k=k: _done_at(service.store, f"p_{k}") is not None, 60)
            received, done = _done_at(service.store, f"p_{k}") or (0.0, 0.0)
            out.append(done - received)
    return out


def _busy(store: Any) -> int:
    counts = store.stats().counts
    return int(counts.get("received", 0) + counts.get("pending", 0))


def _done_at(store: Any, event_id: str) -> tuple[float, float] | None:
    """(received_at, done_at) of one TalkNotes event once settled."""
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(inbox.c.received_at, inbox.c.done_at).where(
                inbox.c.source == "talknotes", inbox.c.event_id == event_id
            )
        ).first()
    if row is None or row.done_at is None:
        return None
    return float(row.received_at), float(row.done_at)


def run(events: int = 1000) -> dict[str, Any]:
    stream = demo_events(events, seed=17)
    first = [e for e in stream if e["type"] == "contact.created"]
    rest = [e for e in stream if e["type"] != "contact.created"]
    secret = generate_secret()
    config = {"rate_limit": {"enabled": False}}
    with tempfile.TemporaryDirectory() as tmp, simulator_process(config, Path(tmp)) as sim:
        baseline = _client_baseline(sim, min(400, events))
        service = make_service(sim, Path(tmp), secret, rate_limit_burst=1_000_000)
        service.start()
        try:
            with serve_in_thread(service.app) as base:
                url = f"{base}/webhooks/talknotes"
                now = int(time.time())
                t0 = time.time()
                post_all(url, signed_requests(first, secret, timestamp=now, id_prefix="a"))
                wait_until(lambda: settled_count(service.store) >= len(first), 300)
                calls_before = sim.requests()["total"]
                post_all(url, signed_requests(rest, secret, timestamp=now, id_prefix="b"))
                wait_until(lambda: settled_count(service.store) >= len(stream), 300)
                calls_known = sim.requests()["total"] - calls_before
                elapsed = time.time() - t0
                burst = latencies(service.store)
                gone = {e["data"]["id"] for e in rest if e["type"] == "contact.deleted"}
                alive = [e for e in first if e["data"]["id"] not in gone]
                paced = _paced_latencies(service, url, secret, alive, now)
            pairs = burst
            dead = service.store.stats().counts.get("dead", 0)
            # Why, when any: a dead event in this clean run is a bug to chase, not noise.
            dead_letters = [
                f"{d.event.event_type} {d.event.event_id}: {d.reason}"[:300]
                for d in service.store.list_dead()
            ][:5]
        finally:
            service.stop()
    lat = [done - received for received, done in pairs]
    span = max(d for _r, d in pairs) - min(r for r, _d in pairs)
    return {
        "events": len(stream),
        "dead": dead,
        "dead_letters": dead_letters,
        "events_per_s": round(len(stream) / span, 1),
        "wall_seconds": round(elapsed, 2),
        "latency_p50_ms": round(percentile(lat, 0.50) * 1000, 1),
        "latency_p99_ms": round(percentile(lat, 0.99) * 1000, 1),
        "paced_events": len(paced),
        "paced_latency_p50_ms": round(percentile(paced, 0.50) * 1000, 1),
        "paced_latency_p99_ms": round(percentile(paced, 0.99) * 1000, 1),
        "events_about_known_contacts": len(rest),
        "highlevel_calls_for_them": calls_known,
        "calls_per_event_known_contacts": round(calls_known / len(rest), 3),
        "goal_calls_per_event": 1.05,
        "baseline_client_calls_per_s": round(baseline, 1),
    }

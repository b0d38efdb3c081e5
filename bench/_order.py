"""Order independence, timed: the same burst in order and shuffled converges about as fast.

1,000 generated events (100 people) are POSTed over HTTP to a running service (intake +
workers, SQLite) against the simulator in its own process (zero latency, no rate limit), once
in the generator's order and once shuffled (seeded), both from 4 concurrent senders: only the
order differs. The same webhook-ids go out both times, so each record's newest-event tiebreak
is the same. Time: the first event's receipt to the last event's settlement, from the inbox
(`received_at`, `done_at`), so neither the load process's start nor polling counts. Then
HighLevel's final state (contacts with their tasks and notes, ids left out) is compared.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench._common import SimProcess, make_service, settled_count, simulator_process, wait_until
from bench._load import post_all
from tnhl.simulator import serve_in_thread
from tnhl.store._schema import inbox
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import generate, signed_requests

__all__ = ["run"]


def _utc(value: Any) -> str:
    if not isinstance(value, str):
        return repr(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def final_state(sim: SimProcess) -> list[tuple[Any, ...]]:
    """Every contact with its tasks and notes, without HighLevel's ids, sorted."""
    state = httpx.get(f"{sim.base_url}/_admin/state", timeout=30).json()
    records = state["locations"].get(sim.location_id, {}).get("records", {})
    children: dict[str, list[tuple[Any, ...]]] = {}
    for t in records.get("task", []):
        item: tuple[Any, ...] = (
            "task",
            t.get("title"),
            _utc(t.get("dueDate")),
            bool(t.get("completed")),
        )
        children.setdefault(t.get("contactId", ""), []).append(item)
    for n in records.get("note", []):
        item = ("note", n.get("title") or None, n.get("body"))
        children.setdefault(n.get("contactId", ""), []).append(item)
    return sorted(
        (
            c.get("firstName"),
            c.get("lastName"),
            c.get("email"),
            c.get("phone"),
            tuple(sorted(children.get(c["id"], []), key=repr)),
        )
        for c in records.get("contact", [])
    )


def burst(
    sim: SimProcess,
    data_dir: Path,
    requests: list[tuple[dict[str, str], bytes]],
    senders: int,
    secret: str,
) -> dict[str, Any]:
    """POST `requests` to a fresh service; seconds from first receipt to last settlement."""
    httpx.post(f"{sim.base_url}/_admin/reset", timeout=30).raise_for_status()
    service = make_service(
        sim, data_dir, secret, rate_limit_burst=1_000_000, rate_limit_interval=1.0
    )
    service.start()
    try:
        with serve_in_thread(service.app) as base:
            _, statuses = post_all(f"{base}/webhooks/talknotes", requests, senders)
            assert statuses == {202: len(requests)}, statuses
            wait_until(lambda: settled_count(service.store) >= len(requests), 900)
        with service.store.engine.connect() as conn:
            first, last = conn.execute(
                sa.select(sa.func.min(inbox.c.received_at), sa.func.max(inbox.c.done_at))
            ).one()
        counts = service.store.stats().counts
    finally:
        service.stop()
    return {
        "seconds": float(last) - float(first),
        "dead": counts.get("dead", 0),
        "state": final_state(sim),
    }


def run(events: int = 1000, people: int = 100, senders: int = 4, seed: int = 7) -> dict[str, Any]:
    stream = generate(events, seed=23, n_people=people)
    secret = generate_secret()
    config = {"rate_limit": {"enabled": False}}
    with tempfile.TemporaryDirectory() as tmp, simulator_process(config, Path(tmp)) as sim:
        # Signed just before each burst (the signature's 5-minute window), same webhook-ids.
        signed = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix="o")
        ordered = burst(sim, Path(tmp) / "ordered", signed, senders, secret)
        signed = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix="o")
        random.Random(seed).shuffle(signed)
        shuffled = burst(sim, Path(tmp) / "shuffled", signed, senders, secret)
    return {
        "events": events,
        "people": people,
        "senders": senders,
        "shuffle_seed": seed,
        "in_order_seconds": round(ordered["seconds"], 2),
        "shuffled_seconds": round(shuffled["seconds"], 2),
        "shuffled_over_in_order": round(shuffled["seconds"] / ordered["seconds"], 3),
        "goal_shuffled_over_in_order": 1.2,
        "in_order_dead": ordered["dead"],
        "shuffled_dead": shuffled["dead"],
        "contacts_in_highlevel": len(ordered["state"]),
        "same_final_state": ordered["state"] == shuffled["state"],
    }

"""Order independence, timed: the same burst in order and shuffled converges about as fast.

1,000 generated events (100 people) are POSTed over HTTP to a running service (intake +
workers, SQLite) against the simulator in its own process (zero latency, no rate limit), in the
generator's order and shuffled (seeded), both from 4 concurrent senders: only the order
differs. Rounds alternate (in order, shuffled, in order, ...) and the medians are compared. The
same webhook-ids go out every time, so each record's newest-event tiebreak is the same.
Time: the first event's receipt to the last event's settlement, from the inbox (`received_at`,
`done_at`), so neither the load process's start nor polling counts. Then HighLevel's final
state (contacts with their tasks and notes, ids left out) is compared across every run.
"""

from __future__ import annotations

import random
import statistics
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
    contacts = [
        (
            c.get("firstName"),
            c.get("lastName"),
            c.get("email"),
            c.get("phone"),
            tuple(sorted(children.get(c["id"], []), key=repr)),
        )
        for c in records.get("contact", [])
    ]
    return sorted(contacts, key=repr)  # fields may be None: order by their reprs


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
        dead = [
            f"{d.event.event_type} {d.event.event_id}: {d.reason} {d.error or ''}"[:300]
            for d in service.store.list_dead()
        ]
    finally:
        service.stop()
    return {
        "seconds": float(last) - float(first),
        "dead": counts.get("dead", 0),
        "dead_letters": dead,
        "state": final_state(sim),
    }


def run(
    events: int = 1000, people: int = 100, senders: int = 4, seed: int = 7, rounds: int = 2
) -> dict[str, Any]:
    stream = generate(events, seed=23, n_people=people)
    secret = generate_secret()
    config = {"rate_limit": {"enabled": False}}
    ordered: list[dict[str, Any]] = []
    shuffled: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, simulator_process(config, Path(tmp)) as sim:
        for r in range(rounds):  # alternated, medians kept: 2-core machines are noisy
            # Signed just before each burst (the signature's 5-minute window), same webhook-ids.
            signed = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix="o")
            ordered.append(burst(sim, Path(tmp) / f"ordered{r}", signed, senders, secret))
            signed = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix="o")
            random.Random(seed).shuffle(signed)
            shuffled.append(burst(sim, Path(tmp) / f"shuffled{r}", signed, senders, secret))
    in_order = statistics.median(b["seconds"] for b in ordered)
    mixed = statistics.median(b["seconds"] for b in shuffled)
    first = ordered[0]["state"]
    other = next((b["state"] for b in ordered + shuffled if b["state"] != first), first)
    return {
        "events": events,
        "people": people,
        "senders": senders,
        "shuffle_seed": seed,
        "rounds": rounds,
        "in_order_seconds": round(in_order, 2),
        "shuffled_seconds": round(mixed, 2),
        "shuffled_over_in_order": round(mixed / in_order, 3),
        "goal_shuffled_over_in_order": 1.2,
        "in_order_runs": [round(b["seconds"], 2) for b in ordered],
        "shuffled_runs": [round(b["seconds"], 2) for b in shuffled],
        "in_order_dead": sum(b["dead"] for b in ordered),
        "shuffled_dead": sum(b["dead"] for b in shuffled),
        "dead_letters": [d for b in ordered + shuffled for d in b["dead_letters"]][:5],
        "contacts_in_highlevel": len(first),
        "same_final_state": all(b["state"] == first for b in ordered + shuffled),
        # What differs, when something does (up to 5 contacts each way), so a run explains it.
        "only_in_first_run": _diff(first, other),
        "only_in_other_run": _diff(other, first),
    }


def _diff(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> list[str]:
    other = set(map(repr, b))
    return [repr(x)[:600] for x in a if repr(x) not in other][:5]

"""Three connections in one `tnhl run` over `tnhl simulate` (issue 8; three locations, three
tokens): the hand-written convergence stream sent to each connection at once (its own secret,
concurrent senders, duplicates), `tnhl run` SIGKILLed twice mid-stream and restarted: every
location ends in exactly the literal state the stream implies, and nothing of one connection
is in another's location. SQLite and PostgreSQL. Black box: signed webhooks over HTTP in, the
simulator's admin API out."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from convergence_harness import (
    SendReport,
    TnhlProcess,
    deliveries,
    highlevel_state,
    is_settled,
    make_secret,
    send_concurrently,
    simulate_process,
    state_problems,
    tnhl_env,
)
from convergence_stream import EVENTS, EXPECTED, RECIPE_EVENTS

from tnhl.store import open_store
from tnhl.store._schema import inbox, records

NAMES = ("acme", "bolt", "cove")
LOCATIONS = {n: f"E2e{n.capitalize()}Location00001" for n in NAMES}
TOKENS = {n: f"pit-e2e-{n}-token" for n in NAMES}


def _counts(store: Any) -> dict[str, int]:
    return dict(store.stats().counts)


def _stuck(store: Any) -> str:
    """The counts, and each unsettled event's record as the store has it (for a failure)."""
    lines = [str(_counts(store))]
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(inbox.c.location_id, inbox.c.event_id, inbox.c.record_key).where(
                inbox.c.state.in_(("received", "pending"))
            )
        ).all()
        for loc, event_id, key in rows:
            rec = conn.execute(
                sa.select(records).where(records.c.location_id == loc, records.c.record_key == key)
            ).first()
            lines.append(f"{loc} {event_id} {key}: {None if rec is None else dict(rec._mapping)}")
        for loc, key in sorted({(loc, key) for loc, _, key in rows}):
            for r in conn.execute(
                sa.select(
                    inbox.c.event_id, inbox.c.state, inbox.c.record_key, inbox.c.result
                ).where(inbox.c.location_id == loc, inbox.c.record_key == key)
            ).all():
                lines.append(f"  event of {key}: {tuple(r)}")
    return "\n".join(lines)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_three_connections_sigkilled_twice_each_converge_in_their_own_location(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """57 events x 3 connections, concurrently, with duplicates and two SIGKILLs: each
    location holds exactly the literal state, no dead letter, every event settled once."""
    database_url = (
        request.getfixturevalue("pg_database_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'tnhl.db'}"
    )
    secrets = {n: make_secret() for n in NAMES}
    config = {
        "connections": [
            {
                "name": n,
                "location_id": LOCATIONS[n],
                "highlevel_token": TOKENS[n],
                "talknotes_secret": secrets[n],
            }
            for n in NAMES
        ]
    }
    settings_file = tmp_path / "tnhl.yaml"
    settings_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    sim_config = {
        "locations": [{"id": loc} for loc in LOCATIONS.values()],
        "tokens": [{"token": TOKENS[n], "location_id": LOCATIONS[n]} for n in NAMES],
        "rate_limit": {"burst": 100, "interval_ms": 1000},
        "faults": {"latency_ms": {"kind": "fixed", "fixed_ms": 20}},
    }
    n_events = 3 * (len(EVENTS) + RECIPE_EVENTS)
    with simulate_process(sim_config, tmp_path) as sim_url:
        tnhl = TnhlProcess(
            tnhl_env(
                TNHL_CONFIG=str(settings_file),
                TNHL_HIGHLEVEL_BASE_URL=sim_url,
                TNHL_DATABASE_URL=database_url,
                TNHL_DATA_DIR=str(tmp_path),
            )
        )
        tnhl.start()
        store = open_store(database_url)
        reports: dict[str, SendReport] = {}

        def send(name: str, seed: int) -> None:
            url = f"{tnhl.url}/webhooks/talknotes/{name}"
            items = deliveries(EVENTS, seed=seed)
            reports[name] = send_concurrently(
                url, items, secrets[name], senders=3, give_up_after=90
            )

        senders = [
            threading.Thread(target=send, args=(n, 5 + i), daemon=True) for i, n in enumerate(NAMES)
        ]
        for t in senders:
            t.start()
        try:
            killed_at = tnhl.kill_twice_mid_work(lambda: _counts(store), n_events)
            for t in senders:
                t.join(120)
            assert sorted(reports) == sorted(NAMES), "a sender did not finish"
            for name, report in reports.items():
                assert report.refused == [], (name, report.refused)
                sent = deliveries(EVENTS, seed=5 + NAMES.index(name))
                assert report.accepted + report.duplicates == len(sent), (name, report)
            deadline = time.monotonic() + 40
            while not is_settled(_counts(store), n_events):
                assert time.monotonic() < deadline, f"not settled: {_stuck(store)}"
                time.sleep(0.05)
            dead = [
                f"{d.event.location_id} {d.event.event_id}: {d.reason}" for d in store.list_dead()
            ]
        finally:
            tnhl.stop()
            store.close()
        assert dead == []
        for name in NAMES:
            problems = state_problems(highlevel_state(sim_url, LOCATIONS[name]), EXPECTED)
            assert problems == [], (name, problems)
    assert len(killed_at) == 2

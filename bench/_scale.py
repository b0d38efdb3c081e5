"""The store at scale: claim time against backlog size, intake latency on a big store, and a
foreign write lock.

- claim: one SQLite store grown to each size (1k, 100k, 300k pending events, one record each,
  written straight into the store's tables with executemany: the rows the fold writes, built
  without it so a 300k backlog takes seconds). Each timed claim is the workers' call
  (`event_delta`, limit 50, fold_limit 500) and first folds 10 new events (updates of existing
  contacts, stored untimed just before). After each claim its 50 records are put back at the
  end of the due queue (untimed), so every claim sees the same backlog and claims walk through
  it instead of re-reading the same hot rows.
- intake: the service's intake app (no workers) on the 300k store and, alternating with it,
  on an empty store; signed events POSTed by 4 httpx clients in another process (the first 20
  untimed: they open the connections).
- foreign lock: another sqlite3 connection holds BEGIN IMMEDIATE on the store file; /healthz
  probes and POSTs meanwhile, against /healthz with no lock.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench._common import percentile
from bench._engine import LOCATION, FakeHighLevel
from bench._load import post_timed
from tnhl.simulator._serve import serve_in_thread
from tnhl.store import open_store
from tnhl.sync import load_settings
from tnhl.sync._delta import event_delta
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import generate, signed_requests

__all__ = ["run"]

_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
_DUE = 1.0e9  # the backlog's due times (long past)
_INBOX = (
    "INSERT INTO inbox (source, event_id, event_type, location_id, entity_key, body, received_at,"
    " state, attempts, next_attempt_at, record_key) VALUES ('talknotes', ?, ?, ?, ?, ?, ?, ?, 0,"
    " ?, ?)"
)
_RECORD = (
    "INSERT INTO records (location_id, record_key, kind, talknotes_id, contact_id, fields,"
    " first_at, applied, status, version, attempts, crashes, due_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, '{}', 'new', 1, 0, 0, ?, ?)"
)


def _event(i: int) -> tuple[str, str, str, dict[str, Any], str]:
    """(kind, talknotes id, contact id, data, event type) of backlog event `i`: per person a
    contact, two tasks and a note."""
    g, role = divmod(i, 4)
    cid = f"sc_{g:07d}"
    if role == 0:
        data = {"id": cid, "full_name": f"Person {g}", "email": f"s{g}@scale.example"}
        return "contact", cid, cid, data, "contact.created"
    if role in (1, 2):
        tid = f"st_{g:07d}_{role}"
        data = {"id": tid, "contactId": cid, "taskName": f"Call {g}", "priority": "high"}
        return "task", tid, cid, data, "task.created"
    nid = f"sn_{g:07d}"
    return (
        "note",
        nid,
        cid,
        {"id": nid, "contactId": cid, "noteContent": f"Met {g}."},
        "note.created",
    )


def _stamp(seconds: float) -> tuple[str, float]:
    at = _START + timedelta(seconds=seconds)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), at.timestamp()


def grow(db: Path, have: int, upto: int) -> None:
    """Add pending events `have`..`upto` and their records to the store at `db`."""
    inbox_rows, record_rows = [], []
    now = time.time()
    for i in range(have, upto):
        kind, own, cid, data, etype = _event(i)
        stamp, at = _stamp(i)
        eid = f"scale_{i}"
        key = f"{kind}:{own}"
        body = json.dumps({"type": etype, "timestamp": stamp, "data": data})
        inbox_rows.append((eid, etype, LOCATION, cid, body, now, "pending", now, key))
        fields = {k: [v, at, eid] for k, v in data.items() if k not in ("id", "contactId")}
        record_rows.append(
            (LOCATION, key, kind, own, cid, json.dumps(fields), at, _DUE + i * 1e-3, now)
        )
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INBOX, inbox_rows)
        conn.executemany(_RECORD, record_rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _arrivals(conn: sqlite3.Connection, size: int, rng: random.Random, n: int, tag: str) -> None:
    """`n` received contact.updated events for existing contacts (what the next claim folds)."""
    now = time.time()
    rows = []
    for k in range(n):
        g = rng.randrange(max(1, size // 4))
        stamp, _ = _stamp(size + 10_000 + k)
        data = {"id": f"sc_{g:07d}", "full_name": f"Person {g} Moved"}
        body = json.dumps({"type": "contact.updated", "timestamp": stamp, "data": data})
        rows.append(
            (
                f"arrival_{tag}_{k}",
                "contact.updated",
                LOCATION,
                data["id"],
                body,
                now,
                "received",
                now,
                None,
            )
        )
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(_INBOX, rows)
    conn.execute("COMMIT")


def claim_times(db: Path, size: int, rounds: int, arrivals: int = 10) -> list[float]:
    """Seconds of each of `rounds` claims on the store at `db` (holding `size` pending)."""
    store = open_store(f"sqlite:///{db}")
    side = sqlite3.connect(db, isolation_level=None)
    rng = random.Random(size)
    times: list[float] = []
    back = 1.5e9 + size  # past, but after every backlog due time: the end of the queue
    try:
        for r in range(rounds):
            _arrivals(side, size, rng, arrivals, f"{size}_{r}")
            start = time.perf_counter()
            claims = store.claim(
                "bench-claim", fold=event_delta, limit=50, fold_limit=500, lease_seconds=60
            )
            times.append(time.perf_counter() - start)
            assert len(claims) == 50, len(claims)
            rows = []
            for c in claims:
                back += 1e-3
                rows.append((back, c.state.location_id, c.state.record_key))
            side.execute("BEGIN IMMEDIATE")
            side.executemany(
                "UPDATE records SET due_at = ?, lease_owner = NULL, lease_until = NULL"
                " WHERE location_id = ? AND record_key = ?",
                rows,
            )
            side.execute("COMMIT")
    finally:
        side.close()
        store.close()
    return times


def claim_statements(db: Path, size: int) -> list[dict[str, Any]]:
    """Each SQL statement of one more claim on the store at `db`, replayed alone: its time and
    SQLite's query plan (EXPLAIN QUERY PLAN), to show which statements grow with the backlog.

    Replayed on a plain sqlite3 connection (execute, fetch every row, roll back) because a
    cursor hook sees a SELECT only up to its first row; the rest is read in the fetch.
    """
    store = open_store(f"sqlite:///{db}")
    seen: list[tuple[str, Any, bool]] = []

    def before(_conn: Any, _cur: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        if not sql.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append((sql, params, many))

    sa.event.listen(store.engine, "before_cursor_execute", before)
    side = sqlite3.connect(db, isolation_level=None)
    try:
        _arrivals(side, size, random.Random(-size), 10, f"plan_{size}")
        store.claim("bench-plan", fold=event_delta, limit=50, fold_limit=500, lease_seconds=60)
        store.close()
        out = []
        for sql, params, many in seen:
            side.execute("BEGIN IMMEDIATE")
            start = time.perf_counter()
            if many:
                side.executemany(sql, params)
            else:
                side.execute(sql, params).fetchall()
            seconds = time.perf_counter() - start
            side.execute("ROLLBACK")
            plan = [] if many else [r[3] for r in side.execute("EXPLAIN QUERY PLAN " + sql, params)]
            out.append({"ms": _ms(seconds), "sql": " ".join(sql.split())[:72], "plan": plan})
        return out
    finally:
        side.close()
        store.close()


# -- intake and the lock --------------------------------------------------------------------


def _service(data_dir: Path, db: Path, secret: str) -> Service:
    settings = load_settings(
        location_id=LOCATION,
        data_dir=data_dir,
        database_url=f"sqlite:///{db}",
        talknotes_secret=secret,
        log_level="warning",
    )
    # Intake only: the workers are never started, so the backlog stays as it is.
    return Service.from_settings(settings, client_call=FakeHighLevel())


def intake_latencies(data_dir: Path, db: Path, events: int, tag: str) -> list[float]:
    """Seconds per POST of `events` signed events to the intake app on the store at `db`."""
    secret = generate_secret()
    warmup = 20
    stream = generate(events + warmup, seed=41, n_people=max(3, events // 10))
    service = _service(data_dir, db, secret)
    try:
        with serve_in_thread(service.app) as base:
            reqs = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix=tag)
            results = post_timed(f"{base}/webhooks/talknotes", reqs, clients=4, warmup=warmup)
    finally:
        service.stop()
    statuses = {s for _t, s in results}
    assert statuses == {202}, statuses
    return [t for t, _s in results]


def _probe(http: httpx.Client, url: str, until: float, out: list[float]) -> None:
    while time.monotonic() < until:
        start = time.perf_counter()
        http.get(url).raise_for_status()
        out.append(time.perf_counter() - start)
        time.sleep(0.05)


def foreign_lock(data_dir: Path, db: Path, hold: float, posts: int = 3) -> dict[str, Any]:
    """/healthz and POST latency while another connection holds the store's write lock."""
    secret = generate_secret()
    stream = generate(posts + 1, seed=43, n_people=3)
    service = _service(data_dir, db, secret)
    free: list[float] = []
    held: list[float] = []
    post_s: list[float] = []
    post_status: list[int] = []
    try:
        with serve_in_thread(service.app) as base, httpx.Client(timeout=30) as http:
            health = f"{base}/healthz"
            _probe(http, health, time.monotonic() + 1.0, free)
            reqs = signed_requests(stream, secret, timestamp=int(time.time()), id_prefix="lock")
            locker = sqlite3.connect(db, isolation_level=None)
            locker.execute("BEGIN IMMEDIATE")  # the foreign writer: held until COMMIT
            released = time.monotonic() + hold
            try:
                prober = threading.Thread(
                    target=_probe, args=(httpx.Client(timeout=30), health, released - 0.2, held)
                )
                prober.start()
                for headers, body in reqs[:posts]:
                    start = time.perf_counter()
                    r = http.post(f"{base}/webhooks/talknotes", content=body, headers=headers)
                    post_s.append(time.perf_counter() - start)
                    post_status.append(r.status_code)
                prober.join()
            finally:
                time.sleep(max(0.0, released - time.monotonic()))
                locker.execute("COMMIT")
                locker.close()
            headers, body = reqs[posts]
            after = http.post(f"{base}/webhooks/talknotes", content=body, headers=headers)
    finally:
        service.stop()
    return {
        "lock_held_seconds": hold,
        "healthz_free_p50_ms": _ms(percentile(free, 0.5)),
        "healthz_free_max_ms": _ms(max(free)),
        "healthz_locked_p50_ms": _ms(percentile(held, 0.5)),
        "healthz_locked_max_ms": _ms(max(held)),
        "healthz_locked_probes": len(held),
        "goal_healthz_locked_max_ms": 1000,
        "post_locked_max_ms": _ms(max(post_s)),
        "post_locked_statuses": post_status,
        "goal_post_locked_max_ms": 2000,
        "post_after_release_status": after.status_code,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run(
    sizes: tuple[int, ...] = (1_000, 100_000, 300_000),
    rounds: int = 50,
    intake_events: int = 1000,
    intake_rounds: int = 3,
    hold: float = 5.0,
) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": list(sizes), "claims_per_size": rounds}
    with tempfile.TemporaryDirectory() as tmp:
        big_dir, empty_dir = Path(tmp) / "big", Path(tmp) / "empty"
        big, empty = big_dir / "tnhl.db", empty_dir / "tnhl.db"
        for d, db in ((big_dir, big), (empty_dir, empty)):
            d.mkdir()
            open_store(f"sqlite:///{db}").close()  # the schema, migrated
        have = 0
        medians: dict[int, float] = {}
        for size in sizes:
            started = time.perf_counter()
            grow(big, have, size)
            have = size
            out[f"build_{size}_seconds"] = round(time.perf_counter() - started, 1)
            times = claim_times(big, size, rounds)
            medians[size] = statistics.median(times)
            out[f"claim_{size}_median_ms"] = _ms(medians[size])
            out[f"claim_{size}_p90_ms"] = _ms(percentile(times, 0.9))
        out["claim_largest_over_smallest"] = round(medians[sizes[-1]] / medians[sizes[0]], 2)
        out["claim_statements_at_largest"] = claim_statements(big, sizes[-1])
        full: list[float] = []
        bare: list[float] = []
        for r in range(intake_rounds):  # alternated: the machine's noise hits both alike
            bare += intake_latencies(empty_dir, empty, intake_events, f"e{r}")
            full += intake_latencies(big_dir, big, intake_events, f"b{r}")
        out.update(
            intake_posts_per_store=intake_events * intake_rounds,
            intake_big_store_rows=have,
            intake_big_p50_ms=_ms(percentile(full, 0.5)),
            intake_big_p99_ms=_ms(percentile(full, 0.99)),
            intake_empty_p50_ms=_ms(percentile(bare, 0.5)),
            intake_empty_p99_ms=_ms(percentile(bare, 0.99)),
            intake_p99_ratio=round(percentile(full, 0.99) / percentile(bare, 0.99), 2),
            goal_intake_big_p99_ms=20,
        )
        out.update(foreign_lock(big_dir, big, hold))
    return out

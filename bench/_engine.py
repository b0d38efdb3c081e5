"""The sync engine alone: throughput against a minimal loop, without HTTP, and on PostgreSQL.

One event set (`_events.two_phase`: a create per record, then one change per record), stored as
a backlog, then the workers start; each phase is timed from `start()` to the last `done_at`.
- engine vs baseline: both against the same simulator process (zero latency, no rate limit,
  reset in between). The baseline is the least a correct loop can do: one SQLite transaction
  per event (SELECT the next row, parse it, make that event's HighLevel calls over one
  keep-alive httpx client, UPDATE the row, COMMIT). Both sides' calls are counted per operation
  from the simulator's request log, and must be the same.
- engine only: the same backlog with an instant fake `client_call` (no HTTP), so the figure is
  tnhl's own cost per event; write transactions are counted with SQLAlchemy's commit hook.
- PostgreSQL: the engine-only run again on a throwaway database, against SQLite's figure.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench._common import SimProcess, simulator_process
from bench._events import Event, insert_events, two_phase
from tnhl.highlevel._core import RetryPolicy
from tnhl.highlevel._operations import get_operation
from tnhl.store._engine import WRITE
from tnhl.store._schema import inbox
from tnhl.sync import load_settings
from tnhl.sync._service import Service

__all__ = [
    "FakeHighLevel",
    "engine_phases",
    "postgres_database",
    "run",
    "settings_for",
    "settled_events",
]

LOCATION = "BenchLocation0000001"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_SETTLED = ("done", "skipped", "dead")


class FakeHighLevel:
    """An instant `client_call`: fresh ids for creates, no duplicates, calls counted."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._n = 0

    def __call__(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any:
        with self._lock:
            self.calls[operation_id] += 1
            self._n += 1
            n = self._n
        if operation_id == "get-duplicate-contact":
            return {"contact": None}
        kind = operation_id.partition("-")[2]  # contact, task, note
        if operation_id.startswith("create-"):
            return {kind: {"id": f"hl_{kind}_{n}"}}
        return {kind: {"id": str((params or {}).get("contactId", ""))}}


def settings_for(
    data_dir: Path, database_url: str | None, sim: SimProcess | None, workers: int = 4
) -> Any:
    values: dict[str, Any] = {
        "location_id": LOCATION,
        "data_dir": data_dir,
        "database_url": database_url,
        "poll_interval": 0.01,
        "log_level": "warning",
        "workers": workers,
        # No pacing (the simulator's limit is off too). A 1 s window, not HighLevel's 10 s: the
        # in-memory limiter scans the window's calls, and a 10 s window of an unlimited burst
        # would make that scan the benchmark's cost instead of the engine's.
        "rate_limit_burst": 1_000_000,
        "rate_limit_interval": 1.0,
    }
    if sim is not None:
        values.update(highlevel_base_url=sim.base_url, highlevel_token=sim.token)
    return load_settings(**values)


# How often the harness polls for the end. The figure is the newest `done_at` minus the start,
# so polling later changes nothing measured; polling often costs the measured run CPU (on
# PostgreSQL a 3 ms count every 20 ms).
POLL = 0.1


def settled_events(engine: sa.Engine) -> tuple[int, float | None]:
    """(settled events, newest done_at) in the store."""
    with engine.connect() as conn:
        n, last = conn.execute(
            sa.select(sa.func.count(), sa.func.max(inbox.c.done_at)).where(
                inbox.c.state.in_(_SETTLED)
            )
        ).one()
    return int(n), None if last is None else float(last)


def engine_phases(
    phases: list[list[Event]],
    data_dir: Path,
    *,
    database_url: str | None = None,
    sim: SimProcess | None = None,
    client_call: Callable[..., Any] | None = None,
    workers: int = 4,
    timeout: float = 900.0,
) -> dict[str, Any]:
    """Run each phase as a stored backlog through a fresh workers-only service.

    Returns seconds per phase, write and read transactions per phase, and the dead count.
    """
    settings = settings_for(data_dir, database_url, sim, workers)
    seconds: list[float] = []
    writes: list[int] = []
    reads: list[int] = []
    total = 0
    dead = 0
    for n, events in enumerate(phases):
        service = Service.from_settings(
            settings,
            client_call=client_call,
            intake=False,
            retry=RetryPolicy(base_delay=0.01, max_delay=0.1),
        )
        try:
            total += insert_events(service.store, events, LOCATION, f"ph{n}")
            counts = {"write": 0, "read": 0}

            def on_commit(conn: sa.Connection, counts: dict[str, int] = counts) -> None:
                counts["write" if conn.get_execution_options().get(WRITE) else "read"] += 1

            def on_statement(conn: sa.Connection, *_: Any, counts: dict[str, int] = counts) -> None:
                # A one-statement write in autocommit (PostgreSQL) is a transaction of its own.
                if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                    counts["write"] += 1

            sa.event.listen(service.store.engine, "commit", on_commit)
            sa.event.listen(service.store.engine, "before_execute", on_statement)
            start = time.time()
            service.start()
            deadline = time.monotonic() + timeout
            while (done := settled_events(service.store.engine))[0] < total:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"engine settled {done[0]} of {total} events")
                time.sleep(POLL)
            service.pool.stop()
            sa.event.remove(service.store.engine, "commit", on_commit)
            sa.event.remove(service.store.engine, "before_execute", on_statement)
            seconds.append((done[1] or start) - start)
            writes.append(counts["write"])
            reads.append(counts["read"])
            dead = service.store.stats().counts.get("dead", 0)
        finally:
            service.stop()
    return {
        "seconds": seconds,
        "write_transactions": writes,
        "read_transactions": reads,
        "dead": dead,
    }


# -- the baseline ---------------------------------------------------------------------------


def _split(full_name: str) -> dict[str, str]:
    first, _, last = full_name.partition(" ")
    return {"firstName": first, "lastName": last, "name": full_name}


def _task_body(data: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if "taskName" in data:
        body["title"] = f"[{str(data['priority']).capitalize()}] {data['taskName']}"
    if "dueDate" in data:
        body["dueDate"] = f"{data['dueDate']}T09:00:00Z"
    body["completed"] = bool(data.get("completed", False))
    return body


class _Baseline:
    """One event per transaction, the HighLevel calls tnhl makes for it, nothing else."""

    def __init__(self, sim: SimProcess, db: Path) -> None:
        self.db = sqlite3.connect(db, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # as the store
        self.db.executescript(
            "CREATE TABLE inbox (id INTEGER PRIMARY KEY, body TEXT NOT NULL, state TEXT NOT NULL);"
            "CREATE INDEX inbox_state ON inbox (state, id);"
            "CREATE TABLE id_map (kind TEXT, tn_id TEXT, hl_id TEXT, PRIMARY KEY (kind, tn_id));"
        )
        self.http = httpx.Client(
            base_url=sim.base_url,
            headers={"Authorization": f"Bearer {sim.token}", "Version": "2021-07-28"},
            timeout=30,
        )
        self.location = sim.location_id

    def load(self, events: list[Event]) -> None:
        rows = [(json.dumps(e, separators=(",", ":")),) for e in events]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO inbox (body, state) VALUES (?, 'received')", rows)

    def call(self, op: str, path_params: Mapping[str, str], **kw: Any) -> Any:
        spec = get_operation(op)
        r = self.http.request(spec.method, spec.path.format(**path_params), **kw)
        r.raise_for_status()
        return r.json()

    def hl(self, kind: str, tn_id: str) -> str:
        row = self.db.execute(
            "SELECT hl_id FROM id_map WHERE kind = ? AND tn_id = ?", (kind, tn_id)
        ).fetchone()
        return str(row[0])

    def apply(self, event: Event) -> None:
        kind, _, action = event["type"].partition(".")
        data = event["data"]
        if kind == "contact" and action == "created":
            query = {"locationId": self.location, "email": data["email"]}
            self.call("get-duplicate-contact", {}, params=query)
            body = {
                "locationId": self.location,
                **_split(data["full_name"]),
                "email": data["email"],
            }
            new = self.call("create-contact", {}, json=body)["contact"]["id"]
        elif kind == "contact":
            contact = self.hl("contact", data["id"])
            self.call("update-contact", {"contactId": contact}, json=_split(data["full_name"]))
            return
        elif kind == "task":
            contact = self.hl("contact", data["contactId"])
            if action == "created":
                path = {"contactId": contact}
                new = self.call("create-task", path, json=_task_body(data))["task"]["id"]
            else:
                path = {"contactId": contact, "taskId": self.hl("task", data["id"])}
                body = {"completed": True} if action == "completed" else _task_body(data)
                self.call("update-task", path, json=body)
                return
        else:
            contact = self.hl("contact", data["contactId"])
            body = {"body": data["noteContent"]}
            if action == "created":
                new = self.call("create-note", {"contactId": contact}, json=body)["note"]["id"]
            else:
                path = {"contactId": contact, "id": self.hl("note", data["id"])}
                self.call("update-note", path, json=body)
                return
        self.db.execute("INSERT INTO id_map VALUES (?, ?, ?)", (kind, data["id"], new))

    def run(self) -> int:
        n = 0
        while True:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute(
                "SELECT id, body FROM inbox WHERE state = 'received' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                self.db.execute("COMMIT")
                return n
            self.apply(json.loads(row[1]))
            self.db.execute("UPDATE inbox SET state = 'done' WHERE id = ?", (row[0],))
            self.db.execute("COMMIT")
            n += 1

    def close(self) -> None:
        self.http.close()
        self.db.close()


def baseline(sim: SimProcess, phases: list[list[Event]], db: Path) -> float:
    """Seconds the baseline loop takes for every phase (loaded first, untimed)."""
    loop = _Baseline(sim, db)
    try:
        elapsed = 0.0
        for events in phases:
            loop.load(events)
            start = time.perf_counter()
            assert loop.run() == len(events)
            elapsed += time.perf_counter() - start
        return elapsed
    finally:
        loop.close()


# -- PostgreSQL -----------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A throwaway database on 127.0.0.1:5432 (dropped afterwards); None if unreachable."""
    admin = sa.create_engine(
        PG_SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2}
    )
    name = f"tnhl_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError:
        admin.dispose()
        yield None
        return
    try:
        yield sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- the figures ----------------------------------------------------------------------------


def _reset(sim: SimProcess) -> None:
    httpx.post(f"{sim.base_url}/_admin/reset", timeout=30).raise_for_status()


def _rate(events: int, seconds: float) -> float:
    return round(events / seconds, 1) if seconds > 0 else float("nan")


def run(people: int = 250, rounds: int = 3) -> dict[str, Any]:
    creates, changes = two_phase(people)
    phases = [creates, changes]
    n = len(creates) + len(changes)
    out: dict[str, Any] = {"events": n, "creates": len(creates)}
    config = {"rate_limit": {"enabled": False}}
    with tempfile.TemporaryDirectory() as tmp, simulator_process(config, Path(tmp)) as sim:
        _reset(sim)
        base_s = baseline(sim, phases, Path(tmp) / "baseline.db")
        base_calls = sim.requests()["byOperation"]
        _reset(sim)
        eng = engine_phases(phases, Path(tmp) / "sim", sim=sim)
        eng_calls = sim.requests()["byOperation"]
    eng_s = sum(eng["seconds"])
    out.update(
        engine_events_per_s=_rate(n, eng_s),
        baseline_events_per_s=_rate(n, base_s),
        ratio=round(base_s / eng_s, 3),
        goal_ratio=0.5,
        engine_dead=eng["dead"],
        engine_calls=dict(sorted(eng_calls.items())),
        baseline_calls=dict(sorted(base_calls.items())),
        same_calls=eng_calls == base_calls,
    )
    # Engine only, SQLite and PostgreSQL alternated, three rounds each (the phases take under
    # a second each: one round is too noisy on this machine); medians are reported.
    only_runs: list[tuple[float, dict[str, Any], FakeHighLevel]] = []
    pg_runs: list[float] = []
    pg_dead = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            fake = FakeHighLevel()
            only = engine_phases(phases, Path(tmp), client_call=fake)
        only_runs.append((sum(only["seconds"]), only, fake))
        with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
            if url is None:
                continue
            pg = engine_phases(phases, Path(tmp), database_url=url, client_call=FakeHighLevel())
        pg_runs.append(sum(pg["seconds"]))
        pg_dead = max(pg_dead, pg["dead"])
    only_s, only, fake = sorted(only_runs, key=lambda r: r[0])[len(only_runs) // 2]
    writes = only["write_transactions"]
    out.update(
        engine_only_events_per_s=_rate(n, only_s),
        engine_only_rounds_s=[round(r[0], 3) for r in only_runs],
        goal_engine_only_events_per_s=1000,
        engine_only_dead=only["dead"],
        engine_only_calls=dict(sorted(fake.calls.items())),
        write_transactions_per_event=round(sum(writes) / n, 3),
        write_transactions_per_create=round(writes[0] / len(creates), 3),
        write_transactions_per_change=round(writes[1] / len(changes), 3),
        read_transactions_per_event=round(sum(only["read_transactions"]) / n, 3),
    )
    if not pg_runs:
        out["postgres_skipped"] = "PostgreSQL is not reachable on 127.0.0.1:5432"
        print(f"  postgres: skipped ({out['postgres_skipped']})")
    else:
        pg_s = sorted(pg_runs)[len(pg_runs) // 2]
        out.update(
            postgres_engine_only_events_per_s=_rate(n, pg_s),
            postgres_rounds_s=[round(r, 3) for r in pg_runs],
            postgres_dead=pg_dead,
            postgres_over_sqlite=round(only_s / pg_s, 3),
            goal_postgres_over_sqlite=0.8,
        )
    return out

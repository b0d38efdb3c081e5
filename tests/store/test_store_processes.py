"""Several OS processes claiming records from one store never hold the same record at once,
and a writer killed mid-work loses and duplicates nothing."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from tests.store.claimer import fold_entity

from tnhl.store import InboundEvent, Settlement, SqlStore
from tnhl.store._schema import inbox

CLAIMER = Path(__file__).with_name("claimer.py")
ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_claiming_concurrently_never_share_a_record(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    """Two worker processes claim in lockstep rounds over 300 events of 10 records, folding
    20 at a time: within a round (leases held at once) no record is held by both, every event
    is handed out exactly once, and each record ends with its newest event's value."""
    total = 300
    for n in range(1, total + 1):
        store.add_inbound(
            InboundEvent("talknotes", f"e{n}", "contact.updated", "loc", f"c{n % 10}", "{}", n)
        )
    rounds = tmp_path / "rounds"
    rounds.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, str(CLAIMER), store_url, f"p{i}", str(rounds), "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(2)
    ]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outputs.append(json.loads(out))
    every = [i for per_round in outputs for got in per_round for _, ids in got for i in ids]
    assert sorted(every) == list(range(1, total + 1))  # none twice, none lost
    assert all(per_round[0] for per_round in outputs)  # both held leases in the first round
    for rnd in range(min(len(o) for o in outputs)):
        keys = [key for o in outputs for key, _ in o[rnd]]
        assert len(keys) == len(set(keys))
    s = store.stats()
    assert (s.counts["done"], s.counts["pending"], s.counts["received"], s.leased) == (
        300,
        0,
        0,
        0,
    )
    for record_id, newest in (("c0", "e300"), ("c1", "e291"), ("c9", "e299")):
        rec = store.get_record("loc", "contact", record_id)
        assert rec is not None
        assert (rec.values(), rec.applied) == ({"n": newest}, {"n": newest})


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    store: SqlStore, store_url: str
) -> None:
    """A writer killed with SIGKILL five times mid-work keeps every committed event and outcome;
    once the killed workers' leases run out the rest drains, each event stored and done once."""
    rng = random.Random(20261127)
    added: set[int] = set()
    done: list[int] = []
    start = 0
    for run in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(CLAIMER), "--killable", store_url, f"run{run}", str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        kill_after = rng.randint(5, 60)  # lines of committed work before the kill
        for _ in range(kill_after):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "writer exited"
            word, value = line.split()
            if word == "added":
                added.add(int(value))
            else:
                done.extend(int(v) for v in value.split(","))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
        # The event in flight at the kill may or may not be stored; the sender retries it.
        start = max(added) if added else 0

    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    with store.engine.connect() as conn:
        event_ids = conn.execute(sa.select(inbox.c.event_id)).scalars().all()
    stored = {int(e[1:]) for e in event_ids}
    assert len(event_ids) == len(stored)  # no event stored twice
    assert added <= stored  # every acknowledged event survived
    assert len(done) == len(set(done))  # no event was completed twice
    assert all(store.get_event(i).state == "done" for i in done)
    # At 10.0 the killed workers' leases (until 3.0) have run out: their records are due again.
    while claims := store.claim("final", fold=fold_entity, now=10.0, limit=10):
        for c in claims:
            store.settle([(c, Settlement("applied", "ok"))], now=10.0)
    stats = store.stats(now=10.0)
    assert stats.counts["done"] == len(stored)
    assert sum(stats.counts.values()) == len(stored)

"""Several OS processes claiming from one store never receive the same event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tnhl.store import InboundEvent, SqlStore

CLAIMER = Path(__file__).with_name("claimer.py")
ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_claiming_concurrently_never_share_an_event(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    """Two worker processes claim in lockstep rounds over 300 events of 10 entities: every event
    is claimed exactly once, and each entity's events complete in arrival order."""
    total = 300
    for n in range(1, total + 1):
        store.add_inbound(
            InboundEvent("talknotes", f"e{n}", "contact.updated", "loc", f"c{n % 10}", "{}", 1.0)
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
    every = [i for per_round in outputs for ids in per_round for i in ids]
    assert sorted(every) == list(range(1, total + 1))  # none twice, none lost
    assert all(per_round[0] for per_round in outputs)  # both held leases in the first round
    # An entity's next event can be claimed only after the previous one completed, so across
    # both processes completion times rise with arrival order within each entity.
    for entity in range(10):
        rows = [store.get_event(i) for i in range(1, total + 1) if i % 10 == entity]
        done_at = [r.done_at or 0.0 for r in rows]
        assert done_at == sorted(done_at)
    assert store.stats().counts["done"] == total

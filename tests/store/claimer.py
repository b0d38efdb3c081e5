"""A separate worker process for the multi-process claim test (not a test module).

Usage: python claimer.py URL WORKER ROUNDS_DIR PEERS. The processes work in rounds: each
claims, writes what it claimed to ROUNDS_DIR/<round>-<worker>, waits until every peer has
written its file for the round (so their leases are held at the same time), then completes
its claims. A round in which no process claimed anything ends the run. Prints the inbox ids it
claimed, as JSON lists per round.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tnhl.store import open_store


def wait_for_peers(rounds: Path, rnd: int, peers: int, deadline: float) -> list[list[int]]:
    while True:
        files = list(rounds.glob(f"{rnd}-*.json"))
        if len(files) == peers:
            return [json.loads(f.read_text()) for f in files]
        if time.monotonic() > deadline:
            raise SystemExit(f"round {rnd}: peers did not arrive")
        time.sleep(0.002)  # polling other processes' files: there is no event to wait on


def main(url: str, worker: str, rounds_dir: str, peers: int) -> None:
    store = open_store(url)
    rounds = Path(rounds_dir)
    deadline = time.monotonic() + 60
    mine: list[list[int]] = []
    for rnd in range(100_000):
        claims = store.claim_next(worker, limit=2, max_run=3)
        ids = [i for c in claims for i in c.inbox_ids]
        tmp = rounds / f".{rnd}-{worker}.tmp"
        tmp.write_text(json.dumps(ids))
        os.replace(tmp, rounds / f"{rnd}-{worker}.json")  # atomic: peers never read half
        everyone = wait_for_peers(rounds, rnd, peers, deadline)
        if not any(everyone):
            break
        mine.append(ids)
        for c in claims:
            store.complete(c.inbox_ids, worker=worker)
    store.close()
    print(json.dumps(mine))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))

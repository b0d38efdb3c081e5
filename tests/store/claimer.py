"""Separate worker processes for the multi-process store tests (not a test module).

Usage:
  python claimer.py URL WORKER ROUNDS_DIR PEERS
    The processes work in rounds: each claims records, writes what it claimed to
    ROUNDS_DIR/<round>-<worker>.json, waits until every peer has written its file for the round
    (so their leases are held at the same time), then settles its claims. A round in which no
    process claimed anything ends the run. Prints, as JSON, per round the [record key, inbox
    ids] it claimed.
  python claimer.py --killable URL WORKER START
    Forever: stores event START, START+1, ... and, after each, claims and settles what is due,
    printing "added N" once the event is committed and "done ID,ID" once a settle is
    committed. The SIGKILL test kills it.

Every event is folded by `fold_entity`: it sets field "n" of contact <entity_key>.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tnhl.store import Delta, InboundEvent, InboxRow, Settlement, open_store


def fold_entity(row: InboxRow) -> Delta:
    """Event e<N> of entity c<K> sets field "n" of contact c<K> to "e<N>", at its receipt time."""
    return Delta(
        inbox_id=row.id,
        kind="contact",
        talknotes_id=row.entity_key,
        contact_id=row.entity_key,
        at=row.received_at,
        tiebreak=row.event_id,
        fields={"n": row.event_id},
    )


def wait_for_peers(rounds: Path, rnd: int, peers: int, deadline: float) -> list[list[object]]:
    while True:
        files = list(rounds.glob(f"{rnd}-*.json"))
        if len(files) == peers:
            return [json.loads(f.read_text()) for f in files]
        if time.monotonic() > deadline:
            raise SystemExit(f"round {rnd}: peers did not arrive")
        time.sleep(0.002)  # polling other processes' files: there is no event to wait on


def rounds_main(url: str, worker: str, rounds_dir: str, peers: int) -> None:
    store = open_store(url)
    rounds = Path(rounds_dir)
    deadline = time.monotonic() + 60
    mine: list[list[object]] = []
    for rnd in range(100_000):
        claims = store.claim(worker, fold=fold_entity, limit=2, fold_limit=20, lease_seconds=600)
        got = [[c.state.record_key, [e.inbox_id for e in c.events]] for c in claims]
        tmp = rounds / f".{rnd}-{worker}.tmp"
        tmp.write_text(json.dumps(got))
        os.replace(tmp, rounds / f"{rnd}-{worker}.json")  # atomic: peers never read half
        everyone = wait_for_peers(rounds, rnd, peers, deadline)
        if not any(everyone):
            break
        mine.append(got)
        for c in claims:
            store.settle([(c, Settlement("applied", "ok", applied_fields=c.state.values()))])
    store.close()
    print(json.dumps(mine))


def killable_main(url: str, worker: str, start: int) -> None:
    store = open_store(url)
    n = start
    while True:
        ev = InboundEvent("talknotes", f"e{n}", "contact.updated", "loc", f"c{n % 7}", "{}", 1.0)
        store.add_inbound(ev)
        print(f"added {n}", flush=True)
        for claim in store.claim(worker, fold=fold_entity, now=2.0, lease_seconds=1.0, limit=2):
            store.settle([(claim, Settlement("applied", "ok"))], now=2.0)
            if claim.events:
                print("done " + ",".join(str(e.inbox_id) for e in claim.events), flush=True)
        n += 1


if __name__ == "__main__":
    if sys.argv[1] == "--killable":
        killable_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        rounds_main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))

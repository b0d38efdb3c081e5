"""A worker process for the SIGKILL test (not a test module).

Usage: python killable.py URL WORKER START. Forever: stores event START, START+1, ... and,
after each, claims and completes what is ready, printing "added N" once the event is
committed and "done ID,ID" once a completion is committed. The test kills it with SIGKILL.
"""

from __future__ import annotations

import sys

from tnhl.store import InboundEvent, open_store


def main(url: str, worker: str, start: int) -> None:
    store = open_store(url)
    n = start
    while True:
        ev = InboundEvent("talknotes", f"e{n}", "contact.updated", "loc", f"c{n % 7}", "{}", 1.0)
        store.add_inbound(ev)
        print(f"added {n}", flush=True)
        for claim in store.claim_next(worker, now=2.0, lease_seconds=1.0, limit=2):
            store.complete(claim.inbox_ids, worker=worker, now=2.0)
            print("done " + ",".join(map(str, claim.inbox_ids)), flush=True)
        n += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

"""A separate worker process for the multi-process claim test (not a test module).

Usage: python claimer.py URL WORKER READY_DIR PEERS TOTAL. It opens the store, announces itself
in READY_DIR, waits for PEERS processes to be ready, then claims and completes events until
TOTAL are done, and prints the inbox ids it claimed as JSON, in claim order.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tnhl.store import open_store


def main(url: str, worker: str, ready_dir: str, peers: int, total: int) -> None:
    store = open_store(url)
    ready = Path(ready_dir)
    (ready / worker).touch()
    deadline = time.monotonic() + 30
    while len(list(ready.iterdir())) < peers:
        if time.monotonic() > deadline:
            raise SystemExit("peers never became ready")
        time.sleep(0.005)  # waiting on other processes' files: there is no event to wait on
    claimed: list[int] = []
    while time.monotonic() < deadline:
        claims = store.claim_next(worker, limit=1, max_run=2)
        if not claims:
            if store.stats().counts["done"] >= total:
                break
            continue
        for c in claims:
            claimed.extend(c.inbox_ids)
            store.complete(c.inbox_ids, worker=worker)
    store.close()
    print(json.dumps(claimed))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))

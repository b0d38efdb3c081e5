"""Targets to profile with cProfile, each running the measured work on the MAIN thread (cProfile
sees only the thread that started it; the service's workers are threads of their own):

    python -m cProfile -o engine.prof -m bench._profile engine 250 [postgres]
    python -m cProfile -o claim.prof -m bench._profile claim 300000

then `pstats.Stats("engine.prof").sort_stats("cumulative").print_stats(25)` (and "tottime").
`engine`: the engine-only run (instant fake HighLevel) with one worker loop; `claim`: 50 claims
on a store grown to the given backlog, as bench/_scale.py times them.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from bench._engine import (
    LOCATION,
    POLL,
    FakeHighLevel,
    postgres_database,
    settings_for,
    settled_events,
)
from bench._events import insert_events, two_phase
from tnhl.store import open_store
from tnhl.sync._service import Service

__all__ = ["claims", "engine_only"]


def engine_only(people: int, database_url: str | None = None) -> float:
    """The engine-only backlog with the worker loop on this thread; events/s."""
    phases = list(two_phase(people))
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp), database_url, None, workers=1)
        total = 0
        elapsed = 0.0
        for n, events in enumerate(phases):
            service = Service.from_settings(settings, client_call=FakeHighLevel(), intake=False)
            try:
                total += insert_events(service.store, events, LOCATION, f"ph{n}")

                def watch(service: Service = service, total: int = total) -> None:
                    while settled_events(service.store.engine)[0] < total:
                        time.sleep(POLL)
                    service.pool.stop()

                watcher = threading.Thread(target=watch)
                start = time.time()
                watcher.start()
                service.pool._loop("bench-0")  # the worker loop itself, on this thread
                watcher.join()
                elapsed += (settled_events(service.store.engine)[1] or start) - start
            finally:
                service.stop()
    return total / elapsed


def claims(size: int, rounds: int = 50) -> float:
    """Median ms of `rounds` claims on a store holding `size` pending events."""
    from bench._scale import claim_times, grow

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "tnhl.db"
        open_store(f"sqlite:///{db}").close()
        grow(db, 0, size)
        times = sorted(claim_times(db, size, rounds))
    return times[len(times) // 2] * 1000


def main(argv: list[str]) -> None:
    from tnhl.sync._logging import configure_logging

    configure_logging(level="warning")
    target = argv[0] if argv else "engine"
    if target == "claim":
        size = int(argv[1]) if len(argv) > 1 else 300_000
        print(f"claim at {size} pending: median {claims(size):.1f} ms")
        return
    people = int(argv[1]) if len(argv) > 1 else 250
    if len(argv) > 2 and argv[2] == "postgres":
        with postgres_database() as url:
            if url is None:
                raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
            rate = engine_only(people, url)
    else:
        rate = engine_only(people)
    print(f"engine only, one worker on the main thread: {rate:.1f} events/s")


if __name__ == "__main__":
    main(sys.argv[1:])

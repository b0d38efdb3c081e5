"""Connections sharing one `tnhl run` (issue 8): does one's backlog delay another's events?

The simulator (own process) serves one location and one token per connection and enforces
HighLevel's limit per location, 100 requests per window, the window time-scaled through
`interval_ms`; tnhl's limiter is given the same window. Events are hand-built contact creates
(get-duplicate-contact + create-contact: two calls each), stored straight into the inbox.

1. Trickle during a burst: connection `burst` has a backlog of `burst_events` creates; while it
   drains, connection `trickle` gets one event every `trickle_every` seconds. Figures: the
   trickle's receipt -> done latency (p50 / p99 / max) beside the same trickle with no burst
   (baseline, same run), and the burst's drain time against its limit's minimum.
2. Aggregate: 1, 10 and 100 connections, each with a backlog of `per_connection` creates.
   Figure: elapsed time against the limit's minimum (every connection in parallel: the first
   100 calls at once, then 100 per window), i.e. throughput against the sum of the limits.
   That minimum takes no time to make a window's calls; but every connection's window opens at
   the same instant, so the machine must then make connections x 100 calls at once, and the
   last window's take as long as the first's. So beside it: the same run's first window (how
   long this machine took to make its calls: the baseline) and elapsed time against
   "minimum + that time" (`elapsed_over_minimum_at_machine_speed`): what tnhl's scheduling
   loses beyond the machine's speed (spacing, churn, waits).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bench._common import SimProcess, settled_count, simulator_process, wait_until
from tnhl.highlevel import RetryPolicy
from tnhl.store import InboundEvent, SqlStore
from tnhl.store._schema import inbox
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret

__all__ = ["run", "timeline"]


def _loc(n: int) -> str:
    return f"FairLoc{n:013d}"


def _sim_config(n: int, interval: float, burst: int = 100) -> dict[str, Any]:
    return {
        "locations": [{"id": _loc(i)} for i in range(n)],
        "tokens": [{"token": f"pit-fair-{i:04d}", "location_id": _loc(i)} for i in range(n)],
        "rate_limit": {"enabled": True, "burst": burst, "interval_ms": round(interval * 1000)},
    }


def _service(sim: SimProcess, data_dir: Path, n: int, interval: float, burst: int = 100) -> Service:
    connections = [
        {
            "name": f"c{i}",
            "location_id": _loc(i),
            "highlevel_token": f"pit-fair-{i:04d}",
            "talknotes_secret": generate_secret(),
        }
        for i in range(n)
    ]
    path = data_dir / "tnhl.yaml"
    path.write_text(yaml.safe_dump({"connections": connections}))
    settings = load_settings(
        path,
        highlevel_base_url=sim.base_url,
        data_dir=data_dir,
        workers=4,
        poll_interval=0.01,
        sweep_interval=1.0,
        log_level="warning",
        rate_limit_burst=burst,
        rate_limit_interval=interval,
    )
    return Service.from_settings(settings, retry=RetryPolicy(base_delay=0.01, max_delay=0.1))


def _create(store: SqlStore, loc: str, n: int, tag: str, at: float) -> None:
    person = {"id": f"{tag}{n}", "full_name": f"Person {tag}{n}", "email": f"{tag}{n}@x.io"}
    body = {"type": "contact.created", "timestamp": "2026-12-01T09:00:00Z", "data": person}
    store.add_inbound(
        InboundEvent(
            "talknotes", f"{tag}_{n}", "contact.created", loc, person["id"], json.dumps(body), at
        )
    )


def _latencies(store: SqlStore, loc: str) -> list[float]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(inbox.c.received_at, inbox.c.done_at).where(
                inbox.c.location_id == loc, inbox.c.state == "done"
            )
        ).all()
    return sorted(float(d) - float(r) for r, d in rows)


def _pct(values: Sequence[float], q: float) -> float:
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)] if values else 0.0


def _trickle(service: Service, count: int, every: float) -> list[float]:
    """Send `count` trickle events `every` seconds apart; their latencies once all are done."""
    store = service.store
    for i in range(count):
        _create(store, _loc(1), i, "t", time.time())
        service.pool.wake()
        time.sleep(every)  # the trickle's pace (a load generator), not a synchronisation
    wait_until(lambda: len(_latencies(store, _loc(1))) >= count, 120)
    return _latencies(store, _loc(1))


def trickle_during_burst(
    burst_events: int, trickle_events: int, trickle_every: float, interval: float
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_process(_sim_config(2, interval), Path(tmp)) as sim,
    ):
        alone_dir = Path(tmp) / "alone"
        alone_dir.mkdir()
        service = _service(sim, alone_dir, 2, interval)
        service.start()
        try:
            alone = _trickle(service, trickle_events, trickle_every)
        finally:
            service.stop()
        time.sleep(interval)  # let the alone run's window pass (the simulator's clock)
        busy_dir = Path(tmp) / "busy"
        busy_dir.mkdir()
        service = _service(sim, busy_dir, 2, interval)
        now = time.time()
        for i in range(burst_events):
            _create(service.store, _loc(0), i, "b", now)
        start = time.monotonic()
        service.start()
        try:
            during = _trickle(service, trickle_events, trickle_every)
            total = burst_events + trickle_events
            wait_until(lambda: settled_count(service.store) >= total, 600)
            drained = time.monotonic() - start
            dead = service.store.stats().counts.get("dead", 0)
        finally:
            service.stop()
    calls = 2 * burst_events
    minimum = math.floor((calls - 1) / 100) * interval
    return {
        "window_seconds": interval,
        "burst_events": burst_events,
        "trickle_events": trickle_events,
        "trickle_alone_p50_s": round(_pct(alone, 0.5), 3),
        "trickle_alone_p99_s": round(_pct(alone, 0.99), 3),
        "trickle_during_burst_p50_s": round(_pct(during, 0.5), 3),
        "trickle_during_burst_p99_s": round(_pct(during, 0.99), 3),
        "trickle_during_burst_max_s": round(max(during, default=0.0), 3),
        "goal_trickle_p99_s": 2.0,
        "burst_drain_seconds": round(drained, 2),
        "burst_minimum_seconds": round(minimum, 2),
        "burst_drain_over_minimum": round(drained / minimum, 3) if minimum else None,
        "dead": dead,
    }


def aggregate(
    connections: int, per_connection: int, interval: float, burst: int = 100
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_process(_sim_config(connections, interval, burst), Path(tmp)) as sim,
    ):
        service = _service(sim, Path(tmp), connections, interval, burst)
        now = time.time()
        for c in range(connections):
            for i in range(per_connection):
                _create(service.store, _loc(c), i, f"a{c}x", now)
        start = time.monotonic()
        wall_start = time.time()
        service.start()
        minimum = math.floor((2 * per_connection - 1) / burst) * interval
        try:
            wait_until(
                lambda: settled_count(service.store) >= connections * per_connection,
                max(900.0, 3 * minimum),
            )
            elapsed = time.monotonic() - start
            dead = service.store.stats().counts.get("dead", 0)
        finally:
            service.stop()
        log = sim.requests()
        times = sim.request_times()
    calls = int(log["total"])
    # The first window's calls (burst per connection) were all made by this time after start.
    first_window = times[min(len(times), connections * burst) - 1] - wall_start
    at_speed = minimum + first_window
    return {
        "connections": connections,
        "events": connections * per_connection,
        "highlevel_calls": calls,
        "http_429": int(log["byStatus"].get("429", 0)),
        "elapsed_seconds": round(elapsed, 2),
        "minimum_seconds": round(minimum, 2),
        "elapsed_over_minimum": round(elapsed / minimum, 3) if minimum else None,
        "first_window_calls_made_in_seconds": round(first_window, 2),
        "machine_calls_per_second": round(connections * burst / first_window, 1),
        "elapsed_over_minimum_at_machine_speed": round(elapsed / at_speed, 3),
        "calls_per_second": round(calls / elapsed, 1),
        "sum_of_limits_calls_per_second": round(connections * burst / interval, 1),
        "goal_elapsed_over_minimum": 1.10,
        "dead": dead,
    }


def run(quick: bool = False) -> dict[str, Any]:
    if quick:
        return {
            "trickle": trickle_during_burst(100, 3, 0.3, 1.0),
            "aggregate": [aggregate(n, 60, 1.0) for n in (1, 3)],
        }
    return {
        "trickle": trickle_during_burst(500, 20, 0.5, 2.0),
        # 150 creates = 300 calls per connection: two windows past the first 100. The window
        # is long enough that 100 connections' sum of limits (100 x 100 / 40 s = 250 calls/s)
        # is within what the engine does on 2 cores against the simulator.
        "aggregate": [aggregate(n, 150, 40.0) for n in (1, 10, 100)],
    }


def timeline(connections: int, per_connection: int = 15, interval: float = 4.0) -> None:
    """Print, for the first three locations, when each of its creates was done (seconds after
    the start), at burst 10: how the windows are used. `python -m bench._fairness 10`."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_process(_sim_config(connections, interval, 10), Path(tmp)) as sim,
    ):
        service = _service(sim, Path(tmp), connections, interval, 10)
        now = time.time()
        for c in range(connections):
            for i in range(per_connection):
                _create(service.store, _loc(c), i, f"a{c}x", now)
        start = time.time()
        service.start()
        try:
            wait_until(lambda: settled_count(service.store) >= connections * per_connection, 300)
        finally:
            service.stop()
        with service.store.engine.connect() as conn:
            rows = conn.execute(sa.select(inbox.c.location_id, inbox.c.done_at)).all()
    done: dict[str, list[float]] = {}
    for loc, at in rows:
        done.setdefault(loc, []).append(round(float(at) - start, 2))
    for loc in sorted(done)[:3]:
        print(loc, sorted(done[loc]))
    last = sorted(max(times) for times in done.values())
    print(
        "each location's last create done (min / median / max):", last[0], _pct(last, 0.5), last[-1]
    )


def long_run(per_connection: int = 400) -> dict[str, Any]:
    """100 connections at a time scale where their limits sum to about a third of what this
    machine does (160 s windows: 62.5 calls/s), over several windows (400 creates: 800 calls,
    the first 100 at once then 7 more windows): the last window's tail, made at machine speed,
    weighs less. About 20 minutes: `python -m bench._fairness long [creates per connection]`
    (writes bench/results/fairness-long.json)."""
    return aggregate(100, per_connection, 160.0)


if __name__ == "__main__":
    import sys

    from bench.run import RESULTS, _machine, _source
    from tnhl.sync._logging import configure_logging

    configure_logging(level="warning")
    if sys.argv[1:2] == ["long"]:
        per = int(sys.argv[2]) if len(sys.argv) > 2 else 400
        figures = {"machine": _machine(), "source": _source(), "aggregate_long": long_run(per)}
        (RESULTS / "fairness-long.json").write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures["aggregate_long"], indent=2))
    else:
        timeline(int(sys.argv[1]) if len(sys.argv) > 1 else 10)

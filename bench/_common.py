"""Shared pieces of the engine benchmarks: a service on a simulator, backlog loading, timings."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tnhl.highlevel._core import RetryPolicy
from tnhl.simulator import RunningSimulator
from tnhl.store import SqlStore
from tnhl.store._schema import inbox
from tnhl.sync import load_settings
from tnhl.sync._service import Service


def make_service(
    sim: RunningSimulator | SimProcess, data_dir: Path, secret: str, **kw: Any
) -> Service:
    values: dict[str, Any] = {
        "highlevel_base_url": sim.base_url,
        "highlevel_token": sim.token,
        "location_id": sim.location_id,
        "talknotes_secret": secret,
        "data_dir": data_dir,
        "workers": 4,
        "poll_interval": 0.01,
        "sweep_interval": 1.0,
        "log_level": "warning",
    }
    values.update(kw)
    return Service.from_settings(
        load_settings(**values), retry=RetryPolicy(base_delay=0.01, max_delay=0.1)
    )


def settled_count(store: SqlStore) -> int:
    """Settled events, in one index count: the benchmarks poll it while tnhl works, and the
    full `stats()` (six queries) took 14 % of the CPU of a 100-connection run."""
    finished = sa.select(sa.func.count()).where(inbox.c.state.in_(("done", "skipped", "dead")))
    with store.engine.connect() as conn:
        return int(conn.execute(finished).scalar_one())


def wait_until(cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        time.sleep(0.01)


def latencies(store: SqlStore) -> list[tuple[float, float]]:
    """(received_at, done_at) of every settled event."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(inbox.c.received_at, inbox.c.done_at).where(inbox.c.done_at.is_not(None))
        ).all()
    return [(float(r[0]), float(r[1])) for r in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class SimProcess:
    """A `tnhl simulate` in its own process (so it does not share the engine's GIL)."""

    base_url: str
    token: str
    location_id: str

    def requests(self) -> dict[str, Any]:
        """The simulator's request log summary: total, byOperation, byStatus."""
        data: dict[str, Any] = httpx.get(f"{self.base_url}/_admin/requests", timeout=30).json()
        data.pop("requests", None)
        return data

    def request_times(self) -> list[float]:
        """When each logged API request reached the simulator (epoch seconds), in order."""
        data = httpx.get(f"{self.base_url}/_admin/requests", timeout=60).json()
        stamps = (
            datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in data["requests"]
        )
        return sorted(s.timestamp() for s in stamps)


@contextmanager
def simulator_process(config: dict[str, Any], data_dir: Path) -> Iterator[SimProcess]:
    """Run `tnhl simulate` with `config` (YAML) on a free port; stop it afterwards."""
    import yaml

    cfg = data_dir / "simulator.yaml"
    cfg.write_text(yaml.safe_dump(config))
    token, location = "pit-bench-token", "BenchLocation0000001"
    cmd = [sys.executable, "-m", "bench._simproc", str(cfg), token, location]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        base = proc.stdout.readline().decode().strip()
        if not base.startswith("http"):
            raise RuntimeError("the simulator process did not start")
        yield SimProcess(base, token, location)
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(10)

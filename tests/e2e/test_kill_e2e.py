"""SIGKILL of `tnhl run` at random moments during a 1,000-event run, then a restart: the
simulator ends with every event applied once (nothing lost, nothing duplicated). Also
`tnhl worker`, the workers-only process."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from e2e_harness import check_simulator, events_for_e2e, settled, wait_for

from tnhl.simulator import SimulatorConfig, running_simulator
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.store import InboundEvent, open_store
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import signed_requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sender(threading.Thread):
    """Posts every event like TalkNotes would: retrying each one until intake accepts it."""

    def __init__(self, url: str, requests: list[tuple[dict[str, str], bytes]]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.requests = requests
        self.sent = 0
        self.failures = 0

    def run(self) -> None:
        with httpx.Client(timeout=2.0) as http:
            for headers, body in self.requests:
                while True:
                    try:
                        if http.post(self.url, content=body, headers=headers).status_code == 202:
                            break
                    except httpx.HTTPError:
                        pass
                    self.failures += 1
                    time.sleep(0.02)  # the sender's own retry pause, not a test synchronisation
                self.sent += 1


def test_sigkill_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    """Three SIGKILLs at seeded random moments; after restarts, the simulator state is exact."""
    rng = random.Random(1234)
    secret = generate_secret()
    events = events_for_e2e(1000, seed=21, people=120)
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        port = _free_port()
        env = {
            **os.environ,
            "TNHL_HIGHLEVEL_BASE_URL": sim.base_url,
            "TNHL_HIGHLEVEL_TOKEN": sim.token,
            "TNHL_LOCATION_ID": sim.location_id,
            "TNHL_TALKNOTES_SECRET": secret,
            "TNHL_DATA_DIR": str(tmp_path),
            "TNHL_WORKERS": "3",
            "TNHL_POLL_INTERVAL": "0.02",
            "TNHL_SWEEP_INTERVAL": "0.2",
            "TNHL_LEASE_SECONDS": "4",
            "TNHL_RETRY_SCALE": "0.0001",
            "TNHL_RATE_LIMIT_INTERVAL": "1.0",
            "TNHL_HTTP_TIMEOUT": "0.5",
            "TNHL_LOG_LEVEL": "warning",
        }
        cmd = [
            sys.executable,
            "-c",
            "from tnhl.cli import main; main()",
            "run",
            "--port",
            str(port),
        ]

        def start() -> subprocess.Popen[bytes]:
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

            def ready() -> bool:
                try:
                    return (
                        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code
                        == 200
                    )
                except httpx.HTTPError:
                    return False

            wait_for(ready, 20, "tnhl run to answer")
            return proc

        proc = start()
        requests = signed_requests(events, secret, timestamp=int(time.time()), id_prefix="k")
        sender = Sender(f"http://127.0.0.1:{port}/webhooks/talknotes", requests)
        sender.start()
        kills = 0
        try:
            for _ in range(3):
                # Kill at a random moment of the run: mid-intake, mid-batch or mid-call.
                deadline = time.monotonic() + rng.uniform(0.5, 2.5)
                wait_for(lambda d=deadline: time.monotonic() >= d, 10, "the kill moment")
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                kills += 1
                proc = start()
            sender.join(120)
            assert sender.sent == len(events)
            store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
            try:
                wait_for(lambda: settled(store, len(events)), 90, "all events settled")
                dead = store.list_dead()
                assert dead == [], [d.reason for d in dead]
                check_simulator(sim, store, events)
            finally:
                store.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
    assert kills == 3
    assert proc.returncode == 0  # SIGTERM stops gracefully


def test_tnhl_worker_applies_stored_events_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`tnhl worker` (no intake) applies a stored backlog to the simulator; SIGTERM exits 0."""
    events = events_for_e2e(120, seed=4, people=15)
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        for i, e in enumerate(events):
            data = e["data"]
            entity = data["id"] if e["type"].startswith("contact.") else data["contactId"]
            event = InboundEvent(
                "talknotes", f"w{i}", e["type"], sim.location_id, entity, json.dumps(e), 1.0
            )
            store.add_inbound(event)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TNHL_")},
            "TNHL_HIGHLEVEL_BASE_URL": sim.base_url,
            "TNHL_HIGHLEVEL_TOKEN": sim.token,
            "TNHL_LOCATION_ID": sim.location_id,
            "TNHL_DATA_DIR": str(tmp_path),
            "TNHL_POLL_INTERVAL": "0.02",
            "TNHL_RATE_LIMIT_INTERVAL": "1.0",
            "TNHL_LOG_LEVEL": "warning",
        }
        cmd = [sys.executable, "-c", "from tnhl.cli import main; main()", "worker"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: settled(store, len(events)), 60, "the worker to apply the backlog")
            assert store.list_dead() == []
            check_simulator(sim, store, events)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            store.close()
    assert proc.returncode == 0, out.decode()
    assert (tmp_path / "ratelimit.db").exists()  # the shared limiter state of worker mode

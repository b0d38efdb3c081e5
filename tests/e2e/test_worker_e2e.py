"""`tnhl worker`, the workers-only process, applies a stored backlog and stops on SIGTERM.

(The SIGKILL case is test_convergence_e2e.py::test_sigkill_twice_mid_stream_still_converges_
exactly_once, on the hand-written stream with literal expectations.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from convergence_harness import highlevel_state, is_settled, state_problems
from convergence_stream import EVENTS, contact_of
from e2e_harness import wait_for

from tnhl.simulator import SimulatorConfig, running_simulator
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.store import InboundEvent, open_store


def test_tnhl_worker_applies_stored_events_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`tnhl worker` (no intake) applies a stored backlog, received long ago, to the
    simulator: exactly the literal state, nothing dead; SIGTERM exits 0."""
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        # Stored out of timestamp order and received at 1970's epoch + 1 s: a backlog from
        # long ago must not count as having waited (orphans count from their first wait).
        for e in reversed(EVENTS):
            body = e.body().decode()
            stored = InboundEvent(
                "talknotes", e.webhook_id, e.type, sim.location_id, contact_of(e), body, 1.0
            )
            assert store.add_inbound(stored)
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
            n = len(EVENTS)
            wait_for(lambda: is_settled(store.stats().counts, n), 60, "the backlog applied")
            assert [d.reason for d in store.list_dead()] == []
            assert state_problems(highlevel_state(sim.base_url, sim.location_id)) == []
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            store.close()
    assert proc.returncode == 0, out.decode()
    assert (tmp_path / "ratelimit.db").exists()  # the shared limiter state of worker mode

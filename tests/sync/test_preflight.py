"""`tnhl run`'s check at start (issue 11): one read per connection; a refused token pauses its
connection at once, so it is not hammered record by record."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tnhl.simulator import RunningSimulator, running_simulator
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, wait_for


def _searches(sim: RunningSimulator) -> list[tuple[str, int]]:
    return [(e.path, e.status) for e in sim.log.entries() if e.path == "/contacts/search"]


def test_a_good_token_is_checked_once_and_the_connection_runs(tmp_path: Path) -> None:
    """One search at start, answered 200; nothing paused."""
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, generate_secret())
        with running_service(settings) as (service, _):
            wait_for(lambda: _searches(sim) == [("/contacts/search", 200)], 10, "the check")
            assert service.executor.pauses.paused(time.time()) == {}


def test_a_revoked_token_pauses_its_connection_at_start(tmp_path: Path) -> None:
    """A revoked token: the start's one search is refused (401) and the connection is paused,
    saying so, before any event arrives; no other call is made."""
    with running_simulator() as sim:
        sim.parts.tokens.revoke_pit(sim.token)
        with running_service(settings_for(sim, tmp_path, generate_secret())) as (service, _):
            loc = sim.location_id
            wait_for(lambda: loc in service.executor.pauses.paused(time.time()), 10, "paused")
            why = service.executor.pauses.paused(time.time())[loc]
            assert why == "HighLevel answered 401: Invalid JWT"
            assert [(e.path, e.status) for e in sim.log.entries()] == [("/contacts/search", 401)]

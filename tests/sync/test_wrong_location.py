"""A location id that was wrong, then corrected (issue 11): the events stored under it are
named by `tnhl status`, moved by `tnhl events move` to the connection they belong to, and
then reach HighLevel; through the whole service, the CLI and the simulator over loopback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tnhl.cli._app import _register_commands, app
from tnhl.simulator import running_simulator
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for

_register_commands()
WRONG = "WrongLocationTypo01"
CONTACT = {
    "type": "contact.created",
    "timestamp": "2026-12-07T10:00:00Z",
    "data": {"id": "c1", "email": "moved@example.com", "full_name": "Moved Contact"},
}


def _tnhl(sim: Any, data_dir: Path, *args: str) -> Any:
    """A tnhl command as a user runs it once location_id is corrected."""
    env = {
        "TNHL_HIGHLEVEL_BASE_URL": sim.base_url,
        "TNHL_HIGHLEVEL_TOKEN": sim.token,
        "TNHL_LOCATION_ID": sim.location_id,
        "TNHL_DATA_DIR": str(data_dir),
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_events_under_a_corrected_location_id_are_named_moved_and_sent(tmp_path: Path) -> None:
    """Run with a mistyped location_id: the connection is paused and the contact waits under
    the wrong id. Corrected: `tnhl status` names the wrong id and the command to run;
    `events move` refuses a served location and an unknown connection, then moves the event;
    the next `tnhl run` sends it, and status no longer names the wrong id."""
    secret = generate_secret()
    with running_simulator() as sim:
        wrong = settings_for(sim, tmp_path, secret, location_id=WRONG)
        with running_service(wrong) as (service, base):
            talknotes_sender(base, secret)([CONTACT])
            wait_for(lambda: service.store.event_locations() == {WRONG: 1}, 20, "the event kept")
        assert sim.state.all("contact") == []

        status = _tnhl(sim, tmp_path, "status")
        assert status.exit_code == 0, status.output
        flat = " ".join(status.output.split())
        assert (
            f"1 unfinished or dead events under location {WRONG}, which no connection serves: "
            "if its location_id was wrong and is now corrected, "
            f"`tnhl events move {WRONG} --to-connection NAME`"
        ) in flat

        served = _tnhl(
            sim, tmp_path, "events", "move", sim.location_id, "--to-connection", "default"
        )
        assert served.exit_code == 2
        assert f"{sim.location_id} is the location of connection default" in served.output
        unknown = _tnhl(sim, tmp_path, "events", "move", WRONG, "--to-connection", "acme")
        assert unknown.exit_code == 2
        assert "no connection named 'acme' (connections: default)" in unknown.output

        moved = _tnhl(sim, tmp_path, "events", "move", WRONG, "--to-connection", "default")
        assert moved.exit_code == 0, moved.output
        assert moved.output == f"1 events moved from {WRONG} to default\n"

        right = settings_for(sim, tmp_path, secret)
        with running_service(right) as (service, _base):
            loc = sim.location_id
            wait_for(
                lambda: service.store.get_highlevel_id(loc, "contact", "c1") is not None,
                20,
                "the moved contact in HighLevel",
            )
        [contact] = sim.state.all("contact")
        assert contact["email"] == "moved@example.com"
        after = _tnhl(sim, tmp_path, "status")
        assert WRONG not in after.output

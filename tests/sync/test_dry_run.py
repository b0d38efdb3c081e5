"""Dry run and go-live (issue 11), through the whole service and the simulator: a connection
in dry run holds every record with the calls it would make and sends nothing; `tnhl go-live`
sends what was held (or drops it with --discard)."""

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
AT = "2026-12-07T10:00:00Z"
EVENTS = [
    {"type": "contact.created", "timestamp": AT,
     "data": {"id": "c1", "email": "dry@example.com", "full_name": "Dry Run"}},
    {"type": "task.created", "timestamp": AT,
     "data": {"id": "t1", "contactId": "c1", "taskName": "Call back", "dueDate": "2026-12-09"}},
]  # fmt: skip
WRITES = ("POST", "PUT", "DELETE")


def _writes(sim: Any) -> list[str]:
    """What changed HighLevel (a search, `tnhl run`'s token check at start, is a read)."""
    return [
        f"{e.method} {e.path}"
        for e in sim.log.entries()
        if e.method in WRITES and e.path != "/contacts/search"
    ]


def _go_live(sim: Any, data_dir: Path, *flags: str) -> Any:
    """`tnhl go-live default` as a user runs it beside `tnhl run`: the same settings, from the
    environment."""
    env = {
        "TNHL_HIGHLEVEL_BASE_URL": sim.base_url,
        "TNHL_HIGHLEVEL_TOKEN": sim.token,
        "TNHL_LOCATION_ID": sim.location_id,
        "TNHL_DATA_DIR": str(data_dir),
        "TNHL_DRY_RUN": "true",
    }
    return CliRunner().invoke(app, ["go-live", "default", "--yes", *flags], env=env)


def _held(service: Any, location: str) -> list[str]:
    return [r.record_key for r in service.store.held_records(location, "dry run: would ")]


def test_a_dry_run_holds_everything_then_go_live_sends_it(tmp_path: Path) -> None:
    """In dry run: the contact and its task are held, the contact's with the duplicate lookup
    and create it would send, and HighLevel gets no write; `tnhl go-live --yes`: both reach
    HighLevel."""
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, dry_run=True, outbound_delay=0.1)
        with running_service(settings) as (service, base):
            talknotes_sender(base, secret)(EVENTS)
            loc = sim.location_id
            wait_for(lambda: _held(service, loc) == ["contact:c1", "task:t1"], 20, "both held")
            (contact, _task) = service.store.held_records(loc, "dry run: would ")
            assert contact.last_error is not None
            assert contact.last_error.startswith(
                "dry run: would GET /contacts/search/duplicate, then POST /contacts/ {"
            )
            assert '"email": "dry@example.com"' in contact.last_error
            assert _writes(sim) == []
            result = _go_live(sim, tmp_path)
            assert result.exit_code == 0, result.output
            assert result.output.endswith(
                "default is live; 2 held records due now: a running `tnhl run` sends them\n"
            )

            def landed() -> bool:
                hl = service.store.get_highlevel_id(loc, "contact", "c1")
                return hl is not None and len(sim.state.children("task", hl)) == 1

            wait_for(landed, 20, "the contact and its task in HighLevel")
    assert sorted(w.split(" ")[0] for w in _writes(sim)) == ["POST", "POST"]


def test_go_live_with_discard_drops_what_was_held(tmp_path: Path) -> None:
    """`--discard`: the held events are skipped, nothing reaches HighLevel; a later change of
    the dropped contact creates it with its own fields only."""
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, dry_run=True, outbound_delay=0.1)
        with running_service(settings) as (service, base):
            send = talknotes_sender(base, secret)
            send(EVENTS[:1])
            loc = sim.location_id
            wait_for(lambda: _held(service, loc) == ["contact:c1"], 20, "the contact held")
            result = _go_live(sim, tmp_path, "--discard")
            assert result.exit_code == 0, result.output
            assert result.output.endswith("default is live; 1 held records dropped\n")
            events = service.store.list_events(location_id=loc, source="talknotes")
            assert [(e.state, e.result) for e in events] == [("skipped", "dropped at go-live")]
            later = {"type": "contact.updated", "timestamp": "2026-12-07T11:00:00Z",
                     "data": {"id": "c1", "phone": "+14155550123"}}  # fmt: skip
            send([later])
            wait_for(
                lambda: service.store.get_highlevel_id(loc, "contact", "c1") is not None,
                20,
                "the later change applied",
            )
            hl = service.store.get_highlevel_id(loc, "contact", "c1")
            assert hl is not None
            made = sim.state.get("contact", hl)
    assert made is not None
    assert (made.get("email"), made.get("phone")) == (None, "+14155550123")

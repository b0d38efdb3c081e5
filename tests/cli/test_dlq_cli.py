"""`tnhl dlq list|show|replay` on a real SQLite store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from typer.testing import CliRunner

from tnhl.cli import _dlq
from tnhl.store import InboundEvent, Settlement, open_store
from tnhl.sync._delta import event_delta


def _app() -> typer.Typer:
    app = typer.Typer()
    _dlq.register(app)
    return app


def _seed_dead(data_dir: Path, location: str = "loc") -> None:
    store = open_store(f"sqlite:///{data_dir / 'tnhl.db'}")
    data = {"id": "t1", "contactId": "ghost", "taskName": "Call"}
    body = json.dumps({"type": "task.created", "timestamp": "2026-12-01T09:00:00Z", "data": data})
    store.add_inbound(
        InboundEvent("talknotes", "evt_1", "task.created", location, "ghost", body, time.time())
    )
    [claim] = store.claim("w", fold=event_delta)
    store.settle([(claim, Settlement("dead", "contact ghost never synced to HighLevel"))])
    store.close()


def test_list_show_replay(tmp_path: Path) -> None:
    """A dead event is listed, shown with its body, replayed, and is then pending again."""
    _seed_dead(tmp_path)
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path)]
    listed = runner.invoke(_app(), ["dlq", "list", "--json", *args])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["event_id"] == "evt_1"
    assert "never synced" in row["reason"]

    shown = runner.invoke(_app(), ["dlq", "show", str(row["id"]), "--json", *args])
    assert shown.exit_code == 0, shown.output
    assert json.loads(json.loads(shown.output)["event"]["body"])["data"]["id"] == "t1"

    replayed = runner.invoke(_app(), ["dlq", "replay", str(row["id"]), *args])
    assert replayed.exit_code == 0, replayed.output
    assert "1 replayed" in replayed.output
    assert json.loads(runner.invoke(_app(), ["dlq", "list", "--json", *args]).output) == []
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    try:
        assert store.get_event(row["inbox_id"]).state in ("pending", "received")
        assert store.get_event(row["inbox_id"]).attempts == 0
    finally:
        store.close()


def test_show_unknown_id_is_a_clear_error(tmp_path: Path) -> None:
    """Showing a dead letter that does not exist exits non-zero with a message."""
    _seed_dead(tmp_path)  # a store must exist: dlq never creates one
    result = CliRunner().invoke(_app(), ["dlq", "show", "999", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no dead letter with id 999" in result.output


def test_list_table(tmp_path: Path) -> None:
    """Without --json the dead letters print as a table."""
    _seed_dead(tmp_path)
    result = CliRunner().invoke(_app(), ["dlq", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "evt_1" in result.output


def test_replay_moves_an_event_of_a_corrected_location_only_when_told_where(
    tmp_path: Path,
) -> None:
    """A dead event filed under "loc-typo" while the settings now say "loc": replaying it
    without --to-connection is refused (exit 1, the event still dead); with
    `--to-connection default` it moves to "loc", received again with its tries reset."""
    _seed_dead(tmp_path, "loc-typo")
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path)]
    env = {"TNHL_LOCATION_ID": "loc"}
    refused = runner.invoke(_app(), ["dlq", "replay", "1", *args], env=env)
    assert refused.exit_code == 1
    assert refused.output == (
        "tnhl: dead letter 1 not replayed: setting location_id (TNHL_LOCATION_ID): this event "
        "is filed under location loc-typo, which no configured connection serves; if that id "
        "was wrong and is now corrected, name the connection it belongs to with "
        "--to-connection NAME\n0 replayed, 1 not\n"
    )
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    try:
        assert store.get_event(1).state == "dead"
    finally:
        store.close()
    moved = runner.invoke(
        _app(), ["dlq", "replay", "1", "--to-connection", "default", *args], env=env
    )
    assert moved.exit_code == 0, moved.output
    assert moved.output == (
        "replayed dead letter 1 (event evt_1), moved from loc-typo to loc\n1 replayed\n"
    )
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    try:
        event = store.get_event(1)
        assert (event.location_id, event.state, event.attempts) == ("loc", "received", 0)
    finally:
        store.close()

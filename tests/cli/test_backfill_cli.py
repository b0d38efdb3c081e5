"""`tnhl backfill` from the command line: a file of TalkNotes events in (bad lines named, exit
1), and the clear errors for a wrong invocation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _backfill

LOC = "BackfillCliLocation1"


def _app() -> typer.Typer:
    app = typer.Typer()
    _backfill.register(app)
    return app


@pytest.fixture(autouse=True)
def _location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TNHL_LOCATION_ID", LOC)


def test_a_file_to_highlevel_stores_the_good_lines_and_names_the_bad(tmp_path: Path) -> None:
    """One good line, one with a wrong type: exit 1, the bad line named on stderr, the
    summary counting both."""
    good = {
        "type": "contact.created",
        "timestamp": "2026-12-01T09:00:00Z",
        "data": {"id": "c1", "email": "a@x.io"},
    }
    bad = {"type": "contact.exploded", "timestamp": "2026-12-01T09:00:00Z", "data": {"id": "c2"}}
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    args = ["--to-highlevel", str(events), "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 1, result.output
    assert "not stored: line 2: " in result.output
    assert "2 read, 1 new events stored, 0 linked, 1 refused" in result.output
    assert "2/2" in result.output  # the progress bar's last state


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give one of --to-talknotes or --to-highlevel FILE"),
        (["--to-talknotes"], "connection default has no talknotes_outbound_url"),
        (["--to-highlevel", "missing.jsonl"], "missing.jsonl: cannot read"),
    ],
)
def test_a_wrong_invocation_is_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    """Exit 2 with the reason, nothing else done."""
    result = CliRunner().invoke(_app(), [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output

"""`tnhl status`: events by state and the oldest pending age, from a real SQLite store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from typer.testing import CliRunner

from tnhl.cli import _status
from tnhl.store import InboundEvent, open_store


def _app() -> typer.Typer:
    app = typer.Typer()
    _status.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing to one
        """Nothing."""

    return app


def _seed(data_dir: Path) -> None:
    store = open_store(f"sqlite:///{data_dir / 'tnhl.db'}")
    now = time.time()
    for n in range(3):
        body = json.dumps({"type": "contact.created", "data": {"id": f"c{n}"}})
        store.add_inbound(
            InboundEvent("talknotes", f"e{n}", "contact.created", "loc", f"c{n}", body, now - 30)
        )
    [claim] = store.claim_next("w", now=now)
    store.complete(claim.inbox_ids, worker="w", result="ok")
    [claim] = store.claim_next("w", now=now)
    store.dead_letter(claim.inbox_ids[0], worker="w", reason="HighLevel answered 422")
    store.close()


def test_status_json_counts_states(tmp_path: Path) -> None:
    """--json reports done/dead/received counts and the age of the oldest pending event."""
    _seed(tmp_path)
    result = CliRunner().invoke(_app(), ["status", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["events"]["done"] == 1
    assert report["events"]["dead"] == 1
    assert report["events"]["received"] == 1
    assert report["dead_letters"] == 1
    assert 25 <= report["oldest_pending_age_seconds"] <= 120


def test_status_table(tmp_path: Path) -> None:
    """Without --json, a table of states is printed."""
    _seed(tmp_path)
    result = CliRunner().invoke(_app(), ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Events" in result.output
    assert "dead letters: 1" in result.output


def test_status_bad_setting_names_the_field(tmp_path: Path) -> None:
    """A malformed setting gives a clear error naming the setting, not a traceback."""
    cfg = tmp_path / "tnhl.yaml"
    cfg.write_text("workers: many\n")
    result = CliRunner().invoke(_app(), ["status", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "workers" in result.output

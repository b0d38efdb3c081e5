"""`tnhl status`: events by state and the oldest pending age, from a real SQLite store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from typer.testing import CliRunner

from tnhl.cli import _status
from tnhl.store import InboundEvent, Settlement, open_store
from tnhl.sync._delta import event_delta

TS = "2026-12-01T09:00:00Z"


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
        data = {"id": f"c{n}", "email": f"p{n}@example.com"}
        body = json.dumps({"type": "contact.created", "timestamp": TS, "data": data})
        store.add_inbound(
            InboundEvent("talknotes", f"e{n}", "contact.created", "loc", f"c{n}", body, now - 30)
        )
    first, second = store.claim("w", fold=event_delta, now=now, limit=2, fold_limit=2)
    warned = Settlement("applied", "ok", warnings=("phone: not a valid number (dropped)",))
    store.settle([(first, warned)], now=now)
    store.settle([(second, Settlement("dead", "HighLevel answered 422"))], now=now)
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
    assert report["events_with_warnings"] == 1
    assert report["records_waiting"] == 0
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


def test_events_show_prints_outcome_and_warnings(tmp_path: Path) -> None:
    """`tnhl events show 1` prints the event's result, its warnings and its record."""
    _seed(tmp_path)
    result = CliRunner().invoke(_app(), ["events", "show", "1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["state"], shown["result"]) == ("done", "ok")
    assert shown["warnings"] == ["phone: not a valid number (dropped)"]
    assert shown["record"]["key"] == "contact:c0"
    assert shown["record"]["values"] == {"email": "p0@example.com"}


def test_events_show_unknown_id_is_a_clear_error(tmp_path: Path) -> None:
    """An inbox id that does not exist exits non-zero naming it."""
    _seed(tmp_path)
    result = CliRunner().invoke(_app(), ["events", "show", "99", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no event with inbox id 99" in result.output


def test_events_list_filters_by_contact_state_and_since(tmp_path: Path) -> None:
    """--contact keeps one contact's events, --state one state, --since the recent ones; a bad
    --since or --source is one line naming the option."""
    _seed(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    old = json.dumps({"type": "contact.updated", "timestamp": TS, "data": {"id": "c1"}})
    store.add_inbound(
        InboundEvent("talknotes", "e9", "contact.updated", "loc", "c1", old, time.time() - 7200)
    )
    store.close()

    def ids(*flags: str) -> list[str]:
        args = ["events", "list", "--json", "--data-dir", str(tmp_path), *flags]
        result = CliRunner().invoke(_app(), args)
        assert result.exit_code == 0, result.output
        return [row["event_id"] for row in json.loads(result.output)]

    assert ids() == ["e0", "e1", "e2", "e9"]
    assert ids("--contact", "c1") == ["e1", "e9"]
    assert ids("--state", "dead") == ["e1"]
    assert ids("--since", "1h") == ["e0", "e1", "e2"]
    assert ids("--contact", "c1", "--since", "2026-01-01T00:00:00Z") == ["e1", "e9"]
    bad = CliRunner().invoke(
        _app(), ["events", "list", "--since", "lately", "--data-dir", str(tmp_path)]
    )
    assert bad.exit_code == 2
    assert "--since: 'lately' is neither a span (30m, 2h, 1d) nor an ISO 8601 time" in bad.output
    wrong = CliRunner().invoke(
        _app(), ["events", "list", "--source", "zapier", "--data-dir", str(tmp_path)]
    )
    assert wrong.exit_code == 2
    assert "--source: 'zapier' is not a source" in wrong.output


def test_events_show_masks_secrets_in_the_body(tmp_path: Path) -> None:
    """A body key that looks like a secret is shown masked."""
    _seed(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    body = json.dumps({"type": "INSTALL", "locationId": "loc", "apiKey": "sk_live_abc"})
    store.add_inbound(InboundEvent("highlevel", "h1", "INSTALL", "loc", "loc", body, time.time()))
    store.close()
    result = CliRunner().invoke(_app(), ["events", "show", "4", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["body"] == {"type": "INSTALL", "locationId": "loc", "apiKey": "••• redacted"}
    assert "sk_live_abc" not in result.output

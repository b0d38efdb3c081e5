"""`tnhl status` and `tnhl dlq list` per connection (issue 8), from a real SQLite store
holding two connections' events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _dlq, _status
from tnhl.store import InboundEvent, Settlement, open_store
from tnhl.sync._delta import event_delta

TS = "2026-12-01T09:00:00Z"
CONFIG = """
connections:
  - {name: acme, location_id: LocA, highlevel_token: pit-a, talknotes_secret: whsec_YQ==}
  - {name: bolt, location_id: LocB, highlevel_token: pit-b, talknotes_secret: whsec_Yg==}
"""


def _app() -> typer.Typer:
    app = typer.Typer()
    _status.register(app)
    _dlq.register(app)
    return app


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two connections; acme has 2 events (1 dead, 1 folded: pending), bolt 1 (received:
    acme's claim does not fold it)."""
    for name in ("LOCATION_ID", "HIGHLEVEL_TOKEN", "TALKNOTES_SECRET", "CONFIG"):
        monkeypatch.delenv(f"TNHL_{name}", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    now = time.time()
    for n, loc in enumerate(("LocA", "LocA", "LocB")):
        body = json.dumps(
            {"type": "contact.created", "timestamp": TS, "data": {"id": f"c{n}", "email": "x@y.io"}}
        )
        store.add_inbound(
            InboundEvent("talknotes", f"e{n}", "contact.created", loc, f"c{n}", body, now)
        )
    [first] = store.claim("w", fold=event_delta, now=now, limit=1, locations=["LocA"])
    store.settle([(first, Settlement("dead", "HighLevel answered 422"))], now=now)
    store.close()
    path = tmp_path / "tnhl.yaml"
    path.write_text(CONFIG + f"data_dir: {tmp_path}\n", encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), list(args))
    return result.exit_code, result.output


def test_status_json_has_every_connection_with_its_own_figures(config: Path) -> None:
    """Per connection: its events by state, dead letters and health; the totals stay."""
    code, out = _run("status", "--json", "--config", str(config))
    assert code == 0, out
    report = json.loads(out)
    assert report["events"]["dead"] == 1
    assert (report["events"]["pending"], report["events"]["received"]) == (1, 1)
    acme, bolt = report["connections"]
    assert (acme["name"], acme["location_id"], acme["dead_letters"]) == ("acme", "LocA", 1)
    assert (acme["events"]["dead"], acme["events"]["pending"], acme["events"]["received"]) == (
        1,
        1,
        0,
    )
    assert acme["health"] == "1 dead letters"
    assert (bolt["name"], bolt["events"]["received"], bolt["events"]["dead"]) == ("bolt", 1, 0)
    assert bolt["health"] == "ok"


def test_status_connection_narrows_and_an_unknown_name_is_refused(config: Path) -> None:
    """--connection bolt reports bolt only; --connection nope exits 2 naming the known ones."""
    code, out = _run("status", "--json", "--connection", "bolt", "--config", str(config))
    assert code == 0, out
    assert [c["name"] for c in json.loads(out)["connections"]] == ["bolt"]
    code, out = _run("status", "--connection", "nope", "--config", str(config))
    assert code == 2
    assert "no connection named 'nope' (configured: acme, bolt)" in out


def test_dlq_list_of_one_connection(config: Path) -> None:
    """The dead letter is acme's: listed for acme, not for bolt."""
    code, out = _run("dlq", "list", "--json", "--connection", "acme", "--config", str(config))
    assert code == 0, out
    assert [d["event_id"] for d in json.loads(out)] == ["e0"]
    code, out = _run("dlq", "list", "--json", "--connection", "bolt", "--config", str(config))
    assert code == 0, out
    assert json.loads(out) == []


def test_events_list_per_connection_and_state(config: Path) -> None:
    """`tnhl events list`: acme's two events oldest first with their states and outcome,
    bolt's one; --state narrows; a state that is none is refused naming the option."""
    code, out = _run("events", "list", "--json", "--connection", "acme", "--config", str(config))
    assert code == 0, out
    rows = json.loads(out)
    assert [(r["event_id"], r["location_id"], r["state"]) for r in rows] == [
        ("e0", "LocA", "dead"),
        ("e1", "LocA", "pending"),
    ]
    assert rows[0]["outcome"] == "HighLevel answered 422"
    code, out = _run("events", "list", "--json", "--connection", "bolt", "--config", str(config))
    assert [(r["event_id"], r["state"]) for r in json.loads(out)] == [("e2", "received")]
    code, out = _run("events", "list", "--json", "--state", "dead", "--config", str(config))
    assert [r["event_id"] for r in json.loads(out)] == ["e0"]
    code, out = _run("events", "list", "--json", "--limit", "1", "--config", str(config))
    assert [r["event_id"] for r in json.loads(out)] == ["e2"]
    code, out = _run("events", "list", "--state", "lost", "--config", str(config))
    assert code == 2
    assert "--state: 'lost' is not a state" in out
    code, out = _run("events", "list", "--connection", "acme", "--config", str(config))
    assert code == 0, out
    for shown in ("dead", "pending", "answered 422"):
        assert shown in out, out

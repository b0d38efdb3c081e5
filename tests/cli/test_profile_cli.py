"""`tnhl profile CONTACT` on a real SQLite store: the profile tnhl holds from HighLevel, by
either id, as JSON or as text; a contact it never heard of is a clear error."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _profile
from tnhl.store import Delivery, InboundEvent, Told, open_store
from tnhl.sync._outbound import outbound_fold

LOC = "ProfileCliLocation01"


def _app() -> typer.Typer:
    app = typer.Typer()
    _profile.register(app)
    return app


def _seed(data_dir: Path) -> None:
    """HighLevel contact hc1 (linked to tn-c1) and one open task of it, as told."""
    store = open_store(f"sqlite:///{data_dir / 'tnhl.db'}")
    store.put_mapping(LOC, "contact", "tn-c1", "hc1")
    rows = {
        "hc1": ("contact", {"highlevel_id": "hc1", "full_name": "Ann Lee", "email": "a@x.io"}),
        "t1": ("task", {"highlevel_id": "t1", "taskName": "Call Ann", "completed": False}),
    }
    for n, hl_id in enumerate(rows):
        body = json.dumps({"type": "ContactUpdate", "id": hl_id})
        event = InboundEvent("highlevel", f"w{n}", "ContactUpdate", LOC, hl_id, body, time.time())
        store.add_inbound(event)
    store.claim("w", fold=outbound_fold(frozenset({LOC})), limit=0)
    leased = store.claim_outbound("p", locations=[LOC])
    done = []
    for ev, (hl_id, (kind, data)) in zip(leased, rows.items(), strict=True):
        told = Told(LOC, hl_id, kind, hl_id * 8, 1.0, contact_id="hc1", data=data)
        done.append(Delivery(ev.id, "done", "delivered", told=told))
    store.finish_outbound("p", done)
    store.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TNHL_LOCATION_ID", LOC)
    _seed(tmp_path)
    return tmp_path


def test_the_profile_by_either_id_as_json_and_as_text(data_dir: Path) -> None:
    """By TalkNotes id and by HighLevel id the same body; the text names the contact and its
    open task."""
    runner = CliRunner()
    args = ["--data-dir", str(data_dir)]
    by_tn = runner.invoke(_app(), ["tn-c1", "--json", *args])
    assert by_tn.exit_code == 0, by_tn.output
    data = json.loads(by_tn.output)["data"]
    assert (data["id"], data["highlevel_id"], data["email"]) == ("tn-c1", "hc1", "a@x.io")
    assert data["tasks"] == {
        "open": [{"id": None, "highlevel_id": "t1", "taskName": "Call Ann", "completed": False}],
        "completed": [],
    }
    by_hl = runner.invoke(_app(), ["hc1", "--json", *args])
    assert json.loads(by_hl.output)["data"] == data
    text = runner.invoke(_app(), ["hc1", *args])
    assert text.exit_code == 0, text.output
    assert "Ann Lee" in text.output
    assert "Open tasks (1)" in text.output
    assert "Call Ann" in text.output


def test_a_contact_tnhl_never_heard_of_is_a_clear_error(data_dir: Path) -> None:
    """Exit 2, naming the contact and why there may be none."""
    result = CliRunner().invoke(_app(), ["nobody", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "no profile of contact 'nobody'" in result.output

"""`tnhl send` and `tnhl trigger` against a running intake (the service's app on a loopback
port): signed with the connection's secret, taken (202); every sample is a valid event; a
wrong invocation is a clear error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _send
from tnhl.simulator._serve import serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret, parse_event

SECRET = generate_secret()


def _app() -> typer.Typer:
    app = typer.Typer()
    _send.register(app)
    return app


@pytest.mark.parametrize("type_", sorted(_send.SAMPLES))
def test_every_sample_is_a_valid_event(type_: str) -> None:
    """The sample of each type passes the contract, stamped when made."""
    event = _send.sample_event(type_, [], datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    parsed = parse_event(json.dumps(event).encode())
    assert (parsed.type, event["timestamp"]) == (type_, "2026-12-01T09:00:00Z")


def test_trigger_and_send_post_signed_events_that_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trigger note.created with a field set, then send a file: both 202, both stored with
    what was said."""
    monkeypatch.setenv("TNHL_LOCATION_ID", "loc-send")
    monkeypatch.setenv("TNHL_TALKNOTES_SECRET", SECRET)
    settings = load_settings(
        highlevel_base_url="http://127.0.0.1:9", highlevel_token="pit-unused", data_dir=tmp_path
    )
    service = Service.from_settings(settings)
    file = tmp_path / "event.json"
    event = {
        "type": "contact.created",
        "timestamp": "2026-12-01T09:00:00Z",
        "data": {"id": "f1", "email": "file@example.com"},
    }
    file.write_text(json.dumps(event), encoding="utf-8")
    try:
        with serve_in_thread(service.app) as base:
            url = f"{base}/webhooks/talknotes"
            args = ["--url", url, "--data-dir", str(tmp_path)]
            fields = ["--field", "noteContent=Email Dana tomorrow.", "--field", "id=n-9"]
            triggered = CliRunner().invoke(_app(), ["trigger", "note.created", *fields, *args])
            sent = CliRunner().invoke(_app(), ["send", str(file), *args])
            bodies = [json.loads(e.body) for e in service.store.list_events()]
    finally:
        service.stop()
    assert triggered.exit_code == 0, triggered.output
    assert triggered.output.startswith("202 ")
    assert sent.exit_code == 0, sent.output
    assert [(b["type"], b["data"]["id"]) for b in bodies] == [
        ("note.created", "n-9"),
        ("contact.created", "f1"),
    ]
    assert bodies[0]["data"]["noteContent"] == "Email Dana tomorrow."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trigger", "task.exploded"], "unknown type 'task.exploded'"),
        (["trigger", "task.created", "--field", "oops"], "write it as name=value"),
        (["send", "missing.json"], "missing.json: cannot read"),
    ],
)
def test_a_wrong_invocation_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    """Exit 2 naming the problem; nothing is sent."""
    monkeypatch.setenv("TNHL_LOCATION_ID", "loc-send")
    monkeypatch.setenv("TNHL_TALKNOTES_SECRET", SECRET)
    result = CliRunner().invoke(_app(), [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output

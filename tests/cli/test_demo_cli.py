"""`tnhl demo`: simulator + service + generated events, ending with HighLevel's contents."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from tnhl.cli import _demo


def _app() -> typer.Typer:
    app = typer.Typer()
    _demo.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing to one
        """Nothing."""

    return app


def test_demo_applies_every_event_and_prints_the_table() -> None:
    """A small demo run exits 0 and shows contacts, tasks and notes that reached HighLevel,
    and the follow-up task and milestone note born from its voice note's text."""
    result = CliRunner().invoke(_app(), ["demo", "--events", "25", "--rate", "200", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "What arrived in HighLevel" in result.output
    assert "26 TalkNotes events ->" in result.output  # 25 generated and the voice note
    said = " ".join(result.output.split())
    assert "From the voice note's text:" in said
    assert 'back about the quote" due' in said
    assert 'note "Milestone: signed"' in said
    assert "dead-letter" not in result.output


def test_demo_events_are_distinct_people_without_external_ids() -> None:
    """The demo's stream has no external_id and no email or phone shared by two people."""
    events = _demo.demo_events(200, seed=1)
    owners: dict[str, str] = {}
    for e in events:
        data = e["data"]
        assert "external_id" not in data
        if e["type"].startswith("contact."):
            for key in ("email", "phone"):
                if data.get(key):
                    assert owners.setdefault(f"{key}:{data[key]}", data["id"]) == data["id"]

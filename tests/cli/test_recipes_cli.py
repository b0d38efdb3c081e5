"""`tnhl recipes list|validate|test` and `tnhl catalog`, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tnhl.cli._app import _register_commands, app

_register_commands()
RUNNER = CliRunner()

NOTE = {
    "type": "note.created",
    "timestamp": "2026-12-07T10:00:00Z",
    "data": {
        "id": "n1",
        "contactId": "c1",
        "noteContent": "Call Sam back Friday at 3pm about the quote. "
        "The contract was signed today.",
    },
}
TAGS = """\
recipes:
  tag-signed:
    trigger: talknotes.note.milestone
    when:
      - {path: milestone.family, equals: signed}
    actions:
      - highlevel.add-tags:
          params: {contactId: "{{ contact.highlevel_id }}"}
          body: {tags: ["{{ milestone.family }}"]}
"""


def test_recipes_test_prints_what_each_recipe_would_do_and_writes_nothing(tmp_path: Path) -> None:
    """A note with a follow-up and a signing: the follow-up task, the milestone note and the
    user's tag call are printed; no store is created in the folder."""
    event = tmp_path / "note.json"
    event.write_text(json.dumps(NOTE))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(TAGS)
    result = RUNNER.invoke(app, ["recipes", "test", str(event), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "follow-ups fires:",
        "  would task 'Call Sam back about the quote' due 2026-12-11T15:00:00+00:00 (follow-up)",
        "milestones fires:",
        "  would note 'Milestone: signed' (milestone)",
        "tag-signed fires:",
        '  would POST /contacts/{contactId}/tags {"tags": ["signed"]}',
        "(dry run: nothing stored, nothing sent)",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping.yaml", "note.json"]


def test_recipes_test_with_the_milestones_recipe_off_prints_no_milestone(tmp_path: Path) -> None:
    """Turning the milestones recipe off (by name, over the defaults) removes its note."""
    event = tmp_path / "note.json"
    event.write_text(json.dumps(NOTE))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("recipes:\n  milestones: {enabled: false}\n")
    result = RUNNER.invoke(app, ["recipes", "test", str(event), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "milestone" not in result.output.lower()
    assert "follow-ups fires:" in result.output


def test_recipes_validate_names_file_line_and_problem_exit_2(tmp_path: Path) -> None:
    """A bad recipe: one line per problem with the file and line, exit code 2."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "recipes:\n  mine:\n    trigger: schedule.daily\n    with: {at: '25:00'}\n"
        "    actions: [{webhook.post: {}}]\n"
    )
    result = RUNNER.invoke(app, ["recipes", "validate", "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert "mapping.yaml line 5: recipes.mine.actions[0]: webhook.post: url is required" in (
        result.output
    )
    fixed = mapping.read_text().replace("{webhook.post: {}}", "{webhook.post: {url: 'x'}}")
    mapping.write_text(fixed)
    result = RUNNER.invoke(app, ["recipes", "validate", "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert result.output == (
        "tnhl: mapping.yaml line 2: recipes.mine: with.at: must be a time of day HH:MM, "
        "got '25:00'\n"
    )


def test_recipes_validate_and_list_the_defaults(tmp_path: Path) -> None:
    """The shipped recipes validate and are listed, all on."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("")
    result = RUNNER.invoke(app, ["recipes", "validate", "--mapping", str(mapping)])
    assert (result.exit_code, result.output) == (0, "ok: 4 recipes, 4 on\n")
    listed = RUNNER.invoke(app, ["recipes", "list", "--mapping", str(mapping)])
    assert listed.exit_code == 0
    for name in ("follow-ups", "milestones", "first-completed-task", "tenth-note"):
        assert name in listed.output


def test_catalog_json_lists_126_entries_each_with_schemas_and_scopes() -> None:
    """`tnhl catalog --json`: at least 126 entries, ids unique, each with input and output
    schemas; the 32 HighLevel actions carry their Contacts API scope."""
    result = RUNNER.invoke(app, ["catalog", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert len(rows) >= 126
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(isinstance(r["input"], dict) and isinstance(r["output"], dict) for r in rows)
    actions = [r for r in rows if r["id"].startswith("highlevel.") and r["kind"] == "action"]
    assert len(actions) == 32
    assert {s for r in actions for s in r["scopes"]} == {"contacts.readonly", "contacts.write"}
    by_id = {r["id"]: r for r in rows}
    assert by_id["highlevel.add-tags"]["input"]["properties"]["params"]["required"] == ["contactId"]


def test_recipes_list_shows_what_the_dashboard_switched(tmp_path: Path) -> None:
    """Milestones switched off in the dashboard (kept in the store): `recipes list` for the
    connection shows it off, marked as the dashboard's, the others on from the file; before
    any store exists the list is the file's and no store is created."""
    from tnhl.sync import load_settings, open_settings_store

    env = {"TNHL_LOCATION_ID": "loc-list", "TNHL_DATA_DIR": str(tmp_path)}
    before = RUNNER.invoke(app, ["recipes", "list"], env=env)
    assert before.exit_code == 0, before.output
    assert "(dashboard)" not in before.output
    assert not (tmp_path / "tnhl.db").exists()
    store = open_settings_store(load_settings(location_id="loc-list", data_dir=tmp_path))
    try:
        store.switch_recipe("loc-list", "milestones", False)
    finally:
        store.close()
    listed = RUNNER.invoke(app, ["recipes", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in listed.output.splitlines()
        if line.count("│") > 3
    }
    assert rows["milestones"] == "no (dashboard)"
    assert rows["follow-ups"] == "yes"
    assert rows["tenth-note"] == "yes"

"""Recipes in the mapping file: validation with lines, conditions, templates (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tnhl.mapping import MappingFileError, fires, load_mapping_text, render

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _recipe(text: str) -> object:
    mapping = load_mapping_text(text)
    return next(r for n, r in mapping.recipes.items() if n == "mine")


def _problems(text: str) -> list[str]:
    with pytest.raises(MappingFileError) as caught:
        load_mapping_text(text, "m.yaml")
    return [str(i) for i in caught.value.issues]


def test_the_defaults_ship_four_recipes_all_on() -> None:
    """The defaults are recipes: follow-ups, milestones, first completed task, tenth note."""
    mapping = load_mapping_text("")
    assert {n: r.enabled for n, r in mapping.recipes.items()} == {
        "follow-ups": True,
        "milestones": True,
        "first-completed-task": True,
        "tenth-note": True,
    }
    assert mapping.recipes["follow-ups"].action_ids() == ["tnhl.followups"]


def test_a_default_recipe_is_turned_off_by_name_keeping_the_rest() -> None:
    """`recipes: {milestones: {enabled: false}}` merges over the default: off, same trigger."""
    mapping = load_mapping_text("recipes:\n  milestones: {enabled: false}\n")
    assert mapping.recipes["milestones"].enabled is False
    assert mapping.recipes["milestones"].triggers == (
        "talknotes.note.created",
        "talknotes.note.updated",
    )
    assert mapping.recipes_with("tnhl.milestone_notes") == []
    assert [n for n, _ in mapping.recipes_with("tnhl.followups")] == ["follow-ups"]


def test_unknown_trigger_and_action_are_errors_with_line_and_a_suggestion() -> None:
    """A misspelt trigger or action names the file, the line, the path and the nearest id."""
    problems = _problems(
        "recipes:\n"
        "  mine:\n"
        "    trigger: talknotes.note.creatd\n"
        "    actions:\n"
        "      - highlevel.add-tag: {}\n"
    )
    assert problems == [
        "m.yaml line 3: recipes.mine.trigger: 'talknotes.note.creatd' is not a trigger of the "
        "catalog (did you mean talknotes.note.created?); `tnhl catalog` lists them",
        "m.yaml line 5: recipes.mine.actions[0]: 'highlevel.add-tag' is not an action of the "
        "catalog (did you mean highlevel.add-tags?); `tnhl catalog` lists them",
    ]


def test_bad_parameters_conditions_and_templates_are_named() -> None:
    """An unknown path parameter, a missing required one, a bad test and a bad jmespath
    template are each one line naming what is wrong."""
    problems = _problems(
        "recipes:\n"
        "  mine:\n"
        "    trigger: talknotes.note.created\n"
        "    when:\n"
        "      - {path: event.data.x, bigger: 3}\n"
        "    actions:\n"
        "      - highlevel.add-tags: {params: {contact: x}}\n"
        "      - highlevel.get-contact: {}\n"
        "      - tnhl.note: {content: '{{ event..data }}'}\n"
    )
    assert len(problems) == 4
    assert problems[0].startswith("m.yaml line 5: recipes.mine.when[0]: bigger: unknown test")
    assert problems[1] == (
        "m.yaml line 7: recipes.mine.actions[0]: highlevel.add-tags: unknown parameter "
        "params.contact; allowed: contactId"
    )
    assert problems[2] == (
        "m.yaml line 8: recipes.mine.actions[1]: highlevel.get-contact: params is required"
    )
    assert problems[3].startswith(
        "m.yaml line 9: recipes.mine.actions[2]: 'event..data' is not a valid jmespath"
    )


def test_note_reading_actions_need_note_triggers() -> None:
    """tnhl.followups on a task trigger is refused: it reads a note's text."""
    problems = _problems(
        "recipes:\n  mine:\n    trigger: talknotes.task.created\n"
        "    actions: [{tnhl.followups: {}}]\n"
    )
    assert problems == [
        "m.yaml line 2: recipes.mine: tnhl.followups reads a note: its triggers "
        "must be note.created/updated"
    ]


def test_conditions_hold_or_not_as_written() -> None:
    """Each test, on values the context has; all must hold; any/not combine them."""
    recipe = _recipe(
        "recipes:\n"
        "  mine:\n"
        "    trigger: talknotes.task.created\n"
        "    when:\n"
        "      - {path: event.data.priority, in: [high, urgent]}\n"
        "      - {path: event.data.taskName, contains: QUOTE}\n"
        "      - {path: event.data.taskName, matches: '^call\\b'}\n"
        "      - {path: contact.notes, gte: 2}\n"
        "      - {path: event.data.dueDate, within: {hours: 24}}\n"
        "      - any: [{path: event.data.assignee, exists: false},\n"
        "              {path: event.data.x, equals: 1}]\n"
        "      - not: {path: event.data.completed, equals: true}\n"
        "    actions: [{tnhl.note: {content: x}}]\n"
    )
    data = {
        "priority": "high",
        "taskName": "Call Sam about the quote",
        "dueDate": "2026-12-08T09:00:00Z",
        "completed": False,
    }
    context = {"event": {"data": data}, "contact": {"notes": 2}}
    assert fires(recipe, context, NOW) is True  # type: ignore[arg-type]
    for change in (
        {"priority": "low"},
        {"taskName": "Email Sam"},
        {"dueDate": "2026-12-09T13:00:00Z"},  # 25 hours ahead
        {"dueDate": "2026-12-07T11:00:00Z"},  # past
        {"assignee": "kim"},
        {"completed": True},
    ):
        changed = {"event": {"data": {**data, **change}}, "contact": {"notes": 2}}
        assert fires(recipe, changed, NOW) is False, change  # type: ignore[arg-type]
    fewer = {"event": {"data": data}, "contact": {"notes": 1}}
    assert fires(recipe, fewer, NOW) is False  # type: ignore[arg-type]


def test_templates_keep_types_alone_and_make_text_in_text() -> None:
    """`{{ expr }}` alone keeps the value's type; within text it is formatted; a missing
    value is null alone and empty in text."""
    context = {"event": {"data": {"tags": ["a", "b"], "n": 3}}, "contact": {"id": "c1"}}
    assert render("{{ event.data.tags }}", context) == ["a", "b"]
    assert render("{{ event.data.n }}", context) == 3
    assert render("n={{ event.data.n }} c={{ contact.id }}", context) == "n=3 c=c1"
    assert render({"x": ["{{ missing.path }}", "t{{ missing }}"]}, context) == {"x": [None, "t"]}

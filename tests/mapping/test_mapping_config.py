"""The mapping file: defaults, merging, and errors that carry the line and the problem."""

from __future__ import annotations

from datetime import time
from importlib import resources
from pathlib import Path

import pytest
import yaml

from tnhl.mapping import MappingFileError, default_mapping, load_mapping, load_mapping_text


def _error(text: str) -> MappingFileError:
    with pytest.raises(MappingFileError) as info:
        load_mapping_text(text, "mapping.yaml")
    return info.value


def test_default_mapping_loads_with_documented_values() -> None:
    """The shipped default.yaml loads and carries the defaults the docs promise."""
    cfg = default_mapping()
    assert cfg.contact.create_mode == "upsert"
    assert cfg.contact.phone.default_region == "US"
    assert cfg.contact.phone.validation == "valid"
    assert cfg.contact.phone.on_invalid == "drop"
    assert cfg.tasks.priority.mode == "title_prefix"
    assert cfg.tasks.priority.aliases == {}
    assert cfg.tasks.due.timezone == "UTC"
    assert cfg.tasks.due.date_only_time == time(9, 0)
    assert cfg.notes.send_title is True
    assert load_mapping() == cfg


def test_user_file_merges_over_defaults(tmp_path: Path) -> None:
    """A partial user file changes only what it names; siblings keep their defaults."""
    path = tmp_path / "mapping.yaml"
    path.write_text("tasks:\n  due:\n    timezone: Europe/Berlin\n", encoding="utf-8")
    cfg = load_mapping(path)
    assert cfg.tasks.due.timezone == "Europe/Berlin"
    assert cfg.tasks.due.date_only_time == time(9, 0)
    assert cfg.tasks.priority.mode == "title_prefix"


def test_empty_user_file_gives_defaults() -> None:
    """An empty file is the defaults, not an error."""
    assert load_mapping_text("", "mapping.yaml") == default_mapping()


def test_unquoted_time_of_day_is_read_as_a_time() -> None:
    """YAML 1.1 reads 17:30 as the number 1050; the loader turns it back into 17:30."""
    cfg = load_mapping_text("tasks:\n  due:\n    default_time: 17:30\n")
    assert cfg.tasks.due.default_time == time(17, 30)


def test_custom_fields_and_extra_fields_load() -> None:
    """Custom fields by key or id, with types and jmespath paths, are accepted."""
    cfg = load_mapping_text(
        "contact:\n"
        "  fields:\n"
        "    companyName: custom_fields.company\n"
        "  custom_fields:\n"
        "    budget: {id: abc123, type: number}\n"
        "    industry: {key: contact.industry, path: 'meta.industry'}\n"
    )
    assert cfg.contact.custom_fields["budget"].id == "abc123"
    assert cfg.contact.custom_fields["industry"].path == "meta.industry"
    assert cfg.contact.fields == {"companyName": "custom_fields.company"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "# comment\ntasks:\n  priority:\n    mode: loud\n",
            "mapping.yaml line 4: tasks.priority.mode: must be one of title_prefix, body_line,"
            " ignore",
            id="bad-enum",
        ),
        pytest.param(
            "tasks:\n  due:\n    default_days: lots\n",
            "mapping.yaml line 3: tasks.due.default_days: input should be a valid integer",
            id="bad-type",
        ),
        pytest.param(
            "contact:\n  name:\n    splitt: first_word\n",
            "mapping.yaml line 3: contact.name.splitt: unknown key (did you mean split?)",
            id="unknown-key",
        ),
        pytest.param(
            "tasks:\n  due:\n\n    timezone: Mars/Olympus\n",
            "mapping.yaml line 4: tasks.due.timezone: unknown IANA time zone 'Mars/Olympus'",
            id="bad-zone",
        ),
        pytest.param(
            "contact:\n  phone:\n    default_region: XX\n",
            "mapping.yaml line 3: contact.phone.default_region: unknown region 'XX'",
            id="bad-region",
        ),
        pytest.param(
            "contact:\n  tags: [a, b\nnotes: {}\n",
            "mapping.yaml line 3: YAML syntax:",
            id="bad-yaml",
        ),
        pytest.param(
            "notes:\n  send_title: true\n  send_title: false\n",
            "mapping.yaml line 3: notes.send_title: duplicate key",
            id="duplicate-key",
        ),
        pytest.param(
            "contact:\n  custom_fields:\n    x: {type: text}\n",
            "mapping.yaml line 3: contact.custom_fields.x: give exactly one of key or id",
            id="custom-field-without-target",
        ),
        pytest.param(
            "contact:\n  custom_fields:\n    x: {key: k, path: 'a..b'}\n",
            "mapping.yaml line 3: contact.custom_fields.x.path: not a valid jmespath expression",
            id="bad-jmespath",
        ),
        pytest.param(
            "contact:\n  fields:\n    locationId: custom_fields.loc\n",
            "mapping.yaml line 3: contact.fields.locationId: must be one of address1, city",
            id="unknown-contact-field",
        ),
        pytest.param(
            "tasks:\n  priority:\n    title_format: '{title.__class__}'\n",
            "mapping.yaml line 3: tasks.priority.title_format: placeholder {title.__class__} not"
            " allowed",
            id="template-attribute-access",
        ),
        pytest.param(
            "tasks:\n  priority:\n    aliases:\n      someday: later\n",
            "mapping.yaml line 4: tasks.priority.aliases.someday: must be one of low, normal,"
            " high, urgent",
            id="alias-bad-level",
        ),
        pytest.param(
            "tasks:\n  priority:\n    aliases: {ASAP: low, asap: high}\n",
            "mapping.yaml line 3: tasks.priority.aliases: 'ASAP' and 'asap' are the same word"
            " (case-insensitive) with different levels",
            id="alias-folded-duplicate",
        ),
        pytest.param(
            "tasks:\n  priority:\n    aliases: {' ': low}\n",
            "mapping.yaml line 3: tasks.priority.aliases: an alias must be a non-blank word",
            id="alias-blank-word",
        ),
        pytest.param(
            "- just\n- a list\n",
            "mapping.yaml line 1: the file must be a mapping of sections",
            id="not-a-mapping",
        ),
    ],
)
def test_bad_mapping_reports_line_and_problem(text: str, expected: str) -> None:
    """Each kind of mistake fails at load with the file, line, dotted path and the problem."""
    assert str(_error(text)).startswith(expected)


def test_priority_aliases_load_case_insensitively() -> None:
    """Alias words are stored trimmed and casefolded, so any spelling of them matches."""
    cfg = load_mapping_text("tasks:\n  priority:\n    aliases: {' Some  Day': low, HOT: urgent}\n")
    assert cfg.tasks.priority.aliases == {"some day": "low", "hot": "urgent"}
    assert cfg.tasks.priority.mode == "title_prefix"


def test_every_problem_is_reported_in_line_order() -> None:
    """Several mistakes are all reported at once, sorted by line."""
    err = _error("tasks:\n  due:\n    timezone: Nowhere/Here\nnotes:\n  send_title: maybe\n")
    assert [i.line for i in err.issues] == [3, 5]
    assert err.issues[1].path == "notes.send_title"


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    """A missing file is a MappingFileError naming the file, not an OSError."""
    with pytest.raises(MappingFileError, match=r"^absent\.yaml: cannot read"):
        load_mapping(tmp_path / "absent.yaml")


def test_docs_show_the_shipped_defaults() -> None:
    """The defaults block in docs/mapping.md loads to exactly the shipped default mapping."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
    text = doc.read_text(encoding="utf-8")
    block = text.split("## The defaults", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    shipped = (resources.files("tnhl.mapping") / "default.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(block) == yaml.safe_load(shipped)

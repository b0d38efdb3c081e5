"""The door check: would one TalkNotes record map at all, judged from its own content?

Runs the same mapping the engine runs (map_contact / map_task / map_note), so intake can refuse
at the door exactly what the workers would reject later. Pure: no I/O, no clock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict

from ._apply import Mapped, map_contact, map_note, map_task
from ._errors import TransformError
from ._models import MappingConfig

__all__ = ["MappingProblem", "check_record"]


class MappingProblem(TypedDict):
    """One reason a record cannot be applied: `field` is a dotted path in the event data."""

    field: str
    problem: str


# Only anchors the default due date of a task without one; the date itself is discarded, and
# a fixed value keeps the check independent of the clock.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
_IDENTIFIERS = ("email", "phone", "full_name", "external_id")
_NO_IDENTIFIER = (
    "a new contact needs at least one of email, phone, full_name, external_id"
    " with a usable (non-blank, valid) value"
)
# Stands in for a required value found missing, so the mapping goes on to check the rest.
_PLACEHOLDER = "-"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _container(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    """The dict holding `path` and the key in it; a top-level key may itself contain dots."""
    if path in data:
        return data, path
    head, _, rest = path.partition(".")
    inner = data.get(head)
    if rest and isinstance(inner, dict):
        return inner, rest
    return None


def _set_aside(data: dict[str, Any], path: str) -> bool:
    """Remove a value the mapping refused, or fill in a required one it found missing.

    Returns False when the path cannot be changed, i.e. no further progress is possible.
    """
    where = _container(data, path)
    if where is None:
        if "." in path:
            return False
        data[path] = _PLACEHOLDER
        return True
    holder, key = where
    if _blank(holder[key]):
        holder[key] = _PLACEHOLDER
    else:
        del holder[key]
    return True


def _run(
    mapping: Callable[[Mapping[str, Any]], Mapped], data: Mapping[str, Any]
) -> tuple[Mapped | None, list[MappingProblem]]:
    """Map `data`, setting aside each refused field in turn, so every refusal is reported."""
    current: dict[str, Any] = copy.deepcopy(dict(data))
    problems: list[MappingProblem] = []
    seen: set[str] = set()
    while True:
        try:
            return mapping(current), problems
        except TransformError as exc:
            if exc.field in seen:
                return None, problems
            seen.add(exc.field)
            problems.append({"field": exc.field, "problem": exc.problem})
            if not _set_aside(current, exc.field):
                return None, problems


def _has_identifier(data: Mapping[str, Any], mapped: Mapped | None) -> bool:
    if not _blank(data.get("external_id")):
        return True
    if mapped is None:
        return False
    fields = mapped.fields
    return any(fields.get(k) is not None for k in ("name", "firstName", "email", "phone"))


def check_record(
    kind: str,
    data: Mapping[str, Any],
    cfg: MappingConfig,
    *,
    create: bool,
    at: datetime | None = None,
) -> list[MappingProblem]:
    """Every problem that makes this record impossible to apply; [] when it maps.

    `kind` is "contact", "task" or "note"; `create` says whether the record would be created
    in HighLevel (a new contact, a task or note HighLevel does not have yet). Warnings (values
    the mapping drops or replaces and says so) are not problems.
    """
    if not isinstance(data, Mapping):
        return [{"field": "data", "problem": "must be an object"}]
    if kind == "contact":
        mapped, problems = _run(lambda d: map_contact(d, cfg), data)
        # A refused identifier already explains a missing one; fixing it fixes both.
        explained = any(p["field"] in _IDENTIFIERS for p in problems)
        if create and not explained and not _has_identifier(data, mapped):
            problems.append({"field": "data", "problem": _NO_IDENTIFIER})
        return problems
    if kind == "task":

        def task(d: Mapping[str, Any]) -> Any:
            return map_task(d, cfg, create=create, reference=_REFERENCE, due_reference=at)

        return _run(task, data)[1]
    if kind == "note":
        return _run(lambda d: map_note(d, cfg, create=create), data)[1]
    raise ValueError(f"kind must be contact, task or note, not {kind!r}")

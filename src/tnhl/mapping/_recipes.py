"""Recipes (issue 10): trigger -> conditions -> actions, written in the mapping file.

```yaml
recipes:
  tag-signed:
    trigger: talknotes.note.milestone          # an id from `tnhl catalog`, or a list of them
    when:                                       # all must hold
      - {path: milestone.family, equals: signed}
    actions:
      - highlevel.add-contact-tags:
          params: {contactId: "{{ contact.highlevel_id }}"}
          body: {tags: [signed]}
```

Pure: a recipe is validated against the catalog when the file loads (unknown triggers, actions,
parameters, bad expressions are errors naming the line); `fires` tests its conditions on a
context (plain data: the event, the contact, the connection, the time) and `render` fills its
actions' templates. Templates are jmespath expressions in `{{ }}`: a string that is one
template keeps the value's type (a list stays a list), text around templates makes text. No
expression language that can run code: jmespath only reads the context.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jmespath
from dateutil import parser as dateparser
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ._catalog import CatalogEntry, get_entry

__all__ = ["Recipe", "check_action", "fires", "render", "template_paths"]

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
_COMPARE = ("equals", "not_equals", "in", "exists", "contains", "matches", "gt", "gte", "lt", "lte")
_WINDOWS = ("within", "older_than")
_GROUPS = ("any", "all", "not")
_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


def _expr(text: str) -> str:
    try:
        jmespath.compile(text.strip())
    except JMESPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{text.strip()!r} is not a valid jmespath expression ({first})") from None
    return text


def _templates(value: Any) -> Any:
    """Check every `{{ expr }}` inside `value` (strings, lists, mappings) compiles."""
    if isinstance(value, str):
        for m in _TEMPLATE.finditer(value):
            _expr(m.group(1))
    elif isinstance(value, list):
        for item in value:
            _templates(item)
    elif isinstance(value, dict):
        for item in value.values():
            _templates(item)
    return value


def _window(value: Any, op: str) -> float:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _UNITS:
        raise ValueError(f"{op}: must be one of {{minutes: N}}, {{hours: N}}, {{days: N}}")
    unit, n = next(iter(value.items()))
    if not isinstance(n, int | float) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"{op}.{unit}: must be a positive number")
    return float(n) * _UNITS[unit]


def _condition(cond: Any) -> dict[str, Any]:
    if not isinstance(cond, dict):
        raise ValueError("a condition is a mapping such as {path: event.data.x, equals: 1}")
    groups = [k for k in cond if k in _GROUPS]
    if groups:
        if len(cond) != 1:
            raise ValueError(f"{groups[0]}: stands alone in its condition")
        inner = cond[groups[0]]
        for c in inner if isinstance(inner, list) else [inner]:
            _condition(c)
        if groups[0] != "not" and not isinstance(inner, list):
            raise ValueError(f"{groups[0]}: must be a list of conditions")
        return cond
    if "path" not in cond:
        raise ValueError("path: required (a jmespath expression into the context)")
    _expr(str(cond["path"]))
    ops = [k for k in cond if k != "path"]
    unknown = [k for k in ops if k not in _COMPARE + _WINDOWS]
    if unknown:
        allowed = ", ".join(_COMPARE + _WINDOWS + _GROUPS)
        raise ValueError(f"{unknown[0]}: unknown test; allowed: {allowed}")
    if len(ops) != 1:
        raise ValueError("one test per condition (list several conditions to test more)")
    op, value = ops[0], cond[ops[0]]
    if op in _WINDOWS:
        _window(value, op)
    elif op == "matches":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise ValueError(f"matches: not a regular expression ({exc})") from None
    elif op == "in" and not isinstance(value, list):
        raise ValueError("in: must be a list")
    elif op == "exists" and not isinstance(value, bool):
        raise ValueError("exists: must be true or false")
    elif op in ("gt", "gte", "lt", "lte") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise ValueError(f"{op}: must be a number")
    return cond


def _action(action: Any) -> dict[str, Any]:
    if not isinstance(action, dict) or len(action) != 1:
        raise ValueError(
            "an action is one catalog action with its parameters, e.g. {tnhl.note: {content: ...}}"
        )
    name, params = next(iter(action.items()))
    try:
        entry = get_entry(str(name), "action")
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ValueError(f"{name}: its parameters must be a mapping")
    _check_params(entry, params)
    _templates(params)
    return {str(name): params}


def check_action(name: str, params: Any) -> dict[str, Any]:
    """One action and its parameters, checked as in a recipe (ValueError naming the problem)."""
    return _action({name: params})


def _check_params(entry: CatalogEntry, params: Mapping[str, Any]) -> None:
    """Parameter names (and, for HighLevel operations, path and query names) against the
    entry's input schema; values are checked when rendered (they may be templates)."""
    schema = entry.input
    allowed = dict(schema.get("properties", {}))
    for key in params:
        if key not in allowed:
            listing = ", ".join(allowed) or "none"
            raise ValueError(f"{entry.id}: unknown parameter {key!r}; allowed: {listing}")
    for key in schema.get("required", ()):
        if key not in params:
            raise ValueError(f"{entry.id}: {key} is required")
    inner = allowed.get("params")
    if isinstance(inner, dict) and "params" in params:
        names = dict(inner.get("properties", {}))
        given = params["params"]
        if not isinstance(given, dict):
            raise ValueError(f"{entry.id}: params must be a mapping of path and query parameters")
        for key in given:
            if key not in names:
                raise ValueError(
                    f"{entry.id}: unknown parameter params.{key}; allowed: {', '.join(names)}"
                )
        for key in inner.get("required", ()):
            if key not in given:
                raise ValueError(f"{entry.id}: params.{key} is required")


def _check_values(entry: CatalogEntry, params: Mapping[str, Any]) -> None:
    """A trigger's `with:` values against its schema (integers, times of day, weekdays)."""
    props = dict(entry.input.get("properties", {}))
    for key, value in params.items():
        schema = props[key]
        if schema.get("type") == "integer" and (
            isinstance(value, bool) or not isinstance(value, int) or value < schema["minimum"]
        ):
            raise ValueError(f"with.{key}: must be a whole number >= {schema['minimum']}")
        if "pattern" in schema and not re.fullmatch(schema["pattern"], str(value)):
            raise ValueError(f"with.{key}: must be a time of day HH:MM, got {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            raise ValueError(f"with.{key}: must be one of {', '.join(schema['enum'])}")


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _trigger(names: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        raise ValueError("at least one trigger")
    groups = set()
    for name in names:
        try:
            groups.add(get_entry(name, "trigger").group)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
    if len(groups) > 1 or (groups & {"poll", "schedule"} and len(names) > 1):
        raise ValueError("one poll or schedule trigger alone, or events of one side only")
    return names


class Recipe(BaseModel):
    """One recipe of the mapping file's `recipes:` section."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    description: str = ""
    enabled: bool = True
    trigger: Annotated[tuple[str, ...], BeforeValidator(_as_tuple), AfterValidator(_trigger)]
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: list[Annotated[Any, AfterValidator(_condition)]] = Field(default_factory=list)
    once_per: Annotated[str | None, AfterValidator(_templates)] = None
    actions: list[Annotated[Any, AfterValidator(_action)]] = Field(min_length=1)

    @property
    def triggers(self) -> tuple[str, ...]:
        return self.trigger

    def action_ids(self) -> list[str]:
        return [next(iter(a)) for a in self.actions]

    @model_validator(mode="after")
    def _fits(self) -> Recipe:
        entry = get_entry(self.triggers[0], "trigger")
        _check_params(entry, self.with_)
        _check_values(entry, self.with_)
        notes = {"talknotes.note.created", "talknotes.note.updated"}
        for name in self.action_ids():
            if get_entry(name).on_notes and not set(self.triggers) <= notes:
                raise ValueError(f"{name} reads a note: its triggers must be note.created/updated")
        if entry.group == "schedule" and "tnhl.task" in self.action_ids():
            raise ValueError("tnhl.task needs an event's contact: not with a schedule trigger")
        return self


def template_paths(value: Any) -> list[str]:
    """Every jmespath expression used in `value`'s templates."""
    if isinstance(value, str):
        return [m.group(1).strip() for m in _TEMPLATE.finditer(value)]
    if isinstance(value, list):
        return [p for item in value for p in template_paths(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in template_paths(item)]
    return []


def _search(expr: str, context: Mapping[str, Any]) -> Any:
    return jmespath.search(expr.strip(), context)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with its templates filled from `context`."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole is not None and value.strip() == value:
            return _search(whole.group(1), context)

        def text(m: re.Match[str]) -> str:
            found = _search(m.group(1), context)
            return "" if found is None else str(found)

        return _TEMPLATE.sub(text, value)
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    return value


def _when(text: Any) -> datetime | None:
    if isinstance(text, int | float) and not isinstance(text, bool):
        return datetime.fromtimestamp(text / 1000 if text > 1e11 else text, UTC)
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        at = dateparser.isoparse(text.strip())
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _holds(cond: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
    if "any" in cond:
        return any(_holds(c, context, now) for c in cond["any"])
    if "all" in cond:
        return all(_holds(c, context, now) for c in cond["all"])
    if "not" in cond:
        inner = cond["not"]
        return not all(
            _holds(c, context, now) for c in (inner if isinstance(inner, list) else [inner])
        )
    value = _search(str(cond["path"]), context)
    op = next(k for k in cond if k != "path")
    want = cond[op]
    if op == "exists":
        return bool((value is not None) == want)
    if op == "equals":
        return bool(value == want)
    if op == "not_equals":
        return bool(value != want)
    if op == "in":
        return bool(value in want)
    if op == "contains":
        if isinstance(value, str):
            return str(want).casefold() in value.casefold()
        return isinstance(value, list) and want in value
    if op == "matches":
        return isinstance(value, str) and re.search(str(want), value, re.I) is not None
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        checks = {
            "gt": value > want,
            "gte": value >= want,
            "lt": value < want,
            "lte": value <= want,
        }
        return bool(checks[op])
    at = _when(value)
    if at is None:
        return False
    span = timedelta(seconds=_window(want, op))
    if op == "within":
        return now <= at <= now + span
    return at <= now - span


def fires(recipe: Recipe, context: Mapping[str, Any], now: datetime) -> bool:
    """Whether every condition of the (enabled) recipe holds for `context` at `now`."""
    return recipe.enabled and all(_holds(c, context, now) for c in recipe.when)

"""Loading mapping files: YAML composed node by node so every problem reports its line.

A user's file is merged over the defaults shipped in `default.yaml` (mappings merge key by key;
lists and scalars replace). Errors name the user's file, the line, the dotted path and the problem,
e.g. ``mapping.yaml line 12: tasks.priority.mode: must be one of title_prefix, body_line, ignore``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ._errors import MappingFileError, MappingIssue
from ._models import MappingConfig

__all__ = ["default_mapping", "load_mapping", "load_mapping_text"]

Loc = tuple[str | int, ...]
_DEFAULT_NAME = "default.yaml"


def _compose(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML into plain data plus a map from each path to its 1-based line."""
    loader = yaml.SafeLoader(text)
    lines: dict[Loc, int] = {}
    issues: list[MappingIssue] = []
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, lines
        data = _build(loader, node, (), lines, issues, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        raise MappingFileError(
            [MappingIssue(source, line, "", f"YAML syntax: {problem}")]
        ) from None
    except yaml.YAMLError as exc:
        raise MappingFileError([MappingIssue(source, None, "", f"YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if issues:
        raise MappingFileError(issues)
    return data, lines


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    issues: list[MappingIssue],
    source: str,
) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                issues.append(
                    MappingIssue(
                        source, key_node.start_mark.line + 1, _dotted(loc), "keys must be text"
                    )
                )
                continue
            child = (*loc, str(key))
            if str(key) in out:
                issues.append(
                    MappingIssue(
                        source, key_node.start_mark.line + 1, _dotted(child), "duplicate key"
                    )
                )
                continue
            out[str(key)] = _build(loader, value_node, child, lines, issues, source)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*loc, i), lines, issues, source)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return over


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names of the model at `loc` (for did-you-mean hints)."""
    model: type[BaseModel] = MappingConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def _problem(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
        return "must be one of " + ", ".join(c for c in choices if c)
    if kind == "extra_forbidden":
        loc = err["loc"]
        allowed = _allowed_keys(tuple(loc[:-1]))
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        extra = f" (did you mean {hint[0]}?)" if hint else ""
        listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return f"unknown key{extra}{listing}"
    if kind == "missing":
        return "required"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    msg = err["msg"]
    return msg[:1].lower() + msg[1:] + f", got {err.get('input')!r}"


def _line_for(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    # pydantic locations can include model-internal parts; walk up to the nearest node we saw.
    while True:
        if loc in lines:
            return lines[loc]
        if not loc:
            return None
        loc = loc[:-1]


def _validate(data: Any, lines: Mapping[Loc, int], source: str) -> MappingConfig:
    if not isinstance(data, dict):
        raise MappingFileError(
            [MappingIssue(source, lines.get(()), "", "the file must be a mapping of sections")]
        )
    try:
        return MappingConfig.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if isinstance(p, str | int) and p != "[key]")
            issues.append(MappingIssue(source, _line_for(loc, lines), _dotted(loc), _problem(err)))
        issues.sort(key=lambda i: i.line or 0)
        raise MappingFileError(issues) from None


def _default_data() -> Any:
    text = resources.files(__package__).joinpath(_DEFAULT_NAME).read_text(encoding="utf-8")
    data, _ = _compose(text, _DEFAULT_NAME)
    return data


def default_mapping() -> MappingConfig:
    """The defaults that ship with tnhl (`tnhl/mapping/default.yaml`)."""
    text = resources.files(__package__).joinpath(_DEFAULT_NAME).read_text(encoding="utf-8")
    data, lines = _compose(text, _DEFAULT_NAME)
    return _validate(data, lines, _DEFAULT_NAME)


def load_mapping_text(text: str, source: str = "mapping.yaml") -> MappingConfig:
    """Merge the YAML `text` over the defaults; raise MappingFileError naming `source` lines."""
    data, lines = _compose(text, source)
    if data is None or data == {}:
        return default_mapping()
    if not isinstance(data, dict):
        raise MappingFileError(
            [MappingIssue(source, lines.get(()), "", "the file must be a mapping of sections")]
        )
    return _validate(_merge(_default_data(), data), lines, source)


def load_mapping(path: str | Path | None = None) -> MappingConfig:
    """Load the user's mapping file merged over the defaults; `None` gives the defaults."""
    if path is None:
        return default_mapping()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingFileError(
            [MappingIssue(p.name, None, "", f"cannot read: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise MappingFileError([MappingIssue(p.name, None, "", "not UTF-8 text")]) from None
    return load_mapping_text(text, p.name)

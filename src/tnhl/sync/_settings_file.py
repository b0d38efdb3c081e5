"""Where settings come from, for error messages a person can act on: the settings file (each
key's line) and the TNHL_* environment, both checked for names tnhl does not know.

A misspelt setting that is silently ignored costs an afternoon; refusing it with the nearest
known name (`TNHL_WORKERZ: unknown setting (did you mean TNHL_WORKERS?)`) costs a second.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tnhl.sync._errors import SettingsError

__all__ = [
    "OTHER_VARIABLES",
    "Located",
    "SettingsFile",
    "YamlSource",
    "check_names",
    "in_environment",
    "read_settings_file",
    "suggest",
]

# TNHL_* environment variables that are not settings, yet legitimately set; any other TNHL_*
# variable is refused as an unknown setting. (tests/cli/test_config_errors.py checks that
# every TNHL_ name the repository mentions is a setting or listed here.)
OTHER_VARIABLES = frozenset(
    {
        "TNHL_CONFIG",  # the settings file (load_settings)
        "TNHL_REQUIRE_EXTERNAL",  # the test suite: fail, not skip, when a tool is missing
        "TNHL_TEST_PG",  # the test suite: the PostgreSQL server to test against
    }
)
_DOCS = "the settings are listed in docs/configuration.md"

Path_ = tuple[str | int, ...]


class YamlSource(PydanticBaseSettingsSource):
    """The settings file's values, below the environment in precedence."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Located(SettingsError):
    """A SettingsError whose message says where the value came from (the file and line, or
    the variable) in place of the setting's environment variable."""

    def __init__(self, field: str, problem: str, message: str) -> None:
        super().__init__(field, problem)
        self.args = (message,)


@dataclass
class SettingsFile:
    """The file's values (top-level keys without `tnhl_`) and the line of each key and list
    item by its path, e.g. ("connections", 0, "name") -> 4."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[Path_, int] = field(default_factory=dict)

    def where(self, loc: Path_) -> str:
        """`FILE line N` of `loc`, or of the nearest enclosing key that has a line."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.lines:
                return f"{self.path} line {self.lines[loc[:end]]}"
        return str(self.path)


def _top_key(key: object) -> str:
    return str(key).lower().removeprefix("tnhl_")


def _lines(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    out: dict[Path_, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            key = str(key_node.value) if path else _top_key(key_node.value)
            out[(*path, key)] = key_node.start_mark.line + 1
            out.update(_lines(value, (*path, key)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            out.update(_lines(item, (*path, i)))
    return out


def read_settings_file(path: Path) -> SettingsFile:
    """The file's values and lines, or a SettingsError naming `config`, the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError("config", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError("config", f"{path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise SettingsError(
            "config", f"{path}{where}: not valid YAML" + (f" ({problem})" if problem else "")
        ) from None
    if data is None:
        return SettingsFile(path)
    if not isinstance(data, dict):
        raise SettingsError("config", f"{path}: must be a mapping of setting: value")
    lines = _lines(node) if node is not None else {}
    return SettingsFile(path, {_top_key(k): v for k, v in data.items()}, lines)


def suggest(name: str, known: Iterable[str], fallback: str = _DOCS) -> str:
    """` (did you mean X?)` with the nearest of `known`, else ` (fallback)`."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else f" ({fallback})"


def _env_references(values: dict[str, Any]) -> set[str]:
    """The variables the connections' `env:NAME` secrets name (they may start with TNHL_)."""
    entries = values.get("connections")
    found: set[str] = set()
    for entry in entries if isinstance(entries, list) else []:
        for value in entry.values() if isinstance(entry, dict) else []:
            if isinstance(value, str) and value.startswith("env:"):
                found.add(value.removeprefix("env:"))
    return found


def check_names(source: SettingsFile, fields: Iterable[str]) -> None:
    """A key of the file or a TNHL_* variable that names no setting is a SettingsError with
    the nearest known name."""
    known = set(fields)
    for key in source.values:
        if key not in known:
            hint = suggest(key, known)
            message = f"{source.where((key,))}: {key}: unknown setting{hint}"
            raise Located(key, f"unknown setting{hint}", message)
    allowed = OTHER_VARIABLES | _env_references(source.values)
    variables = [*sorted(f"TNHL_{name.upper()}" for name in known), "TNHL_CONFIG"]
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith("TNHL_") or upper in allowed or name in allowed:
            continue
        if upper.removeprefix("TNHL_").lower() not in known:
            hint = suggest(upper, variables)
            raise Located(name, f"unknown setting{hint}", f"{name}: unknown setting{hint}")


def in_environment(name: str) -> bool:
    """Whether the setting `name` is set by its TNHL_ variable (any case, as pydantic reads)."""
    wanted = f"TNHL_{name.upper()}"
    return any(key.upper() == wanted for key in os.environ)

"""Errors of the mapping package.

MappingError
 +-- MappingFileError   the mapping file is unusable (each issue has a line and a problem)
 +-- TransformError     one value of one event cannot be mapped (names the field)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MappingError", "MappingFileError", "MappingIssue", "TransformError"]


class MappingError(Exception):
    """Base of every error raised by tnhl.mapping."""


@dataclass(frozen=True)
class MappingIssue:
    """One problem in a mapping file: where it is and what is wrong."""

    source: str
    line: int | None
    path: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.path}: {self.problem}" if self.path else f"{where}: {self.problem}"


class MappingFileError(MappingError):
    """The mapping file cannot be used; `issues` lists every problem found, in file order."""

    def __init__(self, issues: list[MappingIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class TransformError(MappingError):
    """A value cannot be mapped to HighLevel; `field` names the TalkNotes field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

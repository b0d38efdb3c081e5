"""Errors of the TalkNotes side.

::

    TalkNotesError
    ├── InvalidEvent            the body is not a valid event (HTTP 422); carries `problems`
    │   └── MalformedEvent      the body is not JSON at all (HTTP 400)
    ├── SignatureError          signature, id or timestamp headers do not verify (HTTP 401)
    ├── SecretFormatError       the configured signing secret is unusable (a config error)
    └── DeliveryFailed          an outbound event was not taken (`retry`: worth trying later)
"""

from __future__ import annotations

__all__ = [
    "InvalidEvent",
    "MalformedEvent",
    "Problem",
    "SecretFormatError",
    "SignatureError",
    "TalkNotesError",
    "invalid_event_from",
]

from collections.abc import Sequence
from typing import TypedDict

from pydantic import ValidationError


class Problem(TypedDict):
    """One thing wrong with an event: the dotted field path and what is wrong with it."""

    field: str
    problem: str


class TalkNotesError(Exception):
    """Base of every error raised by `tnhl.talknotes`."""


class InvalidEvent(TalkNotesError, ValueError):
    """The body parsed as JSON but is not a valid TalkNotes event."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(self.summary())

    def summary(self) -> str:
        """One line naming every offending field, e.g. `data.taskName: is required`."""
        return "; ".join(f"{p['field']}: {p['problem']}" for p in self.problems)


class MalformedEvent(InvalidEvent):
    """The body is not a JSON document (or not UTF-8)."""


class SignatureError(TalkNotesError):
    """A webhook's signature headers are missing, stale, or do not match the body.

    The message says which, never the secret or the expected signature.
    """


class SecretFormatError(TalkNotesError, ValueError):
    """The signing secret is not a usable `whsec_<base64>` secret (a configuration error)."""


_PROBLEM_TEXT = {
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "timezone_aware": "must be an ISO 8601 date-time with a zone (Z or +hh:mm)",
    "string_too_short": "must not be empty",
}


def invalid_event_from(exc: ValidationError, event_types: Sequence[str]) -> InvalidEvent:
    """The `InvalidEvent` (or `MalformedEvent`) naming every problem pydantic found.

    `event_types` are the discriminator's branch names, dropped from the reported paths.
    """
    problems: list[Problem] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=True):
        kind = err["type"]
        if kind == "json_invalid":
            return MalformedEvent([{"field": "(body)", "problem": f"is not JSON: {err['msg']}"}])
        loc = list(err["loc"])
        if loc and loc[0] in event_types:
            loc = loc[1:]  # the discriminator's branch name is noise for the sender
        if kind == "union_tag_not_found":
            problems.append({"field": "type", "problem": "is required"})
            continue
        if kind == "union_tag_invalid":
            problems.append(
                {"field": "type", "problem": "must be one of " + ", ".join(event_types)}
            )
            continue
        if not loc and kind in ("dict_type", "model_type", "model_attributes_type"):
            problems.append({"field": "(body)", "problem": "must be a JSON object"})
            continue
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        text = _PROBLEM_TEXT.get(kind) or str(err["msg"]).removeprefix("Value error, ")
        if kind in ("literal_error", "enum"):
            text = "must be " + text.removeprefix("Input should be ")
        problems.append({"field": field or "(body)", "problem": text})
    return InvalidEvent(problems)

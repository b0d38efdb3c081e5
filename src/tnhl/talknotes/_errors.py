"""Errors of the TalkNotes side.

::

    TalkNotesError
    ├── InvalidEvent            the body is not a valid event (HTTP 422); carries `problems`
    │   └── MalformedEvent      the body is not JSON at all (HTTP 400)
    ├── SignatureError          signature, id or timestamp headers do not verify (HTTP 401)
    └── SecretFormatError       the configured signing secret is unusable (a config error)
"""

from __future__ import annotations

__all__ = [
    "InvalidEvent",
    "MalformedEvent",
    "Problem",
    "SecretFormatError",
    "SignatureError",
    "TalkNotesError",
]

from typing import TypedDict


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

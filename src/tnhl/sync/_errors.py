"""Errors of the sync engine.

::

    SyncError
    ├── SettingsError       a setting is missing or invalid; names the field, never its value
    ├── RecordConflictError two TalkNotes records resolve to one HighLevel record
    └── RescheduleNeeded    internal: a call must wait `wait` seconds (rate limit) before it may
                            be sent; the executor reschedules the entity instead of sleeping
"""

from __future__ import annotations

__all__ = ["RecordConflictError", "RescheduleNeeded", "SettingsError", "SyncError"]


class SyncError(Exception):
    """Base of every error raised by `tnhl.sync`."""


class SettingsError(SyncError, ValueError):
    """A setting is missing or invalid. The message names the field (and the env variable)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        # A connection's field (connections[acme].name) has no environment variable of its own.
        env = f" (TNHL_{field.upper()})" if field.isidentifier() else ""
        super().__init__(f"setting {field}{env}: {problem}")


class RescheduleNeeded(SyncError):
    """The rate limiter has no slot for `wait` seconds; nothing was sent."""

    def __init__(self, wait: float, reason: str = "rate limit", slots: int = 1) -> None:
        self.wait = wait
        self.reason = reason
        self.slots = slots  # the slots the call needs at once
        super().__init__(f"{reason}: next slot in {wait:.3f} s")


class RecordConflictError(SyncError):
    """HighLevel's record for this TalkNotes record already belongs to another TalkNotes record
    (two people sharing an email, say). Nothing was written; a person must look."""

    def __init__(self, kind: str, talknotes_id: str, other: str, highlevel_id: str) -> None:
        self.kind = kind
        self.talknotes_id = talknotes_id
        self.other = other
        self.highlevel_id = highlevel_id
        super().__init__(
            f"TalkNotes {kind}s {other!r} and {talknotes_id!r} both match HighLevel {kind} "
            f"{highlevel_id!r}; HighLevel was left unchanged"
        )

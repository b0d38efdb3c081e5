"""Errors of the store.

::

    StoreError
    ├── StoreUnavailableError   cannot read or persist right now (locked past the timeout,
    │                           disk full, read-only, database down): retry later; intake
    │                           answers 503 (TalkNotes) or 429 (HighLevel)
    ├── StoreConfigError        the store URL setting is unusable (names the setting)
    ├── InvalidRecordError      a value handed to the store is unusable (names the field)
    ├── LeaseLostError          the worker no longer holds the lease on a record
    ├── MappingConflictError    an id is already mapped to a different id
    └── RecordNotFoundError     no such dead letter, event or outbound operation
"""

from __future__ import annotations

__all__ = [
    "InvalidRecordError",
    "LeaseLostError",
    "MappingConflictError",
    "RecordNotFoundError",
    "StoreConfigError",
    "StoreError",
    "StoreUnavailableError",
]


class StoreError(Exception):
    """Base of every error raised by `tnhl.store`."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached or written now; nothing was changed. Retry later."""


class StoreConfigError(StoreError, ValueError):
    """The store URL is unusable; the message names the setting and the problem."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class InvalidRecordError(StoreError, ValueError):
    """A value given to the store is unusable; `field` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class LeaseLostError(StoreError):
    """The worker's lease on these events ended (expired and swept, or taken by another worker).

    Nothing was written: the other holder's outcome stands.
    """

    def __init__(self, worker: str, inbox_ids: list[int]) -> None:
        self.worker = worker
        self.inbox_ids = inbox_ids
        super().__init__(f"worker {worker!r} no longer holds the lease on inbox ids {inbox_ids}")


class MappingConflictError(StoreError):
    """The TalkNotes id or the HighLevel id is already mapped to a different id."""


class RecordNotFoundError(StoreError, LookupError):
    """No record with that id or key."""

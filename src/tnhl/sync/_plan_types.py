"""The engine's one plan vocabulary: what the pure planner decides for one record.

    Plan = Calls | Wait | Skip | Reject

- Calls: HighLevel operations to run in order; once they succeed, HighLevel holds `applied`.
- Wait: not applicable yet (a task whose contact is not in HighLevel, a record with too little
  to create it from); it runs again when that changes, or dies after the orphan timeout.
- Skip: nothing to do (no change, a delete of something never synced, a deleted record).
- Reject: the record's content can never apply (goes to the dead letters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "CUSTOM",
    "Calls",
    "IdLookup",
    "IdRecord",
    "Plan",
    "PlannedCall",
    "Reject",
    "Skip",
    "Wait",
    "create_key",
]


# A custom field's name in a record's fields: each folds on its own (last writer wins per key).
CUSTOM = "custom_fields."


def create_key(location_id: str, kind: str, talknotes_id: str) -> str:
    """The exactly-once key of the create of one TalkNotes record: the same for every event
    about it, so a retried or replayed event never creates it twice."""
    return f"{location_id}:create-{kind}:{talknotes_id}"


class IdLookup(Protocol):
    """What the planner reads besides the record (cached per claim batch by the executor)."""

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None: ...
    def is_deleted(self, kind: str, talknotes_id: str) -> bool: ...
    def create_unconfirmed(self, kind: str, talknotes_id: str) -> bool:
        """A create of this record went out (or was marked to) and was never confirmed: it
        may have made something in HighLevel that the id map does not know."""
        ...


@dataclass(frozen=True)
class IdRecord:
    """After the call, map (kind, talknotes_id) to the HighLevel id at `response_path`."""

    kind: Literal["contact", "task", "note"]
    talknotes_id: str
    response_path: str


@dataclass(frozen=True)
class PlannedCall:
    """One HighLevel operation by its official operation id.

    `body` is None for operations without a request body (the deletes). `key` is set on creates:
    a deterministic key per TalkNotes record, so the executor never creates it twice; and on the
    delete of a record whose create was never confirmed, which deletes what that create made
    (found by reading it back), if anything.
    `on_duplicate="adopt"` (create-contact): HighLevel's duplicate 400 names an existing
    contact; check it belongs to no other record, map it and update it instead.
    `find_duplicate` (create-contact with an email or phone): look the duplicate up BEFORE
    writing, so a contact of another TalkNotes record is never overwritten.
    """

    operation_id: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    key: str | None = None
    records: IdRecord | None = None
    on_duplicate: Literal["adopt"] | None = None
    find_duplicate: bool = False


@dataclass(frozen=True)
class Calls:
    calls: tuple[PlannedCall, ...]
    applied: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    deleted: bool = False

    def __init__(
        self,
        calls: Sequence[PlannedCall],
        applied: Mapping[str, Any] | None = None,
        warnings: Sequence[str] = (),
        *,
        deleted: bool = False,
    ) -> None:
        object.__setattr__(self, "calls", tuple(calls))
        object.__setattr__(self, "applied", dict(applied or {}))
        object.__setattr__(self, "warnings", tuple(warnings))
        object.__setattr__(self, "deleted", deleted)


@dataclass(frozen=True)
class Wait:
    """`for_contact`: waiting for the record's contact to be in HighLevel (it is woken then);
    otherwise waiting for more of its own events (checked again after a while)."""

    reason: str
    warnings: tuple[str, ...] = ()
    for_contact: bool = False


@dataclass(frozen=True)
class Skip:
    reason: str
    deleted: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    reason: str
    warnings: tuple[str, ...] = ()


Plan = Calls | Wait | Skip | Reject

"""The planner's output: a Plan per event (or per coalesced run of events).

    Plan = Calls | Wait | Skip | Reject

- Calls: HighLevel operations to run in order.
- Wait: a task or note whose contact is not in HighLevel yet; try again after it is.
- Skip: nothing to do (a delete of something never synced, an update that changes nothing).
- Reject: the data is invalid and retrying will not fix it (goes to the dead letters).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

__all__ = [
    "BatchStep",
    "Calls",
    "IdLookup",
    "IdRecord",
    "Plan",
    "PlannedCall",
    "PlannerEvent",
    "Reject",
    "Skip",
    "Wait",
    "content_hash",
]


class IdLookup(Protocol):
    """The id map as the planner sees it (read only)."""

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None: ...


class PlannerEvent(Protocol):
    """One TalkNotes event as plain data, with the inbox's event id."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def timestamp(self) -> str | datetime | None: ...


@dataclass(frozen=True)
class IdRecord:
    """After the call, map (kind, talknotes_id) to the HighLevel id at `response_path`."""

    kind: Literal["contact", "task", "note"]
    talknotes_id: str
    response_path: str


@dataclass(frozen=True)
class PlannedCall:
    """One HighLevel operation by its official operation id.

    `body` is None for operations that take no request body (the deletes); the client refuses
    a JSON body on those. `key` is set on real creates only (create-contact, create-task,
    create-note): a deterministic idempotency key, the same for every event about the same
    TalkNotes record, so the executor never creates it twice; upsert-contact needs none, as
    HighLevel matches it by email/phone and re-sending it is safe. `on_duplicate="adopt"`
    (create-contact in create mode): on HighLevel's duplicate 400, record `meta.contactId` and
    send `update_body(body)` with update-contact instead.
    """

    operation_id: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    key: str | None = None
    records: IdRecord | None = None
    on_duplicate: Literal["adopt"] | None = None


@dataclass(frozen=True)
class Calls:
    calls: tuple[PlannedCall, ...]
    warnings: tuple[str, ...] = ()

    def __init__(self, calls: Sequence[PlannedCall], warnings: Sequence[str] = ()) -> None:
        object.__setattr__(self, "calls", tuple(calls))
        object.__setattr__(self, "warnings", tuple(warnings))


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Reject:
    reason: str


Plan = Calls | Wait | Skip | Reject

E = TypeVar("E", bound=PlannerEvent)


@dataclass(frozen=True)
class BatchStep(Generic[E]):
    """The plan for `events`, consecutive events of the batch (more than one when coalesced)."""

    events: tuple[E, ...]
    plan: Plan


def content_hash(body: Mapping[str, Any]) -> str:
    """A stable SHA-256 of a request body (key order and whitespace do not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

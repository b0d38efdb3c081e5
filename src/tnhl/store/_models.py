"""Plain records the store takes and returns (frozen dataclasses, no ORM objects).

Times are epoch seconds (float, UTC) everywhere: they compare the same way on SQLite and
PostgreSQL and need no time-zone handling in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "FINISHED_STATES",
    "UNFINISHED_STATES",
    "Claim",
    "DeadLetter",
    "EntityKey",
    "EventState",
    "InboundEvent",
    "InboxRow",
    "MapKind",
    "OpState",
    "OutboundOp",
    "Source",
    "StoreStats",
]

Source = Literal["talknotes", "highlevel"]
EventState = Literal["received", "pending", "done", "dead", "skipped"]
OpState = Literal["planned", "sent", "succeeded", "failed", "unknown"]
MapKind = Literal["contact", "task", "note"]

SOURCES: Final = ("talknotes", "highlevel")
EVENT_STATES: Final = ("received", "pending", "done", "dead", "skipped")
# received: stored, never handed to a worker; pending: handed out at least once, not finished.
UNFINISHED_STATES: Final = ("received", "pending")
FINISHED_STATES: Final = ("done", "dead", "skipped")
OP_STATES: Final = ("planned", "sent", "succeeded", "failed", "unknown")
MAP_KINDS: Final = ("contact", "task", "note")


@dataclass(frozen=True)
class InboundEvent:
    """A verified webhook event as intake stores it; `body` is the raw text, byte for byte."""

    source: Source
    event_id: str
    event_type: str
    location_id: str
    entity_key: str
    body: str
    received_at: float


@dataclass(frozen=True)
class EntityKey:
    """What work is ordered by: one contact (or other entity) in one location."""

    location_id: str
    entity_key: str


@dataclass(frozen=True)
class InboxRow:
    """One stored event with its processing state; `id` is the global arrival order."""

    id: int
    source: str
    event_id: str
    event_type: str
    location_id: str
    entity_key: str
    body: str
    received_at: float
    state: EventState
    attempts: int
    next_attempt_at: float
    lease_owner: str | None
    lease_until: float | None
    last_error: str | None
    done_at: float | None
    result: str | None

    @property
    def entity(self) -> EntityKey:
        return EntityKey(self.location_id, self.entity_key)


@dataclass(frozen=True)
class Claim:
    """Leased work for one entity: its oldest unfinished event first, then the events behind it.

    The events after the first are the consecutive unfinished events of the same entity, in
    arrival order, so an executor may coalesce them (several contact.updated into one call).
    """

    entity: EntityKey
    events: tuple[InboxRow, ...]
    worker: str
    lease_until: float

    @property
    def inbox_ids(self) -> list[int]:
        return [e.id for e in self.events]


@dataclass(frozen=True)
class OutboundOp:
    """One planned write to HighLevel, keyed deterministically so a create is sent at most once."""

    key: str
    inbox_id: int | None
    operation_id: str
    state: OpState
    highlevel_id: str | None
    request_body: str | None
    response: str | None
    attempts: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class DeadLetter:
    """An event that will not be retried until someone replays it."""

    id: int
    inbox_id: int
    reason: str
    error: str | None
    dead_at: float
    replayed_at: float | None
    event: InboxRow


@dataclass(frozen=True)
class StoreStats:
    """What `tnhl status` shows: events by state, the age of the oldest unfinished event."""

    counts: dict[str, int] = field(default_factory=dict)
    oldest_unfinished_age: float | None = None
    leased: int = 0
    dead_letters: int = 0

"""Plain records the store takes and returns (frozen dataclasses, no ORM objects).

Times are epoch seconds (float, UTC) everywhere: they compare the same way on SQLite and
PostgreSQL and need no time-zone handling in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "FINISHED_STATES",
    "UNFINISHED_STATES",
    "ApiKey",
    "BatchRead",
    "DeadLetter",
    "Delivery",
    "Delta",
    "EventState",
    "EventVerdict",
    "InboundEvent",
    "InboxRow",
    "Link",
    "MapKind",
    "OpState",
    "OutboundOp",
    "PendingEvent",
    "ProfileDue",
    "RecordClaim",
    "RecordState",
    "RecordStatus",
    "Settlement",
    "Source",
    "StoreStats",
    "Told",
]

Source = Literal["talknotes", "highlevel", "recipe"]
EventState = Literal["received", "pending", "done", "dead", "skipped"]
OpState = Literal["planned", "sent", "succeeded", "failed", "unknown"]
MapKind = Literal["contact", "task", "note"]
RecordStatus = Literal["new", "synced", "waiting", "retry", "dead", "deleted"]
Outcome = Literal["applied", "skipped", "waiting", "retry", "reschedule", "dead"]

SOURCES: Final = ("talknotes", "highlevel", "recipe")
# A recipe that fired: stored pending for its runner (`claim_outbound(source="recipe")`), never
# folded into a record, and never purged: its event id remembers that the recipe fired once for
# its cause.
RECIPE: Final = "recipe"
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
    record_key: str | None = None
    warnings: str | None = None


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
class OpMark:
    """A create about to go out under `key`, marked sent first (`Store.send_ops`); `body` is
    the request body as first planned, kept to read the create back by."""

    key: str
    operation_id: str
    inbox_id: int | None = None
    body: str | None = None


@dataclass(frozen=True)
class Told:
    """What HighLevel holds of one entity as last heard, and so what TalkNotes was told of it:
    the content (`data`) and its digest, the time of the change (HighLevel's clock) and
    whether it was the entity's deletion."""

    location_id: str
    highlevel_id: str
    kind: str
    digest: str
    changed_at: float
    deleted: bool = False
    contact_id: str | None = None  # HighLevel's id of the contact it belongs to (or is)
    data: Mapping[str, Any] | None = None  # the content told, in TalkNotes' terms


@dataclass(frozen=True)
class ApiKey:
    """A key of the unsigned TalkNotes entry: which location it opens, its first characters
    (to tell keys apart), and when it was made and revoked. Never the key itself."""

    id: int
    location_id: str
    hint: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class Hook:
    """A REST hook subscription: a location's events of one trigger, POSTed to a URL."""

    id: int
    location_id: str
    event: str
    target_url: str
    created_at: float


@dataclass(frozen=True)
class EventCall:
    """One HighLevel request a record's try made, as an event's story shows it: `request` is
    "METHOD /path?query", `status` None when no answer came, `answer` HighLevel's body (or
    what went wrong), first 2,000 characters."""

    at: float
    operation: str
    request: str
    status: int | None
    seconds: float
    answer: str


@dataclass(frozen=True)
class ProfileDue:
    """A contact whose profile changed (first at `changed_at`) and may be sent now."""

    location_id: str
    contact_id: str
    changed_at: float
    sent_digest: str | None


@dataclass(frozen=True)
class Delivery:
    """What became of one event a runner claimed (`Store.claim_outbound`: a HighLevel event
    handed to TalkNotes, a recipe's actions), written by `Store.finish_outbound`: `done`
    (delivered), `skipped` (nothing to tell: an echo, a type not propagated), `dead` (filed as
    a dead letter), or `retry` at `retry_at`. `told`, on a delivery, is noted as what
    TalkNotes now knows of the entity. `ops_done` (key, HighLevel id or None): operations
    that succeeded, their keys marked sent first (`Store.send_ops`), now marked succeeded.
    `calls`: the HighLevel requests this run made (a recipe's actions), filed under the event
    (`Store.event_calls`)."""

    inbox_id: int
    outcome: Literal["done", "skipped", "dead", "retry"]
    reason: str
    retry_at: float | None = None
    told: Told | None = None
    ops_done: tuple[tuple[str, str | None], ...] = ()
    calls: tuple[EventCall, ...] = ()


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
    """What `tnhl status` shows: events by state, the age of the oldest unfinished event,
    records leased and waiting (tasks and notes waiting for their contact), warned events."""

    counts: dict[str, int] = field(default_factory=dict)
    oldest_unfinished_age: float | None = None
    leased: int = 0
    dead_letters: int = 0
    waiting_records: int = 0
    events_with_warnings: int = 0


@dataclass(frozen=True)
class Delta:
    """What one event says about one record, derived from the event by the engine.

    `at` (the event's timestamp, epoch seconds) and `tiebreak` (its webhook id) order the
    writes: per field, the newest wins, whatever order the events were folded in.
    """

    inbox_id: int
    kind: MapKind
    talknotes_id: str
    contact_id: str
    at: float
    tiebreak: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    delete: bool = False

    @property
    def record_key(self) -> str:
        return f"{self.kind}:{self.talknotes_id}"


@dataclass(frozen=True)
class EventVerdict:
    """An event settled at once, without folding (it belongs to no record tnhl syncs), or,
    `pending`, left for the outbound pump (a HighLevel change to tell TalkNotes)."""

    inbox_id: int
    state: Literal["skipped", "dead", "pending"]
    reason: str


@dataclass(frozen=True)
class RecordState:
    """One TalkNotes record: its last-writer-wins fields and what HighLevel was last given.

    `fields` maps a field to (value, at, tiebreak) of the newest event that set it; `applied`
    is the HighLevel body fields as last written.
    """

    location_id: str
    kind: MapKind
    talknotes_id: str
    contact_id: str
    fields: Mapping[str, tuple[Any, float, str]]
    deleted_at: float | None
    first_at: float | None
    applied: Mapping[str, Any]
    status: RecordStatus
    version: int
    attempts: int
    crashes: int
    waiting_since: float | None
    last_error: str | None = None
    written_at: float | None = None  # when tnhl last wrote it to HighLevel

    @property
    def record_key(self) -> str:
        return f"{self.kind}:{self.talknotes_id}"

    def values(self) -> dict[str, Any]:
        """The record as its events say it is now: field -> newest value."""
        return {name: reg[0] for name, reg in self.fields.items()}


@dataclass(frozen=True)
class PendingEvent:
    """An event folded into a record and not settled yet."""

    inbox_id: int
    event_id: str
    event_type: str
    received_at: float


@dataclass(frozen=True)
class RecordClaim:
    """A record leased to one worker with the events it is to settle."""

    state: RecordState
    events: tuple[PendingEvent, ...]
    worker: str
    lease_until: float


@dataclass(frozen=True)
class Link:
    """(kind, TalkNotes id) -> HighLevel id, recorded when the settlement commits."""

    kind: MapKind
    talknotes_id: str
    highlevel_id: str


@dataclass(frozen=True)
class Settlement:
    """How a claimed record's try ended, written in ONE transaction by `Store.settle`.

    applied/skipped settle the claim's events (done/skipped); dead files them as dead letters;
    waiting/retry/reschedule leave them pending until `due_at`. `applied_fields` are merged
    over the record's applied body, `links` go into the id map, `ops_done` (key, HighLevel id)
    finish exactly-once creates, `ops_unknown` mark creates whose outcome is unknown and
    `ops_unsent` drop marks of creates that never went out (marked sent ahead, then not needed).
    `for_contact` (waiting): the record waits for its contact, and is due at once if the
    contact is in HighLevel by the time this commits. `calls`: the HighLevel requests of this
    try, filed under each of the claim's events.
    """

    outcome: Outcome
    reason: str = ""
    due_at: float | None = None
    applied_fields: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    ops_done: tuple[tuple[str, str | None], ...] = ()
    ops_unknown: tuple[str, ...] = ()
    ops_unsent: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    count_attempt: bool = False
    crashed: bool = False
    deleted: bool = False
    for_contact: bool = False
    calls: tuple[EventCall, ...] = ()


@dataclass(frozen=True)
class BatchRead:
    """What `Store.read_batch` found for the (location, kind, TalkNotes id) records and op
    keys it was asked about: absent from `links`/`ops` means known to be absent."""

    asked: set[tuple[str, str, str]]
    links: dict[tuple[str, str, str], str]
    deleted: set[tuple[str, str, str]]
    asked_ops: set[str]
    ops: dict[str, OutboundOp]

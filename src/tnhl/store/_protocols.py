"""What the sync engine, intake and CLI need from a store; `SqlStore` is the implementation.

Every write is one transaction. Methods that take `now` default to the store's clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tnhl.store._models import (
    ApiKey,
    BatchRead,
    DeadLetter,
    Delivery,
    EventCall,
    Hook,
    InboundEvent,
    InboxRow,
    OpMark,
    OutboundOp,
    ProfileDue,
    RecordClaim,
    RecordState,
    Settlement,
    StoreStats,
    Told,
)
from tnhl.store._work import Folder

__all__ = ["Store"]


class Store(Protocol):
    """Durable inbox, id map, outbound operations, dead letters and cursors."""

    # inbox -----------------------------------------------------------------------------------
    def add_inbound(self, event: InboundEvent) -> bool:
        """Store a verified event; False when (source, event_id) is already stored.

        Raises StoreUnavailableError when it cannot persist (the sender should retry).
        """
        ...

    def claim(
        self,
        worker: str,
        *,
        fold: Folder,
        now: float | None = None,
        lease_seconds: float = 60.0,
        limit: int = 1,
        fold_limit: int = 500,
        locations: Sequence[str] | None = None,
    ) -> list[RecordClaim]:
        """Fold up to `fold_limit` received events into their records (`fold` derives each
        event's Delta, or settles it at once), then lease up to `limit` due records, each with
        its pending events. One transaction. With `locations`, only their events and records,
        each location served in turn (a share of `limit` each, then the rest oldest first)."""
        ...

    def settle(
        self, items: Sequence[tuple[RecordClaim, Settlement]], *, now: float | None = None
    ) -> None:
        """Record how each claimed record's try ended, all in one transaction (see
        `Settlement`): a batch costs one commit.

        All or nothing. LeaseLostError when a claim's lease is no longer held (it names that
        claim's events); MappingConflictError when a link maps an id already mapped to
        another. Then nothing of the batch changed."""
        ...

    def get_record(self, location_id: str, kind: str, talknotes_id: str) -> RecordState | None: ...

    def replay_dead(
        self,
        *,
        dead_letter_id: int | None = None,
        inbox_id: int | None = None,
        now: float | None = None,
        location_id: str | None = None,
    ) -> InboxRow:
        """Back to work with its record due now and its tries reset. Replaying twice changes
        nothing. With `location_id` (another than its own) a TalkNotes event moves there, to
        be folded anew: it was filed under a location id since corrected. Its old record goes
        when no event is left under it; an event of the same id already there makes this one
        skipped instead."""
        ...

    def list_dead(
        self,
        *,
        include_replayed: bool = False,
        limit: int = 100,
        offset: int = 0,
        location_id: str | None = None,
    ) -> list[DeadLetter]: ...

    def get_dead(
        self, *, dead_letter_id: int | None = None, inbox_id: int | None = None
    ) -> DeadLetter: ...

    def get_event(self, inbox_id: int) -> InboxRow: ...

    def claim_outbound(
        self,
        worker: str,
        *,
        now: float | None = None,
        lease_seconds: float = 60.0,
        limit: int = 50,
        locations: Sequence[str] | None = None,
        source: str = "highlevel",
    ) -> list[InboxRow]:
        """Lease pending events of `source` to their runner: HighLevel events to tell
        TalkNotes (the outbound pump), or with source "recipe" recipes that fired. Per
        (location, entity) only the oldest unfinished one, when it is due and not leased.
        InvalidRecordError for "talknotes" (its events are claimed with their records)."""
        ...

    def finish_outbound(
        self, worker: str, deliveries: Sequence[Delivery], *, now: float | None = None
    ) -> list[int]:
        """Settle leased events (`Delivery`), with the operations that succeeded
        (`Delivery.ops_done`), in one transaction; returns the ids whose lease was lost."""
        ...

    def get_told(self, location_id: str, highlevel_ids: Sequence[str]) -> dict[str, Told]:
        """What TalkNotes was last told of these HighLevel entities (`Delivery.told`)."""
        ...

    def due_profiles(
        self,
        *,
        interval: float,
        now: float | None = None,
        limit: int = 20,
        locations: Sequence[str] | None = None,
        settle: float = 0.0,
    ) -> list[ProfileDue]:
        """Contacts whose profile changed (`settle` seconds ago or more) and was not sent in
        the last `interval` seconds."""
        ...

    def profile_rows(self, location_id: str, contact_id: str) -> list[tuple[Told, str | None]]:
        """Each entity of a contact as HighLevel holds it (as last heard), with its TalkNotes
        id where linked: its profile's parts."""
        ...

    def profile_sent(
        self, due: ProfileDue, *, digest: str | None, now: float | None = None
    ) -> None:
        """`due`'s profile was sent (`digest` None: it needed none); later changes keep it due."""
        ...

    def held_records(self, location_id: str, prefix: str) -> list[RecordState]:
        """The location's records held (their last try's reason starts with `prefix`: a dry
        run), not leased."""
        ...

    def release_held(self, location_id: str, prefix: str) -> int:
        """Make the held records due now (going live); how many."""
        ...

    def drop_held(self, location_id: str, prefix: str) -> int:
        """Drop the held records: their pending events skipped, the records forgotten."""
        ...

    def records_of(
        self, location_id: str, kind: str, *, contact_id: str | None = None
    ) -> list[RecordState]:
        """TalkNotes' live (not deleted) records of `kind` in a location, or of one contact
        (recipes' polls and counts)."""
        ...

    def unlinked_records(self, location_id: str, kind: str) -> list[RecordState]:
        """TalkNotes' records of `kind` with no HighLevel id yet (not deleted)."""
        ...

    def known_highlevel_ids(self, location_id: str, kind: str) -> set[str]:
        """HighLevel ids of `kind` TalkNotes knows (linked or told), less those told deleted."""
        ...

    def merge_applied(
        self,
        location_id: str,
        kind: str,
        talknotes_id: str,
        fields: Mapping[str, Any],
        *,
        registers: Mapping[str, tuple[Any, float]] | None = None,
        replan: bool = False,
    ) -> bool:
        """Note HighLevel's current `fields` of a record (a change made in HighLevel), so a
        TalkNotes event repeating it plans no write; and HighLevel's newer values in
        TalkNotes' terms (`registers`: value and time) as the record's. With registers or
        `replan` the record is planned again. False when there is no such record."""
        ...

    def list_events(
        self,
        *,
        location_id: str | None = None,
        state: str | None = None,
        limit: int = 100,
        source: str | None = None,
        event_id: str | None = None,
        entity_key: str | None = None,
        since: float | None = None,
    ) -> list[InboxRow]:
        """The newest `limit` events (of one location, in one state, of one source, with one
        event id, of one entity: a contact or a HighLevel record, received at or after
        `since`), oldest first."""
        ...

    def events_after(
        self, location_id: str, after_id: int, *, received_before: float, limit: int = 200
    ) -> list[InboxRow]:
        """Up to `limit` rows of a location with id > `after_id`, lowest id first, any state
        and source, bodies included, stopping at the first row received after
        `received_before`. One statement. For a scanner tailing the inbox with a cursor (the
        last id it read): on PostgreSQL ids are taken before their rows commit, so a lower id
        can appear after a higher one was read; reading only rows older than a few seconds
        (`received_before`) leaves them time to commit before the cursor passes them."""
        ...

    def purge_finished(self, *, older_than: float, limit: int = 10_000) -> int:
        """Delete done/skipped events finished before `older_than` (keep >= 7 days for
        dedupe); never recipe rows (the memory that a recipe fired for its cause)."""
        ...

    def stats(self, *, now: float | None = None, location_id: str | None = None) -> StoreStats:
        """Counts over the whole store, or one location's (one connection's) only."""
        ...

    # id map ----------------------------------------------------------------------------------
    def get_highlevel_id(self, location_id: str, kind: str, talknotes_id: str) -> str | None: ...

    def get_talknotes_id(self, location_id: str, kind: str, highlevel_id: str) -> str | None: ...

    def get_content_hash(self, location_id: str, kind: str, talknotes_id: str) -> str | None: ...

    def put_mapping(
        self,
        location_id: str,
        kind: str,
        talknotes_id: str,
        highlevel_id: str,
        content_hash: str | None = None,
    ) -> None:
        """Idempotent; MappingConflictError when either id is mapped to a different one."""
        ...

    # outbound operations ---------------------------------------------------------------------
    def read_batch(
        self,
        *,
        records: Sequence[tuple[str, str, str]] = (),
        op_keys: Sequence[str] = (),
    ) -> BatchRead:
        """The id links, deletions and outbound ops of a batch of records (location, kind,
        TalkNotes id), whatever their locations, read at once."""
        ...

    def send_ops(self, marks: Sequence[OpMark]) -> None:
        """Mark creates sent (planning each on its first try) before they go out, in one
        statement. InvalidRecordError, and nothing marked, if one of them already succeeded."""
        ...

    def get_op(self, key: str) -> OutboundOp | None: ...

    # API keys -------------------------------------------------------------------------------
    def create_api_key(self, location_id: str) -> tuple[ApiKey, str]:
        """A new key for the unsigned entry of a location: its record and the key (shown
        once: only its SHA-256 is kept)."""
        ...

    def key_location(self, key: str) -> str | None:
        """The location a live key opens; None for an unknown or revoked key."""
        ...

    def list_api_keys(self, location_id: str | None = None) -> list[ApiKey]: ...

    def revoke_api_key(self, key_id: int) -> bool:
        """Revoke a key; False when there is no such live key."""
        ...

    # REST hooks -----------------------------------------------------------------------------
    def add_hook(self, location_id: str, event: str, target_url: str) -> Hook:
        """Subscribe `target_url` to a location's events of trigger `event`."""
        ...

    def list_hooks(self, location_id: str | None = None) -> list[Hook]: ...

    def delete_hook(self, location_id: str, hook_id: int) -> bool:
        """Unsubscribe; False when the location has no such hook."""
        ...

    # events under a location since corrected ------------------------------------------------
    def move_events(
        self, from_location: str, to_location: str, *, now: float | None = None
    ) -> tuple[int, int]:
        """Move a location's unfinished and dead TalkNotes events to another (filed under a
        location id since corrected): received again there, tries reset; one already received
        there is skipped instead. Returns (moved, skipped)."""
        ...

    def event_locations(self) -> dict[str, int]:
        """Location id -> its unfinished and dead events (a count)."""
        ...

    # an event's calls, recipe switches -------------------------------------------------------
    def event_calls(self, inbox_id: int) -> list[EventCall]:
        """The HighLevel calls filed under an event (settlements' `calls`), oldest first."""
        ...

    def switch_recipe(self, location_id: str, recipe: str, enabled: bool) -> None:
        """Turn a location's recipe on or off over what its mapping file says."""
        ...

    def recipe_switches(self, location_id: str) -> dict[str, bool]:
        """Recipe name -> on or off, for the recipes switched so far."""
        ...

    # cursors ---------------------------------------------------------------------------------
    def get_cursor(self, name: str) -> str | None: ...

    def set_cursor(self, name: str, value: str) -> None: ...

    def close(self) -> None: ...

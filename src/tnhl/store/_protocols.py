"""What the sync engine, intake and CLI need from a store; `SqlStore` is the implementation.

Every write is one transaction. Methods that take `now` default to the store's clock.
"""

from __future__ import annotations

from typing import Protocol

from tnhl.store._models import (
    Claim,
    DeadLetter,
    EntityKey,
    InboundEvent,
    InboxRow,
    OutboundOp,
    StoreStats,
)

__all__ = ["Store"]


class Store(Protocol):
    """Durable inbox, id map, outbound operations, dead letters and cursors."""

    # inbox -----------------------------------------------------------------------------------
    def add_inbound(self, event: InboundEvent) -> bool:
        """Store a verified event; False when (source, event_id) is already stored.

        Raises StoreUnavailableError when it cannot persist (the sender should retry).
        """
        ...

    def claim_next(
        self,
        worker: str,
        *,
        now: float | None = None,
        lease_seconds: float = 60.0,
        limit: int = 1,
        max_run: int = 50,
        entity: EntityKey | None = None,
    ) -> list[Claim]:
        """Lease up to `limit` entities' due heads, each with the run of events behind it."""
        ...

    def complete(
        self,
        inbox_ids: list[int],
        *,
        worker: str,
        result: str | None = None,
        skipped: bool = False,
        now: float | None = None,
    ) -> None:
        """Finish leased events as done (or skipped), all or nothing.

        LeaseLostError if the worker no longer holds one of them; OutOfOrderError if an earlier
        event of the same entity is still unfinished.
        """
        ...

    def release(self, inbox_ids: list[int], *, worker: str) -> int:
        """Give back leased events that were not attempted, and the worker's later events of
        the same entities; their claim does not count as an attempt. Returns how many."""
        ...

    def retry_later(
        self,
        inbox_id: int,
        *,
        worker: str,
        at: float,
        error: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Schedule the next try; also releases the events behind it that this worker holds.

        `count_attempt=False` (waiting out a rate limit) does not count the claim as an attempt.
        """
        ...

    def dead_letter(
        self,
        inbox_id: int,
        *,
        worker: str,
        reason: str,
        error: str | None = None,
        now: float | None = None,
    ) -> int:
        """Finish a leased event as dead; returns the dead letter's id."""
        ...

    def replay_dead(
        self,
        *,
        dead_letter_id: int | None = None,
        inbox_id: int | None = None,
        now: float | None = None,
    ) -> InboxRow:
        """Back to pending with attempts reset, due now; later events of its entity held by a
        worker lose their lease (they must wait for it). Replaying twice changes nothing."""
        ...

    def list_dead(
        self, *, include_replayed: bool = False, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]: ...

    def get_dead(
        self, *, dead_letter_id: int | None = None, inbox_id: int | None = None
    ) -> DeadLetter: ...

    def get_event(self, inbox_id: int) -> InboxRow: ...

    def requeue_expired(self, *, now: float | None = None) -> int:
        """The sweeper: clear leases that ran out; returns how many."""
        ...

    def ready_entities(self, *, now: float | None = None, limit: int = 100) -> list[EntityKey]:
        """Entities with due, unleased work, oldest first (for the dispatcher)."""
        ...

    def purge_finished(self, *, older_than: float, limit: int = 10_000) -> int:
        """Delete done/skipped events finished before `older_than` (keep >= 7 days for dedupe)."""
        ...

    def stats(self, *, now: float | None = None) -> StoreStats: ...

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
    def begin_op(
        self, key: str, *, inbox_id: int | None, operation_id: str, body: str | None = None
    ) -> OutboundOp:
        """Plan an operation, or return the EXISTING row for `key` unchanged."""
        ...

    def mark_sent(self, key: str) -> OutboundOp: ...

    def finish_op(
        self, key: str, *, highlevel_id: str | None = None, response: str | None = None
    ) -> OutboundOp: ...

    def fail_op(self, key: str, error: str) -> OutboundOp: ...

    def mark_unknown(self, key: str, error: str) -> OutboundOp: ...

    def get_op(self, key: str) -> OutboundOp | None: ...

    # cursors ---------------------------------------------------------------------------------
    def get_cursor(self, name: str) -> str | None: ...

    def set_cursor(self, name: str, value: str) -> None: ...

    def close(self) -> None: ...

"""HighLevel -> TalkNotes (issue 9): the pump that tells each connection's TalkNotes what
changed in HighLevel.

HighLevel events of a connection with `talknotes_outbound_url` are left pending by the fold
(`outbound_fold`); the pump claims them from the store one per HighLevel entity at a time,
oldest first (a contact's changes arrive in order), and for each:
- skips it when TalkNotes was already told the same content of the entity, or a newer change
  (a webhook and a reconciliation poll reporting one change; a late webhook after a poll);
- skips it as an **echo** when it only repeats what tnhl itself last wrote to HighLevel (the
  record's `applied` fields, compared on the mapped content, not raw bodies): tnhl's own
  writes never come back to TalkNotes as changes;
- else delivers the outbound event (`tnhl.talknotes.outbound_event`) signed with the
  connection's secret, under a webhook-id of its own that stays the same across retries;
- links a record born in HighLevel when TalkNotes answers `{"id": ...}`;
- retries a failure worth retrying on the engine's schedule, then dead-letters it
  (replayable like any dead letter).

An event is taken only `settle_delay` seconds after it arrived: HighLevel may announce a contact
tnhl just created before tnhl has recorded the link (the create's answer and the webhook race),
and judged without the link the echo would look like a contact born in HighLevel.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from tnhl.mapping import MappingConfig, default_mapping
from tnhl.store import (
    Delivery,
    EventVerdict,
    InboxRow,
    MappingConflictError,
    RecordState,
    SqlStore,
    Told,
)
from tnhl.sync._delta import event_delta
from tnhl.sync._echo import (
    SAME,
    held_in_highlevel,
    is_echo,
    name_custom_fields,
    newest_wins,
    tags_changed,
    told_fields,
)
from tnhl.sync._profile import profile_digest, stored_profile
from tnhl.sync._schedule import RetrySchedule
from tnhl.talknotes import (
    OUTBOUND_TYPES,
    DeliveryFailed,
    TalkNotesOut,
    changed_at,
    content_digest,
    outbound_event,
)

__all__ = ["OutboundPump", "outbound_fold"]

log = structlog.get_logger("tnhl.sync")
_DEFAULT_MAPPING = default_mapping()


def outbound_fold(locations: frozenset[str]) -> Callable[[InboxRow], Any]:
    """The store's fold, leaving the HighLevel events of `locations` (connections with an
    outbound URL) of a propagated type pending for the pump."""

    def fold(row: InboxRow) -> Any:
        if (
            row.source == "highlevel"
            and row.location_id in locations
            and row.event_type in OUTBOUND_TYPES
        ):
            return EventVerdict(row.id, "pending", "to tell TalkNotes")
        return event_delta(row)

    return fold


class OutboundPump:
    """One thread delivering the outbound events of the connections in `outs`."""

    def __init__(
        self,
        store: SqlStore,
        outs: Mapping[str, TalkNotesOut],
        schedule: RetrySchedule,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.5,
        lease_seconds: float = 60.0,
        settle_delay: float = 2.0,
        batch: int = 20,
        profile_interval: float = 60.0,
        mappings: Mapping[str, MappingConfig] | None = None,
    ) -> None:
        self._store = store
        self._outs = dict(outs)
        self._schedule = schedule
        self._clock = clock
        self._poll = poll_interval
        self._lease = lease_seconds
        self._delay = settle_delay
        self._batch = batch
        self._profile_every = profile_interval
        # Each connection's mapping: its two-way rules (`sync:`), its custom fields' names.
        self._mappings = dict(mappings or {})
        # A receiver that refused a profile is asked again one interval later, not every turn.
        self._profile_retry: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Leases name their holder: unique, so pumps of several processes never settle each
        # other's events.
        self._name = f"outbound-{uuid.uuid4().hex[:12]}"
        self.delivered = 0
        self.echoes = 0
        self.profiles = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tnhl-outbound", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for out in self._outs.values():
            out.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.run_once()
            except Exception as exc:  # a store error: the leases run out, the events recover
                log.warning("outbound pump failed", error=type(exc).__name__)
                n = 0
            if n == 0:
                self._wake.wait(self._poll)
                self._wake.clear()

    def run_once(self) -> int:
        """Claim and deliver one batch; the number of events handled."""
        now = self._clock()
        rows = self._store.claim_outbound(
            self._name,
            now=now - self._delay,
            lease_seconds=self._lease + self._delay,
            limit=self._batch,
            locations=sorted(self._outs),
        )
        parsed = [(r, _entity_or_none(r)) for r in rows]  # each body read once
        told = self._told(parsed)
        results = [self._guarded(r, read, told) for r, read in parsed]
        self._store.finish_outbound(self._name, results, now=self._clock())
        return len(rows) + self._send_profiles()

    def _send_profiles(self) -> int:
        """Send the changed profiles that are due; the number sent."""
        if self._profile_every <= 0:
            return 0
        now = self._clock()
        due = self._store.due_profiles(
            interval=self._profile_every,
            now=now,
            limit=self._batch,
            locations=sorted(self._outs),
            settle=self._delay,
        )
        sent = 0
        for d in due:
            key = (d.location_id, d.contact_id)
            if self._profile_retry.get(key, 0.0) > now:
                continue
            body = stored_profile(self._store, d.location_id, d.contact_id, now)
            digest = profile_digest(body) if body is not None else None
            if body is None or digest == d.sent_digest:
                self._store.profile_sent(d, digest=None, now=now)  # nothing new to send
                continue
            assert digest is not None
            try:
                self._outs[d.location_id].deliver(f"tnhl_profile_{digest[:32]}", body)
            except DeliveryFailed as exc:
                self._profile_retry[key] = now + self._profile_every
                log.warning("profile not delivered", error=str(exc)[:200])
                continue
            self._profile_retry.pop(key, None)
            self._store.profile_sent(d, digest=digest, now=now)
            sent += 1
        self.profiles += sent
        return sent

    def _told(self, parsed: list[_Parsed]) -> dict[tuple[str, str], Told]:
        """What TalkNotes was told of the batch's entities: one read per location."""
        ids: dict[str, set[str]] = {}
        for r, read in parsed:
            hl_id = read[1].get("id") if read is not None else None
            if isinstance(hl_id, str) and hl_id:
                ids.setdefault(r.location_id, set()).add(hl_id)
        out: dict[tuple[str, str], Told] = {}
        for loc, wanted in ids.items():
            for hl_id, t in self._store.get_told(loc, sorted(wanted)).items():
                out[(loc, hl_id)] = t
        return out

    def _guarded(
        self, row: InboxRow, read: _Read | None, told: Mapping[tuple[str, str], Told]
    ) -> Delivery:
        try:
            payload, entity = read if read is not None else _entity(row)  # raises, as it did
            return self._handle(row, payload, entity, told)
        except Exception as exc:  # tnhl's own failure on this event: retried, then dead
            log.warning("outbound event failed", inbox_id=row.id, error=type(exc).__name__)
            return self._failed(row, f"tnhl could not handle it: {type(exc).__name__}", True)

    def _failed(self, row: InboxRow, reason: str, retry: bool) -> Delivery:
        delay = self._schedule.delay(row.attempts + 1) if retry else None
        if delay is None:
            return Delivery(row.id, "dead", reason)
        return Delivery(row.id, "retry", reason, self._clock() + delay)

    def _handle(
        self,
        row: InboxRow,
        payload: Mapping[str, Any],
        entity: Mapping[str, Any],
        told: Mapping[tuple[str, str], Told],
    ) -> Delivery:
        change = self._read(row, payload, entity, told)
        if isinstance(change, Delivery):
            return change
        return self._judged(change) or self._deliver(change)

    def _read(
        self,
        row: InboxRow,
        payload: Mapping[str, Any],
        entity: Mapping[str, Any],
        told: Mapping[tuple[str, str], Told],
    ) -> _Change | Delivery:
        """The event as TalkNotes would be told it, with what is known of its entity."""
        # The kind the type is told as (contact.updated -> contact), when tnhl writes that kind.
        told_as = OUTBOUND_TYPES.get(row.event_type, "").partition(".")[0]
        kind = told_as if told_as in SAME else None
        loc = row.location_id
        hl_id = entity.get("id") if isinstance(entity.get("id"), str) else None
        hl_contact = payload.get("id") if kind == "contact" else entity.get("contactId")
        hl_contact = hl_contact if isinstance(hl_contact, str) and hl_contact else None
        tn_id = self._store.get_talknotes_id(loc, kind, hl_id) if kind and hl_id else None
        tn_contact = (
            self._store.get_talknotes_id(loc, "contact", hl_contact) if hl_contact else None
        )
        body = outbound_event(
            payload, talknotes_id=tn_id, talknotes_contact_id=tn_contact, now=row.received_at
        )
        if body is None:
            return Delivery(row.id, "skipped", f"{row.event_type} is not told to TalkNotes")
        mapping = self._mappings.get(loc, _DEFAULT_MAPPING)
        name_custom_fields(body["data"], mapping)
        if mapping.sync.create == "to_highlevel" and tn_id is None:
            return Delivery(row.id, "skipped", "born in HighLevel (sync.create: to_highlevel)")
        before = told.get((loc, hl_id or ""))
        if before is None and tn_id is None and body["type"].endswith(".updated"):
            # TalkNotes never heard of it (its creation's webhook was lost, or it predates
            # the connection): to TalkNotes this is its creation.
            body["type"] = f"{told_as}.created"
        now_told = Told(
            loc,
            hl_id or "",
            told_as,
            content_digest(body),
            changed_at(body),
            body["type"].endswith(".deleted"),
            contact_id=hl_contact,
            data={k: v for k, v in body["data"].items() if k not in ("id", "contactId")},
        )
        state = self._store.get_record(loc, kind, tn_id) if kind and tn_id else None
        return _Change(row, kind, entity, hl_id, tn_id, body, mapping, before, now_told, state)

    def _judged(self, c: _Change) -> Delivery | None:
        """A skip when TalkNotes needs not hear of the change; else None (deliver it), the
        conflicts of a record TalkNotes holds settled in the body first."""
        before, now_told, state, kind = c.before, c.now_told, c.state, c.kind
        if before is not None and now_told.changed_at < before.changed_at:
            return Delivery(c.row.id, "skipped", "older than what TalkNotes was told")
        # With no record of TalkNotes' own, what TalkNotes holds is what it was told; with one,
        # the echo test below compares against what both sides last agreed on (`applied`):
        # TalkNotes may have changed the entity since it was told this.
        if state is None and before is not None and before.digest == now_told.digest:
            return Delivery(c.row.id, "skipped", "TalkNotes was already told this")
        if kind is None or state is None:
            return None
        if not now_told.deleted:
            rules = c.mapping.sync
            c.newer, c.stands = newest_wins(kind, c.body["data"], state, now_told.changed_at, rules)
        if is_echo(kind, c.body, state) and not tags_changed(
            kind, c.body["data"], before, c.mapping
        ):
            self.echoes += 1
            # Still what HighLevel now holds (the profile shows it).
            return Delivery(
                c.row.id, "skipped", "echo of tnhl's own write to HighLevel", told=c.told()
            )
        return None

    def _deliver(self, c: _Change) -> Delivery:
        kind, state, loc = c.kind, c.state, c.row.location_id
        c.body["data"] = told_fields(c.now_told.kind, c.body["data"], c.mapping.sync)
        try:
            done = self._outs[loc].deliver(f"tnhl_{c.row.event_id}"[:255], c.body)
        except DeliveryFailed as exc:
            return self._failed(c.row, str(exc), exc.retry)
        self.delivered += 1
        result = f"delivered to TalkNotes ({done.status})"
        if state is not None and kind is not None and not c.now_told.deleted:
            # HighLevel holds these values now: TalkNotes repeating them must plan no write.
            held = held_in_highlevel(kind, c.row.event_type, c.entity, state.applied)
            if state.written_at is not None and c.now_told.changed_at < state.written_at:
                # tnhl wrote HighLevel after this change: HighLevel holds what tnhl wrote
                # (`applied` says so already), not these values; a newer one is written again.
                held = {}
            if held or c.newer or c.stands:
                self._store.merge_applied(
                    loc, kind, state.talknotes_id, held, registers=c.newer, replan=c.stands
                )
        if done.linked_id and kind is not None and c.hl_id is not None and c.tn_id is None:
            try:
                self._store.put_mapping(loc, kind, done.linked_id, c.hl_id)
                result += f", linked to {done.linked_id}"
            except MappingConflictError as exc:
                result += f", not linked: {exc}"
        return Delivery(c.row.id, "done", result, told=c.told())


@dataclass
class _Change:
    """One HighLevel event on its way to TalkNotes: the body it would be told as, what is known
    of its entity (told before, TalkNotes' record), and the conflicts' outcome."""

    row: InboxRow
    kind: str | None  # the kind, when tnhl writes it (not appointments)
    entity: Mapping[str, Any]
    hl_id: str | None
    tn_id: str | None
    body: dict[str, Any]
    mapping: MappingConfig
    before: Told | None
    now_told: Told
    state: RecordState | None
    # HighLevel's winning values for the record, and whether TalkNotes' newer ones stand.
    newer: dict[str, tuple[Any, float]] = field(default_factory=dict)
    stands: bool = False

    def told(self) -> Told | None:
        return self.now_told if self.hl_id else None


_Read = tuple[Mapping[str, Any], Mapping[str, Any]]  # an event's payload and its entity
_Parsed = tuple[InboxRow, "_Read | None"]


def _entity_or_none(row: InboxRow) -> _Read | None:
    try:
        return _entity(row)
    except ValueError:  # told by _guarded, where the failure becomes the event's outcome
        return None


def _entity(row: InboxRow) -> _Read:
    """A HighLevel event's payload and its entity (appointments nest theirs)."""
    payload = json.loads(row.body)
    payload = payload if isinstance(payload, Mapping) else {}
    entity = payload.get("appointment") if row.event_type.startswith("Appointment") else payload
    return payload, entity if isinstance(entity, Mapping) else {}

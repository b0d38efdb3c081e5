"""The executor: claimed records -> plans -> HighLevel calls -> one settlement per record.

`execute` plans (pure), runs the plan's calls (`_calls`: exactly-once, known answers, paced
send), and hands the settlement to the batch's `Settler`; every failure becomes an outcome
through `Decider` (`_outcome`). A batch is planned up front so all its creates are marked sent
in one write (`_mark_ahead`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import structlog

from tnhl.highlevel import APIError
from tnhl.mapping import MappingConfig
from tnhl.store import OpMark, RecordClaim, Settlement, SqlStore, StoreError
from tnhl.sync._calls import Caller, CallRun, Limiter, Route, already_gone, stored_form
from tnhl.sync._dryrun import DRY_RUN, HOLD, DryRuns
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._followups import note_events
from tnhl.sync._lookup import BatchLookup, batch_lookups
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._outcome import Decider
from tnhl.sync._pauses import Pauses
from tnhl.sync._plan_types import Calls, Plan, Reject, Skip, Wait, create_key
from tnhl.sync._planner import plan_record
from tnhl.sync._readback import CallFn
from tnhl.sync._settler import Settler
from tnhl.sync._trace import CallTracer

__all__ = ["Deferral", "Executor"]

log = structlog.get_logger("tnhl.sync")


class UnservedLocation(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(f"no connection of this process serves location {location}")


@dataclass(frozen=True)
class Deferral:
    """The record waits `wait` seconds (at least) for `slots` rate-limit slots at once."""

    wait: float
    slots: int = 1


class Executor:
    """Runs claimed records against HighLevel and settles each in the store."""

    def __init__(
        self,
        store: SqlStore,
        client: CallFn,
        mapping: MappingConfig,
        decider: Decider,
        *,
        limiter: Limiter | None = None,
        clock: Callable[[], float] = time.time,
        metrics: SyncMetrics | None = None,
        planner: Callable[..., Plan] = plan_record,
        lease_margin: float = 0.0,
        routes: Mapping[str, Route] | None = None,
        pauses: Pauses | None = None,
        dry_runs: DryRuns | None = None,
        tracer: CallTracer | None = None,
    ) -> None:
        self._store = store
        # One connection: `client` and `mapping` serve every record. Several: `routes` has
        # each location's own, and a record is only ever sent with its location's client.
        self._routes = routes
        self._default = Route(client, mapping)
        self.pauses = pauses or Pauses()
        self.dry_runs = dry_runs
        self.decider = decider
        self._clock = clock
        self._metrics = metrics
        self._planner = planner
        # No record starts with less than this left on its lease (a call may take that long).
        self.lease_margin = lease_margin
        self._calls = Caller(
            store,
            lambda loc: self._route(loc).call,
            limiter,
            metrics,
            tracer=tracer,
            clock=clock,
        )
        # Notes whose text this process has read for follow-ups and milestones, oldest first.
        self._read_notes: dict[tuple[str, str, float | None], None] = {}

    def _route(self, location: str) -> Route:
        if self._routes is None:
            return self._default
        route = self._routes.get(location)
        if route is None:
            raise UnservedLocation(location)
        return route

    def run(self, claims: Sequence[RecordClaim]) -> list[tuple[RecordClaim, Deferral]]:
        """Execute and settle `claims` (one batch: id-map reads are shared); returns the
        claims deferred for a rate-limit slot (with the wait), still leased, to run later."""
        deferred: list[tuple[RecordClaim, Deferral]] = []
        self._follow_ups(claims)
        lookups = batch_lookups(self._store, claims)
        settler = self._settler()
        plans = self._mark_ahead(claims, lookups)
        try:
            for claim in claims:
                lookup = lookups[claim.state.location_id]
                result = self.execute(claim, lookup, settler, plans.get(id(claim)))
                if isinstance(result, Deferral):
                    deferred.append((claim, result))
        finally:
            settler.flush()
        return deferred

    def _follow_ups(self, claims: Sequence[RecordClaim]) -> None:
        """Store the tasks and milestone notes the batch's notes state, before the notes
        settle (sync/_followups.py).
        The store failing fails the batch (the leases run out: tried again); reading a note's
        text failing costs only its follow-ups (logged), never the note."""
        for claim in claims:
            st = claim.state
            if st.kind != "note" or not claim.events:
                continue
            # A note run again with the text already read (a retry, a wait for its contact)
            # is not read again: its events are stored already (kept once by their ids).
            text = st.fields.get("noteContent")
            seen = (st.location_id, st.talknotes_id, text[1] if text else None)
            if seen in self._read_notes:
                continue
            try:
                events = note_events(st, self._route(st.location_id).mapping, self._clock())
            except Exception as exc:
                log.warning("note not read", note=st.talknotes_id, error=type(exc).__name__)
                continue
            for event in events:
                self._store.add_inbound(event)
            self._read_notes[seen] = None
            if len(self._read_notes) > 10_000:
                self._read_notes.pop(next(iter(self._read_notes)))

    def _mark_ahead(
        self, claims: Sequence[RecordClaim], lookups: Mapping[str, BatchLookup]
    ) -> dict[int, Plan]:
        """Plan the batch up front and mark every create it will make sent, in one statement
        instead of one write per create. Plans are pure; one that later finds its contact
        landed (or gone) in the batch is planned again. A create marked but not sent (a rate
        limit, an adopted duplicate) is unmarked when its record settles."""
        plans: dict[int, Plan] = {}
        marks: dict[str, OpMark] = {}
        for claim in claims:
            lookup = lookups[claim.state.location_id]
            if self._dry(claim.state.location_id):
                continue  # nothing will be sent: nothing to mark
            try:
                mapping = self._route(claim.state.location_id).mapping
                plan: Plan | None = self._planner(claim.state, lookup, mapping)
            except Exception:  # `execute` plans it again and makes the error an outcome
                plan = None
            if plan is not None:
                plans[id(claim)] = plan
            if not isinstance(plan, Calls):
                continue
            inbox_id = claim.events[0].inbox_id if claim.events else None
            for call in plan.calls:
                key = call.key
                if key is None or key in self._calls.unsent or not lookup.op_absent(key):
                    continue
                body = None if call.body is None else stored_form(call.body)
                marks[key] = OpMark(key, call.operation_id, inbox_id, body)
        try:
            self._store.send_ops(list(marks.values()))
        except StoreError:
            return plans  # each create is marked when it goes out, as without this
        self._calls.unsent.update(marks)
        return plans

    def _unmark(self, claim: RecordClaim, s: Settlement) -> Settlement:
        st = claim.state
        key = create_key(st.location_id, st.kind, st.talknotes_id)
        if key not in self._calls.unsent:
            return s
        self._calls.unsent.discard(key)
        return replace(s, ops_unsent=(key,))

    def _settler(self) -> Settler:
        return Settler(self._store, self.decider, self._metrics, clock=self._clock)

    def settle_deferred(self, deferred: Sequence[tuple[RecordClaim, float]]) -> None:
        """Give deferred records back to the store, each due when its slots are (in seconds
        from now), in one commit."""
        now = self._clock()
        settler = self._settler()
        lookups: dict[str, BatchLookup] = {}
        for claim, wait in deferred:
            loc = claim.state.location_id
            lookup = lookups.setdefault(loc, BatchLookup(self._store, loc))
            settler.add(claim, Settlement("reschedule", "rate limit", due_at=now + wait), lookup)
        settler.flush()

    def execute(
        self,
        claim: RecordClaim,
        lookup: BatchLookup,
        settler: Settler,
        planned: Plan | None = None,
    ) -> Settlement | Deferral | None:
        """Plan (unless `planned` still holds), run and settle one record (`settler` commits
        it, with others of the batch); a Deferral when it waits (leased) for a slot, None when
        the lease was lost."""
        now = self._clock()
        if now > claim.lease_until - self.lease_margin:
            # Too little lease left for a call: another worker may take the record before the
            # call ends. Give it back, due now, while the lease is still ours.
            if now >= claim.lease_until:
                return None
            s = Settlement("reschedule", "lease nearly over before it ran", due_at=now)
            settler.add(claim, self._unmark(claim, s), lookup)
            settler.flush()
            return s
        location = claim.state.location_id
        held = self.pauses.held(location, now)
        if held is not None:
            settler.add(claim, self._unmark(claim, held), lookup)
            return held
        warnings: tuple[str, ...] = ()
        run = CallRun(settler)
        try:
            plan = planned
            if plan is None or lookup.touched(claim.state):
                plan = self._planner(claim.state, lookup, self._route(location).mapping)
            warnings = plan.warnings
            if isinstance(plan, Calls | Wait) and self._dry(location, confirm=True):
                settlement = self._hold(plan)
            else:
                settlement = self._apply(plan, claim, lookup, run)
        except Exception as exc:  # every failure becomes an outcome; nothing loops
            if isinstance(exc, RescheduleNeeded) and run.calls == 0:
                return Deferral(exc.wait, exc.slots)  # held, or given back, by the pool
            paused = self.pauses.refused(location, exc, self._clock())
            if paused is not None:
                settlement = replace(paused, ops_unknown=tuple(run.ops_unknown), warnings=warnings)
            elif isinstance(exc, UnservedLocation):
                # Not this process's connection (claims name their locations; a bug if here).
                settlement = Settlement("reschedule", str(exc), due_at=now + 60.0)
            elif self._contact_went_away(claim, exc):
                reason = f"contact {claim.state.contact_id} is deleted"
                settlement = Settlement("skipped", reason, deleted=True, warnings=warnings)
            else:
                settlement = self.decider.failed(
                    claim,
                    exc,
                    self._clock(),
                    ops_unknown=tuple(run.ops_unknown),
                    warnings=warnings,
                )
            # What the calls before the failure achieved (a link, a finished create) stands.
            settlement = replace(
                settlement,
                links=tuple(run.links),
                ops_done=tuple(run.ops_done),
                calls=tuple(run.trace),
            )
        settlement = self._unmark(claim, settlement)
        settler.add(claim, settlement, lookup)
        return settlement

    def _dry(self, location: str, *, confirm: bool = False) -> bool:
        """Whether `location` is in dry run; `confirm`: asked of the store now."""
        if self.dry_runs is None or not self.dry_runs.active(location):
            return False
        return not confirm or self.dry_runs.confirmed(location)

    def _hold(self, plan: Calls | Wait) -> Settlement:
        """A record of a connection in dry run: held, saying what it would send."""
        assert self.dry_runs is not None
        if isinstance(plan, Calls):
            return self.dry_runs.hold(plan, self._clock())
        # Its contact is held too: it waits for the contact instead of timing out.
        why = f"{DRY_RUN}run once its contact is in HighLevel ({plan.reason})"
        return Settlement("reschedule", why, due_at=self._clock() + HOLD, warnings=plan.warnings)

    def _contact_went_away(self, claim: RecordClaim, exc: Exception) -> bool:
        """A task or note write answered "not found" because its contact's delete landed while
        it was planned: the record is moot (HighLevel deletes a contact's tasks and notes)."""
        st = claim.state
        if st.kind == "contact" or not isinstance(exc, APIError) or not already_gone(exc):
            return False
        contact = self._store.get_record(st.location_id, "contact", st.contact_id)
        return contact is not None and contact.deleted_at is not None

    def _apply(
        self, plan: Plan, claim: RecordClaim, lookup: BatchLookup, run: CallRun
    ) -> Settlement:
        if isinstance(plan, Skip):
            return Settlement("skipped", plan.reason, deleted=plan.deleted, warnings=plan.warnings)
        if isinstance(plan, Reject):
            return Settlement("dead", f"rejected: {plan.reason}", warnings=plan.warnings)
        if not isinstance(plan, Calls):
            return self.decider.waiting(
                claim, plan.reason, self._clock(), plan.warnings, for_contact=plan.for_contact
            )
        results = [self._calls.run_call(call, claim, lookup, run) for call in plan.calls]
        return Settlement(
            "applied",
            "; ".join(r for r in results if r) or "applied",
            applied_fields=plan.applied,
            links=tuple(run.links),
            ops_done=tuple(run.ops_done),
            warnings=plan.warnings,
            deleted=plan.deleted,
            calls=tuple(run.trace),
        )

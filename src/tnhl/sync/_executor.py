"""The executor: claimed records -> plans -> HighLevel calls -> one settlement per record.

Layered like a send path, each layer small:
- `execute`: plan (pure), run the calls, settle, all failures through `Decider` (`_outcome`);
- exactly-once (`_run_call`): a keyed create is marked sent before it goes out; a key that
  already succeeded reuses its HighLevel id; a key left sent/unknown (a crash, an unknown
  outcome) is read back (`_readback`) and re-sent only when proven absent;
- known answers: HighLevel's duplicate 400 is adopted, a repeated delete's 404 is success, and a
  contact is looked up before it is created so another record's contact is never overwritten;
- paced send (`_send`): a rate-limit slot first, never a sleep (`RescheduleNeeded`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import structlog

from tnhl.highlevel import APIError, DuplicateContactError, OutcomeUnknownError
from tnhl.mapping import MappingConfig
from tnhl.store import Link, OpMark, RecordClaim, Settlement, SqlStore, StoreError
from tnhl.sync._errors import RecordConflictError, RescheduleNeeded
from tnhl.sync._lookup import BatchLookup
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._outcome import Decider
from tnhl.sync._plan_types import Calls, Plan, PlannedCall, Reject, Skip, create_key
from tnhl.sync._planner import CLEARABLE, plan_record, update_body
from tnhl.sync._readback import CallFn, can_read_back, read_back
from tnhl.sync._settler import Settler

__all__ = ["Deferral", "Executor", "Limiter"]

log = structlog.get_logger("tnhl.sync")


@dataclass(frozen=True)
class Deferral:
    """The record waits, still leased, `wait` seconds for a rate-limit slot."""

    wait: float


class Limiter(Protocol):
    """The rate limiter's non-blocking side: seconds until a slot (0: taken now)."""

    def try_acquire(self, key: str) -> float: ...


@dataclass
class _Run:
    """What the calls of one plan achieved so far (kept even when a later call fails)."""

    settler: Settler
    links: list[Link] = field(default_factory=list)
    ops_done: list[tuple[str, str | None]] = field(default_factory=list)
    ops_unknown: list[str] = field(default_factory=list)
    calls: int = 0

    def link(self, call: PlannedCall, highlevel_id: str | None) -> None:
        if call.records is not None and highlevel_id:
            r = call.records
            self.links.append(Link(r.kind, r.talknotes_id, highlevel_id))


def _dig(payload: Any, path: str) -> str | None:
    for part in path.split("."):
        if not isinstance(payload, Mapping):
            return None
        payload = payload.get(part)
    return payload if isinstance(payload, str) and payload else None


def _first_body(call: PlannedCall, stored: str | None) -> PlannedCall | None:
    """The call as first planned, when its stored body differs from the current one."""
    if stored is None or call.body is None:
        return None
    first = json.loads(stored)
    return None if first == json.loads(_stored_form(call.body)) else replace(call, body=first)


def _already_gone(exc: APIError) -> bool:
    # HighLevel answers a missing contact, note or task with 400 "... not found" as well as 404.
    return exc.status in (404, 410) or (exc.status == 400 and "not found" in exc.message.lower())


def _stored_form(body: Mapping[str, Any]) -> str:
    """A request body as outbound_ops keeps it (keys sorted, so equal bodies compare equal)."""
    return json.dumps(body, sort_keys=True, default=str)


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
    ) -> None:
        self._store = store
        self._client = client
        self._mapping = mapping
        self.decider = decider
        self._limiter = limiter
        self._clock = clock
        self._metrics = metrics
        self._planner = planner
        # No record starts with less than this left on its lease (a call may take that long).
        self._lease_margin = lease_margin
        # Creates this process marked sent ahead (`_mark_ahead`) that have not gone out: a mark
        # known not to be a send needs no read-back. Each belongs to a record leased here.
        self._unsent: set[str] = set()

    def run(self, claims: Sequence[RecordClaim]) -> list[tuple[RecordClaim, float]]:
        """Execute and settle `claims` (one batch: id-map reads are shared); returns the
        claims deferred for a rate-limit slot (with the wait), still leased, to run later."""
        deferred: list[tuple[RecordClaim, float]] = []
        lookups: dict[str, BatchLookup] = {}
        for loc in {c.state.location_id for c in claims}:
            lookups[loc] = BatchLookup(self._store, loc)
            lookups[loc].prime([c for c in claims if c.state.location_id == loc])
        settler = self._settler()
        plans = self._mark_ahead(claims, lookups)
        try:
            for claim in claims:
                lookup = lookups[claim.state.location_id]
                result = self.execute(claim, lookup, settler, plans.get(id(claim)))
                if isinstance(result, Deferral):
                    deferred.append((claim, result.wait))
        finally:
            settler.flush()
        return deferred

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
            try:
                plan: Plan | None = self._planner(claim.state, lookup, self._mapping)
            except Exception:  # `execute` plans it again and makes the error an outcome
                plan = None
            if plan is not None:
                plans[id(claim)] = plan
            if not isinstance(plan, Calls):
                continue
            inbox_id = claim.events[0].inbox_id if claim.events else None
            for call in plan.calls:
                key = call.key
                if key is None or key in self._unsent or not lookup.op_absent(key):
                    continue
                body = None if call.body is None else _stored_form(call.body)
                marks[key] = OpMark(key, call.operation_id, inbox_id, body)
        try:
            self._store.send_ops(list(marks.values()))
        except StoreError:
            return plans  # each create is marked when it goes out, as without this
        self._unsent.update(marks)
        return plans

    def _unmark(self, claim: RecordClaim, s: Settlement) -> Settlement:
        st = claim.state
        key = create_key(st.location_id, st.kind, st.talknotes_id)
        if key not in self._unsent:
            return s
        self._unsent.discard(key)
        return replace(s, ops_unsent=(key,))

    def _settler(self) -> Settler:
        return Settler(self._store, self.decider, self._metrics, clock=self._clock)

    def settle_deferred(self, claim: RecordClaim, wait: float) -> None:
        """Give a deferred record back to the store, due when its slot is."""
        s = Settlement("reschedule", "rate limit", due_at=self._clock() + wait)
        settler = self._settler()
        settler.add(claim, s, BatchLookup(self._store, claim.state.location_id))
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
        if now > claim.lease_until - self._lease_margin:
            # Too little lease left for a call: another worker may take the record before the
            # call ends. Give it back, due now, while the lease is still ours.
            if now >= claim.lease_until:
                return None
            s = Settlement("reschedule", "lease nearly over before it ran", due_at=now)
            settler.add(claim, self._unmark(claim, s), lookup)
            settler.flush()
            return s
        warnings: tuple[str, ...] = ()
        run = _Run(settler)
        try:
            plan = planned
            if plan is None or lookup.touched(claim.state):
                plan = self._planner(claim.state, lookup, self._mapping)
            warnings = plan.warnings
            settlement = self._apply(plan, claim, lookup, run)
        except Exception as exc:  # every failure becomes an outcome; nothing loops
            wait = exc.wait if isinstance(exc, RescheduleNeeded) and run.calls == 0 else None
            if wait is not None and now + wait < claim.lease_until - self._lease_margin:
                return Deferral(wait)
            if self._contact_went_away(claim, exc):
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
            settlement = replace(settlement, links=tuple(run.links), ops_done=tuple(run.ops_done))
        settlement = self._unmark(claim, settlement)
        settler.add(claim, settlement, lookup)
        return settlement

    def _contact_went_away(self, claim: RecordClaim, exc: Exception) -> bool:
        """A task or note write answered "not found" because its contact's delete landed while
        it was planned: the record is moot (HighLevel deletes a contact's tasks and notes)."""
        st = claim.state
        if st.kind == "contact" or not isinstance(exc, APIError) or not _already_gone(exc):
            return False
        contact = self._store.get_record(st.location_id, "contact", st.contact_id)
        return contact is not None and contact.deleted_at is not None

    def _apply(self, plan: Plan, claim: RecordClaim, lookup: BatchLookup, run: _Run) -> Settlement:
        if isinstance(plan, Skip):
            return Settlement("skipped", plan.reason, deleted=plan.deleted, warnings=plan.warnings)
        if isinstance(plan, Reject):
            return Settlement("dead", f"rejected: {plan.reason}", warnings=plan.warnings)
        if not isinstance(plan, Calls):
            return self.decider.waiting(
                claim, plan.reason, self._clock(), plan.warnings, for_contact=plan.for_contact
            )
        results = [self._run_call(call, claim, lookup, run) for call in plan.calls]
        return Settlement(
            "applied",
            "; ".join(r for r in results if r) or "applied",
            applied_fields=plan.applied,
            links=tuple(run.links),
            ops_done=tuple(run.ops_done),
            warnings=plan.warnings,
            deleted=plan.deleted,
        )

    # -- one call --------------------------------------------------------------------------

    def _send(
        self,
        location: str,
        operation_id: str,
        params: Mapping[str, object],
        body: Any,
        run: _Run,
        *,
        paced: bool = False,
    ) -> Any:
        """One call through the client, after taking a rate-limit slot (unless `paced`)."""
        if not paced and self._limiter is not None:
            wait = self._limiter.try_acquire(location)
            if wait > 0:
                raise RescheduleNeeded(wait)
        run.calls += 1
        run.settler.before_call()
        started = time.monotonic()
        try:
            result = self._client(operation_id, params=dict(params), json=body)
        except Exception as exc:
            run.settler.call_took(time.monotonic() - started)
            if self._metrics is not None:
                cause = getattr(exc, "cause", None)  # an unknown outcome wraps the 5xx
                status = getattr(exc, "status", None) or getattr(cause, "status", None)
                self._metrics.call(status if isinstance(status, int) else "error")
            raise
        run.settler.call_took(time.monotonic() - started)
        if self._metrics is not None:
            self._metrics.call(200)
        return result

    def _run_call(
        self, call: PlannedCall, claim: RecordClaim, lookup: BatchLookup, run: _Run
    ) -> str:
        location = claim.state.location_id
        key = call.key
        if key is None:
            return self._send_known(call, location, run)
        op = lookup.op(key)
        if op is not None and op.state == "sent" and key in self._unsent:
            op = None  # marked ahead here and never sent: there is nothing to read back
        original = _first_body(call, op.request_body) if op is not None else None
        if op is not None and op.state == "succeeded" and op.highlevel_id:
            run.link(call, op.highlevel_id)
            if original is not None:
                # Created earlier with older content (a crash before it was settled, then
                # newer events): bring it up to date.
                self._apply_latest(call, op.highlevel_id, location, run, original)
            return f"{call.operation_id} already done ({op.highlevel_id})"
        if op is not None and op.state in ("sent", "unknown") and can_read_back(call.operation_id):
            # What went out may be the first body or (re-planned before it was sent) this one.
            for candidate in (call, original):
                if candidate is None:
                    continue
                found = read_back(
                    candidate,
                    lambda o, params=None, json=None: self._send(
                        location, o, params or {}, json, run
                    ),
                    lambda kind, hl_id: lookup.talknotes_id(kind, hl_id) is not None,
                )
                if found is not None:
                    run.ops_done.append((key, found))
                    run.link(call, found)
                    # A contact is found by email or phone whichever body went out, so only
                    # a task or note found by the current body is known to hold it.
                    contact = call.operation_id == "create-contact"
                    if original is not None and (candidate is not call or contact):
                        self._apply_latest(call, found, location, run, original)
                    return f"{call.operation_id} found by read-back ({found})"
        if call.find_duplicate:
            existing = self._find_duplicate(call, claim, lookup, run)
            if existing is not None:
                return self._adopt(call, existing, location, run, key_sent=False)
        if self._limiter is not None:
            # Pace before marking sent: a rate-limit wait then leaves the op unsent, and the
            # next try needs no read-back.
            wait = self._limiter.try_acquire(location)
            if wait > 0:
                raise RescheduleNeeded(wait)
        if key in self._unsent:
            self._unsent.discard(key)  # from here on the mark may be a send
        else:
            inbox_id = claim.events[0].inbox_id if claim.events else None
            body = None if call.body is None else _stored_form(call.body)
            self._store.send_ops([OpMark(key, call.operation_id, inbox_id, body)])
        try:
            response = self._send(
                location, call.operation_id, call.params, call.body, run, paced=True
            )
        except DuplicateContactError as exc:
            if call.on_duplicate != "adopt" or not exc.contact_id:
                raise
            self._check_free(call, exc.contact_id, lookup)
            return self._adopt(call, exc.contact_id, location, run, key_sent=True)
        except OutcomeUnknownError:
            run.ops_unknown.append(key)
            raise
        hl_id = _dig(response, call.records.response_path) if call.records else None
        run.ops_done.append((key, hl_id))
        run.link(call, hl_id)
        return f"{call.operation_id} {hl_id}" if hl_id else call.operation_id

    def _send_known(self, call: PlannedCall, location: str, run: _Run) -> str:
        try:
            self._send(location, call.operation_id, call.params, call.body, run)
        except APIError as exc:
            if call.operation_id.startswith("delete-") and _already_gone(exc):
                # A delete repeated after a crash (or of something removed in HighLevel): the
                # goal, "it is gone", is met.
                return f"{call.operation_id}: already gone"
            raise
        if call.records is not None:
            run.link(call, call.params.get("contactId"))
        return call.operation_id

    def _check_free(self, call: PlannedCall, highlevel_id: str, lookup: BatchLookup) -> None:
        if call.records is None:
            return
        other = lookup.talknotes_id(call.records.kind, highlevel_id)
        if other is not None and other != call.records.talknotes_id:
            raise RecordConflictError(
                call.records.kind, call.records.talknotes_id, other, highlevel_id
            )

    def _find_duplicate(
        self, call: PlannedCall, claim: RecordClaim, lookup: BatchLookup, run: _Run
    ) -> str | None:
        """The HighLevel contact this create would duplicate, checked to be no other record's."""
        body = call.body or {}
        params: dict[str, object] = {"locationId": claim.state.location_id}
        if body.get("email"):
            params["email"] = body["email"]
        else:
            params["number"] = body.get("phone")
        found = self._send(claim.state.location_id, "get-duplicate-contact", params, None, run)
        contact = found.get("contact") if isinstance(found, Mapping) else None
        hl_id = contact.get("id") if isinstance(contact, Mapping) else None
        if not isinstance(hl_id, str) or not hl_id:
            return None
        self._check_free(call, hl_id, lookup)
        return hl_id

    def _adopt(
        self, call: PlannedCall, contact_id: str, location: str, run: _Run, *, key_sent: bool
    ) -> str:
        if key_sent and call.key is not None:
            run.ops_done.append((call.key, contact_id))
        run.link(call, contact_id)
        body = update_body(call.body or {})
        self._send(location, "update-contact", {"contactId": contact_id}, body, run)
        return f"adopted existing contact {contact_id}"

    def _apply_latest(
        self, call: PlannedCall, highlevel_id: str, location: str, run: _Run, first: PlannedCall
    ) -> None:
        """Write `call`'s (newer) content onto the record created as `highlevel_id` from the
        `first` body; a contact field the first body had and this one lacks is cleared."""
        body = dict(call.body or {})
        contact = call.params.get("contactId", "")
        if call.operation_id == "create-note":
            params = {"contactId": contact, "id": highlevel_id}
            self._send(location, "update-note", params, body, run)
        elif call.operation_id == "create-task":
            params = {"contactId": contact, "taskId": highlevel_id}
            self._send(location, "update-task", params, body, run)
        elif call.operation_id == "create-contact":
            params = {"contactId": highlevel_id}
            latest = update_body(body)
            for name in CLEARABLE:
                if (first.body or {}).get(name) is not None and name not in latest:
                    latest[name] = None
            self._send(location, "update-contact", params, latest, run)
        else:
            # The planner keys only these three creates.
            raise ValueError(f"{call.operation_id}: a keyed call must be a create")

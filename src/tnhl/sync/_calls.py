"""One planned call, through the layers of a send path, each small:
- exactly-once (`run_call`): a keyed create is marked sent before it goes out; a key that
  already succeeded reuses its HighLevel id; a key left sent/unknown (a crash, an unknown
  outcome) is read back (`_readback`) and re-sent only when proven absent;
- known answers: HighLevel's duplicate 400 is adopted, a repeated delete's 404 is success, and a
  contact is looked up before it is created so another record's contact is never overwritten;
- paced send (`_send`): a rate-limit slot first, never a sleep (`RescheduleNeeded`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tnhl.highlevel import APIError, DuplicateContactError, OutcomeUnknownError
from tnhl.mapping import MappingConfig
from tnhl.store import EventCall, Link, OpMark, RecordClaim, SqlStore
from tnhl.sync._errors import RecordConflictError, RescheduleNeeded
from tnhl.sync._lookup import BatchLookup
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._plan_types import PlannedCall
from tnhl.sync._planner import CLEARABLE, update_body
from tnhl.sync._readback import CallFn, can_read_back, read_back
from tnhl.sync._settler import Settler
from tnhl.sync._trace import CallTracer, event_calls

__all__ = ["CallRun", "Caller", "Limiter", "Route", "already_gone", "stored_form"]


@dataclass(frozen=True)
class Route:
    """What one connection's records run with: its HighLevel client and its field mapping."""

    call: CallFn
    mapping: MappingConfig


class Limiter(Protocol):
    """The rate limiter's non-blocking side: seconds until a slot (0: taken now)."""

    def try_acquire(self, key: str, n: int = 1) -> float: ...


@dataclass
class CallRun:
    """What the calls of one plan achieved so far (kept even when a later call fails)."""

    settler: Settler
    links: list[Link] = field(default_factory=list)
    ops_done: list[tuple[str, str | None]] = field(default_factory=list)
    ops_unknown: list[str] = field(default_factory=list)
    calls: int = 0
    trace: list[EventCall] = field(default_factory=list)

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
    return None if first == json.loads(stored_form(call.body)) else replace(call, body=first)


def _taken(lookup: BatchLookup) -> Callable[[str, str], bool]:
    """The read-back's test: this HighLevel id is already another TalkNotes record's."""
    return lambda kind, hl_id: lookup.talknotes_id(kind, hl_id) is not None


def already_gone(exc: APIError) -> bool:
    # HighLevel answers a missing contact, note or task with 400 "... not found" as well as 404.
    return exc.status in (404, 410) or (exc.status == 400 and "not found" in exc.message.lower())


def stored_form(body: Mapping[str, Any]) -> str:
    """A request body as outbound_ops keeps it (keys sorted, so equal bodies compare equal)."""
    return json.dumps(body, sort_keys=True, default=str)


class Caller:
    """Runs one planned call at a time for the executor (see the module docstring)."""

    def __init__(
        self,
        store: SqlStore,
        client_for: Callable[[str], CallFn],
        limiter: Limiter | None,
        metrics: SyncMetrics | None,
        *,
        tracer: CallTracer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client_for = client_for
        self._limiter = limiter
        self._metrics = metrics
        self._tracer = tracer or CallTracer()
        self._clock = clock
        # Creates marked sent ahead (`Executor._mark_ahead`) that have not gone out: a mark
        # known not to be a send needs no read-back. Each belongs to a record leased here.
        self.unsent: set[str] = set()

    def _send(
        self,
        location: str,
        operation_id: str,
        params: Mapping[str, object],
        body: Any,
        run: CallRun,
        *,
        paced: bool = False,
        slots: int = 1,
    ) -> Any:
        """One call through the client, after taking a rate-limit slot (unless `paced`);
        `slots` > 1 holds slots for the calls that must follow this one."""
        if not paced and self._limiter is not None:
            wait = self._limiter.try_acquire(location, slots)
            if wait > 0:
                raise RescheduleNeeded(wait, slots=slots)
        run.calls += 1
        run.settler.before_call()
        at, started = self._clock(), time.monotonic()
        with self._tracer.recording() as seen:
            try:
                result = self._client_for(location)(operation_id, params=dict(params), json=body)
            except Exception as exc:
                took = time.monotonic() - started
                run.settler.call_took(took)
                run.trace += event_calls(operation_id, at, took, seen, error=exc)
                if self._metrics is not None:
                    cause = getattr(exc, "cause", None)  # an unknown outcome wraps the 5xx
                    status = getattr(exc, "status", None) or getattr(cause, "status", None)
                    self._metrics.call(status if isinstance(status, int) else "error")
                raise
        took = time.monotonic() - started
        run.settler.call_took(took)
        run.trace += event_calls(operation_id, at, took, seen, result=result)
        if self._metrics is not None:
            self._metrics.call(200)
        return result

    def run_call(
        self, call: PlannedCall, claim: RecordClaim, lookup: BatchLookup, run: CallRun
    ) -> str:
        location = claim.state.location_id
        key = call.key
        if key is None:
            return self._send_known(call, location, run)
        if call.operation_id.startswith("delete-"):
            return self._delete_created(call, key, lookup, location, run)
        op = lookup.op(key)
        if op is not None and op.state == "sent" and key in self.unsent:
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
                found = read_back(candidate, self._reader(location, run), _taken(lookup))
                if found is not None:
                    run.ops_done.append((key, found))
                    run.link(call, found)
                    # Only a note found by the current body is known to hold it: a contact
                    # is found by email or phone and a task by title, due date and body,
                    # whichever body went out (a task created open, then completed, is found
                    # by the completed body).
                    note = call.operation_id == "create-note"
                    if original is not None and (candidate is not call or not note):
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
        if key in self.unsent:
            self.unsent.discard(key)  # from here on the mark may be a send
        else:
            inbox_id = claim.events[0].inbox_id if claim.events else None
            body = None if call.body is None else stored_form(call.body)
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

    def _reader(self, location: str, run: CallRun) -> CallFn:
        return lambda o, params=None, json=None: self._send(location, o, params or {}, json, run)

    def _delete_created(
        self, call: PlannedCall, key: str, lookup: BatchLookup, location: str, run: CallRun
    ) -> str:
        """Delete what the unconfirmed create under `key` made, found by reading it back with
        the body it sent; nothing when the read-back proves it never reached HighLevel."""
        op = lookup.op(key)
        found = op.highlevel_id if op is not None else None
        if found is None and op is not None and op.request_body is not None:
            first = PlannedCall(op.operation_id, call.params, json.loads(op.request_body))
            found = read_back(first, self._reader(location, run), _taken(lookup))
        if found is None:
            return f"{call.operation_id}: its create never reached HighLevel"
        run.ops_done.append((key, found))
        run.link(call, found)
        id_param = "contactId" if call.operation_id == "delete-contact" else "id"
        params = {**call.params, id_param: found}
        self._send_known(replace(call, params=params, key=None, records=None), location, run)
        return f"{call.operation_id} {found} (created before a crash or a lost answer)"

    def _send_known(self, call: PlannedCall, location: str, run: CallRun) -> str:
        try:
            self._send(location, call.operation_id, call.params, call.body, run)
        except APIError as exc:
            if call.operation_id.startswith("delete-") and already_gone(exc):
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
        self, call: PlannedCall, claim: RecordClaim, lookup: BatchLookup, run: CallRun
    ) -> str | None:
        """The HighLevel contact this create would duplicate, checked to be no other record's."""
        body = call.body or {}
        params: dict[str, object] = {"locationId": claim.state.location_id}
        if body.get("email"):
            params["email"] = body["email"]
        else:
            params["number"] = body.get("phone")
        # Two slots: the check and the create (or the adopting update) that follows it. Taken
        # one at a time, a create that then waits for its slot must repeat the check.
        location = claim.state.location_id
        found = self._send(location, "get-duplicate-contact", params, None, run, slots=2)
        contact = found.get("contact") if isinstance(found, Mapping) else None
        hl_id = contact.get("id") if isinstance(contact, Mapping) else None
        if not isinstance(hl_id, str) or not hl_id:
            return None
        self._check_free(call, hl_id, lookup)
        return hl_id

    def _adopt(
        self, call: PlannedCall, contact_id: str, location: str, run: CallRun, *, key_sent: bool
    ) -> str:
        if key_sent and call.key is not None:
            run.ops_done.append((call.key, contact_id))
        run.link(call, contact_id)
        body = update_body(call.body or {})
        self._send(location, "update-contact", {"contactId": contact_id}, body, run)
        return f"adopted existing contact {contact_id}"

    def _apply_latest(
        self, call: PlannedCall, highlevel_id: str, location: str, run: CallRun, first: PlannedCall
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

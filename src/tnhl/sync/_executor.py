"""The executor: one claimed batch of one entity -> HighLevel calls -> settled inbox rows.

For each batch it asks the planner for the next step over the events still pending (re-planning
after every step, because a step may have put a new id in the id map that the next one needs),
runs the step's calls, then settles the rows: done, retry later, or dead letter. It never sleeps:
a rate-limit wait reschedules the entity and frees the worker thread.

Exactly-once creates: a keyed create is recorded in `outbound_ops` before it is sent; a key that
already succeeded reuses its HighLevel id; a key left `sent`/`unknown` (a crash or an unknown
outcome) is read back first (`_readback.py`) and re-sent only when proven absent.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from tnhl.highlevel import APIError, DuplicateContactError
from tnhl.sync._classify import Verdict, classify
from tnhl.sync._errors import RescheduleNeeded
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._plan import Call, EventView, PlanFn, Step
from tnhl.sync._planner import update_body
from tnhl.sync._ports import CallFn, ExecStore, InboxItem, Limiter, WorkBatch
from tnhl.sync._readback import can_read_back, read_back
from tnhl.sync._schedule import RetrySchedule

__all__ = ["BatchOutcome", "Executor"]

log = structlog.get_logger("tnhl.sync")


@dataclass
class BatchOutcome:
    """What one `execute` did, by inbox id (for logs, metrics and tests)."""

    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    rescheduled: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    calls: int = 0


# Keep a leased batch in memory until `at` (epoch seconds) instead of rescheduling it in the
# store; returns False when it will not (the executor then reschedules in the store).
Defer = Callable[[WorkBatch, float, str], bool]


class _Lookup:
    def __init__(self, store: ExecStore, location_id: str) -> None:
        self._store = store
        self._location = location_id

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        return self._store.get_highlevel_id(self._location, kind, talknotes_id)


def _dig(data: Any, path: str) -> str | None:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data if isinstance(data, str) and data else None


def _original_call(call: Call, request_body: str | None) -> Call | None:
    """`call` with the body its op was first planned with, when that body differs."""
    if request_body is None:
        return None
    try:
        first = json.loads(request_body)
    except ValueError:
        return None
    now = json.loads(json.dumps(call.body, sort_keys=True, default=str))
    if first == now or not isinstance(first, dict):
        return None
    return dataclasses.replace(call, body=first)


def _already_gone(exc: APIError) -> bool:
    # HighLevel answers a missing note or task with 400 "... not found" as well as 404.
    return exc.status == 404 or (exc.status == 400 and "not found" in exc.message.lower())


def _view(item: InboxItem) -> EventView:
    try:
        doc = json.loads(item.body)
    except ValueError:
        doc = {}
    data = doc.get("data") if isinstance(doc, dict) else None
    stamp = doc.get("timestamp") if isinstance(doc, dict) else None
    return EventView(
        inbox_id=item.id,
        event_id=item.event_id,
        location_id=item.location_id,
        event_type=item.event_type,
        data=data if isinstance(data, dict) else {},
        timestamp=stamp if isinstance(stamp, str) else None,
    )


class Executor:
    """Runs claimed batches. Thread-safe as long as its store, client and limiter are."""

    def __init__(
        self,
        store: ExecStore,
        client: CallFn,
        planner: PlanFn,
        *,
        schedule: RetrySchedule | None = None,
        limiter: Limiter | None = None,
        clock: Callable[[], float] = time.time,
        metrics: SyncMetrics | None = None,
        reschedule_spacing: float = 0.0,
        defer: Defer | None = None,
        lease_margin: float = 0.0,
    ) -> None:
        self._store = store
        self._client = client
        self._planner = planner
        self._schedule = schedule or RetrySchedule()
        self._limiter = limiter
        self._clock = clock
        self._metrics = metrics
        # Rate-limit reschedules of one location are spread `reschedule_spacing` apart (the
        # limit's mean interval, e.g. 10 s / 100): without it every waiting entity would come
        # due at the same instant, and all but one would be claimed only to be put back.
        self._spacing = reschedule_spacing
        self._defer = defer
        # No new step starts with less than this left on the lease (set it to the longest a
        # step's calls may take, e.g. tries x timeout).
        self._lease_margin = lease_margin
        self._next_slot: dict[str, float] = {}
        self._slot_lock = threading.Lock()

    # -- one batch -------------------------------------------------------------------------

    def execute(self, batch: WorkBatch, *, worker: str) -> BatchOutcome:
        """Apply as much of `batch` as can be applied now; every row ends settled or released."""
        out = BatchOutcome()
        foreign = [i.id for i in batch.items if i.source != "talknotes"]
        if foreign:
            # HighLevel webhooks are stored by intake for the HighLevel -> TalkNotes direction,
            # which a later issue builds; settle them as skipped rather than dead.
            self._store.complete(
                foreign, worker=worker, result="skipped: HighLevel -> TalkNotes not synced yet"
            )
            out.skipped.extend(foreign)
            batch = WorkBatch(
                batch.location_id,
                batch.entity_key,
                tuple(i for i in batch.items if i.source == "talknotes"),
                batch.lease_until,
            )
        items = {i.id: i for i in batch.items}
        pending = [_view(i) for i in batch.items]
        lookup = _Lookup(self._store, batch.location_id)
        while pending:
            if self._clock() > batch.lease_until - self._lease_margin:
                # The lease is (nearly) over: another worker may take these events now, so
                # starting a call could send a create twice. Leave them; they are not settled.
                out.abandoned.extend(v.inbox_id for v in pending)
                log.warning("lease ran out", entity=batch.entity_key, left=len(pending))
                break
            steps = self._planner(pending, lookup)
            if not steps or not steps[0].inbox_ids or steps[0].inbox_ids[0] != pending[0].inbox_id:
                raise RuntimeError("planner must return steps covering the pending events in order")
            step = steps[0]
            stop = self._run_step(step, batch, items, worker, out)
            if stop == "deferred":
                break
            pending = pending[len(step.inbox_ids) :]
            if stop:
                rest = [v.inbox_id for v in pending]
                if rest:
                    self._store.release(rest, worker=worker)
                    out.released.extend(rest)
                break
        return out

    def _run_step(
        self,
        step: Step,
        batch: WorkBatch,
        items: Mapping[int, InboxItem],
        worker: str,
        out: BatchOutcome,
    ) -> bool | Literal["deferred"]:
        """Run and settle one step; True when the rest of the batch must wait, "deferred" when
        the batch from this step on was handed back to be run again later, still leased."""
        location = batch.location_id
        ids = list(step.inbox_ids)
        head = items[ids[0]]
        bound = log.bind(event_ids=[items[i].event_id for i in ids], entity=head.entity_key)
        if step.action == "skip":
            self._store.complete(ids, worker=worker, result=f"skipped: {step.reason}")
            out.skipped.extend(ids)
            self._count("skipped", len(ids))
            bound.info("skipped", reason=step.reason)
            return False
        if step.action == "reject":
            self._dead(ids, worker, f"rejected: {step.reason}", "", out)
            bound.warning("rejected", reason=step.reason)
            return False
        if step.action == "wait":
            self._retry(head, ids, worker, Verdict("retry", step.reason), out, waiting=True)
            bound.info("waiting", reason=step.reason, attempts=head.attempts + 1)
            return True
        try:
            results = [self._run_call(call, location, head.id, out) for call in step.calls]
        except Exception as exc:  # every failure is classified; nothing escapes unsettled
            verdict = classify(exc, now=self._clock())
            if isinstance(exc, RescheduleNeeded) and self._defer is not None:
                at = self._slot_after(location, self._clock() + exc.wait)
                rest = WorkBatch(
                    batch.location_id,
                    batch.entity_key,
                    tuple(i for i in batch.items if i.id >= ids[0]),
                    batch.lease_until,
                )
                if self._defer(rest, at, worker):
                    out.deferred.extend(i.id for i in rest.items)
                    return "deferred"
            if verdict.kind == "dead":
                self._dead(ids, worker, verdict.reason, repr(exc)[:500], out)
                bound.warning("dead", reason=verdict.reason)
                return False
            self._retry(head, ids, worker, verdict, out, waiting=False)
            bound.info("retry", kind=verdict.kind, reason=verdict.reason, delay=verdict.delay)
            return True
        summary = "; ".join(r for r in results if r) or "applied"
        self._store.complete(ids, worker=worker, result=summary)
        out.done.extend(ids)
        self._count("applied", len(ids))
        bound.info("applied", calls=len(step.calls), result=summary)
        return False

    # -- settling --------------------------------------------------------------------------

    def _dead(
        self, ids: Sequence[int], worker: str, reason: str, error: str, out: BatchOutcome
    ) -> None:
        for inbox_id in ids:
            self._store.dead_letter(inbox_id, worker=worker, reason=reason, error=error)
        out.dead.extend(ids)
        self._count("dead", len(ids))

    def _retry(
        self,
        head: InboxItem,
        ids: Sequence[int],
        worker: str,
        verdict: Verdict,
        out: BatchOutcome,
        *,
        waiting: bool,
    ) -> None:
        now = self._clock()
        rest = list(ids[1:])
        if verdict.kind == "wait":
            wait = verdict.delay if verdict.delay is not None else 1.0
            at = self._slot_after(head.location_id, now + wait)
            self._store.retry_later(
                head.id, worker=worker, at=at, error=verdict.reason, count_attempt=False
            )
            out.rescheduled.append(head.id)
            self._count("rescheduled", 1)
        else:
            attempt = head.attempts + 1
            scheduled = self._schedule.delay(attempt)
            if scheduled is None:
                why = "contact never synced to HighLevel" if waiting else "retries exhausted"
                self._dead(ids, worker, f"{why} after {attempt} tries: {verdict.reason}", "", out)
                return
            delay = scheduled if verdict.delay is None else max(scheduled, verdict.delay)
            self._store.retry_later(
                head.id, worker=worker, at=now + delay, error=verdict.reason, count_attempt=True
            )
            out.retry.append(head.id)
            self._count("retried", 1)
        if rest:
            self._store.release(rest, worker=worker)
            out.released.extend(rest)

    def _slot_after(self, location: str, earliest: float) -> float:
        if self._spacing <= 0:
            return earliest
        with self._slot_lock:
            at = max(earliest, self._next_slot.get(location, 0.0))
            self._next_slot[location] = at + self._spacing
            return at

    def _count(self, what: str, n: int) -> None:
        if self._metrics is not None:
            getattr(self._metrics, what).inc(n)

    # -- one call --------------------------------------------------------------------------

    def _send(
        self,
        location: str,
        operation_id: str,
        params: Mapping[str, object],
        body: Any,
        out: BatchOutcome,
        *,
        paced: bool = False,
    ) -> Any:
        """One call through the client; takes a rate-limit slot first unless `paced`."""
        if not paced and self._limiter is not None:
            wait = self._limiter.try_acquire(location)
            if wait > 0:
                raise RescheduleNeeded(wait)
        out.calls += 1
        try:
            result = self._client(operation_id, params=dict(params), json=body)
        except Exception as exc:
            if self._metrics is not None:
                cause = getattr(exc, "cause", None)  # an unknown outcome wraps the 5xx
                status = getattr(exc, "status", None) or getattr(cause, "status", None)
                self._metrics.call(status if isinstance(status, int) else "error")
            raise
        if self._metrics is not None:
            self._metrics.call(200)
        return result

    def _record(self, call: Call, location: str, highlevel_id: str | None) -> None:
        if call.record is not None and highlevel_id:
            r = call.record
            self._store.put_mapping(location, r.kind, r.talknotes_id, highlevel_id)

    def _run_call(self, call: Call, location: str, inbox_id: int, out: BatchOutcome) -> str:
        key = call.key
        if key is not None:
            op = self._store.begin_op(
                key, inbox_id=inbox_id, operation_id=call.operation_id, body=call.body
            )
            original = _original_call(call, op.request_body)
            if op.state == "succeeded":
                self._record(call, location, op.highlevel_id)
                if original is not None and op.highlevel_id:
                    # Created earlier with older content (a crash before the id was mapped,
                    # then later events coalesced in): bring it up to date.
                    self._apply_latest(call, op.highlevel_id, location, out)
                return f"{call.operation_id} already done ({op.highlevel_id})"
            if op.state in ("sent", "unknown") and can_read_back(call.operation_id):
                # What was sent may be the op's first body or (if it was re-planned with newer
                # content before it went out) the current one: look for either.
                for candidate in (call, original):
                    if candidate is None:
                        continue
                    found = self._read_back(candidate, location, out)
                    if found is not None:
                        self._store.finish_op(
                            key, highlevel_id=found, response="found by read-back"
                        )
                        self._record(call, location, found)
                        if candidate is not call:
                            self._apply_latest(call, found, location, out)
                        return f"{call.operation_id} found by read-back ({found})"
            # Pace before marking sent: a rate-limit wait then leaves the op 'planned', and the
            # next try sends without a needless read-back.
            if self._limiter is not None:
                wait = self._limiter.try_acquire(location)
                if wait > 0:
                    raise RescheduleNeeded(wait)
            self._store.mark_sent(key)
            return self._send_create(call, location, out, paced=True)
        return self._send_create(call, location, out, paced=False)

    def _send_create(self, call: Call, location: str, out: BatchOutcome, *, paced: bool) -> str:
        key = call.key
        try:
            response = self._send(
                location, call.operation_id, call.params, call.body, out, paced=paced
            )
        except DuplicateContactError as exc:
            if call.on_duplicate != "adopt" or not exc.contact_id:
                raise
            return self._adopt(call, location, exc.contact_id, out)
        except APIError as exc:
            if call.operation_id.startswith("delete-") and _already_gone(exc):
                # A delete repeated after a crash (or of something removed in HighLevel): the
                # goal, "it is gone", is met.
                return f"{call.operation_id}: already gone"
            raise
        except Exception as exc:
            if key is not None and classify(exc, now=self._clock()).unknown_outcome:
                self._store.mark_unknown(key, type(exc).__name__)
            raise
        hl_id = _dig(response, call.record.response_path) if call.record else None
        if key is not None:
            self._store.finish_op(key, highlevel_id=hl_id, response="created")
        self._record(call, location, hl_id)
        return f"{call.operation_id} {hl_id}" if hl_id else call.operation_id

    def _apply_latest(
        self, call: Call, highlevel_id: str, location: str, out: BatchOutcome
    ) -> None:
        """Write `call`'s (newer) content onto the record it created as `highlevel_id`."""
        body = dict(call.body or {})
        contact = call.params.get("contactId")
        if call.operation_id == "create-note":
            params: dict[str, object] = {"contactId": contact, "id": highlevel_id}
            self._send(location, "update-note", params, body, out)
        elif call.operation_id == "create-task":
            params = {"contactId": contact, "taskId": highlevel_id}
            self._send(location, "update-task", params, body, out)
        elif call.operation_id == "create-contact":
            params = {"contactId": highlevel_id}
            self._send(location, "update-contact", params, update_body(body), out)
        else:
            # The planner keys only these three creates, and only keyed calls come here.
            raise ValueError(f"{call.operation_id}: a keyed call must be a create")

    def _adopt(self, call: Call, location: str, contact_id: str, out: BatchOutcome) -> str:
        if call.key is not None:
            self._store.finish_op(call.key, highlevel_id=contact_id, response="adopted duplicate")
        self._record(call, location, contact_id)
        # The create body minus what UpdateContactDto rejects (the planner's rule).
        body = update_body(call.body or {})
        self._send(location, "update-contact", {"contactId": contact_id}, body, out)
        return f"adopted duplicate contact {contact_id}"

    def _read_back(self, call: Call, location: str, out: BatchOutcome) -> str | None:
        def client(
            operation_id: str,
            *,
            params: Mapping[str, object] | None = None,
            json: object | None = None,
        ) -> Any:
            return self._send(location, operation_id, params or {}, json, out)

        def taken(kind: str, highlevel_id: str) -> bool:
            return self._store.get_talknotes_id(location, kind, highlevel_id) is not None

        return read_back(call, client, taken)

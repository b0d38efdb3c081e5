"""In-memory doubles for the executor's unit tests (pure logic; no I/O).

The real store, client and planner are exercised in tests/e2e; here the executor's decisions are
checked one by one against small, fully controlled collaborators.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tnhl.sync._plan import Call, EventView, IdLookup, Record, Step
from tnhl.sync._ports import InboxItem, OpState, WorkBatch


@dataclass
class FakeStore:
    """Records every settle call; keeps the id map and outbound ops in dicts."""

    id_map: dict[tuple[str, str, str], str] = field(default_factory=dict)
    ops: dict[str, OpState] = field(default_factory=dict)
    settled: list[tuple[str, Any]] = field(default_factory=list)

    def get_highlevel_id(self, location_id: str, kind: str, talknotes_id: str) -> str | None:
        return self.id_map.get((location_id, kind, talknotes_id))

    def get_talknotes_id(self, location_id: str, kind: str, highlevel_id: str) -> str | None:
        for (loc, k, tn), hl in self.id_map.items():
            if loc == location_id and k == kind and hl == highlevel_id:
                return tn
        return None

    def put_mapping(
        self, location_id: str, kind: str, talknotes_id: str, highlevel_id: str
    ) -> None:
        self.id_map[(location_id, kind, talknotes_id)] = highlevel_id

    def begin_op(
        self, key: str, *, inbox_id: int, operation_id: str, body: Mapping[str, Any] | None
    ) -> OpState:
        text = json.dumps(body, sort_keys=True, default=str) if body is not None else None
        return self.ops.setdefault(key, OpState(key, "planned", None, text))

    def mark_sent(self, key: str) -> None:
        self.ops[key] = OpState(key, "sent", None, self.ops[key].request_body)

    def finish_op(self, key: str, *, highlevel_id: str | None, response: str) -> None:
        self.ops[key] = OpState(key, "succeeded", highlevel_id, self.ops[key].request_body)

    def mark_unknown(self, key: str, error: str) -> None:
        self.ops[key] = OpState(key, "unknown", None, self.ops[key].request_body)

    def complete(self, inbox_ids: Sequence[int], *, worker: str, result: str) -> None:
        self.settled.append(("done", (list(inbox_ids), result)))

    def retry_later(
        self, inbox_id: int, *, worker: str, at: float, error: str, count_attempt: bool
    ) -> None:
        self.settled.append(("retry", (inbox_id, at, error, count_attempt)))

    def dead_letter(self, inbox_id: int, *, worker: str, reason: str, error: str) -> None:
        self.settled.append(("dead", (inbox_id, reason)))

    def release(self, inbox_ids: Sequence[int], *, worker: str) -> None:
        self.settled.append(("release", list(inbox_ids)))

    def kinds(self, kind: str) -> list[Any]:
        return [v for k, v in self.settled if k == kind]


Handler = Callable[[Mapping[str, object], Any], Any]


@dataclass
class FakeClient:
    """Stands in for `HighLevelClient.call`: per-operation handlers, every call recorded."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, object], Any]] = field(default_factory=list)
    counter: int = 0

    def __call__(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any:
        self.calls.append((operation_id, dict(params or {}), json))
        handler = self.handlers.get(operation_id)
        if handler is not None:
            return handler(params or {}, json)
        self.counter += 1
        new_id = f"hl{self.counter:03d}"
        if operation_id in ("create-contact", "upsert-contact", "update-contact"):
            return {"contact": {"id": (params or {}).get("contactId", new_id)}}
        if operation_id == "create-task":
            return {"task": {"id": new_id}}
        if operation_id == "create-note":
            return {"note": {"id": new_id}}
        return {"succeded": True}

    def ops(self) -> list[str]:
        return [c[0] for c in self.calls]


def toy_planner(events: Sequence[EventView], lookup: IdLookup) -> list[Step]:
    """A small planner with the real one's rules, for executor tests only.

    contact.created/updated runs coalesce into one create (unknown) or update (known); tasks and
    notes wait for their contact; `reject` in the data rejects; `skip` skips.
    """
    steps: list[Step] = []
    i = 0
    while i < len(events):
        ev = events[i]
        data = ev.data
        if data.get("reject"):
            steps.append(Step((ev.inbox_id,), "reject", reason="bad data"))
            i += 1
            continue
        if data.get("skip"):
            steps.append(Step((ev.inbox_id,), "skip", reason="nothing to do"))
            i += 1
            continue
        if ev.event_type.startswith("contact."):
            j = i
            merged: dict[str, Any] = {}
            while j < len(events) and events[j].event_type in (
                "contact.created",
                "contact.updated",
            ):
                merged.update({k: v for k, v in events[j].data.items() if k != "id"})
                j += 1
            known = lookup.highlevel_id("contact", data["id"])
            rec = Record("contact", data["id"], "contact.id")
            if known:
                call = Call("update-contact", {"contactId": known}, merged, None, rec)
            else:
                body = {"locationId": ev.location_id, **merged}
                call = Call(
                    "create-contact",
                    {},
                    body,
                    f"{ev.location_id}:create-contact:{data['id']}",
                    rec,
                    on_duplicate="adopt",
                )
            steps.append(Step(tuple(e.inbox_id for e in events[i:j]), "calls", (call,)))
            i = j
            continue
        contact = lookup.highlevel_id("contact", data["contactId"])
        if contact is None:
            steps.append(Step((ev.inbox_id,), "wait", reason=f"contact {data['contactId']}"))
            i += 1
            continue
        kind = ev.event_type.split(".")[0]
        body = (
            {"title": data["taskName"], "dueDate": data["dueDate"], "completed": False}
            if kind == "task"
            else {"body": data["noteContent"]}
        )
        call = Call(
            f"create-{kind}",
            {"contactId": contact},
            body,
            f"{ev.location_id}:create-{kind}:{data['id']}",
            Record(kind, data["id"], f"{kind}.id"),
        )
        steps.append(Step((ev.inbox_id,), "calls", (call,)))
        i += 1
    return steps


def make_batch(
    *events: tuple[str, dict[str, Any]], attempts: int = 0, location: str = "loc1"
) -> WorkBatch:
    """A batch of one entity from (event_type, data) pairs, ids 1, 2, 3..."""
    import json

    items = tuple(
        InboxItem(
            id=n,
            event_id=f"evt_{n}",
            event_type=etype,
            location_id=location,
            entity_key="c1",
            body=json.dumps({"type": etype, "timestamp": "2026-01-01T00:00:00Z", "data": data}),
            attempts=attempts,
        )
        for n, (etype, data) in enumerate(events, start=1)
    )
    return WorkBatch(location, "c1", items)

"""Recipes' actions: what one rendered step does (a HighLevel call, a signed delivery to
TalkNotes or any URL, a TalkNotes record made through the sync engine). Each raises `Wait`
when it cannot run yet and `Refused` when it never can; other failures are the engine's to
retry."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tnhl.highlevel import OPERATIONS
from tnhl.mapping import MappingConfig
from tnhl.store import InboundEvent, InboxRow, SqlStore
from tnhl.sync._plan_types import PlannedCall
from tnhl.sync._readback import CallFn, read_back
from tnhl.sync._recipe_plan import Step
from tnhl.talknotes import (
    DeliveryFailed,
    InvalidEvent,
    TalkNotesOut,
    WebhookOut,
    iso_z,
    parse_event,
)

__all__ = ["Actions", "RecipeConnection", "Refused", "Wait", "creates"]


@dataclass
class RecipeConnection:
    """What a connection's recipes run with."""

    name: str
    location_id: str
    mapping: MappingConfig
    call: CallFn
    out: TalkNotesOut | None = None


class Wait(Exception):
    """An action cannot run yet (its contact is not in HighLevel): retried later."""


class Refused(Exception):
    """An action can never run as rendered: dead-lettered, naming why."""


@dataclass
class Actions:
    """Performs recipes' steps."""

    store: SqlStore
    clock: Callable[[], float] = time.time
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    def perform(self, conn: RecipeConnection, row: InboxRow, i: int, step: Step) -> str | None:
        """Run action `i` of firing `row`; the HighLevel id it produced, if any."""
        p = step.params
        if step.action.startswith("highlevel."):
            op = OPERATIONS[step.action.removeprefix("highlevel.")]
            params = dict(p.get("params") or {})
            for name in op.path_params:
                if params.get(name) in (None, ""):
                    raise Wait(f"{step.action}: params.{name} is empty (not in HighLevel yet?)")
            answer = conn.call(op.id, params=params, json=p.get("body"))
            return _answer_id(answer)
        message_id = "rcp_" + hashlib.sha256(f"{row.event_id}:{i}".encode()).hexdigest()[:32]
        if step.action.startswith("talknotes.send."):
            if conn.out is None:
                raise Refused("this connection has no talknotes_outbound_url")
            event = {
                "type": step.action.removeprefix("talknotes.send."),
                "timestamp": iso_z(self.clock()),
                "data": p.get("data"),
            }
            return conn.out.deliver(message_id, event).linked_id
        if step.action == "webhook.post":
            self.post(message_id, p)
            return None
        self.record(conn, row, i, step)
        return None

    def find_created(self, conn: RecipeConnection, action: str, sent: str) -> str | None:
        """The HighLevel id of what an earlier try of the create `action` made, read back by
        the params it sent (`sent`, as its op kept them), or None when proven absent. What is
        already a TalkNotes record's in the id map is never taken for it."""
        op = OPERATIONS[action.removeprefix("highlevel.")]
        p = json.loads(sent)
        call = PlannedCall(op.id, dict(p.get("params") or {}), p.get("body") or {})
        loc = conn.location_id
        return read_back(
            call,
            conn.call,
            lambda kind, hl_id: self.store.get_talknotes_id(loc, kind, hl_id) is not None,
        )

    def post(self, message_id: str, p: Mapping[str, Any]) -> None:
        url, secret = str(p.get("url") or ""), p.get("secret")
        if not url.startswith(("http://", "https://")):
            raise Refused(f"webhook.post: url must be http(s), got {url!r}")
        if isinstance(secret, str) and secret.startswith("env:"):
            secret = os.environ.get(secret[4:])
            if not secret:
                raise Refused(f"webhook.post: the environment has no {p.get('secret', '')[4:]}")
        body = p.get("body")
        if secret:
            WebhookOut(url, str(secret), client=self.http, clock=self.clock).deliver(
                message_id, body or {}
            )
            return
        response = self.http.post(url, json=body, headers={"webhook-id": message_id})
        if response.status_code >= 300:
            retry = response.status_code in (408, 409, 425, 429) or response.status_code >= 500
            raise DeliveryFailed(response.status_code, response.text[:200], retry=retry)

    def record(self, conn: RecipeConnection, row: InboxRow, i: int, step: Step) -> None:
        """tnhl.task / tnhl.note: a TalkNotes event on the contact, run by the engine."""
        p = step.params
        ctx_contact = json.loads(row.body).get("context", {}).get("contact", {})
        contact = p.get("contact") or ctx_contact.get("id")
        if not contact:
            raise Refused(f"{step.action}: no TalkNotes contact (give `contact`)")
        record_id = "recipe-" + hashlib.sha256(f"{row.event_id}:{i}".encode()).hexdigest()[:24]
        if step.action == "tnhl.task":
            data = {
                "id": record_id,
                "contactId": contact,
                "taskName": p.get("title"),
                "dueDate": p.get("due"),
                "description": p.get("description"),
                "assignee": p.get("assignee"),
            }
            type_ = "task.created"
        else:
            data = {
                "id": record_id,
                "contactId": contact,
                "noteTitle": p.get("title"),
                "noteContent": p.get("content"),
            }
            type_ = "note.created"
        body = {
            "type": type_,
            "timestamp": iso_z(self.clock()),
            "data": {k: v for k, v in data.items() if v not in (None, "")},
        }
        text = json.dumps(body)
        try:
            parse_event(text)
        except InvalidEvent as exc:
            raise Refused(f"{step.action}: {exc.summary()}") from None
        event = InboundEvent(
            "talknotes",
            f"recipe:{record_id}",
            type_,
            row.location_id,
            str(contact),
            text,
            self.clock(),
        )
        self.store.add_inbound(event)


def creates(step: Step) -> bool:
    op = OPERATIONS.get(step.action.removeprefix("highlevel."))
    return step.action.startswith("highlevel.") and op is not None and op.create


def _answer_id(answer: Any) -> str | None:
    if isinstance(answer, dict):
        for key in ("contact", "task", "note"):
            inner = answer.get(key)
            if isinstance(inner, dict) and isinstance(inner.get("id"), str):
                return str(inner["id"])
        if isinstance(answer.get("id"), str):
            return str(answer["id"])
    return None

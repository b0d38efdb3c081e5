"""Every entry of the operations catalog (issue 10) works against the simulator, nothing faked.

One Service runs against `running_simulator()` with a mapping file whose recipes use every
trigger and every action of `tnhl.mapping.catalog()`:

- each trigger has a recipe `t-<id>` posting `{"trigger": <id>, "type": ..., "about": ...}`
  (`webhook.post`, signed with a `whsec_` secret) to a loopback receiver served here, which
  checks the signature; HighLevel webhooks come signed by the simulator's key, TalkNotes events
  signed with the connection's secret, polls and schedules from records made by TalkNotes
  events and the clock;
- the 32 `highlevel.<operation>` actions run (recipes on `schedule.every`) against records
  prepared in the simulator first, their calls read back from its request log and state;
- the 14 `talknotes.send.<type>` actions go to the connection's outbound URL (the receiver);
- `tnhl.task`, `tnhl.note`, `tnhl.followups`, `tnhl.milestone_notes` end in the simulator.

The literal tables below say what each test exercises; `test_every_catalog_entry_is_exercised`
compares them with the catalog, so a new entry without a test fails. The last test sends
HighLevel bodies as documented without `locationId` (invoices, locations): it fails until the
intake finds their location (the others are sent with `locationId` added).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tnhl.highlevel import WEBHOOK_EVENTS
from tnhl.mapping import catalog
from tnhl.simulator import RunningSimulator, running_simulator, serve_in_thread
from tnhl.simulator._reqlog import LoggedRequest
from tnhl.store import InboxRow
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import SignatureError, WebhookVerifier, generate_secret
from tnhl.talknotes._generator import signed_requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import FAST_RETRY, wait_for

DEADLINE = 30.0

# --- what the tests exercise (literals; the coverage test compares them with the catalog) ---

# HighLevel webhook event -> the `type` its recipe posts back (`{{ event.type }}`): the body's
# documented `type`, which is not always the event's name.
HIGHLEVEL_TRIGGERS: dict[str, str] = {
    "AppInstall": "INSTALL",
    "AppUninstall": "UNINSTALL",
    "AppointmentCreate": "AppointmentCreate",
    "AppointmentDelete": "AppointmentDelete",
    "AppointmentUpdate": "AppointmentUpdate",
    "AssociationCreate": "AssociationCreate",
    "AssociationDelete": "AssociationDelete",
    "AssociationUpdate": "AssociationUpdate",
    "CampaignStatusUpdate": "CampaignStatusUpdate",
    "ContactCreate": "ContactCreate",
    "ContactDelete": "ContactDelete",
    "ContactDndUpdate": "ContactDndUpdate",
    "ContactTagUpdate": "ContactTagUpdate",
    "ContactUpdate": "ContactUpdate",
    "ConversationUnreadWebhook": "ConversationUnreadUpdate",
    "InboundMessage": "InboundMessage",
    "InvoiceCreate": "InvoiceCreate",
    "InvoiceDelete": "InvoiceDelete",
    "InvoicePaid": "InvoicePaid",
    "InvoicePartiallyPaid": "InvoicePartiallyPaid",
    "InvoiceSent": "InvoiceSent",
    "InvoiceUpdate": "InvoiceUpdate",
    "InvoiceVoid": "InvoiceVoid",
    "LCEmailStats": "LCEmailStats",
    "LocationCreate": "LocationCreate",
    "LocationUpdate": "LocationUpdate",
    "NoteCreate": "NoteCreate",
    "NoteDelete": "NoteDelete",
    "NoteUpdate": "NoteUpdate",
    "ObjectSchemaCreate": "ObjectSchemaCreate",
    "ObjectSchemaUpdate": "ObjectSchemaUpdate",
    "OpportunityAssignedToUpdate": "OpportunityAssignedToUpdate",
    "OpportunityCreate": "OpportunityCreate",
    "OpportunityDelete": "OpportunityDelete",
    "OpportunityMonetaryValueUpdate": "OpportunityMonetaryValueUpdate",
    "OpportunityStageUpdate": "OpportunityStageUpdate",
    "OpportunityStatusUpdate": "OpportunityStatusUpdate",
    "OpportunityUpdate": "OpportunityUpdate",
    "OrderCreate": "OrderCreate",
    "OrderStatusUpdate": "OrderStatusUpdate",
    "OutboundMessage": "OutboundMessage",
    "PlanChange": "PLAN_CHANGE",
    "PriceCreate": "PriceCreate",
    "PriceDelete": "PriceDelete",
    "PriceUpdate": "PriceUpdate",
    "ProductCreate": "ProductCreate",
    "ProductDelete": "ProductDelete",
    "ProductUpdate": "ProductUpdate",
    "ProviderOutboundMessage": "SMS",
    "RecordCreate": "RecordCreate",
    "RecordDelete": "RecordDelete",
    "RecordUpdate": "RecordUpdate",
    "RelationCreate": "RelationCreate",
    "RelationDelete": "RelationDelete",
    "TaskComplete": "TaskComplete",
    "TaskCreate": "TaskCreate",
    "TaskDelete": "TaskDelete",
    "UserCreate": "UserCreate",
}
# Documented bodies without a `type` (tnhl's intake requires one): sent with the event's name.
UNTYPED = {
    "AssociationCreate", "AssociationDelete", "AssociationUpdate", "InvoiceCreate",
    "InvoiceDelete", "InvoicePaid", "InvoicePartiallyPaid", "InvoiceSent", "InvoiceUpdate",
    "InvoiceVoid", "ObjectSchemaCreate", "ObjectSchemaUpdate", "PriceCreate", "ProductCreate",
    "ProductDelete", "ProductUpdate", "RelationCreate", "RelationDelete",
}  # fmt: skip
# Documented `type` is the price's kind ("one_time"), shared by both: it names neither event,
# so they are sent with the event's name too (see test_documented_bodies_... below).
PRICE_KIND = {"PriceDelete", "PriceUpdate"}
# Documented bodies without `locationId` (Invoice*: altType/altId; Location*: id): sent with
# the connection's locationId added (see test_documented_bodies_... below).
NO_LOCATION = {
    "InvoiceCreate", "InvoiceDelete", "InvoicePaid", "InvoicePartiallyPaid", "InvoiceSent",
    "InvoiceUpdate", "InvoiceVoid", "LocationCreate", "LocationUpdate", "OrderCreate",
    "OrderStatusUpdate",
}  # fmt: skip

FOLLOWUP_TITLE = "Call Sam back about the quote"
NOTE_TEXT = "Call Sam back Friday at 3pm about the quote. The contract was signed today."
# TalkNotes trigger -> (the posted `type`, the posted `about`).
TALKNOTES_TRIGGERS: dict[str, tuple[str, str]] = {
    "talknotes.contact.created": ("contact.created", "c1"),
    "talknotes.contact.updated": ("contact.updated", "c1"),
    "talknotes.contact.deleted": ("contact.deleted", "c-gone"),
    "talknotes.task.created": ("task.created", "c1"),
    "talknotes.task.updated": ("task.updated", "c1"),
    "talknotes.task.completed": ("task.completed", "c1"),
    "talknotes.note.created": ("note.created", "c1"),
    "talknotes.note.updated": ("note.updated", "c1"),
    "talknotes.note.deleted": ("note.deleted", "c1"),
    "talknotes.note.followup": ("note.created", FOLLOWUP_TITLE),
    "talknotes.note.milestone": ("note.created", "signed"),
}
# Poll trigger -> (posted type, posted about: the task's or the contact's TalkNotes id).
POLL_TRIGGERS: dict[str, tuple[str, str]] = {
    "poll.task.due_soon": ("poll.task.due_soon", "t1"),
    "poll.task.overdue": ("poll.task.overdue", "t1"),
    "poll.contact.idle": ("poll.contact.idle", "c1"),
}
SCHEDULE_TRIGGERS = ("schedule.every", "schedule.daily", "schedule.weekly")

# HighLevel operation -> (method, path) the simulator must log; {A} {D} {T} {TA} {TD} {NA} {ND}
# are the records prepared in the simulator before the service starts.
HIGHLEVEL_OPERATIONS: dict[str, tuple[str, str]] = {
    "create-contact": ("POST", "/contacts/"),
    "upsert-contact": ("POST", "/contacts/upsert"),
    "get-contacts": ("GET", "/contacts/"),
    "search-contacts-advanced": ("POST", "/contacts/search"),
    "get-duplicate-contact": ("GET", "/contacts/search/duplicate"),
    "get-contact": ("GET", "/contacts/{A}"),
    "update-contact": ("PUT", "/contacts/{A}"),
    "add-tags": ("POST", "/contacts/{A}/tags"),
    "remove-tags": ("DELETE", "/contacts/{A}/tags"),
    "create-association": ("POST", "/contacts/bulk/tags/update/add"),
    "add-remove-contact-from-business": ("POST", "/contacts/bulk/business"),
    "get-contacts-by-businessId": ("GET", "/contacts/business/biz-1"),
    "add-followers-contact": ("POST", "/contacts/{A}/followers"),
    "remove-followers-contact": ("DELETE", "/contacts/{A}/followers"),
    "add-contact-to-campaign": ("POST", "/contacts/{A}/campaigns/camp-1"),
    "remove-contact-from-campaign": ("DELETE", "/contacts/{A}/campaigns/camp-1"),
    "remove-contact-from-every-campaign": ("DELETE", "/contacts/{A}/campaigns/removeAll"),
    "add-contact-to-workflow": ("POST", "/contacts/{A}/workflow/wf-1"),
    "delete-contact-from-workflow": ("DELETE", "/contacts/{A}/workflow/wf-1"),
    "get-appointments-for-contact": ("GET", "/contacts/{A}/appointments"),
    "delete-contact": ("DELETE", "/contacts/{D}"),
    "get-all-tasks": ("GET", "/contacts/{T}/tasks"),
    "create-task": ("POST", "/contacts/{T}/tasks"),
    "get-task": ("GET", "/contacts/{T}/tasks/{TA}"),
    "update-task": ("PUT", "/contacts/{T}/tasks/{TA}"),
    "update-task-completed": ("PUT", "/contacts/{T}/tasks/{TA}/completed"),
    "delete-task": ("DELETE", "/contacts/{T}/tasks/{TD}"),
    "get-all-notes": ("GET", "/contacts/{T}/notes"),
    "create-note": ("POST", "/contacts/{T}/notes"),
    "get-note": ("GET", "/contacts/{T}/notes/{NA}"),
    "update-note": ("PUT", "/contacts/{T}/notes/{NA}"),
    "delete-note": ("DELETE", "/contacts/{T}/notes/{ND}"),
}
TALKNOTES_SENDS = (
    "appointment.created", "appointment.deleted", "appointment.updated", "contact.created",
    "contact.deleted", "contact.updated", "note.created", "note.deleted", "note.updated",
    "profile.updated", "task.completed", "task.created", "task.deleted", "task.updated",
)  # fmt: skip
WEBHOOK_ACTIONS = ("webhook.post",)  # every trigger's recipe posts with it
RECORD_ACTIONS = ("tnhl.task", "tnhl.note")
NOTE_TEXT_ACTIONS = ("tnhl.followups", "tnhl.milestone_notes")

SENT_DATA = {"id": "c1", "sent_by": "a-send"}  # what a-send's talknotes.send.* actions carry
RECIPE_TASK_DUE = "2031-01-15T17:00:00Z"


def _trigger_ids() -> set[str]:
    return (
        {f"highlevel.{name}" for name in HIGHLEVEL_TRIGGERS}
        | set(TALKNOTES_TRIGGERS)
        | set(POLL_TRIGGERS)
        | set(SCHEDULE_TRIGGERS)
    )


def _action_ids() -> set[str]:
    return (
        {f"highlevel.{op}" for op in HIGHLEVEL_OPERATIONS}
        | {f"talknotes.send.{t}" for t in TALKNOTES_SENDS}
        | set(WEBHOOK_ACTIONS + RECORD_ACTIONS + NOTE_TEXT_ACTIONS)
    )


def test_every_catalog_entry_is_exercised() -> None:
    """The tables of this module name exactly the catalog's ids (126 or more), by kind."""
    ids = list(catalog())
    assert len(ids) >= 126
    assert len(ids) == len(set(ids))
    assert not _trigger_ids() & _action_ids()
    assert _trigger_ids() | _action_ids() == set(ids)
    assert {e.id for e in catalog().values() if e.kind == "trigger"} == _trigger_ids()


# --- the loopback receiver ------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    path: str
    webhook_id: str
    body: Any
    signed: bool


class Receiver:
    """Records every POST to /hooks (webhook.post) and /talknotes (the outbound URL), with
    whether its Standard Webhooks signature verified against that path's secret."""

    def __init__(self, hook_secret: str, outbound_secret: str) -> None:
        self._verifiers = {
            "/hooks": WebhookVerifier(hook_secret),
            "/talknotes": WebhookVerifier(outbound_secret),
        }
        self._lock = threading.Lock()
        self._posts: list[Post] = []
        self.app = Starlette(
            routes=[
                Route("/hooks", self._take, methods=["POST"]),
                Route("/talknotes", self._take, methods=["POST"]),
            ]
        )

    async def _take(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            self._verifiers[request.url.path].verify(request.headers, raw)
            signed = True
        except SignatureError:
            signed = False
        post = Post(
            request.url.path, request.headers.get("webhook-id", ""), json.loads(raw), signed
        )
        with self._lock:
            self._posts.append(post)
        return JSONResponse({})

    def posts(self, path: str = "/hooks") -> list[Post]:
        with self._lock:
            return [p for p in self._posts if p.path == path]

    def triggers(self) -> Counter[str]:
        return Counter(str(p.body.get("trigger")) for p in self.posts())


# --- helpers --------------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recipe_rows(service: Service) -> list[InboxRow]:
    return [r for r in service.store.list_events(limit=100_000) if r.source == "recipe"]


def _recipe_of(row: InboxRow) -> str:
    return str(json.loads(row.body)["recipe"])


def _until(
    cond: Callable[[], bool],
    what: str,
    service: Service,
    missing: Callable[[], object] = lambda: None,
) -> None:
    """wait_for, failing early (with why) when a firing went dead; on a timeout, says what is
    `missing`."""

    def check() -> bool:
        dead = [r for r in _recipe_rows(service) if r.state == "dead"]
        if dead:
            why = [(_recipe_of(r), r.last_error) for r in dead]
            raise AssertionError(f"while waiting for {what}: dead firings {why}")
        return cond()

    try:
        wait_for(check, DEADLINE, what)
    except AssertionError as exc:
        late = [(_recipe_of(r), r.state, r.last_error) for r in _recipe_rows(service)]
        late = [x for x in late if x[1] != "done"]
        raise AssertionError(f"{exc}; missing: {missing()}; firings not done: {late}") from None


def _all_done(service: Service) -> bool:
    rows = _recipe_rows(service)
    return bool(rows) and all(r.state == "done" for r in rows)


def _post(hook_url: str, secret: str, trigger: str, about: str | None = None) -> dict[str, Any]:
    body = {"trigger": trigger, "type": "{{ event.type }}"}
    if about is not None:
        body["about"] = about
    return {"webhook.post": {"url": hook_url, "secret": secret, "body": body}}


def _recipe_name(trigger: str) -> str:
    return "t-" + trigger.lower().replace(".", "-").replace("_", "-")


@contextmanager
def _service(
    sim: RunningSimulator, tmp: Path, recipes: dict[str, Any], outbound: tuple[str, str], **kw: Any
) -> Iterator[tuple[Service, httpx.Client, str]]:
    """A Service over `sim` with `recipes` (the default ones off), its intake served."""
    off = {"follow-ups", "milestones", "first-completed-task", "tenth-note"}
    mapping = {
        "tasks": {"due": {"timezone": "UTC"}},
        "recipes": {**{name: {"enabled": False} for name in off}, **recipes},
    }
    path = tmp / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    secret = generate_secret()
    settings = load_settings(
        highlevel_base_url=sim.base_url,
        highlevel_token=sim.token,
        location_id=sim.location_id,
        data_dir=tmp,
        talknotes_secret=secret,
        mapping_file=path,
        highlevel_webhook_key=sim.parts.webhooks.public_key_pem(),
        talknotes_outbound_url=outbound[0],
        talknotes_outbound_secret=outbound[1],
        workers=2,
        poll_interval=0.05,
        retry_scale=1e-5,
        http_timeout=2.0,
        outbound_delay=0.1,
        reconcile_interval=0,
        profile_interval=0,
        recipe_poll_interval=0.2,
        **kw,
    )
    service = Service.from_settings(settings, retry=FAST_RETRY)
    service.start()
    try:
        with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
            yield service, http, secret
    finally:
        service.stop()


def _hl_request(sim: RunningSimulator, body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return {"content-type": "application/json", **sim.parts.webhooks.sign(raw)}, raw


# --- the run --------------------------------------------------------------------------------


@dataclass
class Run:
    """What one Service run did, read from the receiver, the store and the simulator."""

    location_id: str
    ids: dict[str, str]
    now: datetime
    daily_at: datetime
    action_log: list[LoggedRequest]
    prepared: dict[str, Any]  # simulator records after the highlevel.* actions ran
    first_posts: list[Post]
    posts: list[Post]
    sends: list[Post]
    resent: list[str]  # the intake's answers to the same requests sent again
    recipe_rows: list[InboxRow]
    c1: dict[str, Any] = field(default_factory=dict)  # c1's tasks and notes in the simulator


def _prepare(sim: RunningSimulator) -> dict[str, str]:
    """Records the highlevel.* actions work on, made through the simulator's API."""
    loc = sim.location_id
    with sim.client() as c:

        def made(path: str, body: dict[str, Any], key: str) -> str:
            r = c.post(path, json=body)
            assert r.status_code == 201, r.text
            return str(r.json()[key]["id"])

        def contact(name: str) -> str:
            body = {"locationId": loc, "firstName": name, "email": f"{name[0].lower()}@prep.io"}
            return made("/contacts/", body, "contact")

        a, d, t = contact("Ann"), contact("Dan"), contact("Tia")
        task = {"dueDate": "2031-03-01T10:00:00Z", "completed": False}
        ta = made(f"/contacts/{t}/tasks", {"title": "Keep me", **task}, "task")
        td = made(f"/contacts/{t}/tasks", {"title": "Drop me", **task}, "task")
        na = made(f"/contacts/{t}/notes", {"body": "Keep this note"}, "note")
        nd = made(f"/contacts/{t}/notes", {"body": "Drop this note"}, "note")
    sim.log.clear()  # from here on, the log holds what the service asked
    return {"A": a, "D": d, "T": t, "TA": ta, "TD": td, "NA": na, "ND": nd}


def _op(name: str, params: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if params is not None:
        args["params"] = params
    if body is not None:
        args["body"] = body
    return {f"highlevel.{name}": args}


def _action_recipes(loc: str, ids: dict[str, str]) -> dict[str, Any]:
    """Every highlevel.* operation, in an order where deletes come after what reads."""
    a, t = ids["A"], ids["T"]
    every = {"trigger": "schedule.every", "with": {"minutes": 525600}}
    contact, task = {"contactId": a}, {"contactId": t, "taskId": ids["TA"]}
    note = {"contactId": t, "id": ids["NA"]}
    campaign, workflow = {**contact, "campaignId": "camp-1"}, {**contact, "workflowId": "wf-1"}
    made = {"locationId": loc, "firstName": "Made", "email": "made@recipe.io"}
    upserted = {"locationId": loc, "firstName": "Ups", "email": "upserted@recipe.io"}
    bulk_tags = {"contacts": [a], "tags": ["bulk"], "locationId": loc}
    business = {"locationId": loc, "ids": [a], "businessId": "biz-1"}
    new_task = {"title": "Task by recipe", "dueDate": "2031-02-01T10:00:00Z", "completed": False}
    contacts = [
        _op("create-contact", None, made),
        _op("upsert-contact", None, upserted),
        _op("get-contacts", {"locationId": loc, "limit": "10"}),
        _op("search-contacts-advanced", None, {"locationId": loc, "pageLimit": 20}),
        _op("get-duplicate-contact", {"locationId": loc, "email": "a@prep.io"}),
        _op("get-contact", contact),
        _op("update-contact", contact, {"firstName": "Updated"}),
        _op("add-tags", contact, {"tags": ["vip", "lead"]}),
        _op("remove-tags", contact, {"tags": ["lead"]}),
        _op("create-association", {"type": "add"}, bulk_tags),
        _op("add-remove-contact-from-business", None, business),
        _op("get-contacts-by-businessId", {"businessId": "biz-1", "locationId": loc}),
        _op("add-followers-contact", contact, {"followers": ["user-1", "user-2"]}),
        _op("remove-followers-contact", contact, {"followers": ["user-1"]}),
        _op("add-contact-to-campaign", campaign, {}),
        _op("remove-contact-from-campaign", campaign),
        _op("remove-contact-from-every-campaign", contact),
        _op("add-contact-to-workflow", workflow, {"eventStartTime": "2031-01-01T10:00:00Z"}),
        _op("delete-contact-from-workflow", workflow, {}),
        _op("get-appointments-for-contact", contact),
        _op("delete-contact", {"contactId": ids["D"]}),
    ]
    tasks = [
        _op("get-all-tasks", {"contactId": t}),
        _op("create-task", {"contactId": t}, new_task),
        _op("get-task", task),
        _op("update-task", task, {"title": "Updated task"}),
        _op("update-task-completed", task, {"completed": True}),
        _op("delete-task", {"contactId": t, "taskId": ids["TD"]}),
    ]
    notes = [
        _op("get-all-notes", {"contactId": t}),
        _op("create-note", {"contactId": t}, {"body": "Note by recipe"}),
        _op("get-note", note),
        _op("update-note", note, {"body": "Updated note"}),
        _op("delete-note", {"contactId": t, "id": ids["ND"]}),
    ]
    return {
        "a-contacts": {**every, "actions": contacts},
        "a-tasks": {**every, "actions": tasks},
        "a-notes": {**every, "actions": notes},
    }


def _trigger_recipes(hook: str, secret: str, daily_at: datetime) -> dict[str, Any]:
    def recipe(trigger: str, about: str | None = None, **more: Any) -> dict[str, Any]:
        return {"trigger": trigger, **more, "actions": [_post(hook, secret, trigger, about)]}

    out: dict[str, Any] = {}
    for name in HIGHLEVEL_TRIGGERS:
        out[_recipe_name(f"highlevel.{name}")] = recipe(f"highlevel.{name}")
    not_sentinel = {"path": "event.data.firstName", "not_equals": "Sentinel"}
    out["t-highlevel-usercreate"]["when"] = [not_sentinel]
    abouts = {
        "talknotes.note.followup": "{{ followup.title }}",
        "talknotes.note.milestone": "{{ milestone.family }}",
    }
    for trigger in TALKNOTES_TRIGGERS:
        out[_recipe_name(trigger)] = recipe(trigger, abouts.get(trigger, "{{ contact.id }}"))
    # Only the task and contact made for them: tnhl's own tasks (follow-ups, tnhl.task) are
    # records too, and could be due soon as well.
    polls = {
        "poll.task.due_soon": ({"hours": 24}, "task.id", "t1"),
        "poll.task.overdue": ({}, "task.id", "t1"),
        "poll.contact.idle": ({"days": 1}, "contact.id", "c1"),
    }
    for trigger, (with_, path, wanted) in polls.items():
        when = [{"path": path, "equals": wanted}]
        out[_recipe_name(trigger)] = recipe(
            trigger, f"{{{{ {path} }}}}", when=when, **{"with": with_}
        )
    at = daily_at.strftime("%H:%M")
    schedules: dict[str, dict[str, Any]] = {
        "schedule.every": {"minutes": 525600},  # one period: a year
        "schedule.daily": {"at": at},  # two minutes ago: due now, next due in ~24 h
        "schedule.weekly": {"day": daily_at.strftime("%A").lower(), "at": at},
    }
    for trigger, params in schedules.items():
        out[_recipe_name(trigger)] = recipe(trigger, "{{ slot }}", **{"with": params})
    return out


def _other_recipes(hook: str, secret: str, now: datetime) -> dict[str, Any]:
    c1 = [{"path": "contact.id", "equals": "c1"}]
    notes = ["talknotes.note.created", "talknotes.note.updated"]
    recipe_task = {
        "title": "Recipe task for {{ contact.id }}",
        "due": RECIPE_TASK_DUE,
        "description": "made by a recipe",
    }
    recipe_note = {"title": "Recipe note", "content": "Welcome {{ event.data.full_name }}"}
    data = {"id": "{{ contact.id }}", "sent_by": "a-send"}
    sentinel_task = {
        "title": "Sentinel task",
        "due": _iso(now + timedelta(hours=3)),
        "contact": "c1",
    }
    return {
        "a-records": {
            "trigger": "talknotes.contact.created",
            "actions": [{"tnhl.task": recipe_task}, {"tnhl.note": recipe_note}],
        },
        "a-send": {
            "trigger": "talknotes.contact.created",
            "actions": [{f"talknotes.send.{t}": {"data": data}} for t in TALKNOTES_SENDS],
        },
        "x-followups": {"trigger": notes, "when": c1, "actions": [{"tnhl.followups": {}}]},
        "x-milestones": {"trigger": notes, "when": c1, "actions": [{"tnhl.milestone_notes": {}}]},
        # Sentinels, for "nothing more": a new HighLevel event (scanned after the repeats) and
        # a task it makes, due soon (found by a poll after them).
        "z-sentinel": {
            "trigger": "highlevel.UserCreate",
            "when": [{"path": "event.data.firstName", "equals": "Sentinel"}],
            "actions": [_post(hook, secret, "sentinel-scan"), {"tnhl.task": sentinel_task}],
        },
        "z-sentinel-poll": {
            "trigger": "poll.task.due_soon",
            "with": {"hours": 24},
            "when": [{"path": "task.taskName", "equals": "Sentinel task"}],
            "actions": [_post(hook, secret, "sentinel-poll")],
        },
    }


def _highlevel_bodies(loc: str, now: str) -> list[dict[str, Any]]:
    out = []
    for name in HIGHLEVEL_TRIGGERS:
        overrides: dict[str, Any] = {"webhookId": f"wh-{name}", "timestamp": now}
        if name in UNTYPED | PRICE_KIND:
            overrides["type"] = name
        if name in NO_LOCATION:
            overrides["locationId"] = loc
        if name == "UserCreate":
            overrides["firstName"] = "Uma"
        out.append(WEBHOOK_EVENTS[name].sample(loc, **overrides))
    return out


def _tn(type_: str, at: str, **data: Any) -> dict[str, Any]:
    return {"type": type_, "timestamp": at, "data": data}


class Driver:
    """Sends signed HighLevel and TalkNotes requests to the service, keeping them to repeat."""

    def __init__(self, sim: RunningSimulator, http: httpx.Client, secret: str) -> None:
        self._sim, self._http, self._secret = sim, http, secret
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def highlevel(self, body: dict[str, Any]) -> None:
        headers, raw = _hl_request(self._sim, body)
        self.sent.append(("/webhooks/highlevel", headers, raw))
        r = self._http.post("/webhooks/highlevel", content=raw, headers=headers)
        assert r.status_code == 200, (body.get("type"), r.text)

    def talknotes(self, prefix: str, *events: dict[str, Any]) -> None:
        at = int(time.time())
        for headers, raw in signed_requests(
            list(events), self._secret, timestamp=at, id_prefix=prefix
        ):
            self.sent.append(("/webhooks/talknotes", headers, raw))
            r = self._http.post("/webhooks/talknotes", content=raw, headers=headers)
            assert r.status_code == 202, r.text

    def again(self) -> list[str]:
        """Every request sent so far, once more, byte for byte: the intake's answers."""
        out = []
        for path, headers, raw in list(self.sent):
            out.append(str(self._http.post(path, content=raw, headers=headers).json()["status"]))
        return out


def _simulator_records(sim: RunningSimulator, ids: dict[str, str]) -> dict[str, Any]:
    tasks = sim.state.children("task", ids["T"])
    return {
        "A": sim.state.get("contact", ids["A"]),
        "D": sim.state.get("contact", ids["D"]),
        "emails": sorted(str(c.get("email")) for c in sim.state.all("contact")),
        "tasks": sorted((str(x["title"]), bool(x["completed"])) for x in tasks),
        "notes": sorted(str(x["body"]) for x in sim.state.children("note", ids["T"])),
    }


def _contact_records(sim: RunningSimulator, contact: str) -> dict[str, Any]:
    tasks, notes = sim.state.children("task", contact), sim.state.children("note", contact)
    return {
        "tasks": {x["title"]: x for x in tasks},
        "notes": {x.get("title"): x for x in notes},
        "task_titles": sorted(str(x["title"]) for x in tasks),
        "note_titles": sorted(str(x.get("title")) for x in notes),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("catalog")
    hook_secret, out_secret = generate_secret(), generate_secret()
    receiver = Receiver(hook_secret, out_secret)
    posted = receiver.triggers
    now = datetime.now(UTC).replace(microsecond=0)
    daily_at = (now - timedelta(minutes=2)).replace(second=0)
    at, before = _iso(now), _iso(now - timedelta(minutes=1))  # no ties: the later one wins
    old = _iso(now - timedelta(days=3))  # c1 changed 3 days ago: idle
    with running_simulator() as sim, serve_in_thread(receiver.app) as rbase:
        loc = sim.location_id
        ids = _prepare(sim)
        hook = f"{rbase}/hooks"
        recipes = {
            **_trigger_recipes(hook, hook_secret, daily_at),
            **_action_recipes(loc, ids),
            **_other_recipes(hook, hook_secret, now),
        }
        outbound = (f"{rbase}/talknotes", out_secret)
        with _service(sim, tmp, recipes, outbound) as (svc, http, secret):
            # 1. The schedule recipes fire at start: the highlevel.* actions run, alone.
            def actions_done() -> bool:
                names = {"a-contacts", "a-tasks", "a-notes"}
                rows = [r for r in _recipe_rows(svc) if _recipe_of(r) in names]
                return len(rows) == 3 and all(r.state == "done" for r in rows)

            _until(actions_done, "the highlevel.* actions", svc)
            action_log = sim.log.entries()
            prepared = _simulator_records(sim, ids)

            # 2. Every HighLevel webhook, and TalkNotes events of c1, signed.
            send = Driver(sim, http, secret)
            for body in _highlevel_bodies(loc, at):
                send.highlevel(body)
            note = {"id": "n1", "contactId": "c1", "noteContent": NOTE_TEXT}
            soon, yesterday = _iso(now + timedelta(hours=2)), _iso(now - timedelta(days=1))
            send.talknotes(
                "b1",
                _tn("contact.created", old, id="c1", email="c1@x.io", full_name="Cee One"),
                _tn("contact.updated", old, id="c1", phone="+1 202 555 0101"),
                _tn("contact.deleted", at, id="c-gone"),
                _tn("task.created", before, id="t1", contactId="c1", taskName="Ring", dueDate=soon),
                _tn("note.created", at, **note),
                _tn("note.updated", at, **note),
            )
            _until(lambda: posted()["poll.task.due_soon"] > 0, "t1 due soon", svc)
            t1 = {"id": "t1", "contactId": "c1", "taskName": "Ring"}
            send.talknotes("b2", _tn("task.updated", at, **t1, dueDate=yesterday))
            _until(lambda: posted()["poll.task.overdue"] > 0, "t1 overdue", svc)
            send.talknotes("b3", _tn("task.completed", at, id="t1", contactId="c1", completed=True))

            def c1() -> str | None:
                return svc.store.get_highlevel_id(loc, "contact", "c1")

            def c1_made() -> bool:
                c = c1()
                made = _contact_records(sim, c) if c is not None else {"tasks": {}, "notes": {}}
                return {FOLLOWUP_TITLE, "Recipe task for c1"} <= set(made["tasks"]) and {
                    "Milestone: signed",
                    "Recipe note",
                } <= set(made["notes"])

            _until(c1_made, "c1's follow-up task, milestone note, recipe task and note", svc)
            send.talknotes("b4", _tn("note.deleted", at, id="n1", contactId="c1"))

            def sends() -> list[str]:
                posts = receiver.posts("/talknotes")
                return [p.body["type"] for p in posts if p.webhook_id.startswith("rcp_")]

            def everything() -> bool:
                return set(posted()) >= _trigger_ids() and len(sends()) >= 14 and _all_done(svc)

            def missing() -> object:
                return sorted(_trigger_ids() - set(posted())), sorted(sends())

            _until(everything, "a post for every trigger and the 14 sends", svc, missing)
            first_posts = receiver.posts()

            # 3. The same requests again, then sentinels: a new event (read after them) and
            # its task (polled after them).
            resent = send.again()
            sentinel = {"webhookId": "wh-sentinel", "firstName": "Sentinel"}
            later = _iso(datetime.now(UTC))
            send.highlevel(WEBHOOK_EVENTS["UserCreate"].sample(loc, timestamp=later, **sentinel))
            c = c1()
            assert c is not None

            def sentinels() -> bool:
                made = _contact_records(sim, c)["tasks"]
                counts = svc.store.stats().counts  # and every event applied (n1 deleted)
                quiet = counts.get("received", 0) + counts.get("pending", 0) == 0
                return {"sentinel-scan", "sentinel-poll"} <= set(posted()) and (
                    "Sentinel task" in made and _all_done(svc) and quiet
                )

            _until(sentinels, "the sentinels' posts and task", svc)
            return Run(
                location_id=loc,
                ids=ids,
                now=now,
                daily_at=daily_at,
                action_log=action_log,
                prepared=prepared,
                first_posts=first_posts,
                posts=receiver.posts(),
                sends=receiver.posts("/talknotes"),
                resent=resent,
                recipe_rows=_recipe_rows(svc),
                c1=_contact_records(sim, c),
            )


# --- triggers -------------------------------------------------------------------------------


def _by_trigger(posts: list[Post]) -> dict[str, list[Post]]:
    out: dict[str, list[Post]] = {}
    for p in posts:
        out.setdefault(str(p.body.get("trigger")), []).append(p)
    return out


def test_every_trigger_fires_its_recipe_once(run: Run) -> None:
    """Each of the 75 triggers posted exactly once, signed, with the event's type and subject."""
    posts = _by_trigger(run.first_posts)
    assert set(posts) == _trigger_ids()
    assert {t: len(p) for t, p in posts.items() if len(p) != 1} == {}
    assert all(p.signed for p in run.first_posts)
    got = {t: (p[0].body["type"], p[0].body.get("about")) for t, p in posts.items()}
    for name, type_ in HIGHLEVEL_TRIGGERS.items():
        assert got[f"highlevel.{name}"] == (type_, None), name
    for trigger, expected in {**TALKNOTES_TRIGGERS, **POLL_TRIGGERS}.items():
        assert got[trigger] == expected, trigger
    daily = run.daily_at.replace(tzinfo=UTC).isoformat()  # due two minutes before the run
    assert got["schedule.daily"] == ("schedule.daily", daily)
    assert got["schedule.weekly"] == ("schedule.weekly", daily)
    assert got["schedule.every"][0] == "schedule.every"


def test_the_same_events_again_post_nothing(run: Run) -> None:
    """Every request sent again is a duplicate; after a later event and poll, still one post
    per trigger: polls and schedules fire once per cause however often they run, and the
    note's follow-up and milestone once though note.created and note.updated both state them."""
    assert set(run.resent) == {"duplicate"}
    assert len(run.resent) == len(HIGHLEVEL_TRIGGERS) + 9
    counts = Counter(str(p.body.get("trigger")) for p in run.posts)
    assert counts == Counter(_trigger_ids() | {"sentinel-scan", "sentinel-poll"})


def test_every_firing_ended_done(run: Run) -> None:
    """Each recipe fired once per cause: one row per trigger recipe and action recipe, all done."""
    fired = Counter(_recipe_of(r) for r in run.recipe_rows)
    expected = {_recipe_name(t) for t in _trigger_ids()} | {
        "a-contacts",
        "a-tasks",
        "a-notes",
        "a-records",
        "a-send",
        "z-sentinel",
        "z-sentinel-poll",
    }
    assert fired == Counter(expected)
    assert {r.state for r in run.recipe_rows} == {"done"}


# --- actions --------------------------------------------------------------------------------


def test_every_highlevel_operation_was_called_with_success(run: Run) -> None:
    """The 32 highlevel.* actions each reached the simulator as their method and path, 2xx."""
    calls = {(e.operation_id, e.method, e.path, e.status) for e in run.action_log}
    for op, (method, path) in HIGHLEVEL_OPERATIONS.items():
        want = path.format(**run.ids)
        hits = [s for o, m, p, s in calls if (o, m, p) == (op, method, want)]
        assert hits, f"{op}: no {method} {want} in the simulator's log"
        assert all(200 <= s < 300 for s in hits), (op, hits)
    assert {e.operation_id for e in run.action_log} == set(HIGHLEVEL_OPERATIONS)
    assert all(200 <= e.status < 300 for e in run.action_log)


def test_highlevel_operations_changed_the_simulator(run: Run) -> None:
    """What the writes did is in the simulator's state: made, updated, tagged, deleted."""
    a = run.prepared["A"]
    assert a["firstName"] == "Updated"
    assert a["tags"] == ["vip", "bulk"]
    assert a["followers"] == ["user-2"]
    assert a["businessId"] == "biz-1"
    assert a["_campaigns"] == []
    assert a["_workflows"] == []
    assert run.prepared["D"] is None
    assert run.prepared["emails"] == [
        "a@prep.io",
        "made@recipe.io",
        "t@prep.io",
        "upserted@recipe.io",
    ]
    assert run.prepared["tasks"] == [("Task by recipe", False), ("Updated task", True)]
    assert run.prepared["notes"] == ["Note by recipe", "Updated note"]


def test_talknotes_send_actions_arrive_signed(run: Run) -> None:
    """Each of the 14 talknotes.send.<type> actions reached the outbound URL once, signed."""
    sends = [p for p in run.sends if p.webhook_id.startswith("rcp_")]
    assert sorted(p.body["type"] for p in sends) == sorted(TALKNOTES_SENDS)
    assert all(p.signed for p in sends)
    assert all(p.body["data"] == SENT_DATA for p in sends)


def test_tnhl_task_and_note_reach_the_contact(run: Run) -> None:
    """tnhl.task and tnhl.note made a task and a note on c1's contact in the simulator."""
    task = run.c1["tasks"]["Recipe task for c1"]
    assert task["dueDate"] == "2031-01-15T17:00:00.000Z"
    assert task["body"] == "made by a recipe"
    assert run.c1["notes"]["Recipe note"]["body"] == "Welcome Cee One"


def test_followups_and_milestone_notes_reach_the_contact(run: Run) -> None:
    """tnhl.followups made the note's follow-up task; tnhl.milestone_notes its signing note."""
    task = run.c1["tasks"][FOLLOWUP_TITLE]
    assert task["body"] == 'From a note: "Call Sam back Friday at 3pm about the quote."'
    due = datetime.fromisoformat(task["dueDate"].replace("Z", "+00:00"))
    assert (due.strftime("%A"), due.strftime("%H:%M")) == ("Friday", "15:00")
    note = run.c1["notes"]["Milestone: signed"]
    day = run.now.date().isoformat()
    assert note["body"] == (
        f'Milestone: signed, {day}. From a TalkNotes note (n1): "The contract was signed today."'
    )
    # The note says it once: updated with the same text, no second task or note.
    assert run.c1["task_titles"] == [FOLLOWUP_TITLE, "Recipe task for c1", "Ring", "Sentinel task"]
    assert run.c1["note_titles"] == ["Milestone: signed", "Recipe note"]


# --- documented bodies: fails until the intake reads their location (see the module's report) -


def test_documented_bodies_without_a_location_id_fire_their_recipes(tmp_path: Path) -> None:
    """Invoice (altType location + altId) and Location (id) webhooks as documented, without
    `locationId`, are stored under the connection's location and fire its recipes."""
    hook_secret, out_secret = generate_secret(), generate_secret()
    receiver = Receiver(hook_secret, out_secret)
    at = _iso(datetime.now(UTC))
    triggers = ("highlevel.InvoicePaid", "highlevel.LocationUpdate")
    with running_simulator() as sim, serve_in_thread(receiver.app) as rbase:
        loc = sim.location_id
        recipes = {
            _recipe_name(t): {"trigger": t, "actions": [_post(f"{rbase}/hooks", hook_secret, t)]}
            for t in triggers
        }
        outbound = (f"{rbase}/talknotes", out_secret)
        with _service(sim, tmp_path, recipes, outbound) as (svc, http, _):
            invoice = {"type": "InvoicePaid", "altType": "location", "altId": loc}
            bodies = [
                WEBHOOK_EVENTS["InvoicePaid"].sample(
                    loc, **invoice, timestamp=at, webhookId="wh-doc-invoice"
                ),
                WEBHOOK_EVENTS["LocationUpdate"].sample(
                    loc, id=loc, timestamp=at, webhookId="wh-doc-location"
                ),
            ]
            for body in bodies:
                assert "locationId" not in body
                headers, raw = _hl_request(sim, body)
                r = http.post("/webhooks/highlevel", content=raw, headers=headers)
                assert r.status_code == 200, r.text
            stored = [r for r in svc.store.list_events() if r.source == "highlevel"]
            assert sorted((r.event_type, r.location_id) for r in stored) == [
                ("InvoicePaid", loc),
                ("LocationUpdate", loc),
            ]
            wait_for(lambda: set(receiver.triggers()) == set(triggers), 10, "their recipes' posts")

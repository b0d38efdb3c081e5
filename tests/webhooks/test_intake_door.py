"""Intake refuses at the door what can never apply (422, nothing stored), runs the engine's
check, and keeps 503 for failures a retry can cure."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from intake_inboxes import MemoryInbox

from tnhl.talknotes import Problem, TalkNotesEvent, TaskData, generate_secret, sign
from tnhl.webhooks import HighLevelKeys, InboxWriter, create_intake_app, sign_ed25519

NOW = 1_772_443_800  # 2026-03-02T09:30:00Z
SECRET = generate_secret()
HL_KEY = ed25519.Ed25519PrivateKey.generate()
HL_KEYS = HighLevelKeys.from_pem(
    ed25519=HL_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
)
NO_CONTROL = "must not contain control characters (NUL, tab, newline, ...)"


def task(**data: Any) -> bytes:
    base = {"id": "t1", "contactId": "c1", "taskName": "Call Sam back"}
    return json.dumps(
        {"type": "task.created", "timestamp": "2026-03-02T09:29:00Z", "data": {**base, **data}}
    ).encode()


def contact_deleted(contact_id: str) -> bytes:
    return json.dumps(
        {"type": "contact.deleted", "timestamp": "2026-03-02T09:29:00Z", "data": {"id": contact_id}}
    ).encode()


@asynccontextmanager
async def intake(
    inbox: InboxWriter, check: Callable[[TalkNotesEvent], Any] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_intake_app(
        inbox=inbox,
        talknotes_secret=SECRET,
        location_id="loc_main",
        highlevel_keys=HL_KEYS,
        clock=lambda: NOW,
        check=check,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield client


async def post_tn(client: httpx.AsyncClient, body: bytes, msg_id: str = "msg_1") -> httpx.Response:
    return await client.post(
        "/webhooks/talknotes", content=body, headers=sign(SECRET, msg_id, NOW, body)
    )


@pytest.mark.parametrize(
    ("body", "msg_id", "field"),
    [
        (contact_deleted("c\x001"), "msg_1", "data.id"),
        (task(id="t\x001"), "msg_1", "data.id"),
        (task(contactId="c\x001"), "msg_1", "data.contactId"),
        (task(), "msg\x001", "webhook-id"),
    ],
)
async def test_nul_in_an_id_is_422_and_never_reaches_the_inbox(
    body: bytes, msg_id: str, field: str
) -> None:
    """A NUL in data.id, data.contactId or the webhook-id header answers 422 naming it; the
    inbox (whose store would refuse the NUL) is never called."""
    inbox = MemoryInbox()
    async with intake(inbox) as client:
        response = await post_tn(client, body, msg_id)
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_event",
        "message": f"{field}: {NO_CONTROL}",
        "problems": [{"field": field, "problem": NO_CONTROL}],
    }
    assert inbox.calls == 0
    assert inbox.rows() == []


@pytest.mark.parametrize("char", ["\x01", "\t", "\n", "\x1f", "\x7f"])
async def test_other_control_characters_in_the_webhook_id_are_422(char: str) -> None:
    """Any Cc character inside the webhook-id is refused on field `webhook-id`."""
    inbox = MemoryInbox()
    async with intake(inbox) as client:
        response = await post_tn(client, task(), f"msg{char}1")
    assert response.status_code == 422
    assert response.json()["problems"] == [{"field": "webhook-id", "problem": NO_CONTROL}]
    assert inbox.rows() == []


async def test_header_and_body_problems_come_back_together() -> None:
    """A bad webhook-id and a bad body are reported in one answer, header first."""
    inbox = MemoryInbox()
    async with intake(inbox) as client:
        response = await post_tn(client, task(taskName=None), "msg\x00")
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"field": "webhook-id", "problem": NO_CONTROL},
        {"field": "data.taskName", "problem": "must be a string"},
    ]
    assert inbox.rows() == []


async def test_priority_words_reach_the_inbox() -> None:
    """A task with priority "Medium" (refused before this contract change) is stored."""
    inbox = MemoryInbox()
    async with intake(inbox) as client:
        response = await post_tn(client, task(priority="Medium"))
    assert response.status_code == 202
    assert len(inbox.rows()) == 1


async def test_check_problems_answer_422_like_contract_problems() -> None:
    """Problems from `check` answer 422 in the contract's shape; nothing is stored."""
    seen: list[TalkNotesEvent] = []

    def check(event: TalkNotesEvent) -> list[Problem]:
        seen.append(event)
        return [
            {"field": "data.phone", "problem": "is required by your mapping"},
            {"field": "data.custom_fields.plan", "problem": "is not a known plan"},
        ]

    inbox = MemoryInbox()
    async with intake(inbox, check) as client:
        response = await post_tn(client, task())
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_event",
        "message": "data.phone: is required by your mapping; "
        "data.custom_fields.plan: is not a known plan",
        "problems": [
            {"field": "data.phone", "problem": "is required by your mapping"},
            {"field": "data.custom_fields.plan", "problem": "is not a known plan"},
        ],
    }
    assert inbox.rows() == []
    [event] = seen
    assert isinstance(event.data, TaskData)
    assert (event.type, event.data.id) == ("task.created", "t1")


async def test_check_without_problems_lets_the_event_in() -> None:
    """A check returning no problems (an empty tuple here) leaves the event accepted."""
    inbox = MemoryInbox()
    async with intake(inbox, lambda event: ()) as client:
        response = await post_tn(client, task())
    assert response.json() == {"status": "accepted", "id": "msg_1"}
    assert len(inbox.rows()) == 1


async def test_check_is_not_run_on_events_that_break_the_contract() -> None:
    """The check only sees parsed events: a contract violation answers without calling it."""
    calls: list[TalkNotesEvent] = []
    inbox = MemoryInbox()
    async with intake(inbox, lambda event: calls.append(event) or []) as client:
        response = await post_tn(client, task(taskName=None))
    assert response.status_code == 422
    assert calls == []


def _raises(event: TalkNotesEvent) -> list[Problem]:
    raise RuntimeError("mapping bug")


@pytest.mark.parametrize(
    "check",
    [
        _raises,
        lambda event: [{"field": "data.phone"}],  # no "problem" key
        lambda event: 42,  # not a sequence at all
    ],
)
async def test_a_failing_check_is_logged_and_never_refuses(
    check: Callable[[TalkNotesEvent], Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A check that raises or returns junk is logged at error level; the event is accepted."""
    caplog.set_level(logging.INFO, logger="tnhl.webhooks.intake")
    inbox = MemoryInbox()
    async with intake(inbox, check) as client:
        response = await post_tn(client, task())
    assert response.status_code == 202
    assert len(inbox.rows()) == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "the intake check failed on talknotes event msg_1; accepting it"
    ]


class RefusingInbox:
    """Refuses every event for good, as the store does with a value it cannot keep."""

    class Refused(ValueError):
        def __init__(self, field: str) -> None:
            self.field = field
            super().__init__(f"{field}: contains a NUL character")

    def __init__(self, field: str) -> None:
        self.field = field

    def add(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool:
        raise self.Refused(self.field)


@pytest.mark.parametrize(
    ("store_field", "field"), [("event_id", "webhook-id"), ("entity_key", "(body)")]
)
async def test_inbox_validation_failure_is_422_not_503(
    store_field: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An inbox ValueError (a value it can never store) answers 422, not a retryable 503,
    and is logged at error level as a gap in the door's checks."""
    async with intake(RefusingInbox(store_field)) as client:
        response = await post_tn(client, task())
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"field": field, "problem": f"cannot be stored: {store_field}: contains a NUL character"}
    ]
    assert "retry-after" not in response.headers
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"inbox refused talknotes event msg_1 for good: {store_field}: contains a NUL character"
    ]


async def test_highlevel_event_the_inbox_refuses_is_400_not_429() -> None:
    """HighLevel retries only on 429, so an event its inbox refuses for good answers 400."""
    body = json.dumps(
        {
            "type": "NoteCreate",
            "locationId": "loc_hl",
            "id": "n9",
            "contactId": "hl_c1",
            "timestamp": "2026-03-02T09:29:59.000Z",
            "webhookId": "wh_9",
        }
    ).encode()
    async with intake(RefusingInbox("event_id")) as client:
        response = await client.post(
            "/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body)
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_event",
        "message": "cannot be stored: event_id: contains a NUL character",
    }

"""The intake app over HTTP: what is accepted, what is refused, and that refusals store nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from intake_inboxes import MemoryInbox, SqliteInbox

from tnhl.talknotes import generate_secret, sign, talknotes_openapi
from tnhl.webhooks import HighLevelKeys, StoredInfo, create_intake_app, sign_ed25519

NOW = 1_772_443_800  # 2026-03-02T09:30:00Z
SECRET = generate_secret()
HL_KEY = ed25519.Ed25519PrivateKey.generate()
HL_KEYS = HighLevelKeys.from_pem(
    ed25519=HL_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
)

Inbox = MemoryInbox | SqliteInbox


@pytest.fixture(params=["memory", "sqlite"])
def inbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Inbox]:
    """Each test runs against the in-memory inbox and a real SQLite-backed one."""
    if request.param == "memory":
        yield MemoryInbox()
        return
    db = SqliteInbox(tmp_path / "inbox.sqlite3")
    yield db
    db.close()


@pytest.fixture
def stored() -> list[StoredInfo]:
    return []


@pytest.fixture
async def client(inbox: Inbox, stored: list[StoredInfo]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_intake_app(
        inbox=inbox,
        talknotes_secret=SECRET,
        location_id="loc_main",
        highlevel_keys=HL_KEYS,
        clock=lambda: NOW,
        on_stored=stored.append,
        retry_after=17,
        max_body_bytes=4096,
        # Both ways of calling the inbox are covered: on the loop, and in a worker thread.
        offload=isinstance(inbox, SqliteInbox),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        yield c


def event(type_: str = "task.created", **data: Any) -> bytes:
    base = {"id": "t1", "contactId": "c1", "taskName": "Call Sam back"}
    return json.dumps(
        {"type": type_, "timestamp": "2026-03-02T09:29:00Z", "data": {**base, **data}}
    ).encode()


async def post_tn(
    client: httpx.AsyncClient, body: bytes, msg_id: str = "msg_1", ts: int = NOW
) -> httpx.Response:
    return await client.post(
        "/webhooks/talknotes", content=body, headers=sign(SECRET, msg_id, ts, body)
    )


async def test_valid_event_is_stored_then_accepted(
    client: httpx.AsyncClient, inbox: Inbox, stored: list[StoredInfo]
) -> None:
    """A signed valid event answers 202 and its raw body, keys and receipt time are stored."""
    body = event(priority="high")
    response = await post_tn(client, body)
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "id": "msg_1"}
    [row] = inbox.rows()
    assert (row.source, row.event_id, row.event_type) == ("talknotes", "msg_1", "task.created")
    assert (row.location_id, row.entity_key) == ("loc_main", "c1")
    assert row.body == body.decode()
    assert row.received_at == datetime.fromtimestamp(NOW, UTC)
    assert [(s.event_id, s.entity_key) for s in stored] == [("msg_1", "c1")]


async def test_duplicate_delivery_is_accepted_once(
    client: httpx.AsyncClient, inbox: Inbox, stored: list[StoredInfo]
) -> None:
    """A redelivery with the same webhook-id answers 202 `duplicate` and stores nothing new."""
    body = event()
    assert (await post_tn(client, body)).json()["status"] == "accepted"
    again = await post_tn(client, body, ts=NOW + 60)
    assert again.status_code == 202
    assert again.json() == {"status": "duplicate", "id": "msg_1"}
    assert len(inbox.rows()) == 1
    assert len(stored) == 1


async def test_contact_event_keys_on_its_own_id(client: httpx.AsyncClient, inbox: Inbox) -> None:
    """A contact event is keyed by the contact's id."""
    body = json.dumps(
        {
            "type": "contact.updated",
            "timestamp": "2026-03-02T09:00:00Z",
            "data": {"id": "c77", "email": "x@y.io"},
        }
    ).encode()
    assert (await post_tn(client, body)).status_code == 202
    assert inbox.rows()[0].entity_key == "c77"


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda h: {**h, "webhook-signature": "v1,AAAA"}, "no webhook-signature entry matches"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}, "webhook-signature"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "webhook-id"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-timestamp"}, "webhook-timestamp"),
        (lambda h: {**h, "webhook-id": "msg_other"}, "no webhook-signature entry matches"),
    ],
)
async def test_bad_signatures_answer_401_and_store_nothing(
    client: httpx.AsyncClient, inbox: Inbox, mutate: Any, words: str
) -> None:
    """A missing or wrong signature header answers 401 naming the problem; nothing is stored."""
    body = event()
    headers = mutate(sign(SECRET, "msg_1", NOW, body))
    response = await client.post("/webhooks/talknotes", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert words in response.json()["message"]
    assert SECRET[6:] not in response.text
    assert inbox.rows() == []


@pytest.mark.parametrize("skew", [-301, 301])
async def test_timestamp_out_of_tolerance_is_401(
    client: httpx.AsyncClient, inbox: Inbox, skew: int
) -> None:
    """A correctly signed delivery more than 5 minutes off answers 401; nothing is stored."""
    response = await post_tn(client, event(), ts=NOW + skew)
    assert response.status_code == 401
    assert "5 minutes" in response.json()["message"]
    assert inbox.rows() == []


async def test_tampered_body_is_401(client: httpx.AsyncClient, inbox: Inbox) -> None:
    """A body changed after signing answers 401."""
    headers = sign(SECRET, "msg_1", NOW, event())
    response = await client.post(
        "/webhooks/talknotes", content=event(taskName="x"), headers=headers
    )
    assert response.status_code == 401
    assert inbox.rows() == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe"])
async def test_malformed_json_is_400(client: httpx.AsyncClient, inbox: Inbox, body: bytes) -> None:
    """A signed body that is not JSON answers 400 and is not stored."""
    response = await post_tn(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert response.json()["problems"][0]["field"] == "(body)"
    assert inbox.rows() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event(taskName=None), "data.taskName"),
        (event(contactId=""), "data.contactId"),
        (event(dueDate="9999-12-31"), "data.dueDate"),
        (event(priority=1), "data.priority"),
        (event("task.exploded"), "type"),
        (
            b'{"type": "note.deleted", "timestamp": "2026-03-02T09:00:00", "data": {"id": "n"}}',
            "timestamp",
        ),
        (b"[]", "(body)"),
    ],
)
async def test_invalid_event_is_422_naming_the_field(
    client: httpx.AsyncClient, inbox: Inbox, stored: list[StoredInfo], body: bytes, field: str
) -> None:
    """A signed JSON body that breaks the contract answers 422 naming the field; nothing stored."""
    response = await post_tn(client, body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_event"
    assert field in {p["field"] for p in payload["problems"]}
    assert field in payload["message"]
    assert inbox.rows() == []
    assert stored == []


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, inbox: Inbox) -> None:
    """A body over max_body_bytes is refused before any parsing and is not stored."""
    response = await post_tn(client, event(description="x" * 5000))
    assert response.status_code == 413
    assert inbox.rows() == []


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient, inbox: Inbox) -> None:
    """A body without Content-Length is cut off at the limit, not buffered whole."""
    body = event(description="x" * 5000)
    headers = sign(SECRET, "msg_1", NOW, body)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await client.post("/webhooks/talknotes", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert inbox.rows() == []


async def test_chunked_body_within_the_limit_is_accepted(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    """A small chunked body is read whole and accepted."""
    body = event()
    headers = sign(SECRET, "msg_1", NOW, body)

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    response = await client.post("/webhooks/talknotes", content=chunks(), headers=headers)
    assert response.status_code == 202
    assert inbox.rows()[0].body == body.decode()


async def test_inbox_down_answers_503_then_retry_succeeds(
    client: httpx.AsyncClient, inbox: Inbox, stored: list[StoredInfo]
) -> None:
    """When the inbox cannot persist, TalkNotes gets 503 + Retry-After; the retry is stored."""
    inbox.available = False
    body = event()
    response = await post_tn(client, body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "17"
    assert inbox.rows() == []
    assert stored == []
    inbox.available = True
    retried = await post_tn(client, body, ts=NOW + 30)
    assert retried.json() == {"status": "accepted", "id": "msg_1"}
    assert len(inbox.rows()) == 1


class _Exploding:
    def add(self, *args: Any) -> bool:
        raise RuntimeError("disk on fire")


async def test_unexpected_inbox_failure_is_also_retryable() -> None:
    """Any inbox exception means "not stored": 503 for TalkNotes, 429 for HighLevel."""
    app = create_intake_app(
        inbox=_Exploding(),
        talknotes_secret=SECRET,
        location_id="l",
        highlevel_keys=HL_KEYS,
        clock=lambda: NOW,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as c:
        assert (await post_tn(c, event())).status_code == 503
        body = hl_body()
        hl = await c.post("/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body))
        assert hl.status_code == 429


async def test_on_stored_failure_does_not_fail_the_delivery(inbox: Inbox) -> None:
    """A failing on_stored hook still answers 202: the row is durable and will be swept."""

    def broken(info: StoredInfo) -> None:
        raise RuntimeError("queue down")

    app = create_intake_app(
        inbox=inbox,
        talknotes_secret=SECRET,
        location_id="l",
        clock=lambda: NOW,
        on_stored=broken,
        offload=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as c:
        assert (await post_tn(c, event())).status_code == 202
    assert len(inbox.rows()) == 1


def hl_body(**fields: Any) -> bytes:
    base = {
        "type": "NoteCreate",
        "locationId": "loc_hl",
        "id": "n9",
        "contactId": "hl_c1",
        "body": "hello",
        "timestamp": "2026-03-02T09:29:59.000Z",
        "webhookId": "wh_9",
    }
    return json.dumps({**base, **fields}, separators=(",", ":")).encode()


async def test_highlevel_event_is_stored_and_answered_200(
    client: httpx.AsyncClient, inbox: Inbox, stored: list[StoredInfo]
) -> None:
    """A signed HighLevel event is stored with its own location, type and contact, then 200."""
    body = hl_body()
    response = await client.post(
        "/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body)
    )
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "id": "wh_9"}
    [row] = inbox.rows()
    assert (row.source, row.event_id, row.event_type) == ("highlevel", "wh_9", "NoteCreate")
    assert (row.location_id, row.entity_key, row.body) == ("loc_hl", "hl_c1", body.decode())
    assert stored[0].source == "highlevel"


async def test_highlevel_duplicate_webhook_id(client: httpx.AsyncClient, inbox: Inbox) -> None:
    """The same webhookId twice is stored once and answered `duplicate`."""
    body = hl_body()
    headers = sign_ed25519(HL_KEY, body)
    await client.post("/webhooks/highlevel", content=body, headers=headers)
    again = await client.post("/webhooks/highlevel", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(inbox.rows()) == 1


async def test_same_id_from_both_sources_is_not_a_duplicate(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    """Dedupe is per source: a TalkNotes id equal to a HighLevel webhookId is a new event."""
    body = hl_body(webhookId="shared")
    await client.post("/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body))
    assert (await post_tn(client, event(), msg_id="shared")).json()["status"] == "accepted"
    assert len(inbox.rows()) == 2


@pytest.mark.parametrize(
    ("headers_for", "body", "status"),
    [
        (lambda b: {}, hl_body(), 401),
        (lambda b: sign_ed25519(ed25519.Ed25519PrivateKey.generate(), b), hl_body(), 401),
        (lambda b: {"x-ghl-signature": "not base64!"}, hl_body(), 401),
        (lambda b: sign_ed25519(HL_KEY, b), hl_body(timestamp="2026-03-02T08:00:00Z"), 401),
        (lambda b: sign_ed25519(HL_KEY, b), b"{broken", 400),
        (lambda b: sign_ed25519(HL_KEY, b), b'{"locationId": "l", "type": 7}', 400),
        (lambda b: sign_ed25519(HL_KEY, b), b'{"locationId": "l", "type": ""}', 400),
    ],
)
async def test_highlevel_rejections_store_nothing(
    client: httpx.AsyncClient, inbox: Inbox, headers_for: Any, body: bytes, status: int
) -> None:
    """Bad or missing signatures and stale timestamps are 401, unusable bodies 400; none stored."""
    response = await client.post("/webhooks/highlevel", content=body, headers=headers_for(body))
    assert response.status_code == status
    assert response.json()["message"]
    assert inbox.rows() == []


@pytest.mark.parametrize(
    ("fields", "location", "entity", "type_length"),
    [
        ({"locationId": None}, "-", "hl_c1", 10),
        ({"type": "INSTALL", "id": None, "contactId": None}, "loc_hl", "-", 7),
        ({"type": "SomeFutureEvent" + "x" * 80}, "loc_hl", "hl_c1", 64),
    ],
)
async def test_highlevel_event_tnhl_cannot_apply_is_still_stored(
    client: httpx.AsyncClient,
    inbox: Inbox,
    fields: dict[str, Any],
    location: str,
    entity: str,
    type_length: int,
) -> None:
    """No locationId, no entity, an unknown over-long type: stored (to be recorded and
    skipped) and answered 200, as HighLevel never resends a refused delivery."""
    body = hl_body(**fields)
    response = await client.post(
        "/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body)
    )
    assert response.status_code == 200, response.text
    [row] = inbox.rows()
    assert (row.location_id, row.entity_key, len(row.event_type)) == (location, entity, type_length)


async def test_highlevel_event_without_type_is_stored_as_untyped(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    """An InvoicePaid body as HighLevel documents it (no `type`; the location as altType/altId,
    the invoice as `_id`) is stored as "(untyped)" under its location and answered 200, not
    refused: HighLevel would never send it again."""
    body = json.dumps(
        {
            "_id": "6578278e879ad2646715ba9c",
            "status": "paid",
            "amountPaid": 999,
            "altId": "loc_hl",
            "altType": "location",
            "name": "New Invoice",
        }
    ).encode()
    response = await client.post(
        "/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body)
    )
    assert response.status_code == 200, response.text
    [row] = inbox.rows()
    assert (row.event_type, row.location_id, row.entity_key) == (
        "(untyped)",
        "loc_hl",
        "6578278e879ad2646715ba9c",
    )


async def test_highlevel_inbox_down_answers_429(client: httpx.AsyncClient, inbox: Inbox) -> None:
    """HighLevel retries only on 429, so an unavailable inbox answers 429 + Retry-After."""
    inbox.available = False
    body = hl_body()
    response = await client.post(
        "/webhooks/highlevel", content=body, headers=sign_ed25519(HL_KEY, body)
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert inbox.rows() == []


async def test_openapi_and_health(client: httpx.AsyncClient) -> None:
    """GET /openapi.json serves the TalkNotes contract; GET /healthz answers ok."""
    doc = await client.get("/openapi.json")
    assert doc.status_code == 200
    assert doc.json() == talknotes_openapi()
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    """GET on the webhook route is not allowed."""
    assert (await client.get("/webhooks/talknotes")).status_code == 405


def test_signed_random_bodies_never_fail_the_server() -> None:
    """Signed bodies of any shape, half of them valid events with random content, get 202, 400
    or 422, never a 5xx; only 202s are stored, and the valid ones really were accepted."""
    inbox = MemoryInbox()
    app = create_intake_app(
        inbox=inbox, talknotes_secret=SECRET, location_id="l", clock=lambda: NOW
    )
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["type", "timestamp", "data", "id", "contactId", "taskName"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=10,
    )
    words = st.text(
        alphabet=st.characters(categories=["L", "N", "Zs", "P"]), min_size=1, max_size=20
    ).filter(str.strip)
    ids = st.text(alphabet="abcdefghij0123456789-_", min_size=1, max_size=12)
    stamp = "2026-12-01T09:00:00Z"
    valid = st.one_of(
        st.builds(
            lambda i, name: {
                "type": "contact.created",
                "timestamp": stamp,
                "data": {"id": i, "full_name": name},
            },
            ids,
            words,
        ),
        st.builds(
            lambda i, c, name, prio: {
                "type": "task.created",
                "timestamp": stamp,
                "data": {"id": i, "contactId": c, "taskName": name, "priority": prio},
            },
            ids,
            ids,
            words,
            words,
        ),
        st.builds(
            lambda i, c, text: {
                "type": "note.created",
                "timestamp": stamp,
                "data": {"id": i, "contactId": c, "noteContent": text},
            },
            ids,
            ids,
            words,
        ),
    )
    counter = iter(range(10**9))
    accepted = 0
    valid_sent = 0

    async def deliver(body: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://i") as c:
            return await post_tn(c, body, msg_id=f"fuzz_{next(counter)}")

    @settings(max_examples=150, deadline=None)
    @given(st.one_of(values, valid))
    def check(value: Any) -> None:
        nonlocal accepted, valid_sent
        response = asyncio.run(deliver(json.dumps(value).encode()))
        assert response.status_code in (202, 400, 422), response.text
        accepted += response.status_code == 202
        # A generated valid event (only those carry `stamp`): accepted, whatever its content.
        if isinstance(value, dict) and value.get("timestamp") == stamp:
            valid_sent += 1
            assert response.status_code == 202, (value, response.text)

    check()
    assert valid_sent >= 20  # the strategy really produced valid events
    assert accepted >= valid_sent
    assert len(inbox.rows()) == accepted


async def test_refusals_are_logged_without_the_secret(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused delivery is logged with its reason, and the log never holds the secret."""
    caplog.set_level(logging.INFO, logger="tnhl.webhooks.intake")
    body = event()
    await client.post("/webhooks/talknotes", content=body, headers={"webhook-id": "x"})
    await post_tn(client, event(taskName=None))
    text = caplog.text
    assert "missing webhook-timestamp" in text
    assert "data.taskName" in text
    assert SECRET[6:] not in text

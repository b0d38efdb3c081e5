"""Webhook deliveries: official payload shapes, verifiable signatures, retries only on 429."""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tnhl.simulator._serve import serve_in_thread
from tnhl.simulator._webhooks import WebhookConfig, WebhookDispatcher
from tnhl.simulator._webhooks_events import EVENT_FIELDS, NESTED_UNDER, build_payload

CONTACT = {"id": "c1", "email": "a@example.com", "name": "Ann Lee", "tags": ["x"], "extra": 1}
FAST = 0.0001  # 600 s retry interval -> 60 ms


class Receiver:
    """A tiny HTTP receiver that answers scripted statuses and records what it got."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.script: list[int] = []
        self.got: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.got.append((dict(request.headers), body))
            status = self.script.pop(0) if self.script else 200
        return Response(status_code=status)


@pytest.fixture(scope="module")
def receiver_url() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    with serve_in_thread(app) as base:
        yield receiver, base + "/hook"


@pytest.fixture
def receiver(receiver_url: tuple[Receiver, str]) -> tuple[Receiver, str]:
    receiver, url = receiver_url
    with receiver.lock:
        receiver.script.clear()
        receiver.got.clear()
    return receiver, url


def _dispatcher(url: str, **config: Any) -> WebhookDispatcher:
    return WebhookDispatcher(
        WebhookConfig(urls=[url], **config), time_scale=FAST, rng=random.Random(7)
    )


def test_field_sets_match_official_schemas(specs_dir: Path) -> None:
    """Every event's field set equals the properties of its official JSON schema."""
    events = json.loads((specs_dir / "webhooks" / "webhook-events.json").read_text())["events"]
    for name, fields in EVENT_FIELDS.items():
        props = dict(events[name]["schema"]["properties"])
        assert props.pop("type") == {"type": "string"}, name
        assert props.pop("locationId") == {"type": "string"}, name
        if name in NESTED_UNDER:
            props = props.pop(NESTED_UNDER[name])["properties"]
        assert set(fields) == set(props), name


def test_payloads_reproduce_official_examples(specs_dir: Path) -> None:
    """Building each event from its example's entity reproduces the example plus the envelope."""
    events = json.loads((specs_dir / "webhooks" / "webhook-events.json").read_text())["events"]
    for name in EVENT_FIELDS:
        example = dict(events[name]["examples"][0])
        example["type"] = name  # upstream appointment Update/Delete examples say Create
        nest = NESTED_UNDER.get(name)
        entity = example[nest] if nest else example
        built = build_payload(name, example["locationId"], entity, webhook_id="w", timestamp="t")
        assert built == {**example, "webhookId": "w", "timestamp": "t"}, name


def test_unknown_event_type_names_the_field() -> None:
    """An event type HighLevel does not send is refused naming event_type."""
    with pytest.raises(ValueError, match="event_type"):
        build_payload("ContactMerge", "loc", {}, webhook_id="w", timestamp="t")


def test_delivery_signed_ed25519_and_rsa_verifies(receiver: tuple[Receiver, str]) -> None:
    """A delivered body verifies with the dispatcher's Ed25519 and RSA public keys."""
    rec, url = receiver
    dispatcher = _dispatcher(url, sign_rsa=True, rsa_key_bits=2048)
    try:
        dispatcher.emit("ContactCreate", "locA", CONTACT)
        assert dispatcher.wait_idle(10)
        ed_pub = serialization.load_pem_public_key(dispatcher.public_key_pem().encode())
        rsa_pem = dispatcher.rsa_public_key_pem()
        assert rsa_pem is not None
        rsa_pub = serialization.load_pem_public_key(rsa_pem.encode())
    finally:
        dispatcher.close()
    assert isinstance(ed_pub, ed25519.Ed25519PublicKey)
    assert isinstance(rsa_pub, rsa.RSAPublicKey)
    [(headers, body)] = rec.got
    ed_pub.verify(base64.b64decode(headers["x-ghl-signature"]), body)
    rsa_pub.verify(
        base64.b64decode(headers["x-wh-signature"]), body, padding.PKCS1v15(), hashes.SHA256()
    )
    payload = json.loads(body)
    assert body == json.dumps(payload, separators=(",", ":")).encode()  # compact, as GHL sends
    assert payload["type"] == "ContactCreate"
    assert payload["locationId"] == "locA"
    assert payload["email"] == "a@example.com"
    assert "extra" not in payload
    uuid.UUID(payload["webhookId"])
    assert payload["timestamp"].endswith("Z")
    datetime.fromisoformat(payload["timestamp"])
    with pytest.raises(InvalidSignature):
        ed_pub.verify(base64.b64decode(headers["x-ghl-signature"]), body + b" ")


def test_rsa_header_absent_unless_enabled(receiver: tuple[Receiver, str]) -> None:
    """Without sign_rsa only X-GHL-Signature is sent."""
    rec, url = receiver
    dispatcher = _dispatcher(url)
    try:
        dispatcher.emit("NoteCreate", "locA", {"id": "n1", "body": "hi", "contactId": "c1"})
        assert dispatcher.wait_idle(10)
    finally:
        dispatcher.close()
    [(headers, _)] = rec.got
    assert "x-ghl-signature" in headers
    assert "x-wh-signature" not in headers
    assert dispatcher.rsa_public_key_pem() is None


def test_configured_key_is_used() -> None:
    """A configured Ed25519 private key is the one whose public half is published."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    dispatcher = WebhookDispatcher(WebhookConfig(ed25519_private_key_pem=pem))
    try:
        published = serialization.load_pem_public_key(dispatcher.public_key_pem().encode())
        assert isinstance(published, ed25519.Ed25519PublicKey)
        published.verify(base64.b64decode(dispatcher.sign(b"x")["X-GHL-Signature"]), b"x")
        assert published.public_bytes_raw() == key.public_key().public_bytes_raw()
        assert pem not in repr(dispatcher.config)
    finally:
        dispatcher.close()


def test_429_is_retried_until_accepted(receiver: tuple[Receiver, str]) -> None:
    """Two 429s then a 200 give three attempts of the same signed body."""
    rec, url = receiver
    rec.script[:] = [429, 429, 200]
    dispatcher = _dispatcher(url)
    try:
        dispatcher.emit("TaskCreate", "locA", {"id": "t1", "title": "Call", "contactId": "c1"})
        assert dispatcher.wait_idle(10)
        [delivery] = dispatcher.deliveries()
    finally:
        dispatcher.close()
    assert (delivery.status, delivery.attempts, delivery.done) == (200, 3, True)
    assert len({body for _, body in rec.got}) == 1
    assert len(rec.got) == 3


def test_retries_stop_at_max(receiver: tuple[Receiver, str]) -> None:
    """A receiver that always answers 429 gets 1 + max_retries attempts."""
    rec, url = receiver
    rec.script[:] = [429] * 10
    dispatcher = _dispatcher(url, max_retries=2)
    try:
        dispatcher.emit("TaskDelete", "locA", {"id": "t1"})
        assert dispatcher.wait_idle(10)
        [delivery] = dispatcher.deliveries()
    finally:
        dispatcher.close()
    assert (delivery.status, delivery.attempts, delivery.done) == (429, 3, True)
    assert len(rec.got) == 3


@pytest.mark.parametrize("status", [500, 503, 404, 408])
def test_other_statuses_are_final(receiver: tuple[Receiver, str], status: int) -> None:
    """Any status but 429 (5xx included) ends the delivery after one attempt."""
    rec, url = receiver
    rec.script[:] = [status, 200]
    dispatcher = _dispatcher(url)
    try:
        dispatcher.emit("ContactDelete", "locA", CONTACT)
        assert dispatcher.wait_idle(10)
        [delivery] = dispatcher.deliveries()
    finally:
        dispatcher.close()
    assert (delivery.status, delivery.attempts) == (status, 1)
    assert len(rec.got) == 1


def test_network_error_is_final() -> None:
    """A receiver that refuses connections is recorded as an error and not retried."""
    with serve_in_thread(Starlette()) as base:
        pass  # the port is now closed
    dispatcher = _dispatcher(base + "/hook")
    try:
        dispatcher.emit("NoteDelete", "locA", {"id": "n1"})
        assert dispatcher.wait_idle(10)
        [delivery] = dispatcher.deliveries()
    finally:
        dispatcher.close()
    assert (delivery.status, delivery.attempts, delivery.error) == (None, 1, "ConnectError")


def test_appointment_payload_nests_entity(receiver: tuple[Receiver, str]) -> None:
    """Appointment events carry the entity under `appointment`, to every registered URL."""
    rec, url = receiver
    dispatcher = _dispatcher(url)
    try:
        dispatcher.add_url(url + "?second=1")
        dispatcher.emit("AppointmentUpdate", "locA", {"id": "a1", "title": "Demo", "bogus": 2})
        assert dispatcher.wait_idle(10)
    finally:
        dispatcher.close()
    assert len(rec.got) == 2
    payload = json.loads(rec.got[0][1])
    assert payload["appointment"] == {"id": "a1", "title": "Demo"}
    assert "id" not in payload


def test_admin_routes_register_list_delete(receiver: tuple[Receiver, str]) -> None:
    """/_admin/webhooks registers, lists (with keys and deliveries) and removes URLs."""
    _, url = receiver
    dispatcher = _dispatcher(url)
    app = Starlette(routes=dispatcher.admin_routes())
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=5) as http:
            r = http.post("/_admin/webhooks", json={"url": "http://127.0.0.1:1/x"})
            assert r.status_code == 201
            assert r.json()["urls"] == [url, "http://127.0.0.1:1/x"]
            r = http.post("/_admin/webhooks", json={"url": "ftp://nope"})
            assert r.status_code == 422
            assert "url" in r.json()["message"][0]
            dispatcher.emit("ContactUpdate", "locA", CONTACT)
            assert dispatcher.wait_idle(10)
            shown = http.get("/_admin/webhooks").json()
            assert shown["publicKeys"]["ed25519"] == dispatcher.public_key_pem()
            assert shown["publicKeys"]["rsa"] is None
            assert sorted(d["url"] for d in shown["deliveries"]) == sorted(shown["urls"])
            r = http.delete("/_admin/webhooks", params={"url": "http://127.0.0.1:1/x"})
            assert r.json()["urls"] == [url]
            r = http.delete("/_admin/webhooks", params={"url": "http://127.0.0.1:1/x"})
            assert r.status_code == 404
    finally:
        dispatcher.close()


def test_loss_rate_drops_deliveries_before_their_first_try(
    receiver: tuple[Receiver, str],
) -> None:
    """loss_rate 1: nothing reaches the receiver and every delivery is logged as lost; 0:
    all arrive; 0.3 over 300 events: 90 +- 30 lost (beyond 3.5 sigma of the binomial); the
    rate is changed at run time with PUT /_admin/webhooks/loss, which refuses a bad rate."""
    rec, url = receiver
    dispatcher = _dispatcher(url, loss_rate=1.0)
    app = Starlette(routes=dispatcher.admin_routes())
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=5) as http:
            for _ in range(5):
                dispatcher.emit("ContactUpdate", "locA", CONTACT)
            assert dispatcher.wait_idle(10)
            assert rec.got == []
            assert [(d.error, d.done, d.attempts) for d in dispatcher.deliveries()] == [
                ("lost (loss_rate)", True, 0)
            ] * 5
            assert http.put("/_admin/webhooks/loss", json={"rate": 0}).json() == {"lossRate": 0}
            dispatcher.emit("ContactUpdate", "locA", CONTACT)
            assert dispatcher.wait_idle(10)
            assert len(rec.got) == 1
            assert http.put("/_admin/webhooks/loss", json={"rate": 1.5}).status_code == 422
            assert http.put("/_admin/webhooks/loss", json={}).status_code == 422
            assert http.get("/_admin/webhooks").json()["lossRate"] == 0
            http.put("/_admin/webhooks/loss", json={"rate": 0.3})
            for _ in range(300):
                dispatcher.emit("ContactUpdate", "locA", CONTACT)
            assert dispatcher.wait_idle(20)
    finally:
        dispatcher.close()
    lost = sum(d.error == "lost (loss_rate)" for d in dispatcher.deliveries()[6:])
    assert 60 <= lost <= 120, lost
    assert len(rec.got) == 1 + 300 - lost


def test_emit_does_not_block_on_slow_receiver() -> None:
    """emit returns before the delivery happens; wait_idle reports False before its deadline."""
    release = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(200)

    dispatcher = WebhookDispatcher(
        WebhookConfig(urls=["http://receiver.test/hook"]), transport=httpx.MockTransport(handler)
    )
    try:
        dispatcher.emit("NoteUpdate", "locA", {"id": "n1"})
        assert not dispatcher.wait_idle(0.05)
        release.set()
        assert dispatcher.wait_idle(10)
        assert dispatcher.deliveries()[0].status == 200
    finally:
        release.set()
        dispatcher.close()


def test_delivery_log_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The log keeps only the newest entries, each updated in place after its attempt."""
    monkeypatch.setattr("tnhl.simulator._webhooks._LOG_SIZE", 2)
    dispatcher = WebhookDispatcher(
        WebhookConfig(urls=["http://receiver.test/hook"]),
        transport=httpx.MockTransport(lambda request: httpx.Response(202)),
    )
    try:
        for note_id in ("n1", "n2", "n3"):
            dispatcher.emit("NoteCreate", "locA", {"id": note_id})
        assert dispatcher.wait_idle(10)
        log = dispatcher.deliveries()
    finally:
        dispatcher.close()
    assert [(d.status, d.attempts, d.done) for d in log] == [(202, 1, True)] * 2
    assert len({d.webhook_id for d in log}) == 2

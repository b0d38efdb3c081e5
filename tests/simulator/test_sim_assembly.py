"""The assembled app: rate limits, webhooks, faults and OAuth working with the contacts API."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tnhl.simulator import OAuthClientConfig, SimulatorConfig, running_simulator, serve_in_thread
from tnhl.simulator._ratelimit import RATE_LIMIT_HEADERS, RateLimitConfig
from tnhl.simulator._webhooks import WebhookConfig

LOC = "SimLocation000000001"


def test_rate_limit_headers_and_429() -> None:
    """Every API answer has the five X-RateLimit headers; past the burst the answer is 429."""
    cfg = SimulatorConfig(rate_limit=RateLimitConfig(burst=3))
    with running_simulator(cfg) as sim, sim.client() as c:
        answers = [c.get("/contacts/nope") for _ in range(4)]
        assert [r.status_code for r in answers] == [400, 400, 400, 429]
        for r in answers:
            assert all(name in r.headers for name in RATE_LIMIT_HEADERS)
        assert [r.headers["X-RateLimit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
        assert answers[3].json()["statusCode"] == 429
        assert sim.log.counts() == {"get-contact": 4}


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.got.append((dict(request.headers), body))
        return Response(status_code=200)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with serve_in_thread(
        Starlette(routes=[Route("/hook", rec.endpoint, methods=["POST"])])
    ) as base:
        yield rec, base + "/hook"


def test_every_change_emits_a_signed_webhook(receiver: tuple[Receiver, str]) -> None:
    """Changes emit HighLevel's events, signed so the simulator's public key verifies them."""
    rec, url = receiver
    cfg = SimulatorConfig(webhooks=WebhookConfig(urls=[url]))
    with running_simulator(cfg) as sim, sim.client() as c:
        cid = c.post("/contacts/", json={"locationId": LOC, "email": "w@x.io"}).json()["contact"][
            "id"
        ]
        c.put(f"/contacts/{cid}", json={"firstName": "W", "dnd": True})
        c.post(f"/contacts/{cid}/tags", json={"tags": ["t"]})
        nid = c.post(f"/contacts/{cid}/notes", json={"body": "b"}).json()["note"]["id"]
        c.put(f"/contacts/{cid}/notes/{nid}", json={"body": "c"})
        c.delete(f"/contacts/{cid}/notes/{nid}")
        task = {"title": "t", "dueDate": "2026-01-01T00:00:00Z", "completed": False}
        tid = c.post(f"/contacts/{cid}/tasks", json=task).json()["task"]["id"]
        c.put(f"/contacts/{cid}/tasks/{tid}/completed", json={"completed": True})
        c.delete(f"/contacts/{cid}/tasks/{tid}")
        seed = {"contactId": cid, "startTime": "2026-02-01T09:00:00Z"}
        aid = c.post("/_admin/appointments", json=seed).json()["events"][0]["id"]
        c.put(f"/_admin/appointments/{aid}", json={"title": "moved"})
        c.delete(f"/_admin/appointments/{aid}")
        biz = {"locationId": LOC, "ids": [cid], "businessId": "0123456789abcdef01234567"}
        c.post("/contacts/bulk/business", json=biz)
        c.delete(f"/contacts/{cid}")
        assert sim.parts.webhooks.wait_idle(10)
        pem = c.get("/_admin/webhooks").json()["publicKeys"]["ed25519"]
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    types = []
    for headers, body in rec.got:
        key.verify(base64.b64decode(headers["x-ghl-signature"]), body)  # raises if forged
        payload = json.loads(body)
        assert payload["locationId"] == LOC
        types.append(payload["type"])
    assert types == [
        "ContactCreate",
        "ContactUpdate",
        "ContactDndUpdate",
        "ContactTagUpdate",
        "NoteCreate",
        "NoteUpdate",
        "NoteDelete",
        "TaskCreate",
        "TaskComplete",
        "TaskDelete",
        "AppointmentCreate",
        "AppointmentUpdate",
        "AppointmentDelete",
        "ContactUpdate",
        "ContactDelete",
    ]
    appointment = json.loads(rec.got[11][1])
    assert appointment["appointment"]["contactId"] == cid
    assert appointment["appointment"]["startTime"] == "2026-02-01T09:00:00+00:00"


def test_faults_apply_to_the_api_not_to_admin() -> None:
    """An injected 503 hits contacts calls (and is logged) while /_admin keeps answering."""
    with running_simulator() as sim, sim.client() as c:
        assert c.put("/_admin/faults", json={"error_rates": {"503": 1.0}}).status_code == 200
        r = c.get("/contacts/x")
        assert r.status_code == 503
        assert c.get("/_admin/state").status_code == 200
        assert sim.log.entries()[-1].status == 503
        c.delete("/_admin/faults")
        assert c.get("/contacts/x").status_code == 400


def test_injected_429_storm_reports_the_time_scaled_window() -> None:
    """A storm's 429s advertise the window the simulator really enforces, like its own 429s."""
    with running_simulator(SimulatorConfig(time_scale=0.1)) as sim, sim.client() as c:
        assert c.put("/_admin/faults", json={"storm_429": {"requests": 1}}).status_code == 200
        r = c.get("/contacts/x")
        assert r.status_code == 429
        assert r.headers["x-ratelimit-interval-milliseconds"] == "1000"


def test_oauth_token_works_on_the_contacts_api() -> None:
    """An OAuth Location token from the code flow calls the API; a refreshed one replaces it."""
    client_cfg = OAuthClientConfig(
        client_id="app1-x", client_secret=SecretStr("s3cret"), company_id="co1", locations=[LOC]
    )
    with running_simulator(SimulatorConfig(oauth_clients=[client_cfg])) as sim:
        with httpx.Client(base_url=sim.base_url, timeout=5) as h:
            params = {
                "response_type": "code",
                "client_id": "app1-x",
                "redirect_uri": "http://127.0.0.1:9/cb",
            }
            r = h.get("/v2/oauth/chooselocation", params={**params, "location_id": LOC})
            code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
            form = {"client_id": "app1-x", "client_secret": "s3cret"}
            grant = h.post(
                "/oauth/token", data={**form, "grant_type": "authorization_code", "code": code}
            ).json()
            api = {"Version": "2021-07-28", "Authorization": f"Bearer {grant['access_token']}"}
            r = h.post("/contacts/", json={"locationId": LOC}, headers=api)
            assert r.status_code == 201
            new = h.post(
                "/oauth/token",
                data={
                    **form,
                    "grant_type": "refresh_token",
                    "refresh_token": grant["refresh_token"],
                },
            ).json()
            assert new["refresh_token"] != grant["refresh_token"]
            api["Authorization"] = f"Bearer {new['access_token']}"
            assert h.get("/contacts/nope", headers=api).status_code == 400
        # The OAuth app is rate limited separately from the PIT (per app per location).
        assert {e.operation_id for e in sim.log.entries()} >= {"create-contact", "get-contact"}


def test_running_simulator_starts_quickly() -> None:
    """running_simulator is ready (answers /_admin/health) well within its deadline."""
    started = time.monotonic()
    with running_simulator() as sim:
        assert httpx.get(f"{sim.base_url}/_admin/health").json() == {"ok": True}
    assert time.monotonic() - started < 5

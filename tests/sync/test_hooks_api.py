"""REST hooks (issue 10) through the whole service, as Zapier's REST Hooks convention uses
them: subscribe a target to a trigger with the connection's API key, receive its firings,
unsubscribe (or answer 410), read samples, perform an action once per Idempotency-Key."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tnhl.simulator import RunningSimulator, running_simulator
from tnhl.simulator._serve import serve_in_thread
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for


class Target:
    """Zapier's side: records each POST; answers `status` (410 asks to be unsubscribed)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            with self.lock:
                self.got.append((request.headers.get("webhook-id", ""), await request.json()))
            return JSONResponse({}, status_code=self.status)

        return Starlette(routes=[Route("/zap", hook, methods=["POST"])])


@contextmanager
def _running(tmp: Path) -> Iterator[tuple[RunningSimulator, Service, httpx.Client, Any, str]]:
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(
            sim, tmp, secret, workers=1, poll_interval=0.05, outbound_delay=0.1, retry_scale=1e-5
        )
        with running_service(settings) as (service, base):
            _, key = service.store.create_api_key(sim.location_id)
            auth = {"authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=auth, timeout=30) as api:
                send = talknotes_sender(base, secret)
                yield sim, service, api, lambda events, _prefix: send(events), base


def _note(note: str) -> dict[str, Any]:
    data = {"id": note, "contactId": "c1", "noteContent": f"Note {note}."}
    return {"type": "note.created", "timestamp": "2026-12-07T10:00:00Z", "data": data}


def test_the_api_key_opens_the_api_and_nothing_else_does(tmp_path: Path) -> None:
    """/api/me answers the connection for the key; no key or a wrong one: 401 naming
    Authorization."""
    with _running(tmp_path) as (sim, _service, api, _send, base):
        me = api.get("/api/me")
        assert me.status_code == 200
        assert me.json() == {"connection": "default", "location_id": sim.location_id}
        none = httpx.get(f"{base}/api/me")
        wrong = httpx.get(f"{base}/api/me", headers={"authorization": "Bearer tnhl_key_no"})
    assert (none.status_code, none.json()["error"], none.json()["field"]) == (
        401,
        "missing_api_key",
        "Authorization",
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_api_key")


def test_a_subscription_gets_each_firing_once_until_it_unsubscribes(tmp_path: Path) -> None:
    """Subscribed to talknotes.note.created: each note arrives once at the target (its
    context), also when TalkNotes sends a note's creation again; after DELETE nothing more; a
    second DELETE is 404. A bad event or target is 422 naming the field."""
    target = Target()
    with serve_in_thread(target.app()) as zap, _running(tmp_path) as (_s, _svc, api, send, _b):
        bad_event = api.post(
            "/api/hooks", json={"event": "talknotes.note.creatd", "target_url": f"{zap}/zap"}
        )
        bad_url = api.post(
            "/api/hooks", json={"event": "talknotes.note.created", "target_url": "ftp://x"}
        )
        made = api.post(
            "/api/hooks", json={"event": "talknotes.note.created", "target_url": f"{zap}/zap"}
        )
        assert made.status_code == 201, made.text
        hook = made.json()
        assert api.get("/api/hooks").json() == [hook]
        send([_note("n1"), _note("n2")], "a")
        send([_note("n1")], "a")  # n1 again, under another webhook id: the same creation
        wait_for(lambda: len(target.got) == 2, 20, "two notes at the target")
        assert sorted(body["event"]["data"]["id"] for _, body in target.got) == ["n1", "n2"]
        assert {body["event"]["type"] for _, body in target.got} == {"note.created"}
        gone = api.delete(f"/api/hooks/{hook['id']}")
        again = api.delete(f"/api/hooks/{hook['id']}")
        send([_note("n3")], "b")
        wait_for(
            lambda: (
                _svc.store.get_cursor(f"recipes:{_s.location_id}") is not None
                and int(_svc.store.get_cursor(f"recipes:{_s.location_id}") or 0)
                >= max(e.id for e in _svc.store.list_events(source="talknotes"))
            ),
            20,
            "n3 scanned",
        )
    assert (bad_event.status_code, bad_event.json()["field"]) == (422, "event")
    assert "did you mean talknotes.note.created?" in bad_event.json()["problem"]
    assert (bad_url.status_code, bad_url.json()["field"]) == (422, "target_url")
    assert gone.status_code == 204
    assert again.status_code == 404
    assert len(target.got) == 2


def test_a_target_answering_410_is_unsubscribed(tmp_path: Path) -> None:
    """Zapier's convention: a 410 Gone from the target removes the subscription."""
    target = Target()
    target.status = 410
    with serve_in_thread(target.app()) as zap, _running(tmp_path) as (_s, _svc, api, send, _b):
        made = api.post(
            "/api/hooks", json={"event": "talknotes.note.created", "target_url": f"{zap}/zap"}
        )
        assert made.status_code == 201
        send([_note("n1")], "a")
        wait_for(lambda: api.get("/api/hooks").json() == [], 20, "the hook removed")
    assert len(target.got) == 1


def test_samples_are_real_events_when_there_are_else_from_the_documented_shape(
    tmp_path: Path,
) -> None:
    """A HighLevel trigger never seen: one sample shaped like its documented body; a TalkNotes
    trigger after a note: that note; an unknown trigger: 404."""
    with _running(tmp_path) as (sim, _service, api, send, _base):
        made_up = api.get("/api/triggers/highlevel.OpportunityStatusUpdate/sample")
        send([_note("n1")], "a")
        real = api.get("/api/triggers/talknotes.note.created/sample")
        unknown = api.get("/api/triggers/nope/sample")
    assert made_up.status_code == 200
    (one,) = made_up.json()
    assert one["event"]["type"] == "OpportunityStatusUpdate"
    assert one["event"]["data"]["locationId"] == sim.location_id
    assert [s["event"]["data"]["id"] for s in real.json()] == ["n1"]
    assert unknown.status_code == 404


def test_perform_runs_an_action_once_per_idempotency_key(tmp_path: Path) -> None:
    """POST /api/actions/highlevel.create-contact: 200 with the new contact's id; the same
    Idempotency-Key again: the same answer and still one contact; bad parameters: 422."""
    with _running(tmp_path) as (sim, _service, api, _send, _base):
        body = {"body": {"locationId": sim.location_id, "email": "perform@example.com"}}
        first = api.post(
            "/api/actions/highlevel.create-contact", json=body, headers={"idempotency-key": "k1"}
        )
        again = api.post(
            "/api/actions/highlevel.create-contact", json=body, headers={"idempotency-key": "k1"}
        )
        bad = api.post("/api/actions/highlevel.add-tags", json={"params": {"contact": "x"}})
        contacts = [c for c in sim.state.all("contact") if c.get("email") == "perform@example.com"]
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "done"
    assert first.json()["highlevel_id"] == contacts[0]["id"]
    assert again.json() == first.json()
    assert len(contacts) == 1
    assert (bad.status_code, bad.json()["field"]) == (422, "body")
    assert "unknown parameter params.contact" in bad.json()["problem"]

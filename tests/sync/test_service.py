"""The service in one process: signed events over HTTP -> workers -> the simulator, counted."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tnhl.simulator import running_simulator
from tnhl.simulator._serve import serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import signed_requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import FAST_RETRY, wait_for

TS = "2026-12-01T09:00:00Z"


def _events() -> list[dict[str, Any]]:
    people = [
        {"id": "p1", "full_name": "Ada Lovelace", "email": "ada@example.com"},
        {"id": "p2", "full_name": "Alan Turing", "email": "alan@example.com"},
        {"id": "p3", "full_name": "Grace Hopper", "email": "grace@example.com"},
    ]
    events: list[dict[str, Any]] = [
        {"type": "contact.created", "timestamp": TS, "data": p} for p in people
    ]
    events += [
        {
            "type": "task.created",
            "timestamp": TS,
            "data": {"id": "t1", "contactId": "p1", "taskName": "Call back"},
        },
        {
            "type": "task.created",
            "timestamp": TS,
            "data": {"id": "t2", "contactId": "p2", "taskName": "Send deck"},
        },
        {
            "type": "note.created",
            "timestamp": TS,
            "data": {"id": "n1", "contactId": "p3", "noteContent": "Met at the fair"},
        },
    ]
    return events


def test_signed_events_over_http_are_applied_and_counted(tmp_path: Path) -> None:
    """6 events and one redelivery: all applied once, and /metrics counts exactly that."""
    secret = generate_secret()
    events = _events()
    with running_simulator() as sim:
        settings = load_settings(
            highlevel_base_url=sim.base_url,
            highlevel_token=sim.token,
            location_id=sim.location_id,
            data_dir=tmp_path,
            talknotes_secret=secret,
            workers=2,
            poll_interval=0.05,
            retry_scale=1e-5,
            http_timeout=2.0,
        )
        service = Service.from_settings(settings, retry=FAST_RETRY)
        service.start()
        try:
            with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
                requests = signed_requests(events, secret, timestamp=int(time.time()))
                for headers, body in [*requests, requests[0]]:
                    r = http.post("/webhooks/talknotes", content=body, headers=headers)
                    assert r.status_code == 202, r.text

                def settled() -> bool:
                    return service.store.stats().counts.get("done", 0) == 6

                wait_for(settled, 20, "6 events done")
                metrics = http.get("/metrics").text
        finally:
            service.stop()
    assert 'tnhl_events_received_total{source="talknotes"} 6.0' in metrics
    assert 'tnhl_events_duplicate_total{source="talknotes"} 1.0' in metrics
    assert "tnhl_events_applied_total 6.0" in metrics
    assert "tnhl_events_dead_total 0.0" in metrics
    # 3 x (get-duplicate-contact + create-contact), 2 create-task, 1 create-note.
    assert 'tnhl_highlevel_calls_total{status="2xx"} 9.0' in metrics


def _post(http: httpx.Client, secret: str, event: dict[str, Any], wid: str) -> httpx.Response:
    [(headers, body)] = signed_requests([event], secret, timestamp=int(time.time()), id_prefix=wid)
    return http.post("/webhooks/talknotes", content=body, headers=headers)


def test_probes_answer_at_the_door_and_warnings_are_kept(tmp_path: Path) -> None:
    """What can never apply is 422 naming the field; "Medium", a due date in words and a
    droppable bad email are accepted (the mapping keeps the task and drops the email with a
    warning); words that mean no date are 422 naming data.dueDate."""
    secret = generate_secret()
    settings = load_settings(
        highlevel_base_url="http://127.0.0.1:9",
        highlevel_token="pit-unused",
        location_id="loc1",
        data_dir=tmp_path,
        talknotes_secret=secret,
        workers=1,
    )
    service = Service.from_settings(settings)
    blank = {"id": "p9", "full_name": "   "}
    nul_id = {"id": "p\u00009", "email": "x@example.com"}
    early = {"id": "t9", "contactId": "p1", "taskName": "Call", "dueDate": "0001-01-01"}
    medium = {"id": "t8", "contactId": "p1", "taskName": "Call", "priority": "Medium"}
    bad_email = {"id": "p7", "full_name": "Ada Lovelace", "email": "a@b..co"}
    try:
        with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
            r = _post(
                http, secret, {"type": "contact.created", "timestamp": TS, "data": blank}, "a"
            )
            assert r.status_code == 422, r.text
            assert [p["field"] for p in r.json()["problems"]] == ["data"]
            r = _post(
                http, secret, {"type": "contact.created", "timestamp": TS, "data": nul_id}, "b"
            )
            assert r.status_code == 422
            assert [p["field"] for p in r.json()["problems"]] == ["data.id"]
            r = _post(http, secret, {"type": "task.created", "timestamp": TS, "data": early}, "c")
            assert r.status_code == 422
            assert [p["field"] for p in r.json()["problems"]] == ["data.dueDate"]
            r = _post(http, secret, {"type": "task.created", "timestamp": TS, "data": medium}, "d")
            assert r.status_code == 202, r.text
            # A due date in words: read from the event's time; one that means no date is 422.
            words = {**early, "id": "t7", "dueDate": "Friday 3pm"}
            r = _post(http, secret, {"type": "task.created", "timestamp": TS, "data": words}, "f")
            assert r.status_code == 202, r.text
            nonsense = {**early, "id": "t6", "dueDate": "when pigs fly"}
            event = {"type": "task.created", "timestamp": TS, "data": nonsense}
            r = _post(http, secret, event, "g")
            assert r.status_code == 422
            assert [p["field"] for p in r.json()["problems"]] == ["data.dueDate"]
            event = {"type": "contact.created", "timestamp": TS, "data": bad_email}
            assert _post(http, secret, event, "e").status_code == 202
    finally:
        service.stop()

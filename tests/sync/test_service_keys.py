"""The unsigned TalkNotes entry (issue 10), through the whole service: a request shaped like
Zapier's webhook step (JSON body, `Authorization: Bearer <key>`, an Idempotency-Key) with the
connection's API key is taken once; without a key, with a wrong or a revoked one, refused
with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tnhl.simulator._serve import serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret

EVENT = {
    "type": "contact.created",
    "timestamp": "2026-12-01T09:00:00Z",
    "data": {"id": "z1", "email": "zap@example.com", "full_name": "Zap Ier"},
}


def test_a_zapier_shaped_request_with_the_key_is_taken_once_and_others_are_refused(
    tmp_path: Path,
) -> None:
    """202 stored for the key's first request, 202 not stored for its retry (the same
    Idempotency-Key); 401 for none, a wrong and a revoked key; one event in the inbox."""
    settings = load_settings(
        highlevel_base_url="http://127.0.0.1:9",
        highlevel_token="pit-unused",
        location_id="loc-zap",
        data_dir=tmp_path,
        talknotes_secret=generate_secret(),
        workers=1,
    )
    service = Service.from_settings(settings)
    record, key = service.store.create_api_key("loc-zap")
    body = json.dumps(EVENT)
    plain = {"content-type": "application/json"}

    def post(headers: dict[str, str]) -> httpx.Response:
        return http.post("/webhooks/talknotes", content=body, headers={**plain, **headers})

    try:
        with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
            first = post({"authorization": f"Bearer {key}", "idempotency-key": "zap-1"})
            retry = post({"authorization": f"Bearer {key}", "idempotency-key": "zap-1"})
            unsigned = post({})
            wrong = post({"authorization": "Bearer tnhl_key_not-this-one"})
            assert service.store.revoke_api_key(record.id)
            revoked = post({"authorization": f"Bearer {key}", "idempotency-key": "zap-2"})
            events = service.store.list_events()
    finally:
        service.stop()
    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    assert (retry.status_code, retry.json()["status"]) == (202, "duplicate")
    assert unsigned.status_code == 401
    assert unsigned.json()["error"] == "invalid_signature"
    assert [wrong.status_code, revoked.status_code] == [401, 401]
    assert wrong.json()["error"] == revoked.json()["error"] == "invalid_api_key"
    assert [(e.event_id, e.event_type, e.entity_key) for e in events] == [
        ("key:zap-1", "contact.created", "z1")
    ]
    assert key not in str(events)  # the key is never stored

"""Signed HighLevel webhooks from `tnhl simulate` verify in `tnhl run` with the documented
setting (issue 9): TNHL_HIGHLEVEL_WEBHOOK_KEY set to the line the simulator's banner prints.
A forged, a stale (beyond HighLevel's retry window) and a replayed delivery are refused or
dropped with nothing stored; a late retry (an hour old, as HighLevel's 429 retries are) is
accepted. Black box: two real processes over loopback, the store read directly."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from convergence_harness import TnhlProcess, simulate_process, tnhl_env, wait_for
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tnhl.store import open_store

LOCATION = "HlHookLocation000001"
TOKEN = "pit-hl-hook-token"


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _signed(key: Ed25519PrivateKey, payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = base64.b64encode(key.sign(body)).decode()
    return body, {"Content-Type": "application/json", "X-GHL-Signature": signature}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_simulator_webhooks_verify_and_bad_ones_store_nothing(tmp_path: Path) -> None:
    """A contact created in the simulator reaches tnhl as a verified, stored ContactCreate;
    forged and 76-minute-old deliveries answer 401, a replay 200 as a duplicate; only the
    genuine events are stored."""
    sim_key = Ed25519PrivateKey.generate()
    config = {
        "locations": [{"id": LOCATION}],
        "tokens": [{"token": TOKEN, "location_id": LOCATION}],
        "webhooks": {"ed25519_private_key_pem": _pem(sim_key)},
    }
    database_url = f"sqlite:///{tmp_path / 'tnhl.db'}"
    with simulate_process(config, tmp_path) as sim_url:
        key_line = httpx.get(f"{sim_url}/_admin/webhooks/public-key").text
        tnhl = TnhlProcess(
            tnhl_env(
                TNHL_HIGHLEVEL_BASE_URL=sim_url,
                TNHL_HIGHLEVEL_TOKEN=TOKEN,
                TNHL_LOCATION_ID=LOCATION,
                TNHL_TALKNOTES_SECRET="whsec_" + base64.b64encode(b"k" * 24).decode(),
                TNHL_HIGHLEVEL_WEBHOOK_KEY=key_line,
                TNHL_DATABASE_URL=database_url,
                TNHL_DATA_DIR=str(tmp_path),
            )
        )
        tnhl.start()
        store = open_store(database_url)
        try:
            hook = f"{tnhl.url}/webhooks/highlevel"
            assert httpx.post(f"{sim_url}/_admin/webhooks", json={"url": hook}).status_code == 201
            auth = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
            created = httpx.post(
                f"{sim_url}/contacts/",
                json={"locationId": LOCATION, "email": "hook@example.com"},
                headers=auth,
            )
            assert created.status_code == 201, created.text
            contact_id = created.json()["contact"]["id"]

            def delivered() -> list[dict[str, object]]:
                got = httpx.get(f"{sim_url}/_admin/webhooks").json()["deliveries"]
                return [d for d in got if d["type"] == "ContactCreate" and d["done"]]

            wait_for(lambda: len(delivered()) == 1, 20, "the ContactCreate delivery")
            assert delivered()[0]["status"] == 200
            rows = store.list_events()
            assert [(r.source, r.event_type, r.entity_key) for r in rows] == [
                ("highlevel", "ContactCreate", contact_id)
            ]

            base = {"type": "NoteCreate", "locationId": LOCATION, "contactId": contact_id}
            forged_key = Ed25519PrivateKey.generate()
            fresh = {
                **base,
                "id": "n1",
                "webhookId": str(uuid.uuid4()),
                "timestamp": _iso(time.time()),
            }
            body, headers = _signed(forged_key, fresh)
            forged = httpx.post(hook, content=body, headers=headers)
            assert forged.status_code == 401, forged.text
            stale = {
                **fresh,
                "webhookId": str(uuid.uuid4()),
                "timestamp": _iso(time.time() - 76 * 60),
            }
            body, headers = _signed(sim_key, stale)
            refused = httpx.post(hook, content=body, headers=headers)
            assert refused.status_code == 401
            assert "75 minutes old" in refused.text
            late = {
                **fresh,
                "webhookId": str(uuid.uuid4()),
                "timestamp": _iso(time.time() - 65 * 60),
            }
            body, headers = _signed(sim_key, late)
            assert httpx.post(hook, content=body, headers=headers).status_code == 200
            replay = httpx.post(hook, content=body, headers=headers)
            assert replay.status_code == 200
            assert replay.json()["status"] == "duplicate"
            rows = store.list_events()
            assert [(r.event_type, r.event_id) for r in rows] == [
                ("ContactCreate", rows[0].event_id),
                ("NoteCreate", late["webhookId"]),
            ]
        finally:
            tnhl.stop()
            store.close()

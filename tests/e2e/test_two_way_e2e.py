"""HighLevel -> TalkNotes over real processes (issue 9): `tnhl simulate` signs its webhooks,
`tnhl run` verifies them and tells a TalkNotes receiver (a loopback HTTP server here, checking
the outbound signature) what changed, linking records born in HighLevel, and never echoing
back its own writes.

The stream: a contact created in HighLevel (born there) reaches TalkNotes with `id` null and
is linked by the receiver's `{"id": ...}`; its later edit in HighLevel arrives carrying that
TalkNotes id; a contact created from TalkNotes reaches HighLevel and its ContactCreate webhook
comes back, and is recorded as an echo, not delivered. Counted from the receiver's log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from convergence_harness import TnhlProcess, make_secret, sign, simulate_process, tnhl_env, wait_for
from talknotes_receiver import TalkNotesReceiver

from tnhl.store import open_store

LOCATION = "TwoWayLocation000001"
TOKEN = "pit-two-way-token"


def _updates(sim_url: str) -> int:
    """update-contact requests the simulator has received (from anyone)."""
    log = httpx.get(f"{sim_url}/_admin/requests").json()
    return int(log["byOperation"].get("update-contact", 0))


def test_highlevel_changes_reach_talknotes_linked_and_without_echoes(
    tmp_path: Path, talknotes: tuple[str, str, TalkNotesReceiver]
) -> None:
    """Two deliveries exactly (the HighLevel-born contact's create, then its edit carrying
    the TalkNotes id it was linked to); tnhl's own create comes back only as an echo."""
    out_url, out_secret, receiver = talknotes
    inbound_secret = make_secret()
    config = {
        "locations": [{"id": LOCATION}],
        "tokens": [{"token": TOKEN, "location_id": LOCATION}],
    }
    database_url = f"sqlite:///{tmp_path / 'tnhl.db'}"
    with simulate_process(config, tmp_path) as sim_url:
        key_line = httpx.get(f"{sim_url}/_admin/webhooks/public-key").text
        tnhl = TnhlProcess(
            tnhl_env(
                TNHL_HIGHLEVEL_BASE_URL=sim_url,
                TNHL_HIGHLEVEL_TOKEN=TOKEN,
                TNHL_LOCATION_ID=LOCATION,
                TNHL_TALKNOTES_SECRET=inbound_secret,
                TNHL_HIGHLEVEL_WEBHOOK_KEY=key_line,
                TNHL_TALKNOTES_OUTBOUND_URL=out_url,
                TNHL_TALKNOTES_OUTBOUND_SECRET=out_secret,
                TNHL_OUTBOUND_DELAY="0.5",
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
            born = httpx.post(
                f"{sim_url}/contacts/",
                json={"locationId": LOCATION, "email": "born@example.com", "name": "Bo Rn"},
                headers=auth,
            )
            assert born.status_code == 201, born.text
            born_id = born.json()["contact"]["id"]
            wait_for(lambda: len(receiver.got) == 1, 20, "the born contact's delivery")
            wait_for(
                lambda: store.get_talknotes_id(LOCATION, "contact", born_id) == "tn-born-1",
                10,
                "the link from the receiver's answer",
            )
            edited = httpx.put(
                f"{sim_url}/contacts/{born_id}", json={"email": "born2@example.com"}, headers=auth
            )
            assert edited.status_code == 200, edited.text
            wait_for(lambda: len(receiver.got) == 2, 20, "the edit's delivery")

            body = json.dumps(
                {
                    "type": "contact.created",
                    "timestamp": "2026-12-01T09:00:00Z",
                    "data": {"id": "tn-own-1", "email": "own@example.com", "full_name": "Ow N"},
                }
            ).encode()
            headers = sign(inbound_secret, "msg_own_1", int(time.time()), body)
            sent = httpx.post(f"{tnhl.url}/webhooks/talknotes", content=body, headers=headers)
            assert sent.status_code == 202, sent.text

            def echo_recorded() -> bool:
                rows = store.list_events(state="skipped")
                return any(r.result == "echo of tnhl's own write to HighLevel" for r in rows)

            wait_for(echo_recorded, 20, "tnhl's own create to come back as an echo")
            own_hl = store.get_highlevel_id(LOCATION, "contact", "tn-own-1")
            assert own_hl is not None  # tnhl's own create did reach HighLevel

            # Edited in HighLevel: told to TalkNotes, which (naively) sends the change back.
            edit = {"email": "own2@example.com"}
            r = httpx.put(f"{sim_url}/contacts/{own_hl}", json=edit, headers=auth)
            assert r.status_code == 200, r.text
            wait_for(lambda: len(receiver.got) == 3, 20, "the own contact's edit")
            writes = _updates(sim_url)
            back = json.dumps(
                {
                    "type": "contact.updated",
                    "timestamp": receiver.got[2]["timestamp"],
                    "data": {"id": "tn-own-1", "email": receiver.got[2]["data"]["email"]},
                }
            ).encode()
            headers = sign(inbound_secret, "msg_own_2", int(time.time()), back)
            sent = httpx.post(f"{tnhl.url}/webhooks/talknotes", content=back, headers=headers)
            assert sent.status_code == 202, sent.text

            def repeat_settled() -> bool:
                rows = [r for r in store.list_events() if r.event_id == "msg_own_2"]
                return bool(rows) and rows[0].state in ("done", "skipped")

            wait_for(repeat_settled, 20, "TalkNotes' repeat of the HighLevel edit")
            repeat = next(r for r in store.list_events() if r.event_id == "msg_own_2")
            writes_after = _updates(sim_url)
        finally:
            tnhl.stop()
            store.close()
    assert receiver.refused == 0
    assert [(g["type"], g["data"]["id"], g["data"]["highlevel_id"]) for g in receiver.got] == [
        ("contact.created", None, born_id),
        ("contact.updated", "tn-born-1", born_id),
        ("contact.updated", "tn-own-1", own_hl),
    ]
    # TalkNotes repeating HighLevel's edit made no write to HighLevel: no echo either way.
    assert writes_after == writes
    assert (repeat.state, repeat.result) == ("skipped", "no change")
    assert receiver.got[0]["data"]["email"] == "born@example.com"
    assert receiver.got[1]["data"]["email"] == "born2@example.com"
    assert own_hl != born_id
    assert len({g["webhook_id"] for g in receiver.got}) == 3

"""HighLevel -> TalkNotes over real processes (issue 9): `tnhl simulate` signs its webhooks,
`tnhl run` verifies them and tells a TalkNotes receiver (a loopback HTTP server here, checking
the outbound signature) what changed, linking records born in HighLevel, and never echoing
back its own writes.

The stream: a contact created in HighLevel (born there) reaches TalkNotes with `id` null and
is linked by the receiver's `{"id": ...}`; its later edit in HighLevel arrives carrying that
TalkNotes id; a contact created from TalkNotes reaches HighLevel and its ContactCreate webhook
comes back, and is recorded as an echo, not delivered. Counted from the receiver's log."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from convergence_harness import simulate_process, wait_for
from talknotes_receiver import (
    AUTH,
    LOCATION,
    SIM_CONFIG,
    TalkNotesReceiver,
    send_talknotes,
    two_way_tnhl,
)

from tnhl.store import open_store


def _updates(sim_url: str) -> int:
    """update-contact requests the simulator has received (from anyone)."""
    log = httpx.get(f"{sim_url}/_admin/requests").json()
    return int(log["byOperation"].get("update-contact", 0))


def test_highlevel_changes_reach_talknotes_linked_and_without_echoes(
    tmp_path: Path, talknotes: tuple[str, str, TalkNotesReceiver]
) -> None:
    """Two deliveries exactly (the HighLevel-born contact's create, then its edit carrying
    the TalkNotes id it was linked to); tnhl's own create comes back only as an echo."""
    _, _, receiver = talknotes
    with simulate_process(SIM_CONFIG, tmp_path) as sim_url:
        tnhl, database_url, inbound_secret = two_way_tnhl(sim_url, tmp_path, talknotes)
        tnhl.start()
        store = open_store(database_url)
        try:
            hook = f"{tnhl.url}/webhooks/highlevel"
            assert httpx.post(f"{sim_url}/_admin/webhooks", json={"url": hook}).status_code == 201
            auth = AUTH
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

            own = {"id": "tn-own-1", "email": "own@example.com", "full_name": "Ow N"}
            send_talknotes(
                tnhl, inbound_secret, "msg_own_1", "contact.created", "2026-12-01T09:00:00Z", own
            )

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
            send_talknotes(
                tnhl,
                inbound_secret,
                "msg_own_2",
                "contact.updated",
                receiver.got[2]["timestamp"],
                {"id": "tn-own-1", "email": receiver.got[2]["data"]["email"]},
            )

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


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def test_simultaneous_edits_on_both_sides_end_equal_and_the_newer_wins(
    tmp_path: Path, talknotes: tuple[str, str, TalkNotesReceiver]
) -> None:
    """Two contacts created from TalkNotes; then each email is changed in HighLevel and in
    TalkNotes at the same moment. For tn-1 TalkNotes' change is the newer (stamped 5 s
    after HighLevel's), for tn-2 HighLevel's (TalkNotes' stamped 30 s before). Both sides
    end with the newer email: HighLevel's contact (read from the simulator) and TalkNotes'
    (its own last change, then what it was told). TalkNotes is told tn-2's winner once and
    nothing but its own value of tn-1; nothing comes back as an echo."""
    _, _, receiver = talknotes
    with (
        simulate_process(SIM_CONFIG, tmp_path) as sim_url,
        httpx.Client(base_url=sim_url, headers=AUTH) as hl,
    ):
        tnhl, database_url, secret = two_way_tnhl(sim_url, tmp_path, talknotes)
        tnhl.start()
        store = open_store(database_url)
        try:
            assert hl.post("/_admin/webhooks", json={"url": f"{tnhl.url}/webhooks/highlevel"})
            for n in (1, 2):
                data = {"id": f"tn-{n}", "email": f"start{n}@x.io", "full_name": f"Si {n}"}
                send_talknotes(tnhl, secret, f"m{n}", "contact.created", _iso(time.time()), data)

            def created() -> bool:
                return all(store.get_highlevel_id(LOCATION, "contact", f"tn-{n}") for n in (1, 2))

            wait_for(created, 20, "both contacts in HighLevel")
            ids = {n: store.get_highlevel_id(LOCATION, "contact", f"tn-{n}") for n in (1, 2)}
            wait_for(
                lambda: (
                    sum(1 for r in store.list_events() if r.source == "highlevel") >= 2
                    and all(r.state in ("done", "skipped") for r in store.list_events())
                ),
                20,
                "both creates' webhooks settled (as echoes)",
            )
            now = time.time()
            for n, (offset, hl_email) in {1: (5.0, "hl1@x.io"), 2: (-30.0, "hl2@x.io")}.items():
                assert hl.put(f"/contacts/{ids[n]}", json={"email": hl_email}).status_code == 200
                data = {"id": f"tn-{n}", "email": f"tn{n}@x.io"}
                send_talknotes(tnhl, secret, f"e{n}", "contact.updated", _iso(now + offset), data)

            def hl_email(n: int) -> str:
                return str(hl.get(f"/contacts/{ids[n]}").json()["contact"]["email"])

            def settled() -> bool:
                counts = store.stats().counts
                busy = counts.get("received", 0) + counts.get("pending", 0)
                return busy == 0 and (hl_email(1), hl_email(2)) == ("tn1@x.io", "hl2@x.io")

            wait_for(settled, 30, "both sides to settle on the newer emails")
            skipped = [
                r.result for r in store.list_events(state="skipped") if r.source == "highlevel"
            ]
        finally:
            tnhl.stop()
            store.close()
    told = [(g["data"]["id"], g["data"]["email"]) for g in receiver.got]
    assert [e for tn, e in told if tn == "tn-2"] == ["hl2@x.io"]
    assert {e for tn, e in told if tn == "tn-1"} <= {"tn1@x.io"}
    # TalkNotes' view: its own last change, then what it was told after it.
    view = {"tn-1": "tn1@x.io", "tn-2": "tn2@x.io"}
    view.update(told)
    assert view == {"tn-1": "tn1@x.io", "tn-2": "hl2@x.io"}  # HighLevel's, read above
    assert receiver.refused == 0
    assert "echo of tnhl's own write to HighLevel" in skipped

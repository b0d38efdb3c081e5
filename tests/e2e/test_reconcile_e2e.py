"""Reconciliation over real processes (issue 9): `tnhl simulate` loses every webhook
(`webhooks.loss_rate: 1`), so whatever reaches TalkNotes comes by polling.

The drill: tnhl's own create (from TalkNotes) reaches HighLevel and is polled back as an echo,
never delivered; a contact born in HighLevel with a task and a note reaches TalkNotes (created,
then linked); the contact is edited while tnhl is stopped and the edit arrives after it starts;
its deletion arrives by the sweep. Its profile (with the task and note) reaches TalkNotes
too. Counted from the receiver's log and the simulator's."""

from __future__ import annotations

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


def test_lost_webhooks_and_changes_while_stopped_reach_talknotes_by_reconciliation(
    tmp_path: Path, talknotes: tuple[str, str, TalkNotesReceiver]
) -> None:
    """Five deliveries exactly, in order; tnhl's own contact never delivered and never
    written back to HighLevel (one create-contact, no update-contact from tnhl)."""
    _, _, receiver = talknotes
    config = {**SIM_CONFIG, "webhooks": {"loss_rate": 1.0}}
    with (
        simulate_process(config, tmp_path) as sim_url,
        httpx.Client(base_url=sim_url, headers=AUTH) as hl,
    ):
        tnhl, database_url, inbound_secret = two_way_tnhl(
            sim_url,
            tmp_path,
            talknotes,
            TNHL_OUTBOUND_DELAY="0.3",
            TNHL_RECONCILE_INTERVAL="0.5",
            TNHL_RECONCILE_SWEEP_INTERVAL="1",
            TNHL_PROFILE_INTERVAL="1",
        )
        tnhl.start()
        store = open_store(database_url)
        try:
            # Registered, so HighLevel does try to tell tnhl: every delivery is lost.
            hook = f"{tnhl.url}/webhooks/highlevel"
            assert hl.post("/_admin/webhooks", json={"url": hook}).status_code == 201
            own = {"id": "tn-own-1", "email": "own@example.com", "full_name": "Ow N"}
            send_talknotes(
                tnhl, inbound_secret, "msg_own_1", "contact.created", "2026-12-01T09:00:00Z", own
            )

            def echo_polled() -> bool:
                rows = store.list_events(state="skipped")
                return any(r.event_id.startswith("reconcile:") for r in rows)

            wait_for(echo_polled, 20, "tnhl's own create to be polled back as an echo")
            own = [r for r in store.list_events() if r.event_id.startswith("reconcile:")]
            assert [r.result for r in own] == ["echo of tnhl's own write to HighLevel"]

            born = hl.post(
                "/contacts/", json={"locationId": LOCATION, "email": "b@example.com", "name": "Bo"}
            )
            assert born.status_code == 201, born.text
            born_id = born.json()["contact"]["id"]
            task = hl.post(
                f"/contacts/{born_id}/tasks",
                json={"title": "Call Bo", "dueDate": "2026-12-03T10:00:00Z", "completed": False},
            )
            assert task.status_code == 201, task.text
            note = hl.post(f"/contacts/{born_id}/notes", json={"body": "Bo likes calls"})
            assert note.status_code == 201, note.text
            wait_for(lambda: len(receiver.got) == 3, 20, "the born contact, its task and note")

            def full_profile() -> bool:
                """A profile of the born contact with its task and note (the brief's first
                use case), built from what reconciliation brought."""
                for p in list(receiver.profiles):
                    d = p["data"]
                    tasks = [t["taskName"] for t in d["tasks"]["open"]]
                    notes = [n["noteContent"] for n in d["notes"]]
                    if d["highlevel_id"] == born_id and (tasks, notes) == (
                        ["Call Bo"],
                        ["Bo likes calls"],
                    ):
                        return d["id"] == "tn-born-1" and d["email"] == "b@example.com"
                return False

            wait_for(full_profile, 20, "the born contact's profile with its task and note")

            tnhl.stop()
            edited = hl.put(f"/contacts/{born_id}", json={"email": "b2@example.com"})
            assert edited.status_code == 200, edited.text
            tnhl.start()
            wait_for(lambda: len(receiver.got) == 4, 20, "the edit made while tnhl was stopped")

            assert hl.delete(f"/contacts/{born_id}").status_code == 200
            wait_for(lambda: len(receiver.got) == 5, 20, "the deletion, found by the sweep")
            swept = store.get_cursor(f"reconcile-sweep:{LOCATION}")

            def quiet() -> bool:
                """A later sweep ran, and every polled event is settled."""
                counts = store.stats().counts
                later = store.get_cursor(f"reconcile-sweep:{LOCATION}") != swept
                return later and counts.get("received", 0) + counts.get("pending", 0) == 0

            wait_for(quiet, 20, "a sweep after the deletion, and nothing left to tell")
            ops = hl.get("/_admin/requests").json()["byOperation"]
            hooks = hl.get("/_admin/webhooks").json()
        finally:
            tnhl.stop()
            store.close()
    assert receiver.refused == 0
    got = [(g["type"], g["data"]["id"], g["data"]["highlevel_id"]) for g in receiver.got]
    task_id, note_id = task.json()["task"]["id"], note.json()["note"]["id"]
    assert got == [
        ("contact.created", None, born_id),
        ("task.created", None, task_id),
        ("note.created", None, note_id),
        ("contact.updated", "tn-born-1", born_id),
        ("contact.deleted", "tn-born-1", born_id),
    ]
    assert receiver.got[1]["data"]["contactId"] == "tn-born-1"
    assert receiver.got[1]["data"]["taskName"] == "Call Bo"
    assert receiver.got[2]["data"]["noteContent"] == "Bo likes calls"
    assert receiver.got[3]["data"]["email"] == "b2@example.com"
    # tnhl wrote HighLevel once (its own contact), and never back what it polled: the one
    # update and the one delete are the drill's own edits in HighLevel.
    writes = {op: n for op, n in ops.items() if not op.startswith(("get-", "search-"))}
    assert writes == {
        "create-contact": 2,
        "create-task": 1,
        "create-note": 1,
        "update-contact": 1,
        "delete-contact": 1,
    }
    # HighLevel did try: ContactCreate x2, TaskCreate, NoteCreate, ContactUpdate, ContactDelete.
    assert sorted(d["type"] for d in hooks["deliveries"]) == [
        "ContactCreate",
        "ContactCreate",
        "ContactDelete",
        "ContactUpdate",
        "NoteCreate",
        "TaskCreate",
    ]
    assert {d["error"] for d in hooks["deliveries"]} == {"lost (loss_rate)"}

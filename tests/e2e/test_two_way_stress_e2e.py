"""Both sides editing the same contacts at once, over real processes, with a third of
HighLevel's webhooks lost (issue 9): whatever the interleaving, every contact ends with the
same email on both sides, nothing is dead-lettered, and tnhl writes HighLevel at most once
per change (no echo loop).

TalkNotes is played by the receiver: it applies what it is told when the change is newer
than what it holds (by `timestamp`, as docs/talknotes-contract.md asks of a receiver), and
its own edits are sent as signed events from one thread while HighLevel's are made through
the API from another."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from convergence_harness import highlevel_state, simulate_process, wait_for
from talknotes_receiver import (
    AUTH,
    LOCATION,
    SIM_CONFIG,
    TalkNotesReceiver,
    send_talknotes,
    two_way_tnhl,
)

from tnhl.store import open_store

CONTACTS = 8
EDITS_PER_SIDE = 24


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class View:
    """TalkNotes' emails: per contact the newest of its own edits and what it was told."""

    def __init__(self) -> None:
        self.email: dict[str, tuple[float, str]] = {}
        self.lock = threading.Lock()

    def set(self, tn_id: str, at: float, email: str) -> None:
        with self.lock:
            if tn_id not in self.email or at > self.email[tn_id][0]:
                self.email[tn_id] = (at, email)

    def told(self, got: list[dict[str, Any]]) -> None:
        for g in got:
            data = g["data"]
            if g["type"] == "contact.updated" and data.get("id") and data.get("email"):
                self.set(data["id"], _epoch(g["timestamp"]), data["email"])


def test_concurrent_edits_on_both_sides_with_lost_webhooks_end_equal(
    tmp_path: Path, talknotes: tuple[str, str, TalkNotesReceiver]
) -> None:
    """8 contacts, 24 edits from each side interleaved at random (seed 7), 30 % of webhooks
    lost: both sides end equal for every contact; no dead letter; tnhl's update-contact
    calls at most the TalkNotes edits plus the HighLevel ones (a loop would exceed it)."""
    _, _, receiver = talknotes
    config = {**SIM_CONFIG, "webhooks": {"loss_rate": 0.3}}
    rng = random.Random(7)
    view = View()
    with (
        simulate_process(config, tmp_path) as sim_url,
        httpx.Client(base_url=sim_url, headers=AUTH, timeout=10) as hl,
    ):
        tnhl, database_url, secret = two_way_tnhl(
            sim_url,
            tmp_path,
            talknotes,
            TNHL_OUTBOUND_DELAY="0.3",
            TNHL_RECONCILE_INTERVAL="2",
            TNHL_PROFILE_INTERVAL="0",
        )
        tnhl.start()
        store = open_store(database_url)
        try:
            assert hl.post("/_admin/webhooks", json={"url": f"{tnhl.url}/webhooks/highlevel"})
            tn_ids = [f"tn-{n}" for n in range(CONTACTS)]
            for tn in tn_ids:
                now = time.time()
                data = {"id": tn, "email": f"{tn}-start@x.io", "full_name": f"St {tn}"}
                send_talknotes(tnhl, secret, f"c-{tn}", "contact.created", _iso(now), data)
                view.set(tn, now, data["email"])

            def linked() -> bool:
                return all(store.get_highlevel_id(LOCATION, "contact", tn) for tn in tn_ids)

            wait_for(linked, 30, "every contact in HighLevel")
            hl_ids = {tn: store.get_highlevel_id(LOCATION, "contact", tn) for tn in tn_ids}
            plan = {
                side: [(rng.choice(tn_ids), n) for n in range(EDITS_PER_SIDE)]
                for side in ("tn", "hl")
            }

            def talknotes_edits() -> None:
                for tn, n in plan["tn"]:
                    now = time.time()
                    email = f"{tn}-tn{n}@x.io"
                    view.set(tn, now, email)
                    data = {"id": tn, "email": email}
                    send_talknotes(tnhl, secret, f"e-{tn}-{n}", "contact.updated", _iso(now), data)
                    time.sleep(rng.uniform(0.0, 0.08))  # the generator's pace, not a wait

            def highlevel_edits() -> None:
                with httpx.Client(base_url=sim_url, headers=AUTH, timeout=10) as own:
                    for tn, n in plan["hl"]:
                        email = f"{tn}-hl{n}@x.io"
                        r = own.put(f"/contacts/{hl_ids[tn]}", json={"email": email})
                        assert r.status_code == 200, r.text
                        time.sleep(rng.uniform(0.0, 0.08))  # the generator's pace

            threads = [threading.Thread(target=f) for f in (talknotes_edits, highlevel_edits)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)

            def equal() -> bool:
                counts = store.stats().counts
                if counts.get("received", 0) + counts.get("pending", 0):
                    return False
                with receiver.lock:
                    view.told(list(receiver.got))
                # From the simulator's admin state: the API would spend tnhl's rate limit.
                emails = {c.id: c.email for c in highlevel_state(sim_url, LOCATION)}
                return all(view.email[tn][1] == emails[hl_ids[tn]] for tn in tn_ids)

            wait_for(equal, 60, "both sides to end equal")
            dead = store.stats().counts.get("dead", 0)
            ops = hl.get("/_admin/requests").json()["byOperation"]
        finally:
            tnhl.stop()
            store.close()
    assert dead == 0
    assert receiver.refused == 0
    # tnhl's writes: the drill's own HighLevel edits are update-contact calls too.
    tnhl_updates = ops.get("update-contact", 0) - EDITS_PER_SIDE
    assert 0 <= tnhl_updates <= 2 * EDITS_PER_SIDE

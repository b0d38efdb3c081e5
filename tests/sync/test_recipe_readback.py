"""A recipe's HighLevel create whose outcome was lost (a crash after it was sent, a timeout) is
read back, as the sync engine's creates are: found, it is not sent again; proven absent, it is
sent once. Real parts: a SQLite store, the simulator over loopback HTTP, the real client and
the recipe runner; the crash is the op left `sent`, as a SIGKILL leaves it."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tnhl.highlevel import HighLevelClient, PrivateIntegrationToken, RetryPolicy
from tnhl.mapping import default_mapping
from tnhl.simulator import RunningSimulator, running_simulator
from tnhl.store import InboundEvent, InboxRow, OpMark, SqlStore, open_store
from tnhl.sync._recipe_actions import Actions, RecipeConnection
from tnhl.sync._recipe_run import FiringRunner
from tnhl.sync._schedule import RetrySchedule
from tnhl.sync._trace import CallTracer

NOW = 1_796_000_000.0
BODY = {"body": "Pinged on 2026-12-07", "title": "Ping"}


@dataclass
class Env:
    sim: RunningSimulator
    store: SqlStore
    runner: FiringRunner
    contact_id: str
    sent: list[str]

    def firing(self) -> tuple[InboxRow, str]:
        """A stored firing that creates one note on the contact, and its action's op key."""
        perform = {
            "action": "highlevel.create-note",
            "params": {"params": {"contactId": self.contact_id}, "body": BODY},
        }
        loc = self.sim.location_id
        event = InboundEvent(
            "recipe", "hook:7:1", "recipe", loc, "c1", json.dumps({"perform": perform}), NOW
        )
        assert self.store.add_inbound(event)
        [row] = [r for r in self.store.list_events() if r.event_id == "hook:7:1"]
        return row, f"{loc}:recipe:hook:7:1:0"

    def notes(self) -> list[dict[str, Any]]:
        return list(self.sim.state.children("note", self.contact_id))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with running_simulator() as sim:
        store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
        tracer = CallTracer()
        client = HighLevelClient(
            PrivateIntegrationToken(sim.token, location_id=sim.location_id),
            base_url=sim.base_url,
            retry=RetryPolicy(attempts=1),
            on_exchange=tracer.observe,
        )
        sent: list[str] = []

        def call(operation_id: str, *, params: Any = None, json: Any = None) -> Any:
            sent.append(operation_id)
            return client.call(operation_id, params=params, json=json)

        with sim.client() as http:
            made = http.post("/contacts/", json={"locationId": sim.location_id, "firstName": "Sam"})
            assert made.status_code == 201, made.text
        conn = RecipeConnection("default", sim.location_id, default_mapping(), call)
        runner = FiringRunner(
            store,
            {sim.location_id: conn},
            Actions(store, lambda: NOW),
            RetrySchedule(rng=random.Random(3)),
            recipes=lambda location: {},
            link=lambda location, context: None,
            tracer=tracer,
            clock=lambda: NOW,
        )
        try:
            yield Env(sim, store, runner, made.json()["contact"]["id"], sent)
        finally:
            client.close()
            store.close()


def _sent_before(env: Env, key: str, inbox_id: int) -> None:
    """What a try that died after marking the create sent leaves in the store."""
    params = {"params": {"contactId": env.contact_id}, "body": BODY}
    env.store.send_ops([OpMark(key, "highlevel.create-note", inbox_id, json.dumps(params))])


def test_a_create_that_landed_before_the_crash_is_found_not_sent_again(env: Env) -> None:
    """The note was made, then the worker died: the retry reads the contact's notes, finds it
    by the body it sent, and is done without a second create-note (it used to be a dead
    letter that no replay could bring back)."""
    row, key = env.firing()
    _sent_before(env, key, row.id)
    with env.sim.client() as http:
        first = http.post(f"/contacts/{env.contact_id}/notes", json=BODY)
        assert first.status_code == 201, first.text
    note_id = first.json()["note"]["id"]

    delivery = env.runner.run(row)

    assert (delivery.outcome, delivery.ops_done) == ("done", ((key, note_id),))
    assert env.sent == ["get-all-notes"]
    assert [n["id"] for n in env.notes()] == [note_id]
    # The read-back is in the firing's story, under the action that made it.
    [read] = delivery.calls
    assert (read.operation, read.status) == ("highlevel.create-note", 200)
    assert read.request == f"GET /contacts/{env.contact_id}/notes"


def test_a_create_that_never_reached_highlevel_is_sent_once(env: Env) -> None:
    """Marked sent, but the crash came before the request: the read-back proves it absent,
    and the note is created once."""
    row, key = env.firing()
    _sent_before(env, key, row.id)

    delivery = env.runner.run(row)

    assert delivery.outcome == "done"
    assert env.sent == ["get-all-notes", "create-note"]
    [note] = env.notes()
    assert (note["body"], delivery.ops_done) == (BODY["body"], ((key, note["id"]),))

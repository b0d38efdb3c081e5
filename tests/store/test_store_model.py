"""Random sequences of store operations keep the lease and liveness invariants (hypothesis)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tnhl.store import (
    Delta,
    InboundEvent,
    InboxRow,
    LeaseLostError,
    RecordClaim,
    Settlement,
    open_store,
)
from tnhl.store._schema import inbox, records

ENTITIES = ["a", "b", "c"]
WORKERS = ["w1", "w2", "w3"]
OUTCOMES = ["applied", "skipped", "retry", "reschedule", "waiting", "dead"]


def _fold(row: InboxRow) -> Delta:
    body = json.loads(row.body)
    return Delta(row.id, "contact", row.entity_key, row.entity_key, body["at"], row.event_id, {})


class StoreMachine(RuleBasedStateMachine):
    """Drives one SQLite store with adds, claims, settlements, replays and clock moves."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.now = 1000.0
        self.store = open_store(f"sqlite:///{Path(self.dir.name) / 't.db'}", clock=lambda: self.now)
        self.n = 0
        self.held: dict[str, list[RecordClaim]] = {w: [] for w in WORKERS}

    def teardown(self) -> None:
        self.store.close()
        self.dir.cleanup()

    def _rows(self, table: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(sa.select(table)).all())

    @rule(entity=st.sampled_from(ENTITIES), at=st.integers(0, 5), redeliver=st.booleans())
    def add(self, entity: str, at: int, redeliver: bool) -> None:
        body = json.dumps({"at": at})
        if redeliver and self.n > 0:  # the sender repeats its last event: refused
            ev = InboundEvent("talknotes", f"e{self.n}", "t", "loc", entity, body, self.now)
            assert self.store.add_inbound(ev) is False
            return
        self.n += 1
        ev = InboundEvent("talknotes", f"e{self.n}", "t", "loc", entity, body, self.now)
        assert self.store.add_inbound(ev) is True

    @rule(
        worker=st.sampled_from(WORKERS), limit=st.integers(1, 3), lease=st.sampled_from([5.0, 50.0])
    )
    def claim(self, worker: str, limit: int, lease: float) -> None:
        claims = self.store.claim(worker, fold=_fold, limit=limit, lease_seconds=lease)
        assert len(claims) <= limit
        for c in claims:
            assert all(e.inbox_id > 0 for e in c.events)
        self.held[worker] = [*self.held[worker], *claims]

    @rule(worker=st.sampled_from(WORKERS), data=st.data())
    @precondition(lambda self: any(self.held.values()))
    def settle(self, worker: str, data: st.DataObject) -> None:
        if not self.held[worker]:
            return
        claim = data.draw(st.sampled_from(self.held[worker]))
        outcome = data.draw(st.sampled_from(OUTCOMES))
        due = self.now + data.draw(st.sampled_from([0.0, 10.0]))
        self.held[worker] = [c for c in self.held[worker] if c is not claim]
        try:
            self.store.settle([(claim, Settlement(outcome, "r", due_at=due))])  # type: ignore[arg-type]
        except LeaseLostError:
            # Only a claim whose lease ran out may be refused.
            assert claim.lease_until <= self.now

    @rule(seconds=st.sampled_from([1.0, 6.0, 60.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule(entity=st.sampled_from(ENTITIES))
    def replay(self, entity: str) -> None:
        dead = [d for d in self.store.list_dead() if d.event.entity_key == entity]
        if dead:
            row = self.store.replay_dead(dead_letter_id=dead[0].id)
            assert (row.state, row.attempts) == ("pending", 0)

    @invariant()
    def no_record_is_held_live_by_two_claims(self) -> None:
        live: dict[str, int] = {}
        for claims in self.held.values():
            for c in claims:
                if c.lease_until > self.now:
                    live[c.state.record_key] = live.get(c.state.record_key, 0) + 1
        assert all(n == 1 for n in live.values()), live

    @invariant()
    def no_pending_event_is_stranded(self) -> None:
        """Every folded, unsettled event's record has a due time: it will run again."""
        due = {r.record_key: r.due_at for r in self._rows(records)}
        for r in self._rows(inbox):
            if r.state == "pending":
                assert r.record_key in due, r.record_key
                assert due[r.record_key] is not None, r.record_key
            if r.state in ("done", "dead", "skipped"):
                assert r.done_at is not None


StoreMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestStoreModel = StoreMachine.TestCase

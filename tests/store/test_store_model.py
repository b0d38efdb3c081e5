"""Random sequences of store operations keep the ordering and lease invariants (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tnhl.store import InboundEvent, LeaseLostError, OutOfOrderError, open_store
from tnhl.store._schema import inbox

ENTITIES = ["a", "b", "c"]
WORKERS = ["w1", "w2", "w3"]


class StoreMachine(RuleBasedStateMachine):
    """Drives one SQLite store with adds, claims, outcomes, releases and clock moves."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.now = 1000.0
        self.store = open_store(f"sqlite:///{Path(self.dir.name) / 't.db'}", clock=lambda: self.now)
        self.n = 0
        self.held: dict[str, list[int]] = {w: [] for w in WORKERS}  # what each worker believes

    def teardown(self) -> None:
        self.store.close()
        self.dir.cleanup()

    def rows(self) -> list[sa.Row[tuple[object, ...]]]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(sa.select(inbox).order_by(inbox.c.id)).all())

    @rule(entity=st.sampled_from(ENTITIES), redeliver=st.booleans())
    def add(self, entity: str, redeliver: bool) -> None:
        if redeliver and self.n > 0:  # the sender repeats its last event: refused
            ev = InboundEvent("talknotes", f"e{self.n}", "t", "loc", entity, "{}", self.now)
            assert self.store.add_inbound(ev) is False
            return
        self.n += 1
        ev = InboundEvent("talknotes", f"e{self.n}", "t", "loc", entity, "{}", self.now)
        assert self.store.add_inbound(ev) is True

    @rule(
        worker=st.sampled_from(WORKERS),
        limit=st.integers(1, 3),
        max_run=st.integers(1, 3),
        lease=st.sampled_from([5.0, 50.0]),
    )
    def claim(self, worker: str, limit: int, max_run: int, lease: float) -> None:
        before = {r.id: r for r in self.rows()}
        claims = self.store.claim_next(worker, limit=limit, max_run=max_run, lease_seconds=lease)
        assert len(claims) <= limit
        for c in claims:
            assert 1 <= len(c.events) <= max_run
            unfinished = [
                r.id
                for r in before.values()
                if (r.location_id, r.entity_key) == (c.entity.location_id, c.entity.entity_key)
                and r.state in ("received", "pending")
            ]
            # The head is the entity's oldest unfinished event; the rest follow without gaps.
            assert c.inbox_ids == sorted(unfinished)[: len(c.events)]
            head = before[c.inbox_ids[0]]
            assert head.next_attempt_at <= self.now
            assert head.lease_until is None or head.lease_until <= self.now
            self.held[worker] = [*self.held[worker], *c.inbox_ids]

    @rule(worker=st.sampled_from(WORKERS), data=st.data())
    @precondition(lambda self: any(self.held.values()))
    def finish(self, worker: str, data: st.DataObject) -> None:
        if not self.held[worker]:
            return
        target = data.draw(st.sampled_from(self.held[worker]))
        outcome = data.draw(st.sampled_from(["complete", "retry", "dead", "release"]))
        try:
            if outcome == "complete":
                self.store.complete([target], worker=worker, result="ok")
                me = self.store.get_event(target)
                assert not [
                    r.id
                    for r in self.rows()
                    if r.entity_key == me.entity_key
                    and r.id < target
                    and r.state in ("received", "pending")
                ]
            elif outcome == "retry":
                at = self.now + data.draw(st.sampled_from([0.0, 10.0]))
                self.store.retry_later(target, worker=worker, at=at, error="x")
            elif outcome == "dead":
                self.store.dead_letter(target, worker=worker, reason="r")
            else:
                self.store.release([target], worker=worker)
        except OutOfOrderError:
            me = self.store.get_event(target)
            assert me.state in ("received", "pending")
            assert any(
                r.entity_key == me.entity_key
                and r.id < target
                and r.state in ("received", "pending")
                for r in self.rows()
            )
        except LeaseLostError:
            # Only a worker whose lease ran out and was taken (or swept) may be refused.
            row = self.store.get_event(target)
            assert row.lease_owner != worker or row.state not in ("received", "pending")
        self.held[worker] = [i for i in self.held[worker] if i != target]

    @rule(seconds=st.sampled_from([1.0, 6.0, 60.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def sweep(self) -> None:
        self.store.requeue_expired()

    @rule(entity=st.sampled_from(ENTITIES))
    def replay(self, entity: str) -> None:
        dead = [d for d in self.store.list_dead() if d.event.entity_key == entity]
        if dead:
            row = self.store.replay_dead(dead_letter_id=dead[0].id)
            assert (row.state, row.attempts) == ("pending", 0)

    @invariant()
    def leases_are_consistent(self) -> None:
        live: dict[str, set[str]] = {}
        for r in self.rows():
            assert r.attempts >= 0
            if r.state in ("done", "dead", "skipped"):
                assert r.lease_owner is None
                assert r.lease_until is None
            if r.lease_until is not None and r.lease_until > self.now:
                live.setdefault(r.entity_key, set()).add(r.lease_owner)
        # At any moment at most one worker holds live leases on an entity's events.
        assert all(len(owners) == 1 for owners in live.values())

    @invariant()
    def ready_entities_are_exactly_those_with_a_free_due_head(self) -> None:
        heads: dict[str, sa.Row[tuple[object, ...]]] = {}
        for r in self.rows():
            if r.state in ("received", "pending") and r.entity_key not in heads:
                heads[r.entity_key] = r
        free = {
            k
            for k, r in heads.items()
            if r.next_attempt_at <= self.now
            and (r.lease_until is None or r.lease_until <= self.now)
        }
        assert {e.entity_key for e in self.store.ready_entities()} == free


StoreMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestStoreModel = StoreMachine.TestCase

"""The store's contract, run against every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from tests.store.conftest import FakeClock

from tnhl.store import (
    EntityKey,
    InboundEvent,
    InvalidRecordError,
    LeaseLostError,
    MappingConflictError,
    OutOfOrderError,
    RecordNotFoundError,
    SqlStore,
)

LOC = "loc-1"


def event(n: int, entity: str = "c1", *, at: float = 1_000_000.0, **kw: str) -> InboundEvent:
    values = {
        "source": "talknotes",
        "event_id": f"evt-{n}",
        "event_type": "contact.updated",
        "location_id": LOC,
        "entity_key": entity,
        "body": f'{{"n": {n}}}',
        **kw,
    }
    return InboundEvent(received_at=at, **values)  # type: ignore[arg-type]


def add(store: SqlStore, *events: InboundEvent) -> None:
    """Store events in order; in a fresh store they get inbox ids 1, 2, 3, ..."""
    for e in events:
        assert store.add_inbound(e)


# intake ----------------------------------------------------------------------------------------


def test_add_inbound_dedupes_on_source_and_event_id(store: SqlStore) -> None:
    """A second event with the same (source, event_id) is refused and changes nothing."""
    assert store.add_inbound(event(1)) is True
    assert store.add_inbound(event(1, body="different")) is False
    assert store.add_inbound(event(1, source="highlevel")) is True
    assert store.get_event(1).body == '{"n": 1}'
    assert store.stats().counts["received"] == 2


def test_body_is_stored_exactly_as_received(store: SqlStore) -> None:
    """The raw body survives byte for byte: whitespace, key order, non-ASCII text."""
    raw = '{ "b":1,\n  "a": "Zoë — 東京 \\u00e9" }\r\n'
    store.add_inbound(event(1, body=raw))
    row = store.get_event(1)
    assert row.body == raw
    assert (row.state, row.attempts, row.next_attempt_at) == ("received", 0, 1_000_000.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "zapier"),
        ("event_id", ""),
        ("entity_key", "  "),
        ("location_id", "x" * 300),
        ("body", '{"a": "\x00"}'),
    ],
)
def test_invalid_event_is_refused_naming_the_field(store: SqlStore, field: str, value: str) -> None:
    """Bad input raises InvalidRecordError naming the field, and stores nothing."""
    with pytest.raises(InvalidRecordError) as info:
        store.add_inbound(event(1, **{field: value}))
    assert info.value.field == field
    assert sum(store.stats().counts.values()) == 0


def test_bad_arguments_name_the_field(store: SqlStore) -> None:
    """Unusable arguments raise InvalidRecordError naming the argument, before any write."""
    calls = {
        "worker": lambda: store.claim_next(""),
        "lease_seconds": lambda: store.claim_next("w1", lease_seconds=0),
        "max_run": lambda: store.claim_next("w1", max_run=0),
        "key": lambda: store.begin_op("", inbox_id=None, operation_id="create-contact"),
        "operation_id": lambda: store.begin_op("k", inbox_id=None, operation_id="x" * 200),
        "dead_letter_id": lambda: store.get_dead(),
        "talknotes_id": lambda: store.put_mapping(LOC, "contact", "", "hl-1"),
    }
    for field, call in calls.items():
        with pytest.raises(InvalidRecordError) as info:
            call()
        assert info.value.field == field
    assert store.get_op("k") is None


# ordering and claims ---------------------------------------------------------------------------


def test_only_the_oldest_unfinished_event_of_an_entity_is_claimed(store: SqlStore) -> None:
    """A later event is never claimed while an earlier one of its entity is unfinished."""
    add(store, event(1), event(2))
    [first] = store.claim_next("w1", max_run=1)
    assert first.inbox_ids == [1]
    assert store.claim_next("w2", max_run=1) == []  # event 2 is due, but 1 is unfinished
    store.complete([1], worker="w1", result="ok")
    [second] = store.claim_next("w2", max_run=1)
    assert second.inbox_ids == [2]


def test_a_head_waiting_for_retry_blocks_its_entity_only(store: SqlStore, clock: FakeClock) -> None:
    """While the head waits for its retry, later events of that entity wait too; others go."""
    add(store, event(1, "a"), event(2, "a"), event(3, "b"))
    [claim_a] = store.claim_next("w1", max_run=1, entity=EntityKey(LOC, "a"))
    store.retry_later(1, worker="w1", at=clock.now + 60, error="HTTP 503")
    assert store.ready_entities() == [EntityKey(LOC, "b")]
    claimed = store.claim_next("w1", limit=5, lease_seconds=600)
    assert [c.entity.entity_key for c in claimed] == ["b"]
    clock.advance(60)
    [again] = store.claim_next("w2", limit=5)
    assert again.inbox_ids == [1, 2]
    assert again.events[0].attempts == 2
    assert again.events[0].last_error == "HTTP 503"
    assert claim_a.events[0].attempts == 1


def test_claim_returns_the_run_behind_the_head_for_coalescing(store: SqlStore) -> None:
    """A claim carries the head and the consecutive events behind it, oldest first."""
    add(store, event(1, "a"), event(2, "b"), event(3, "a"), event(4, "a"))
    claims = store.claim_next("w1", limit=10, max_run=2)
    assert [(c.entity.entity_key, c.inbox_ids) for c in claims] == [("a", [1, 3]), ("b", [2])]
    assert all(e.lease_owner == "w1" and e.state == "pending" for c in claims for e in c.events)
    assert store.claim_next("w2", limit=10) == []  # event 4 waits behind leased 1 and 3


def test_an_expired_lease_is_claimable_and_swept(store: SqlStore, clock: FakeClock) -> None:
    """A lease blocks others until it runs out; the sweeper then clears it."""
    add(store, event(1, "a"), event(2, "b"))
    assert len(store.claim_next("dead-worker", limit=2, lease_seconds=30)) == 2
    assert store.claim_next("w2", limit=2) == []
    assert store.requeue_expired() == 0
    clock.advance(30)
    assert store.requeue_expired() == 2
    assert store.get_event(1).lease_owner is None
    claims = store.claim_next("w2", limit=2)
    assert [c.inbox_ids for c in claims] == [[1], [2]]
    assert claims[0].events[0].attempts == 2  # the lost attempt counts (poison events end)


def test_a_worker_whose_lease_was_taken_cannot_overwrite(store: SqlStore, clock: FakeClock) -> None:
    """After another worker re-claims an expired lease, the first worker's writes are refused."""
    add(store, event(1), event(2))
    store.claim_next("slow", lease_seconds=10)
    clock.advance(11)
    store.claim_next("fast", lease_seconds=10)
    with pytest.raises(LeaseLostError):
        store.complete([1, 2], worker="slow", result="late")
    with pytest.raises(LeaseLostError):
        store.retry_later(1, worker="slow", at=clock.now + 5)
    with pytest.raises(LeaseLostError):
        store.dead_letter(1, worker="slow", reason="late")
    row = store.get_event(1)
    assert (row.state, row.lease_owner, row.result) == ("pending", "fast", None)
    store.complete([1, 2], worker="fast", result="created")
    assert store.get_event(2).state == "done"


def test_complete_is_all_or_nothing(store: SqlStore) -> None:
    """Completing a set that includes an event not leased to the worker changes none of them."""
    add(store, event(1, "a"), event(2, "b"))
    store.claim_next("w1", entity=EntityKey(LOC, "a"))
    with pytest.raises(LeaseLostError):
        store.complete([1, 2], worker="w1")
    assert store.get_event(1).state == "pending"
    store.complete([1], worker="w1", result="ok", skipped=True)
    assert (store.get_event(1).state, store.get_event(1).result) == ("skipped", "ok")


def test_retry_later_gives_back_the_events_behind(store: SqlStore, clock: FakeClock) -> None:
    """Retrying the head releases the rest of the run uncounted; a rate-limit wait is uncounted."""
    add(store, event(1), event(2), event(3))
    [claim] = store.claim_next("w1")
    assert claim.inbox_ids == [1, 2, 3]
    store.retry_later(1, worker="w1", at=clock.now + 10, error="429", count_attempt=False)
    for i in (1, 2, 3):
        row = store.get_event(i)
        assert (row.lease_owner, row.attempts) == (None, 0)
    assert store.get_event(1).next_attempt_at == clock.now + 10


def test_release_returns_unattempted_events(store: SqlStore) -> None:
    """Released events are claimable again and their claim does not count as an attempt."""
    add(store, event(1), event(2))
    store.claim_next("w1")
    store.complete([1], worker="w1")
    assert store.release([2], worker="w1") == 1
    assert store.release([2], worker="w1") == 0
    [claim] = store.claim_next("w2")
    assert claim.inbox_ids == [2]
    assert claim.events[0].attempts == 1


def test_giving_back_a_head_gives_back_the_events_behind_it(store: SqlStore) -> None:
    """Releasing the head releases the worker's later events of that entity, so no other
    worker can hold the head while this one holds what comes after it."""
    add(store, event(1), event(2), event(3))
    store.claim_next("w1")
    assert store.release([1], worker="w1") == 3
    [claim] = store.claim_next("w2")
    assert claim.inbox_ids == [1, 2, 3]


def test_an_event_cannot_finish_before_an_earlier_one(store: SqlStore, clock: FakeClock) -> None:
    """Completing an event while an earlier event of its entity is unfinished is refused and
    changes nothing; replaying the earlier one takes the later ones back from their worker."""
    add(store, event(1), event(2))
    store.claim_next("w1", max_run=1)
    store.dead_letter(1, worker="w1", reason="bad")
    store.claim_next("w2")
    store.replay_dead(inbox_id=1)
    assert store.get_event(2).lease_owner is None  # the replay took event 2 back
    with pytest.raises(LeaseLostError):
        store.complete([2], worker="w2")
    [claim] = store.claim_next("w3")
    assert claim.inbox_ids == [1, 2]
    with pytest.raises(OutOfOrderError, match="earlier event 1"):
        store.complete([2], worker="w3")
    assert store.get_event(2).state == "pending"
    store.complete([1, 2], worker="w3")
    assert store.get_event(2).state == "done"


def test_dead_letter_list_show_and_replay(store: SqlStore, clock: FakeClock) -> None:
    """A dead event unblocks its entity, is listed; replay brings it back with attempts reset."""
    add(store, event(1), event(2))
    store.claim_next("w1", max_run=1)
    dl_id = store.dead_letter(1, worker="w1", reason="contact never synced", error="404")
    [dl] = store.list_dead()
    assert (dl.id, dl.inbox_id, dl.reason, dl.error, dl.event.state) == (
        dl_id,
        1,
        "contact never synced",
        "404",
        "dead",
    )
    assert store.get_dead(inbox_id=1) == store.get_dead(dead_letter_id=dl_id) == dl
    assert store.stats().dead_letters == 1
    assert store.claim_next("w1")[0].inbox_ids == [2]  # the entity moved on
    store.complete([2], worker="w1")

    clock.advance(100)
    row = store.replay_dead(dead_letter_id=dl_id)
    assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now)
    assert store.list_dead() == []
    assert store.list_dead(include_replayed=True)[0].replayed_at == clock.now
    assert store.replay_dead(inbox_id=1) == row  # replaying twice changes nothing
    store.claim_next("w1")
    assert store.dead_letter(1, worker="w1", reason="again") == dl_id  # one letter per event
    assert store.get_dead(dead_letter_id=dl_id).reason == "again"
    with pytest.raises(RecordNotFoundError):
        store.get_dead(dead_letter_id=dl_id + 99)


def test_threads_claiming_concurrently_never_share_an_event(store: SqlStore) -> None:
    """Four threads claim at the same moments, round after round, over 120 events of 12
    entities: every event is claimed exactly once and each entity's events in order."""
    total, n_threads = 120, 4
    for n in range(1, total + 1):
        store.add_inbound(event(n, f"c{n % 12}"))
    # Rounds: all threads claim at once, then all hold their leases at the barrier (so claims
    # really overlap), then complete. 12 entities > 4 threads x limit 2, so every thread gets
    # work in every round until the end; a round where nobody got anything ends the test.
    barrier = threading.Barrier(n_threads, timeout=20)
    claimed: dict[int, dict[str, list[int]]] = defaultdict(dict)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for rnd in range(total + 1):
                barrier.wait()
                claims = store.claim_next(name, limit=2, max_run=3)
                claimed[rnd][name] = [i for c in claims for i in c.inbox_ids]
                barrier.wait()
                if not any(claimed[rnd].values()):
                    return
                for c in claims:
                    store.complete(c.inbox_ids, worker=name)
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [i for rnd in sorted(claimed) for got in claimed[rnd].values() for i in got]
    assert sorted(ids) == list(range(1, total + 1))  # none twice, none lost
    assert all(got for got in claimed[0].values())  # in round 0 every thread held a claim
    per_entity: dict[int, list[int]] = defaultdict(list)
    for i in ids:  # rounds are in time order, so this is each entity's claim order
        per_entity[i % 12].append(i)
    assert all(seq == sorted(seq) for seq in per_entity.values())
    assert store.stats().counts["done"] == total


def test_purge_deletes_only_old_finished_events(store: SqlStore, clock: FakeClock) -> None:
    """Purging removes old done events (their ids may then arrive anew) and keeps op keys."""
    add(store, event(1, "a"), event(2, "b"), event(3, "c"))
    store.claim_next("w1", limit=3)
    store.begin_op("loc-1:create-contact:a", inbox_id=1, operation_id="create-contact")
    store.complete([1], worker="w1")
    store.dead_letter(2, worker="w1", reason="bad")
    clock.advance(8 * 86400)
    store.complete([3], worker="w1")
    assert store.purge_finished(older_than=clock.now - 7 * 86400) == 1
    with pytest.raises(RecordNotFoundError):
        store.get_event(1)
    assert store.get_event(2).state == "dead"
    assert store.get_event(3).state == "done"
    op = store.get_op("loc-1:create-contact:a")
    assert op is not None
    assert op.inbox_id is None
    assert store.add_inbound(event(1, "a")) is True


# id map, outbound operations, cursors ----------------------------------------------------------


def test_id_map_is_idempotent_and_unique_per_location(store: SqlStore) -> None:
    """Repeating a mapping is a no-op; mapping either id to a different one is refused."""
    store.put_mapping(LOC, "contact", "tn-1", "hl-1")
    store.put_mapping(LOC, "contact", "tn-1", "hl-1")
    store.put_mapping(LOC, "contact", "tn-1", "hl-1", content_hash="h1")
    assert store.get_highlevel_id(LOC, "contact", "tn-1") == "hl-1"
    assert store.get_talknotes_id(LOC, "contact", "hl-1") == "tn-1"
    assert store.get_content_hash(LOC, "contact", "tn-1") == "h1"
    with pytest.raises(MappingConflictError):
        store.put_mapping(LOC, "contact", "tn-1", "hl-2")
    with pytest.raises(MappingConflictError):
        store.put_mapping(LOC, "contact", "tn-2", "hl-1")
    store.put_mapping("loc-2", "contact", "tn-1", "hl-9")  # another location is independent
    store.put_mapping(LOC, "task", "tn-1", "hl-1")  # and another kind
    assert store.get_highlevel_id("loc-2", "contact", "tn-1") == "hl-9"
    assert store.get_highlevel_id(LOC, "note", "tn-1") is None
    with pytest.raises(InvalidRecordError) as info:
        store.put_mapping(LOC, "deal", "tn-1", "hl-1")
    assert info.value.field == "kind"


def test_begin_op_returns_the_existing_row(store: SqlStore, clock: FakeClock) -> None:
    """A key is planned once; planning it again returns the first row, never a fresh one."""
    add(store, event(1))
    first = store.begin_op(
        "loc-1:create-contact:tn-1", inbox_id=1, operation_id="create-contact", body='{"a": 1}'
    )
    assert (first.state, first.attempts, first.request_body) == ("planned", 0, '{"a": 1}')
    store.mark_sent(first.key)
    clock.advance(5)
    again = store.begin_op(first.key, inbox_id=1, operation_id="create-contact", body='{"b": 2}')
    assert (again.state, again.attempts, again.request_body) == ("sent", 1, '{"a": 1}')
    assert store.mark_unknown(first.key, "timeout").state == "unknown"
    done = store.finish_op(first.key, highlevel_id="hl-1", response="found by read-back")
    assert (done.state, done.highlevel_id, done.updated_at) == ("succeeded", "hl-1", clock.now)
    with pytest.raises(InvalidRecordError):
        store.mark_sent(first.key)  # a succeeded create must never be sent again
    assert store.get_op(first.key) == done
    assert store.get_op("nope") is None
    with pytest.raises(RecordNotFoundError):
        store.mark_sent("nope")
    failed = store.begin_op("k2", inbox_id=None, operation_id="create-task")
    assert store.fail_op(failed.key, "HTTP 422").state == "failed"


def test_cursors_round_trip(store: SqlStore) -> None:
    """A cursor reads back the last value set; an unknown one is None."""
    assert store.get_cursor("reconcile:loc-1") is None
    store.set_cursor("reconcile:loc-1", "2026-01-01T00:00:00Z")
    store.set_cursor("reconcile:loc-1", "2026-01-02T00:00:00Z")
    assert store.get_cursor("reconcile:loc-1") == "2026-01-02T00:00:00Z"


def test_stats_count_states_and_oldest_unfinished_age(store: SqlStore, clock: FakeClock) -> None:
    """Status shows counts per state, what is leased, and how long the oldest event has waited."""
    assert store.stats().oldest_unfinished_age is None
    add(store, event(1, "a", at=clock.now - 90), event(2, "b"), event(3, "c"))
    store.claim_next("w1", entity=EntityKey(LOC, "b"))
    store.claim_next("w1", entity=EntityKey(LOC, "c"))
    store.complete([3], worker="w1")
    s = store.stats()
    assert s.counts == {"received": 1, "pending": 1, "done": 1, "dead": 0, "skipped": 0}
    assert (s.leased, s.dead_letters, s.oldest_unfinished_age) == (1, 0, 90.0)

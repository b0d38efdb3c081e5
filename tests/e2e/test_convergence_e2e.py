"""Order does not matter: whatever order and however often the hand-written stream of
convergence_stream arrives (8 concurrent senders, some events twice), HighLevel ends in the one
state the events' timestamps imply, written there by hand, and every event settles.

Black box: signed webhooks over HTTP in, the simulator's admin API out. The expectation is never
computed with tnhl's generator or transforms.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from convergence_harness import (
    SendReport,
    TnhlProcess,
    deliveries,
    finished,
    highlevel_state,
    is_settled,
    make_secret,
    orders,
    send_concurrently,
    state_problems,
    tnhl_env,
    wait_for,
)
from convergence_stream import (
    DELETED,
    EVENTS,
    EXPECTED,
    RECIPE_EVENTS,
    Event,
    contact_of,
    instant,
)
from e2e_harness import running_service, settings_for
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tnhl.simulator import RunningSimulator, SimulatorConfig, running_simulator
from tnhl.simulator._faults import FaultConfig, LatencyConfig
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.store import open_store

SENDERS = 8
SETTLE_SECONDS = 10.0  # after the last POST's answer
SHUFFLE_SEEDS = (11, 23, 47)
ORDERS = orders(EVENTS, SHUFFLE_SEEDS)
HOOK = "/webhooks/talknotes"


def _sim_config(**kw: Any) -> SimulatorConfig:
    return SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000), **kw)


def _counts(store: Any) -> dict[str, int]:
    return dict(store.stats().counts)


def _dead_lines(store: Any) -> list[str]:
    return [
        f"dead letter: {d.event.event_type} {d.event.event_id}: {d.reason}"
        for d in store.list_dead()
    ]


def _report(what: str, problems: list[str]) -> str:
    return f"{what}: {len(problems)} differences from the expected HighLevel state:\n  " + (
        "\n  ".join(problems)
    )


def _check_sent(report: SendReport, items: int) -> None:
    assert report.refused == [], report.refused
    assert report.accepted + report.duplicates == items


def _await_convergence(
    what: str,
    sim: RunningSimulator,
    store: Any,
    n: int,
    since: float,
    timeout: float = SETTLE_SECONDS,
    expected: Any = EXPECTED,
) -> None:
    """Every event settled within `timeout` s of `since`, then the state is exactly `expected`
    with no dead letter; a timeout reports the state differences found so far too."""
    deadline = since + timeout
    while not is_settled(_counts(store), n):
        if time.monotonic() > deadline:
            problems = state_problems(highlevel_state(sim.base_url, sim.location_id), expected)
            raise AssertionError(
                f"{what}: not settled {timeout:g} s after the last POST (events by state: "
                f"{_counts(store)}; {n} distinct events sent). "
                + _report("HighLevel so far", problems + _dead_lines(store))
            )
        time.sleep(0.02)
    problems = state_problems(highlevel_state(sim.base_url, sim.location_id), expected)
    problems += _dead_lines(store)
    assert not problems, _report(what, problems)


def _converge(
    data_dir: Path, what: str, events: Sequence[Event], *, seed: int, **settings: Any
) -> None:
    """One run: fresh simulator and service, the events sent concurrently with duplicates."""
    secret = make_secret()
    items = deliveries(events, seed=seed)
    with running_simulator(_sim_config()) as sim:
        cfg = settings_for(sim, data_dir, secret, rate_limit_interval=1.0, **settings)
        with running_service(cfg) as (service, base):
            report = send_concurrently(base + HOOK, items, secret, senders=SENDERS)
            _check_sent(report, len(items))
            _await_convergence(
                what, sim, service.store, len(events) + RECIPE_EVENTS, report.last_answer_at
            )


def test_the_stream_is_well_formed() -> None:
    """The hand-written stream has fixed unique webhook-ids, no timestamp ties, and duplicates."""
    ids = [e.webhook_id for e in EVENTS]
    assert len(ids) == len(set(ids))
    stamps = [instant(e.timestamp) for e in EVENTS]
    assert len(stamps) == len(set(stamps)), "two events share a moment: ties are ambiguous"
    people = {contact_of(e) for e in EVENTS}
    assert people == set(EXPECTED) | set(DELETED)
    items = deliveries(EVENTS, seed=0)
    assert len(items) > len(EVENTS)
    assert {d.webhook_id for d in items} == set(ids)
    # The written order really has an early and a late arrival (it is not sorted by time).
    assert ORDERS["as_written"] != ORDERS["by_timestamp"]


@pytest.mark.parametrize("order", list(ORDERS))
def test_converges_whatever_the_order(tmp_path: Path, order: str) -> None:
    """SQLite: any delivery order, 8 concurrent senders, duplicates -> the literal state."""
    _converge(tmp_path, f"order {order}", ORDERS[order], seed=list(ORDERS).index(order))


@pytest.mark.parametrize("order", list(ORDERS))
def test_converges_whatever_the_order_on_postgresql(
    tmp_path: Path, pg_database_url: str, order: str
) -> None:
    """PostgreSQL store: any delivery order, concurrent senders, duplicates -> the literal state."""
    _converge(
        tmp_path,
        f"order {order} (PostgreSQL)",
        ORDERS[order],
        seed=list(ORDERS).index(order),
        database_url=pg_database_url,
    )


@hsettings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],  # no shrinking: each example is a whole e2e run
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(order=st.permutations(range(len(EVENTS))))
def test_any_permutation_converges_to_the_in_order_state(order: list[int]) -> None:
    """Hypothesis: a drawn permutation of the stream ends in the same state as in order."""
    with tempfile.TemporaryDirectory() as d:
        _converge(Path(d), f"permutation {order}", [EVENTS[i] for i in order], seed=7)


ORPHAN_TIMEOUT = 3.0  # seconds; long enough to tell "held up by it" from "slow"
ORPHAN = Event(
    "cv-ghost-01",
    "task.created",
    "2026-11-02T09:00:00Z",
    {"id": "tn_t_ghost_1", "contactId": "tn_c_ghost", "taskName": "Call the ghost back"},
)


def test_orphan_task_goes_to_dead_letters_and_delays_no_one(tmp_path: Path) -> None:
    """A task whose contact never comes is dead after orphan_timeout; others are not held up."""
    people = ("tn_c_ada", "tn_c_frances", "tn_c_radia")
    others = [e for e in EVENTS if contact_of(e) in people]
    expected = {k: v for k, v in EXPECTED.items() if k in people}
    # The orphan and the others' contact events first, their tasks and notes once those
    # contacts are in HighLevel: nothing but the orphan ever waits for a contact here.
    contacts = [e for e in others if e.type.startswith("contact.")]
    children = [e for e in others if not e.type.startswith("contact.")]
    secret = make_secret()
    with running_simulator(_sim_config()) as sim:
        cfg = settings_for(
            sim, tmp_path, secret, rate_limit_interval=1.0, orphan_timeout=ORPHAN_TIMEOUT
        )
        with running_service(cfg) as (service, base):
            store = service.store
            items = deliveries([ORPHAN, *contacts], seed=3)
            report = send_concurrently(base + HOOK, items, secret, senders=SENDERS)
            _check_sent(report, len(items))
            wait_for(
                lambda: finished(_counts(store)) >= len(contacts),
                ORPHAN_TIMEOUT / 2,
                "the others' contacts in HighLevel",
            )
            items = deliveries(children, seed=4)
            report = send_concurrently(base + HOOK, items, secret, senders=SENDERS)
            _check_sent(report, len(items))
            # Everyone else is applied while the orphan still waits (before its timeout).
            deadline = report.last_answer_at + ORPHAN_TIMEOUT
            while True:
                counts = _counts(store)
                seen = highlevel_state(sim.base_url, sim.location_id)
                problems = state_problems(seen, expected)
                if finished(counts) >= len(others) + 4 and not problems:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"the others were not applied within the orphan's timeout "
                        f"({ORPHAN_TIMEOUT:g} s; events by state: {counts}). "
                        + _report("HighLevel so far", problems + _dead_lines(store))
                    )
                time.sleep(0.02)
            took = time.monotonic() - report.last_answer_at
            assert _dead_lines(store) == [], (
                f"the others took {took:.2f} s after the last POST, so long that the orphan's "
                f"timeout ({ORPHAN_TIMEOUT:g} s) dead-lettered it first: they were held up; "
                + "; ".join(_dead_lines(store))
            )
            # + 4: two of the others complete a task: per contact, the first-completed-task
            # recipe's row and the note event it stores.
            assert finished(counts) == len(others) + 4, f"the orphan is not waiting: {counts}"
            wait_for(
                lambda: store.list_dead() != [],
                ORPHAN_TIMEOUT + 8,
                "the orphan task in the dead-letter queue",
            )
            dead = store.list_dead()
            assert [d.event.event_id for d in dead] == [ORPHAN.webhook_id], _dead_lines(store)
            assert "tn_c_ghost" in dead[0].reason, dead[0].reason
            waited = dead[0].dead_at - dead[0].event.received_at
            assert waited >= ORPHAN_TIMEOUT - 0.1, f"dead after {waited:.2f} s, before the timeout"
            assert is_settled(_counts(store), len(others) + 4 + 1), _counts(store)
            assert state_problems(highlevel_state(sim.base_url, sim.location_id), expected) == []


def test_sigkill_twice_mid_stream_still_converges_exactly_once(tmp_path: Path) -> None:
    """`tnhl run` SIGKILLed twice with events in flight, restarted: the literal state, once."""
    secret = make_secret()
    events = ORDERS[f"shuffle_{SHUFFLE_SEEDS[0]}"]
    items = deliveries(events, seed=5)
    n = len(events) + RECIPE_EVENTS
    # Latency and a tight limit in tnhl keep work in flight long enough to kill into.
    faults = FaultConfig(latency_ms=LatencyConfig(kind="fixed", fixed_ms=20))
    with running_simulator(_sim_config(faults=faults)) as sim:
        tnhl = TnhlProcess(
            tnhl_env(
                TNHL_HIGHLEVEL_BASE_URL=sim.base_url,
                TNHL_HIGHLEVEL_TOKEN=sim.token,
                TNHL_LOCATION_ID=sim.location_id,
                TNHL_TALKNOTES_SECRET=secret,
                TNHL_DATA_DIR=str(tmp_path),
            )
        )
        tnhl.start()
        store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
        result: list[SendReport] = []
        sender = threading.Thread(
            target=lambda: result.append(
                send_concurrently(tnhl.url + HOOK, items, secret, senders=SENDERS, give_up_after=60)
            ),
            daemon=True,
        )
        sender.start()
        try:
            killed_at = tnhl.kill_twice_mid_work(lambda: _counts(store), n)
            sender.join(90)
            assert result, "the sender did not finish"
            _check_sent(result[0], len(items))
            _await_convergence(
                "after two SIGKILLs", sim, store, n, result[0].last_answer_at, timeout=30
            )
        finally:
            tnhl.stop()
            store.close()
    assert len(killed_at) == 2
    assert all(finished(c) < n for c in killed_at), killed_at

"""Finished events deleted after `retention_days` by the workers' sweep, on a real SQLite
store with a clock the test moves: what goes (old done or skipped events, with their calls),
what stays (recent ones, dead letters), how often, and in what batches; and the setting's
floor of a week."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tnhl.store import EventCall, InboundEvent, Settlement, SqlStore, open_store
from tnhl.sync import SettingsError, load_settings
from tnhl.sync._delta import event_delta
from tnhl.sync._retention import Retention

DAY = 86_400.0
START = 1_800_000_000.0
CALL = EventCall(START, "create-contact", "POST /contacts/", 201, 0.01, "{}")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _contact(store: SqlStore, n: int, at: float) -> None:
    data = {"id": f"c{n}", "email": f"c{n}@x.io"}
    body = json.dumps(
        {"type": "contact.created", "timestamp": "2026-12-01T09:00:00Z", "data": data}
    )
    event = InboundEvent("talknotes", f"evt-{n}", "contact.created", "loc", f"c{n}", body, at)
    assert store.add_inbound(event)


def _settle_all(store: SqlStore, outcome: str, now: float) -> None:
    for claim in store.claim("w", fold=event_delta, now=now, limit=100):
        store.settle([(claim, Settlement(outcome, "test", calls=(CALL,)))])  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqlStore:
    """The store and the retention share the test's clock (the store stamps done_at)."""
    return open_store(f"sqlite:///{tmp_path / 'tnhl.db'}", clock=clock)


def test_old_finished_events_go_with_their_calls_recent_and_dead_ones_stay(
    store: SqlStore, clock: Clock
) -> None:
    """Three events done and one dead 31 days ago, one done yesterday: a sweep with 30 days
    deletes the three old done ones and their calls, keeps the dead one and yesterday's."""
    for n in (1, 2, 3):
        _contact(store, n, START)
    _settle_all(store, "applied", START)
    _contact(store, 4, START)
    _settle_all(store, "dead", START)
    clock.now = START + 30 * DAY
    _contact(store, 5, clock.now)
    _settle_all(store, "applied", clock.now)
    clock.now = START + 31 * DAY
    assert Retention(store, 30, clock=clock).sweep() == 3
    assert [(e.event_id, e.state) for e in store.list_events()] == [
        ("evt-4", "dead"),
        ("evt-5", "done"),
    ]
    assert [store.event_calls(i) for i in (1, 2, 3)] == [[], [], []]
    assert store.event_calls(5) == [CALL]
    assert len(store.list_dead()) == 1


def test_it_runs_once_an_hour_in_batches(store: SqlStore, clock: Clock) -> None:
    """Five old events, batches of 2, at most 2 batches a sweep: the first sweep deletes 4,
    a second sweep within the hour nothing, one an hour later the last."""
    for n in range(1, 6):
        _contact(store, n, START)
    _settle_all(store, "applied", START)
    clock.now = START + 8 * DAY
    retention = Retention(store, 7, clock=clock, every=3600.0, batch=2, most=2)
    assert retention.sweep() == 4
    clock.now += 3599
    assert retention.sweep() == 0
    clock.now += 1
    assert retention.sweep() == 1
    assert store.list_events() == []


def test_zero_keeps_everything(store: SqlStore, clock: Clock) -> None:
    """retention_days 0: a year-old done event stays."""
    _contact(store, 1, START)
    _settle_all(store, "applied", START)
    clock.now = START + 365 * DAY
    assert Retention(store, 0, clock=clock).sweep() == 0
    assert len(store.list_events()) == 1


@pytest.mark.parametrize("days", [0.0, 7.0, 90.0])
def test_the_setting_takes_zero_or_a_week_or_more(days: float) -> None:
    """0, 7 and 90 days are taken as given."""
    assert load_settings(location_id="loc", retention_days=days).retention_days == days


def test_less_than_a_week_is_refused_naming_the_setting() -> None:
    """3 days would forget ids a sender may still deliver again: refused, naming
    retention_days and why."""
    with pytest.raises(SettingsError) as info:
        load_settings(location_id="loc", retention_days=3)
    assert "retention_days" in str(info.value)
    assert "at least 7" in str(info.value)

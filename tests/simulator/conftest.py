"""Fixtures for the simulator's API tests: a real simulator on a loopback port."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tnhl.simulator import RunningSimulator, SimulatorConfig, running_simulator


class StepClock:
    """A clock that moves 1 ms per reading, so records get distinct, ordered timestamps."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """The config `sim` starts with; override in a module to change it."""
    return SimulatorConfig(seed=7)


@pytest.fixture
def sim(sim_config: SimulatorConfig) -> Iterator[RunningSimulator]:
    with running_simulator(sim_config, now=StepClock(), rng=random.Random(7)) as running:
        yield running


@pytest.fixture
def client(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with sim.client(timeout=10) as c:
        yield c

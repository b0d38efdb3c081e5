"""`running_simulator`: a real simulator on a loopback port, for tests, demos and benchmarks.

with running_simulator() as sim:
    httpx.get(f"{sim.base_url}/contacts/abc", headers=sim.headers)
    sim.state.all("contact"); sim.log.counts()
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tnhl.simulator._api import API_VERSION
from tnhl.simulator._app import SimulatorParts, build_simulator
from tnhl.simulator._config import SimulatorConfig
from tnhl.simulator._reqlog import RequestLog
from tnhl.simulator._serve import ServeError, serve_in_thread
from tnhl.simulator._state import SimState

__all__ = ["RunningSimulator", "running_simulator"]


@dataclass
class RunningSimulator:
    """A simulator serving at `base_url`; `parts` reaches its internals."""

    base_url: str
    parts: SimulatorParts

    @property
    def token(self) -> str:
        return self.parts.token

    @property
    def location_id(self) -> str:
        return self.parts.location_id

    @property
    def state(self) -> SimState:
        return self.parts.state

    @property
    def log(self) -> RequestLog:
        return self.parts.log

    @property
    def headers(self) -> dict[str, str]:
        """What every contacts call needs: the bearer token and the Version header."""
        return {"Authorization": f"Bearer {self.token}", "Version": API_VERSION}

    def reset(self) -> None:
        """Forget every record, the request log and the rate-limit counts (settings stay)."""
        self.parts.state.reset()
        self.parts.log.clear()
        self.parts.limiter.reset()

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client pointed at the simulator with the default token and Version."""
        return httpx.Client(base_url=self.base_url, headers=self.headers, **kwargs)

    def __repr__(self) -> str:  # no token in reprs
        return f"RunningSimulator(base_url={self.base_url!r}, location_id={self.location_id!r})"


@contextmanager
def running_simulator(
    config: SimulatorConfig | None = None,
    *,
    token: str | None = None,
    location_id: str | None = None,
    now: Callable[[], datetime] | None = None,
    rng: random.Random | None = None,
    webhook_transport: httpx.BaseTransport | None = None,
    startup_timeout: float = 10.0,
) -> Iterator[RunningSimulator]:
    """Serve a simulator on 127.0.0.1:<free port> in a thread; wait until it answers.

    Readiness is checked by polling `/_admin/health` until a deadline, so the first request of
    a test never races the server's start. Stops and joins the server thread on exit.
    """
    cfg = (config or SimulatorConfig()).with_defaults(token=token, location_id=location_id)
    kwargs: dict[str, Any] = {"rng": rng, "webhook_transport": webhook_transport}
    if now is not None:
        kwargs["now"] = now
    parts = build_simulator(cfg, **kwargs)
    try:
        with serve_in_thread(parts.app, startup_timeout=startup_timeout) as base_url:
            _wait_ready(base_url, startup_timeout)
            yield RunningSimulator(base_url, parts)
    finally:
        parts.close()


def _wait_ready(base_url: str, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{base_url}/_admin/health").status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.01)
    raise ServeError(f"the simulator did not answer within {timeout} s ({last!r})")

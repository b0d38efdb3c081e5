"""Helpers for the end-to-end tests: a service wired to a running simulator, and waiting with
deadlines. (Expected states are literals in convergence_stream.py, never computed here.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tnhl.highlevel._core import RetryPolicy
from tnhl.simulator import RunningSimulator, serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes._generator import signed_requests

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def settings_for(sim: RunningSimulator, data_dir: Path, secret: str, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "highlevel_base_url": sim.base_url,
        "highlevel_token": sim.token,
        "location_id": sim.location_id,
        "talknotes_secret": secret,
        "data_dir": data_dir,
        "workers": 3,
        "poll_interval": 0.02,
        "sweep_interval": 0.2,
        "retry_scale": 1e-4,
        "http_timeout": 2.0,
    }
    values.update(kw)
    if values.get("highlevel_token") is None:
        values.pop("highlevel_token")
    return load_settings(**values)


def talknotes_sender(
    base: str, secret: str, prefix: str = "s"
) -> Callable[[list[dict[str, Any]]], None]:
    """Post events to a service's intake, signed; each call's webhook ids are its own (a
    batch sent twice is the same events under new ids, as TalkNotes re-sending them). A
    second sender to the same store needs its own `prefix`."""
    calls = [0]

    def send(events: list[dict[str, Any]]) -> None:
        calls[0] += 1
        for headers, body in signed_requests(
            events, secret, timestamp=int(time.time()), id_prefix=f"{prefix}{calls[0]}"
        ):
            r = httpx.post(f"{base}/webhooks/talknotes", content=body, headers=headers)
            assert r.status_code == 202, r.text

    return send


@contextmanager
def running_service(settings: Any) -> Iterator[tuple[Service, str]]:
    service = Service.from_settings(settings, retry=FAST_RETRY)
    service.start()
    try:
        with serve_in_thread(service.app) as base:
            yield service, base
    finally:
        service.stop()

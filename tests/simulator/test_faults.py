"""Fault injection over real loopback HTTP: every fault kind, with a fixed-seed rng."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tnhl.simulator._faults import FaultConfig, FaultMiddleware, StormConfig
from tnhl.simulator._faults_drop import drop_connection
from tnhl.simulator._serve import serve_in_thread

DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


class Api:
    """A stand-in API: counts the requests that reached it."""

    def __init__(self) -> None:
        self.hits = 0
        self.bodies: list[bytes] = []  # what each POST carried, as the API read it
        self.lock = threading.Lock()

    async def contacts(self, request: Request) -> Response:
        body = await request.body() if request.method == "POST" else None
        with self.lock:
            self.hits += 1
            if body is not None:
                self.bodies.append(body)
        return JSONResponse({"contacts": []})

    async def oauth(self, request: Request) -> Response:
        return JSONResponse({"access_token": "x"})


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def served(
    config: FaultConfig, *, seed: int = 1234, **kwargs: Any
) -> Iterator[tuple[httpx.Client, FaultMiddleware, Api]]:
    api = Api()
    inner = Starlette(
        routes=[
            Route("/contacts/", api.contacts, methods=["GET", "POST"]),
            Route("/oauth/token", api.oauth, methods=["POST"]),
        ]
    )
    middleware = FaultMiddleware(inner, config, rng=random.Random(seed), **kwargs)
    app = Starlette(routes=[*middleware.admin_routes()])
    app.mount("/", middleware)
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=5) as client:
        yield client, middleware, api


def _statuses(client: httpx.Client, n: int) -> list[int]:
    return [client.get("/contacts/").status_code for _ in range(n)]


def test_no_faults_by_default() -> None:
    """With the default config every request reaches the API."""
    with served(FaultConfig()) as (client, _, api):
        assert _statuses(client, 5) == [200] * 5
        assert api.hits == 5


def test_error_rates_per_status_are_seeded() -> None:
    """Error rates give HighLevel-shaped errors in proportion, identically for one seed."""
    config = FaultConfig(error_rates={500: 0.3, 503: 0.2})
    with served(config, seed=7) as (client, _, api):
        first = _statuses(client, 120)
    with served(config, seed=7) as (client, _, _):
        second = _statuses(client, 120)
    assert first == second
    assert 20 <= first.count(500) <= 52
    assert 10 <= first.count(503) <= 38
    assert set(first) == {200, 500, 503}
    assert api.hits == first.count(200)
    with served(FaultConfig(error_rates={502: 1.0})) as (client, _, _):
        r = client.get("/contacts/")
        assert r.status_code == 502
        assert r.json() == {"statusCode": 502, "message": "Injected fault", "error": "Bad Gateway"}


def test_fixed_latency_delays_for_real() -> None:
    """A fixed 150 ms latency makes each answer take at least 150 ms of real time."""
    config = FaultConfig.model_validate({"latency_ms": {"kind": "fixed", "fixed_ms": 150}})
    with served(config) as (client, _, _):
        started = time.monotonic()
        assert client.get("/contacts/").status_code == 200
        assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(
    "latency",
    [
        {"kind": "uniform", "min_ms": 20, "max_ms": 80},
        {"kind": "normal", "mean_ms": 50, "stddev_ms": 10},
    ],
)
def test_latency_distributions_are_seeded(latency: dict[str, Any]) -> None:
    """Sampled delays follow the distribution and repeat exactly for one seed."""
    runs = []
    for _ in range(2):
        delays: list[float] = []

        async def record(seconds: float, delays: list[float] = delays) -> None:
            delays.append(seconds)

        with served(FaultConfig.model_validate({"latency_ms": latency}), sleep=record) as (
            client,
            _,
            _,
        ):
            assert _statuses(client, 30) == [200] * 30
        runs.append(delays)
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 30
    if latency["kind"] == "uniform":
        assert all(0.02 <= d <= 0.08 for d in runs[0])
    else:
        assert 0.04 <= sum(runs[0]) / 30 <= 0.06


def test_timeout_outlasts_the_client_and_still_applies() -> None:
    """A timeout delays past the client's timeout; the request is processed afterwards."""
    config = FaultConfig(timeout_rate=1.0, timeout_seconds=0.6)
    with served(config) as (client, _, api):
        with pytest.raises(httpx.ReadTimeout):
            client.get("/contacts/", timeout=httpx.Timeout(0.2, connect=5))
        deadline = time.monotonic() + 5
        while api.hits == 0:
            assert time.monotonic() < deadline, "the delayed request was never processed"
            time.sleep(0.02)


def test_timed_out_post_is_still_processed_with_its_body() -> None:
    """A POST that times out reaches the API afterwards with its whole body, as a slow
    HighLevel would make the contact after the client gave up (the outcome tnhl must read
    back); until the body was read first, the API found the client gone and made nothing."""
    config = FaultConfig(timeout_rate=1.0, timeout_seconds=0.6)
    with served(config) as (client, _, api):
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                "/contacts/",
                content=b'{"firstName": "Ada"}',
                timeout=httpx.Timeout(0.2, connect=5),
            )
        deadline = time.monotonic() + 5
        while not api.bodies:
            assert time.monotonic() < deadline, "the delayed POST was never processed"
            time.sleep(0.02)
        assert api.bodies == [b'{"firstName": "Ada"}']


def test_dropped_connection_is_not_a_500() -> None:
    """drop_rate 1 closes the socket with no response: httpx raises, for GET and POST."""
    with served(FaultConfig(drop_rate=1.0)) as (client, _, api):
        with pytest.raises(DROPPED):
            client.get("/contacts/")
        with pytest.raises(DROPPED):
            client.post("/contacts/", json={"firstName": "x" * 5000})
        assert api.hits == 0


def test_drop_rate_is_seeded_and_server_survives() -> None:
    """With drop_rate 0.5 a seeded run mixes drops and answers, the same way twice."""
    outcomes = []
    for _ in range(2):
        run = []
        with served(FaultConfig(drop_rate=0.5), seed=3) as (client, _, _):
            for _ in range(30):
                try:
                    run.append(client.get("/contacts/").status_code)
                except DROPPED:
                    run.append(-1)
        outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert 5 <= outcomes[0].count(-1) <= 25
    assert set(outcomes[0]) == {-1, 200}


def test_drop_fallback_truncates_the_response() -> None:
    """Without a reachable transport the drop is a truncated body, still a client-side error."""

    class Opaque:
        def __init__(self, send: Any) -> None:
            self.inner = send

        async def __call__(self, message: Any) -> None:
            await self.inner(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await drop_connection(scope, receive, Opaque(send))

    with serve_in_thread(app) as base, pytest.raises(DROPPED):
        httpx.get(base + "/", timeout=5)


def test_429_storm_for_n_requests() -> None:
    """A storm of 3 requests answers 429 with Remaining 0, then traffic flows again."""
    with served(FaultConfig(storm_429=StormConfig(requests=3))) as (client, _, _):
        limited = client.get("/contacts/")
        assert limited.status_code == 429
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert limited.headers["x-ratelimit-max"] == "100"
        assert limited.json()["message"] == "Too many requests"
        assert _statuses(client, 3) == [429, 429, 200]


def test_429_storm_for_a_duration() -> None:
    """A timed storm lasts until its end on the (injected) clock."""
    clock = Clock()
    config = FaultConfig(storm_429=StormConfig(seconds=5))
    with served(config, clock=clock) as (client, _, _):
        assert _statuses(client, 3) == [429] * 3
        clock.now += 5
        assert _statuses(client, 2) == [200] * 2


def test_exhausted_daily_quota() -> None:
    """An exhausted daily quota answers 429 with X-RateLimit-Daily-Remaining 0."""
    with served(FaultConfig(daily_quota_exhausted=True)) as (client, _, api):
        r = client.get("/contacts/")
        assert r.status_code == 429
        assert r.headers["x-ratelimit-daily-remaining"] == "0"
        assert r.headers["x-ratelimit-limit-daily"] == "200000"
        assert api.hits == 0


def test_admin_and_oauth_paths_are_exempt() -> None:
    """Faults never touch /oauth or /_admin, so a test can always turn them off."""
    with served(FaultConfig(error_rates={500: 1.0}, drop_rate=0.0)) as (client, _, _):
        assert client.post("/oauth/token").status_code == 200
        assert client.get("/_admin/faults").status_code == 200
        assert client.get("/contacts/").status_code == 500


def test_admin_replaces_config_at_run_time() -> None:
    """PUT /_admin/faults changes behaviour at once; DELETE clears; GET shows the config."""
    with served(FaultConfig()) as (client, middleware, _):
        assert client.get("/contacts/").status_code == 200
        r = client.put("/_admin/faults", json={"error_rates": {"503": 1.0}})
        assert r.status_code == 200
        assert r.json()["error_rates"] == {"503": 1.0}
        assert middleware.config.error_rates == {503: 1.0}
        assert client.get("/contacts/").status_code == 503
        assert client.get("/_admin/faults").json()["error_rates"] == {"503": 1.0}
        assert client.put("/_admin/faults", json={"storm_429": {"requests": 1}}).status_code == 200
        assert _statuses(client, 2) == [429, 200]
        assert client.delete("/_admin/faults").status_code == 200
        assert client.get("/contacts/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rates": {"200": 0.5}}, "error_rates"),
        ({"error_rates": {"500": 0.7, "503": 0.7}}, "error_rates"),
        ({"drop_rate": 2}, "drop_rate"),
        ({"latency_ms": {"kind": "pareto"}}, "latency_ms.kind"),
        ({"storm_429": {}}, "storm_429"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_admin_validation_names_the_field(body: dict[str, Any], field: str) -> None:
    """A bad config is refused with 422 naming the field, and the old config stays."""
    with served(FaultConfig(error_rates={500: 0.1})) as (client, middleware, _):
        r = client.put("/_admin/faults", json=body)
        assert r.status_code == 422
        assert any(m.startswith(field) for m in r.json()["message"]), r.json()
        assert middleware.config.error_rates == {500: 0.1}


def test_as_starlette_middleware_too() -> None:
    """Installed with Starlette's Middleware(...) (behind its error middleware) drops still work."""
    api = Api()
    app = Starlette(
        routes=[Route("/contacts/", api.contacts)],
        middleware=[Middleware(FaultMiddleware, config=FaultConfig(drop_rate=1.0))],
    )
    with serve_in_thread(app) as base, pytest.raises(DROPPED):
        httpx.get(base + "/contacts/", timeout=5)


def test_config_rejects_bad_values_in_python() -> None:
    """FaultConfig validation errors name the field when built in code."""
    with pytest.raises(ValidationError, match="timeout_rate"):
        FaultConfig(timeout_rate=-1)


def test_sleep_is_injectable() -> None:
    """The injected sleep receives the timeout duration instead of waiting for real."""
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    with served(FaultConfig(timeout_rate=1.0, timeout_seconds=30), sleep=record) as (
        client,
        _,
        api,
    ):
        assert client.get("/contacts/").status_code == 200
    assert waited == [30]
    assert api.hits == 1

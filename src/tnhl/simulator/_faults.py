"""Fault injection for the simulator's API: errors, latency, timeouts, drops, 429 storms, quota.

Faults are what tnhl's retry, rate-limit and exactly-once rules exist for, so each must look to
a client exactly as the real failure does:

- an error is HighLevel's `{statusCode, message, error}` body with that status;
- latency delays the answer; a timeout delays it past the client's timeout (the request is still
  processed afterwards, as a slow server would: the client cannot know whether it took effect);
- a dropped connection closes the socket without a byte of response, so httpx raises
  RemoteProtocolError ("Server disconnected") or ReadError, never a 500 (see `_drop`);
- a 429 storm answers 429 with the rate-limit headers (Remaining 0) for N requests or N seconds;
- an exhausted daily quota answers 429 with `X-RateLimit-Daily-Remaining: 0`.

The config can be replaced at run time through GET/PUT/DELETE /_admin/faults.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tnhl.simulator._faults_drop import drop_connection
from tnhl.simulator._http import error_response
from tnhl.simulator._ratelimit import RateLimitConfig

__all__ = ["FaultConfig", "FaultMiddleware", "LatencyConfig", "StormConfig"]

EXEMPT_PREFIXES = ("/_admin", "/oauth", "/v2/oauth")
_MESSAGES = {429: "Too many requests"}


class LatencyConfig(BaseModel):
    """Delay before every answer: none, fixed, uniform(min, max) or normal(mean, stddev)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "fixed", "uniform", "normal"] = "none"
    fixed_ms: float = Field(0.0, ge=0)
    min_ms: float = Field(0.0, ge=0)
    max_ms: float = Field(0.0, ge=0)
    mean_ms: float = Field(0.0, ge=0)
    stddev_ms: float = Field(0.0, ge=0)

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds (never negative)."""
        if self.kind == "fixed":
            ms = self.fixed_ms
        elif self.kind == "uniform":
            ms = rng.uniform(self.min_ms, max(self.min_ms, self.max_ms))
        elif self.kind == "normal":
            ms = rng.gauss(self.mean_ms, self.stddev_ms)
        else:
            ms = 0.0
        return max(ms, 0.0) / 1000.0


class StormConfig(BaseModel):
    """A burst of 429s for the next `requests` requests and/or `seconds` from when it is set."""

    model_config = ConfigDict(extra="forbid")

    requests: int | None = Field(None, ge=1)
    seconds: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_bound(self) -> StormConfig:
        if self.requests is None and self.seconds is None:
            raise ValueError("storm_429: set requests, seconds or both")
        return self


class FaultConfig(BaseModel):
    """What goes wrong, and how often; the default is nothing."""

    model_config = ConfigDict(extra="forbid")

    error_rates: dict[int, float] = Field(default_factory=dict)
    latency_ms: LatencyConfig = Field(default_factory=LatencyConfig)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    timeout_seconds: float = Field(30.0, ge=0)
    drop_rate: float = Field(0.0, ge=0, le=1)
    storm_429: StormConfig | None = None
    daily_quota_exhausted: bool = False

    @field_validator("error_rates")
    @classmethod
    def _rates(cls, rates: dict[int, float]) -> dict[int, float]:
        for status, rate in rates.items():
            if not 400 <= status <= 599:
                raise ValueError(f"status {status} is not an HTTP error status (400-599)")
            if not 0 <= rate <= 1:
                raise ValueError(f"rate for {status} must be between 0 and 1, got {rate}")
        if sum(rates.values()) > 1:
            raise ValueError("the rates add up to more than 1")
        return rates


async def _buffered(receive: Receive) -> Receive:
    """`receive` with the whole request body already read: it hands the body over in one
    message, then passes on what the server says next (a disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive  # the client left before its body was read: nothing to replay
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    return replay


def _describe(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "body"
        out.append(f"{where}: {err['msg']}")
    return out


class FaultMiddleware:
    """Pure ASGI middleware injecting `FaultConfig`'s faults into API requests."""

    def __init__(
        self,
        app: ASGIApp,
        config: FaultConfig | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rate_limit: RateLimitConfig | None = None,
        interval_ms: int | None = None,
        exempt_prefixes: tuple[str, ...] = EXEMPT_PREFIXES,
    ) -> None:
        self.app = app
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._limits = rate_limit or RateLimitConfig()
        # The window really enforced (time-scaled), which injected 429s must report too.
        self._interval_ms = interval_ms if interval_ms is not None else self._limits.interval_ms
        self._exempt = exempt_prefixes
        self._lock = threading.Lock()
        self.config = config or FaultConfig()

    @property
    def config(self) -> FaultConfig:
        return self._config

    @config.setter
    def config(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            storm = config.storm_429
            self._storm_left = None if storm is None else storm.requests
            self._storm_until = (
                None if storm is None or storm.seconds is None else self._clock() + storm.seconds
            )

    def _in_storm(self) -> bool:
        with self._lock:
            if self._config.storm_429 is None:
                return False
            if self._storm_until is not None and self._clock() >= self._storm_until:
                return False
            if self._storm_left is not None:
                if self._storm_left <= 0:
                    return False
                self._storm_left -= 1
            return True

    def _limit_headers(self, *, daily_left: int | None) -> dict[str, str]:
        limits = self._limits
        return {
            "X-RateLimit-Max": str(limits.burst),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Interval-Milliseconds": str(self._interval_ms),
            "X-RateLimit-Limit-Daily": str(limits.daily),
            "X-RateLimit-Daily-Remaining": str(limits.daily if daily_left is None else daily_left),
        }

    def _pick_error(self, rates: dict[int, float]) -> int | None:
        draw = self._rng.random()
        total = 0.0
        for status in sorted(rates):
            total += rates[status]
            if draw < total:
                return status
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self._exempt):
            await self.app(scope, receive, send)
            return
        config = self.config
        delay = config.latency_ms.sample(self._rng)
        if delay > 0:
            await self._sleep(delay)
        response: Response | None = None
        if config.daily_quota_exhausted:
            response = error_response(
                429, "Too many requests", headers=self._limit_headers(daily_left=0)
            )
        elif self._in_storm():
            response = error_response(
                429, "Too many requests", headers=self._limit_headers(daily_left=None)
            )
        elif config.drop_rate and self._rng.random() < config.drop_rate:
            await drop_connection(scope, receive, send)
            return
        elif config.timeout_rate and self._rng.random() < config.timeout_rate:
            # Read the body first: the client gives up during the sleep, and the app would
            # then find a disconnect instead of the body it must still act on.
            receive = await _buffered(receive)
            await self._sleep(config.timeout_seconds)
        elif config.error_rates:
            status = self._pick_error(config.error_rates)
            if status is not None:
                response = error_response(status, _MESSAGES.get(status, "Injected fault"))
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def admin_routes(self) -> list[BaseRoute]:
        """GET /_admin/faults shows the config; PUT replaces it; DELETE clears every fault."""

        async def show(request: Request) -> Response:
            return JSONResponse(self.config.model_dump(mode="json"))

        async def replace(request: Request) -> Response:
            try:
                raw = json.loads(await request.body() or b"{}")
            except ValueError:
                return error_response(422, ["body: must be a JSON object"])
            try:
                config = FaultConfig.model_validate(raw)
            except ValidationError as exc:
                return error_response(422, _describe(exc))
            self.config = config
            return JSONResponse(config.model_dump(mode="json"))

        async def clear(request: Request) -> Response:
            self.config = FaultConfig()
            return JSONResponse(self.config.model_dump(mode="json"))

        return [
            Route("/_admin/faults", show, methods=["GET"]),
            Route("/_admin/faults", replace, methods=["PUT"]),
            Route("/_admin/faults", clear, methods=["DELETE"]),
        ]

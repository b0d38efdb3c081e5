"""Assembling the simulator: state, tokens, limits, webhooks, faults, routes, one ASGI app."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tnhl.simulator._admin import AdminGuard, admin_routes
from tnhl.simulator._api import ApiContext, RequestLogMiddleware, operation_routes
from tnhl.simulator._config import SimulatorConfig
from tnhl.simulator._faults import FaultMiddleware
from tnhl.simulator._handlers import CORE_OPS
from tnhl.simulator._handlers_more import MORE_OPS
from tnhl.simulator._http import SimHTTPError, error_response, from_exception
from tnhl.simulator._ids import IdFactory
from tnhl.simulator._oauth import oauth_routes
from tnhl.simulator._persist import SqliteStateStore
from tnhl.simulator._ratelimit import SimRateLimiter
from tnhl.simulator._reqlog import RequestLog
from tnhl.simulator._state import LocationSettings, SimState
from tnhl.simulator._tokens import TokenRegistry
from tnhl.simulator._webhooks import WebhookDispatcher

__all__ = ["OPERATIONS", "SimulatorParts", "build_simulator", "create_app"]

# Literal-segment routes first, so `/contacts/search` is never read as a contact id.
OPERATIONS = MORE_OPS[:6] + CORE_OPS + MORE_OPS[6:]


@dataclass
class SimulatorParts:
    """The pieces of one simulator, for tests that need to reach past HTTP."""

    config: SimulatorConfig
    app: Starlette
    state: SimState
    tokens: TokenRegistry
    limiter: SimRateLimiter
    webhooks: WebhookDispatcher
    log: RequestLog
    store: SqliteStateStore | None = None

    @property
    def token(self) -> str:
        return self.config.default_token

    @property
    def location_id(self) -> str:
        return self.config.default_location_id

    def close(self) -> None:
        """Stop webhook delivery and close the state file (the app's shutdown does it too)."""
        self.webhooks.close()
        if self.store is not None:
            self.store.close()


def _default_now() -> datetime:
    return datetime.now(UTC)


def build_simulator(
    config: SimulatorConfig,
    *,
    now: Callable[[], datetime] = _default_now,
    monotonic: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    webhook_transport: httpx.BaseTransport | None = None,
) -> SimulatorParts:
    """Wire every part from `config` (after `with_defaults()`); clocks and randomness injectable."""
    config = config.with_defaults() if not config.tokens else config
    rng = rng or random.Random(config.seed)
    store = SqliteStateStore(config.state_file) if config.state_file is not None else None
    state = SimState(ids=IdFactory(rng), clock=now, store=store)
    for loc in config.locations:
        state.ensure_location(
            LocationSettings(
                loc.id,
                name=loc.name,
                allow_duplicates=loc.allow_duplicates,
                duplicate_priority=list(loc.duplicate_priority),
            )
        )
    # Locations an OAuth app is installed at exist too, with the default duplicate rules.
    for client in config.oauth_clients:
        for loc_id in client.locations:
            state.ensure_location(LocationSettings(loc_id))
    tokens = TokenRegistry(clock=lambda: now().timestamp())
    for pit in config.tokens:
        tokens.add_pit(
            pit.token.get_secret_value(),
            location_id=pit.location_id,
            scopes=pit.scopes,
            app_id=pit.app_id,
        )
    for client in config.oauth_clients:
        tokens.add_client(
            client.client_id,
            client.client_secret.get_secret_value(),
            company_id=client.company_id,
            locations=client.locations,
            scopes=client.scopes,
        )
    limiter = SimRateLimiter(config.rate_limit, clock=monotonic, time_scale=config.time_scale)
    webhooks = WebhookDispatcher(
        config.webhooks,
        time_scale=config.time_scale,
        transport=webhook_transport,
        rng=random.Random(rng.random()),
    )
    log = RequestLog()
    ctx = ApiContext(state=state, authorizer=tokens, log=log, limiter=limiter, events=webhooks)
    faults = FaultMiddleware(
        _not_found_app,
        config.faults,
        rng=random.Random(rng.random()),
        rate_limit=config.rate_limit,
        interval_ms=limiter.interval_ms,
    )

    def on_reset() -> None:
        limiter.reset()

    routes: list[BaseRoute] = [
        *admin_routes(state, log, events=webhooks, on_reset=on_reset),
        *webhooks.admin_routes(),
        *faults.admin_routes(),
        *oauth_routes(tokens),
        *operation_routes(OPERATIONS, ctx),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        webhooks.close()
        if store is not None:
            store.close()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AdminGuard, allow_remote=config.admin_remote),
            Middleware(RequestLogMiddleware, log=log, clock=now),
            Middleware(_FaultsShim, faults=faults),
        ],
        exception_handlers={
            SimHTTPError: _sim_error,
            404: _not_found,
            405: _method_not_allowed,
        },
        lifespan=lifespan,
    )
    return SimulatorParts(config, app, state, tokens, limiter, webhooks, log, store)


def create_app(config: SimulatorConfig) -> Starlette:
    """The simulator as an ASGI app (see `build_simulator` for its parts)."""
    return build_simulator(config).app


async def _sim_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimHTTPError)
    return from_exception(exc)


async def _not_found(request: Request, exc: Exception) -> Response:
    # NestJS's answer for an unknown route.
    return error_response(404, f"Cannot {request.method} {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(404, f"Cannot {request.method} {request.url.path}")


async def _not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("placeholder app; the shim supplies the real one")


class _FaultsShim:
    """Lets the one `FaultMiddleware` (whose admin routes are already mounted) wrap the router."""

    def __init__(self, app: ASGIApp, faults: FaultMiddleware) -> None:
        faults.app = app
        self._faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._faults(scope, receive, send)

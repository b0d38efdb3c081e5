"""The request pipeline every contacts operation goes through, in HighLevel's order.

Version header, then the bearer token and its scope and location (guards run before pipes in
NestJS), then the rate limit, then body parsing and DTO validation, then the handler. Every
answer, errors included, carries the rate-limit headers once the limiter has counted the call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tnhl.simulator._http import SimHTTPError, error_response, from_exception
from tnhl.simulator._reqlog import LoggedRequest, RequestLog
from tnhl.simulator._state import SimState, iso
from tnhl.simulator._validate import Dto, validate_body

__all__ = [
    "API_VERSION",
    "ApiContext",
    "Authorizer",
    "Call",
    "EventSink",
    "Op",
    "RateLimiter",
    "RequestLogMiddleware",
    "operation_routes",
]

API_VERSION = "2021-07-28"
OPERATION_KEY = "tnhl.operation"
LOCATION_KEY = "tnhl.location"


class PrincipalLike(Protocol):
    @property
    def app_id(self) -> str: ...
    @property
    def location_id(self) -> str | None: ...


class Authorizer(Protocol):
    def authorize(
        self, authorization: str | None, *, scope: str | None, location_id: str | None
    ) -> PrincipalLike: ...


class RateLimiter(Protocol):
    def check(self, app_id: str, location_id: str) -> tuple[bool, dict[str, str]]: ...


class EventSink(Protocol):
    def emit(self, event_type: str, location_id: str, data: dict[str, Any]) -> None: ...


@dataclass
class ApiContext:
    state: SimState
    authorizer: Authorizer
    log: RequestLog
    limiter: RateLimiter | None = None
    events: EventSink | None = None


@dataclass
class Call:
    """What a handler gets: validated body, path params, query, and who is calling."""

    request: Request
    ctx: ApiContext
    body: dict[str, Any]
    params: dict[str, str]
    query: QueryParams
    principal: PrincipalLike
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def state(self) -> SimState:
        return self.ctx.state

    def emit(self, event_type: str, location_id: str, data: dict[str, Any]) -> None:
        """Queue a webhook event; sent once the handler has succeeded."""
        self.events.append((event_type, location_id, data))


Handler = Callable[[Call], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Op:
    op_id: str
    method: str
    path: str
    scope: str
    handler: Handler
    dto: Dto | None = None


def _location_hint(
    state: SimState, params: dict[str, str], query: QueryParams, raw: Any
) -> str | None:
    contact_id = params.get("contactId")
    if contact_id is not None:
        contact = state.get("contact", contact_id)
        return str(contact["locationId"]) if contact else None
    if isinstance(raw, dict) and isinstance(raw.get("locationId"), str):
        return str(raw["locationId"])
    return query.get("locationId")


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"Unexpected token in JSON: {exc.__class__.__name__}"


def _endpoint(op: Op, ctx: ApiContext) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        request.scope[OPERATION_KEY] = op.op_id
        rate_headers: dict[str, str] = {}
        try:
            version = request.headers.get("version")
            if version is None:
                raise SimHTTPError(400, "Version header was not found")
            if version != API_VERSION:
                raise SimHTTPError(400, f"Version header must be {API_VERSION}")
            params = {k: str(v) for k, v in request.path_params.items()}
            try:
                raw_bytes = await request.body() if op.dto is not None else b""
            except ClientDisconnect:
                # The client gave up (a timeout drill); nobody is left to answer.
                return Response(status_code=499)
            raw, json_error = _parse_json(raw_bytes)
            location = _location_hint(ctx.state, params, request.query_params, raw)
            principal = ctx.authorizer.authorize(
                request.headers.get("authorization"), scope=op.scope, location_id=location
            )
            location = location or principal.location_id
            request.scope[LOCATION_KEY] = location
            if ctx.limiter is not None:
                allowed, rate_headers = ctx.limiter.check(principal.app_id, location or "")
                if not allowed:
                    return error_response(429, "Too many requests", headers=rate_headers)
            if json_error is not None:
                raise SimHTTPError(400, json_error)
            body = validate_body(op.dto, raw) if op.dto is not None else {}
            call = Call(request, ctx, body, params, request.query_params, principal)
            status, payload = op.handler(call)
        except SimHTTPError as exc:
            exc.headers = {**rate_headers, **exc.headers}
            return from_exception(exc)
        if ctx.events is not None:
            for event_type, loc, data in call.events:
                ctx.events.emit(event_type, loc, data)
        return JSONResponse(payload, status_code=status, headers=rate_headers)

    return endpoint


def operation_routes(ops: list[Op], ctx: ApiContext) -> list[Route]:
    return [Route(op.path, _endpoint(op, ctx), methods=[op.method]) for op in ops]


class RequestLogMiddleware:
    """Records every request outside /_admin with its status and operation id."""

    def __init__(self, app: ASGIApp, log: RequestLog, clock: Callable[[], Any]) -> None:
        self.app = app
        self.log = log
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_admin"):
            await self.app(scope, receive, send)
            return
        status = 0
        recorded = False
        started = time.perf_counter()

        def record() -> None:
            nonlocal recorded
            recorded = True
            self.log.record(
                LoggedRequest(
                    time=iso(self.clock()),
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    operation_id=scope.get(OPERATION_KEY),
                    location_id=scope.get(LOCATION_KEY),
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
            )

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Logged before the last byte leaves, so a client that has its answer finds
                # the request in the log (tests count calls right after making them).
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not recorded:
                record()

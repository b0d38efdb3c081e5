"""Test helpers: serve an ASGI app on loopback, and a small HighLevel-like OAuth server.

The OAuth server follows apps/oauth.json: form-encoded POST /oauth/token (authorization_code and
refresh_token grants, single-use rotating refresh tokens) and POST /oauth/locationToken (agency
bearer token + Version header). It counts every request so tests can prove single flight.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

CLIENT_ID = "6578278e879ad2646715ba9c-lq1a2b3c"
CLIENT_SECRET = "client-secret-NEVER-SHOWN-42"


@contextmanager
def serve(app: ASGIApp, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1:<free port> in a thread; yield the base URL."""
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto says TCP;
    # with proto 0 every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:  # wait for a condition, with a deadline
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def _form(request: Request) -> dict[str, str]:
    # Parsed by hand: Starlette's request.form() needs python-multipart, not a dependency.
    if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
        return {}
    return dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))


def _error(status: int, message: str | list[str], error: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "message": message, "error": error}, status)


@dataclass
class OAuthServer:
    """State of the fake HighLevel OAuth endpoints (thread-safe counters)."""

    refresh_delay: float = 0.0  # server latency for refresh grants, to widen races
    # HighLevel answers a refresh token reused within 30 s with the same new tokens
    # (https://ideas.gohighlevel.com/changelog?labels=api); 0 turns that grace off.
    grace: float = 0.0
    spent: dict[str, tuple[float, dict[str, object]]] = field(default_factory=dict)
    codes: set[str] = field(default_factory=lambda: {"good-code"})
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # valid token -> user type
    agency_tokens: set[str] = field(default_factory=set)
    requests: Counter[str] = field(default_factory=Counter)
    forms: list[dict[str, str]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, user_type: str = "Location") -> dict[str, object]:
        """A new token pair, as HighLevel's token endpoint returns it (refresh token valid)."""
        with self._lock:
            n = next(self._seq)
            self.refresh_tokens[f"refresh-{n}"] = user_type
            if user_type == "Company":
                self.agency_tokens.add(f"access-{n}")
        body: dict[str, object] = {
            "access_token": f"access-{n}",
            "token_type": "Bearer",
            "expires_in": 86399,
            "refresh_token": f"refresh-{n}",
            "scope": "contacts.readonly contacts.write",
            "userType": user_type,
            "companyId": "comp1",
            "userId": "user1",
        }
        if user_type == "Location":
            body["locationId"] = "loc1"
        return body

    async def token(self, request: Request) -> JSONResponse:
        form = await _form(request)
        grant = form.get("grant_type", "")
        with self._lock:
            self.requests[f"token:{grant}"] += 1
            self.forms.append(form)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _error(401, "Invalid client credentials", "Unauthorized")
        user_type = form.get("user_type", "Location")
        if grant == "authorization_code":
            with self._lock:
                ok = form.get("code") in self.codes
                self.codes.discard(form.get("code", ""))
            if not ok:
                return _error(400, f"Invalid code: {form.get('code')}", "Bad Request")
            return JSONResponse(self.issue(user_type))
        if grant == "refresh_token":
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            token = form.get("refresh_token", "")
            with self._lock:
                kind = self.refresh_tokens.pop(token, None)
                earlier = self.spent.get(token)
            if kind is None:  # single use: a spent or unknown refresh token is refused ...
                if earlier is not None and time.monotonic() - earlier[0] < self.grace:
                    return JSONResponse(earlier[1])  # ... unless reused within the grace
                return _error(400, "Invalid grant: refresh token is invalid", "Bad Request")
            body = self.issue(kind)
            with self._lock:
                self.spent[token] = (time.monotonic(), body)
            return JSONResponse(body)
        return _error(422, ["grant_type must be one of the following values"], "Unprocessable")

    async def location_token(self, request: Request) -> JSONResponse:
        form = await _form(request)
        with self._lock:
            self.requests["locationToken"] += 1
            self.forms.append(form)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.headers.get("version") != "2021-07-28":
            return _error(400, "Version header is required", "Bad Request")
        if bearer not in self.agency_tokens:
            return _error(401, "Invalid JWT", "Unauthorized")
        if not form.get("companyId") or not form.get("locationId"):
            return _error(422, ["companyId should not be empty"], "Unprocessable Entity")
        with self._lock:
            n = next(self._seq)
        return JSONResponse(
            {
                "access_token": f"location-access-{n}",
                "token_type": "Bearer",
                "expires_in": 86399,
                "scope": "contacts.readonly",
                "locationId": form["locationId"],
                "userId": "user1",
                "appId": CLIENT_ID.split("-")[0],
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/oauth/locationToken", self.location_token, methods=["POST"]),
            ]
        )

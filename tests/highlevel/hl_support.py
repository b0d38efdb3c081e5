"""Client test support: a recording MockTransport handler and one runner for both clients."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tnhl.highlevel._auth import PrivateIntegrationToken
from tnhl.highlevel._client import AsyncHighLevelClient, HighLevelClient
from tnhl.highlevel._clock import FakeClock

TOKEN = "pit-11111111-2222-3333-4444-555555555555"
LOCATION = "loc123"

Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], Reply]


def reply(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A JSON response."""
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {})


@dataclass
class Recorder:
    """A transport handler that answers from a script and records every request."""

    script: list[Reply] | Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.script(request) if callable(self.script) else self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        # A fresh copy: a scripted response may be shared by the sync and the async run.
        return httpx.Response(outcome.status_code, content=outcome.content, headers=outcome.headers)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


class RefreshingAuth:
    """An Auth double whose token can be refreshed `refreshable` times."""

    def __init__(
        self,
        token: str = "old-token",  # noqa: S107 - a test value
        new: Iterable[str] = ("new-token",),
    ) -> None:
        self.token = token
        self._new = list(new)
        self.refresh_calls: list[str] = []

    @property
    def location_id(self) -> str | None:
        return LOCATION

    @property
    def scopes(self) -> frozenset[str] | None:
        return None

    def get_token(self) -> str:
        return self.token

    async def aget_token(self) -> str:
        return self.token

    def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        self.refresh_calls.append(rejected_token)
        if not self._new:
            return None
        self.token = self._new.pop(0)
        return self.token

    async def arefresh_after_unauthorized(self, rejected_token: str) -> str | None:
        return self.refresh_after_unauthorized(rejected_token)


@dataclass
class Runner:
    """Runs a call through the sync or the async client, with the same transport and clock."""

    mode: str
    clock: FakeClock = field(default_factory=lambda: FakeClock(1_700_000_000.0))

    def client_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("random", random.Random(7))
        kwargs.setdefault("base_url", "https://hl.test")
        return kwargs

    def call(
        self,
        recorder: Recorder,
        operation_id: str,
        *,
        params: dict[str, object] | None = None,
        json: object | None = None,
        auth: Any = None,
        **kwargs: Any,
    ) -> Any:
        auth = auth or PrivateIntegrationToken(TOKEN, location_id=LOCATION)
        options = self.client_kwargs(**kwargs)
        transport = httpx.MockTransport(recorder)
        if self.mode == "sync":
            with HighLevelClient(auth, transport=transport, **options) as client:
                return client.call(operation_id, params=params, json=json)

        async def run() -> Any:
            async with AsyncHighLevelClient(auth, transport=transport, **options) as client:
                return await client.call(operation_id, params=params, json=json)

        return asyncio.run(run())

    def collect(self, recorder: Recorder, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        """All items of a paginating method (search_contacts, list_contacts, ...)."""
        auth = PrivateIntegrationToken(TOKEN, location_id=LOCATION)
        transport = httpx.MockTransport(recorder)
        options = self.client_kwargs()
        if self.mode == "sync":
            with HighLevelClient(auth, transport=transport, **options) as client:
                return list(getattr(client, method)(*args, **kwargs))

        async def run() -> list[Any]:
            async with AsyncHighLevelClient(auth, transport=transport, **options) as client:
                return [item async for item in getattr(client, method)(*args, **kwargs)]

        return asyncio.run(run())

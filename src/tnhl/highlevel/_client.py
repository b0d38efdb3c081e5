"""The sync ``HighLevelClient`` and the async ``AsyncHighLevelClient``.

Both are thin drivers of ``_core.RequestCore``: the core plans each call as a generator of
actions and the client performs them, blocking or awaiting. Nothing about retries, errors or
parameters is written twice.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from tnhl.highlevel._auth import Auth
from tnhl.highlevel._clock import Clock, SystemClock
from tnhl.highlevel._core import (
    DEFAULT_BASE_URL,
    Acquire,
    GetToken,
    Plan,
    Refresh,
    RequestCore,
    RetryPolicy,
    Send,
    Sleep,
)
from tnhl.highlevel._exchange import ExchangeObserver, exchange_of
from tnhl.highlevel._models import Contact
from tnhl.highlevel._pagination import (
    BusinessContactsPager,
    ContactListPager,
    Pager,
    SearchPager,
)
from tnhl.highlevel._ratelimit import RateLimiter
from tnhl.highlevel._search import SearchRequest

__all__ = ["AsyncHighLevelClient", "HighLevelClient"]


class _ClientBase:
    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str,
        rate_limiter: RateLimiter | None,
        rate_limit_key: str | None,
        clock: Clock | None,
        retry: RetryPolicy | None,
        random: _random.Random | None,
        on_exchange: ExchangeObserver | None,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._on_exchange = on_exchange
        self._core = RequestCore(
            auth,
            base_url=base_url,
            rate_limiter=rate_limiter,
            rate_limit_key=rate_limit_key,
            retry=retry or RetryPolicy(),
            rng=random or _random.Random(),  # jitter, not security
            clock=self._clock,
        )

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._core.base_url!r})"

    def _observe(
        self,
        send: Send,
        started: float,
        response: httpx.Response | None,
        error: BaseException | None = None,
    ) -> None:
        if self._on_exchange is not None:
            took = time.monotonic() - started
            base = self._core.base_url
            self._on_exchange(
                exchange_of(send.method, send.url, send.params, base, took, response, error)
            )

    @staticmethod
    def _search_pager(request: SearchRequest | Mapping[str, Any]) -> SearchPager:
        if not isinstance(request, SearchRequest):
            request = SearchRequest.model_validate(request)
        return SearchPager(request)


class HighLevelClient(_ClientBase):
    """Blocking client of the Contacts API v2. Use as a context manager or call ``close``."""

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        rate_limit_key: str | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        random: _random.Random | None = None,
        on_exchange: ExchangeObserver | None = None,
    ) -> None:
        super().__init__(
            auth,
            base_url=base_url,
            rate_limiter=rate_limiter,
            rate_limit_key=rate_limit_key,
            clock=clock,
            retry=retry,
            random=random,
            on_exchange=on_exchange,
        )
        self._auth = auth
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)

    def call(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any:
        """Send one operation (path and query ``params`` by name); return the parsed JSON body."""
        return self._drive(self._core.plan(operation_id, params, json))

    def search_contacts(self, request: SearchRequest | Mapping[str, Any]) -> Iterator[Contact]:
        """Every contact matching a search, page by page (searchAfter past 10,000)."""
        return self._iterate(self._search_pager(request))

    def list_contacts(
        self, location_id: str, *, limit: int = 100, query: str | None = None
    ) -> Iterator[Contact]:
        """Every contact of a location through the deprecated ``GET /contacts/``."""
        return self._iterate(ContactListPager(location_id, limit=limit, query=query))

    def list_business_contacts(
        self, business_id: str, location_id: str, *, limit: int = 100
    ) -> Iterator[Contact]:
        """Every contact of a business (skip/limit paging)."""
        return self._iterate(BusinessContactsPager(business_id, location_id, limit=limit))

    def _iterate(self, pager: Pager) -> Iterator[Contact]:
        while (step := pager.next_call()) is not None:
            body = self.call(step.operation_id, params=step.params, json=step.json)
            yield from pager.feed(body)

    def _drive(self, plan: Plan) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = plan.throw(error) if error is not None else plan.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = self._perform(action)
            except Exception as exc:  # handed to the plan, which decides
                error = exc

    def _perform(self, action: object) -> Any:
        if isinstance(action, Send):
            started = time.monotonic()
            try:
                response = self._http.request(
                    action.method,
                    action.url,
                    params=action.params,
                    json=action.json if action.has_body else None,
                    headers=action.headers,
                )
            except httpx.TransportError as exc:
                self._observe(action, started, None, exc)
                raise
            self._observe(action, started, response)
            return response
        if isinstance(action, GetToken):
            return self._auth.get_token()
        if isinstance(action, Acquire):
            assert self._core.rate_limiter is not None
            self._core.rate_limiter.acquire(action.key)
            return None
        if isinstance(action, Sleep):
            self._clock.sleep(action.seconds)
            return None
        if isinstance(action, Refresh):
            return self._auth.refresh_after_unauthorized(action.rejected)
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHighLevelClient(_ClientBase):
    """Async client of the Contacts API v2 (same behaviour as ``HighLevelClient``)."""

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        rate_limit_key: str | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        random: _random.Random | None = None,
        on_exchange: ExchangeObserver | None = None,
    ) -> None:
        super().__init__(
            auth,
            base_url=base_url,
            rate_limiter=rate_limiter,
            rate_limit_key=rate_limit_key,
            clock=clock,
            retry=retry,
            random=random,
            on_exchange=on_exchange,
        )
        self._auth = auth
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)

    async def call(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any:
        """Send one operation (path and query ``params`` by name); return the parsed JSON body."""
        return await self._drive(self._core.plan(operation_id, params, json))

    def search_contacts(self, request: SearchRequest | Mapping[str, Any]) -> AsyncIterator[Contact]:
        """Every contact matching a search, page by page (searchAfter past 10,000)."""
        return self._iterate(self._search_pager(request))

    def list_contacts(
        self, location_id: str, *, limit: int = 100, query: str | None = None
    ) -> AsyncIterator[Contact]:
        """Every contact of a location through the deprecated ``GET /contacts/``."""
        return self._iterate(ContactListPager(location_id, limit=limit, query=query))

    def list_business_contacts(
        self, business_id: str, location_id: str, *, limit: int = 100
    ) -> AsyncIterator[Contact]:
        """Every contact of a business (skip/limit paging)."""
        return self._iterate(BusinessContactsPager(business_id, location_id, limit=limit))

    async def _iterate(self, pager: Pager) -> AsyncIterator[Contact]:
        while (step := pager.next_call()) is not None:
            body = await self.call(step.operation_id, params=step.params, json=step.json)
            for contact in pager.feed(body):
                yield contact

    async def _drive(self, plan: Plan) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = plan.throw(error) if error is not None else plan.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = await self._perform(action)
            except Exception as exc:  # handed to the plan, which decides
                error = exc

    async def _perform(self, action: object) -> Any:
        if isinstance(action, Send):
            started = time.monotonic()
            try:
                response = await self._http.request(
                    action.method,
                    action.url,
                    params=action.params,
                    json=action.json if action.has_body else None,
                    headers=action.headers,
                )
            except httpx.TransportError as exc:
                self._observe(action, started, None, exc)
                raise
            self._observe(action, started, response)
            return response
        if isinstance(action, GetToken):
            return await self._auth.aget_token()
        if isinstance(action, Acquire):
            assert self._core.rate_limiter is not None
            await self._core.rate_limiter.aacquire(action.key)
            return None
        if isinstance(action, Sleep):
            await self._clock.asleep(action.seconds)
            return None
        if isinstance(action, Refresh):
            return await self._auth.arefresh_after_unauthorized(action.rejected)
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

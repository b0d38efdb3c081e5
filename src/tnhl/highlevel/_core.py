"""The request-planning core shared by the sync and async clients (sans-I/O).

One call is planned by a generator that *yields* what it needs done (get a token, take a rate
limit slot, send a request, sleep, refresh the token) and receives the outcome. The sync client
performs these actions with blocking I/O, the async client with ``await``; every decision
(scope check, parameters, retries, backoff, the never-resend-a-create rule, the one 401 refresh,
error parsing) lives here once.

Retries are written here rather than with stamina (DESIGN.md's choice) because the decision to
retry depends on the operation (a create that may have reached HighLevel is never re-sent, a
connect error that sent nothing is), stamina waits with its own sleep instead of the injected
clock, and a generator that yields its waits serves the sync and the async client alike.
Backoff is exponential with full jitter, capped; at most ``RetryPolicy.attempts`` tries per call
(3, DESIGN.md "Inside one call: at most 3 quick tries").
"""

from __future__ import annotations

import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from tnhl.highlevel._auth import Auth
from tnhl.highlevel._clock import Clock
from tnhl.highlevel._errors import (
    APIError,
    ConfigurationError,
    DuplicateContactError,
    MissingScopeError,
    OutcomeUnknownError,
    RateLimitedError,
    TransportError,
    error_for_status,
)
from tnhl.highlevel._logging import get_logger
from tnhl.highlevel._models import WireModel
from tnhl.highlevel._operations import Operation, get_operation
from tnhl.highlevel._ratelimit import RateLimiter, parse_retry_after

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "Acquire",
    "GetToken",
    "Plan",
    "Refresh",
    "RequestCore",
    "RetryPolicy",
    "Send",
    "Sleep",
    "parse_error",
]

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
API_VERSION = "2021-07-28"
_log = get_logger()

# Errors raised before a single byte of the request left: safe to retry even for a create.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one call retries: tries in all, and the backoff between them (seconds)."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A 429 that asks for a longer wait is raised (RateLimitedError.retry_after) for the
    # caller's scheduler instead of holding a worker.
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("retry.attempts", f"must be >= 1, got {self.attempts!r}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("retry.base_delay", "delays must be >= 0")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**(retry-1))]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(retry - 1, 0)))
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True, slots=True)
class GetToken:
    """Action: the current access token."""


@dataclass(frozen=True, slots=True)
class Refresh:
    """Action: a new token after `rejected` got a 401 (None when it cannot refresh)."""

    rejected: str


@dataclass(frozen=True, slots=True)
class Acquire:
    """Action: take a rate-limit slot for `key` (may wait)."""

    key: str


@dataclass(frozen=True, slots=True)
class Sleep:
    """Action: wait `seconds` on the injected clock."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """Action: send this request; the answer is an httpx.Response (or an httpx error thrown)."""

    method: str
    url: str
    params: dict[str, str]
    json: Any
    has_body: bool
    headers: dict[str, str]

    def __repr__(self) -> str:  # the headers hold the token
        return f"Send({self.method} {self.url})"


Action: TypeAlias = GetToken | Refresh | Acquire | Sleep | Send
Plan: TypeAlias = Generator[Action, Any, Any]


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _body(op: Operation, json: object) -> tuple[Any, bool]:
    """The JSON to send, validated against the operation's request model."""
    if op.request is None:
        if json is not None:
            raise ConfigurationError("json", f"{op.id} takes no request body")
        return None, False
    if json is None:
        return None, False
    if isinstance(json, WireModel):
        return json.to_wire(), True
    if isinstance(json, BaseModel):
        return json.model_dump(mode="json", by_alias=True, exclude_unset=True), True
    try:
        op.request.model_validate(json)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ConfigurationError(f"json.{where}", f"{first['msg']} ({op.id})") from None
    # The caller's object goes out unchanged: validation only guards against mistakes.
    return json, True


def parse_error(
    response: httpx.Response, method: str, path: str, now: float | None = None
) -> APIError:
    """The APIError for an error response ``{statusCode, message, error}``.

    `now` (epoch seconds) turns an HTTP-date Retry-After into seconds; without it such a date
    is ignored.
    """
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    raw = body.get("message")
    if isinstance(raw, list):
        messages = [str(m) for m in raw]
    elif raw is not None:
        messages = [str(raw)]
    else:
        messages = [response.reason_phrase] if response.reason_phrase else []
    error = body.get("error")
    trace = body.get("traceId") or response.headers.get("x-trace-id")
    trace = trace or response.headers.get("traceid")
    common: dict[str, Any] = {
        "status": response.status_code,
        "method": method,
        "path": path,
        "messages": messages,
        "error": str(error) if error is not None else None,
        "trace_id": str(trace) if trace else None,
        "body": body,
    }
    status = response.status_code
    if status == 429:
        header = response.headers.get("retry-after")
        retry_after = parse_retry_after(header, now) if now is not None else None
        if retry_after is None and header is not None and now is None:
            try:
                retry_after = max(float(header), 0.0)
            except ValueError:
                retry_after = None
        return RateLimitedError(retry_after=retry_after, **common)
    meta = body.get("meta")
    if status == 400 and isinstance(meta, dict) and meta.get("contactId"):
        return DuplicateContactError(
            contact_id=str(meta["contactId"]),
            matching_field=str(meta["matchingField"]) if meta.get("matchingField") else None,
            **common,
        )
    return error_for_status(status)(**common)


def _success_body(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise APIError(
            status=response.status_code,
            method=method,
            path=path,
            messages=["the response body is not JSON"],
        ) from None


class RequestCore:
    """Plans calls: everything the clients share except performing I/O."""

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str,
        rate_limiter: RateLimiter | None,
        rate_limit_key: str | None,
        retry: RetryPolicy,
        rng: random.Random,
        clock: Clock,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError("base_url", f"must be an http(s) URL, got {base_url!r}")
        if rate_limit_key is None:
            rate_limit_key = auth.location_id or None
        if rate_limiter is not None and rate_limit_key is None:
            raise ConfigurationError(
                "rate_limit_key", "needed with a rate limiter when the auth names no location"
            )
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.rate_limiter = rate_limiter
        self.rate_limit_key = rate_limit_key
        self.retry = retry
        self.rng = rng
        self.clock = clock

    def _check_scope(self, op: Operation) -> None:
        scopes = self.auth.scopes
        if scopes is not None and op.scope not in scopes:
            raise MissingScopeError(op.id, op.scope)

    def _url_and_query(
        self, op: Operation, params: Mapping[str, object]
    ) -> tuple[str, dict[str, str]]:
        allowed = set(op.path_params) | set(op.query)
        for name in params:
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ConfigurationError(
                    f"params.{name}", f"not a parameter of {op.id} (parameters: {known})"
                )
        path = op.path
        for name in op.path_params:
            value = params.get(name)
            if value is None or str(value) == "":
                raise ConfigurationError(f"params.{name}", f"required by {op.id}")
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        for name in op.required_query:
            if params.get(name) is None:
                raise ConfigurationError(f"params.{name}", f"required by {op.id}")
        query = {
            name: _query_value(params[name]) for name in op.query if params.get(name) is not None
        }
        return path, query

    def plan(
        self,
        operation_id: str,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Plan:
        """The plan of one call; its return value is the parsed JSON body of the answer."""
        op = get_operation(operation_id)
        self._check_scope(op)
        path, query = self._url_and_query(op, params or {})
        body, has_body = _body(op, json)
        return self._run(op, path, query, body, has_body, dict(params or {}))

    def _run(
        self,
        op: Operation,
        path: str,
        query: dict[str, str],
        body: Any,
        has_body: bool,
        params: dict[str, object],
    ) -> Plan:
        method = op.method
        token: str = yield GetToken()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None and self.rate_limit_key is not None:
                yield Acquire(self.rate_limit_key)
            send = Send(method, self.base_url + path, query, body, has_body, self._headers(token))
            try:
                response: httpx.Response = yield send
            except httpx.TransportError as exc:
                _log.info("%s %s: %s (try %d)", method, path, type(exc).__name__, attempt)
                if op.create and not isinstance(exc, _NOT_SENT):
                    raise self._unknown(op, path, params, body, exc) from exc
                if attempt >= self.retry.attempts:
                    detail = f"{type(exc).__name__} after {attempt} tries"
                    raise TransportError(detail, method=method, path=path) from exc
                yield Sleep(self.retry.backoff(attempt, self.rng))
                continue
            status = response.status_code
            _log.debug("%s %s -> %d (try %d)", method, path, status, attempt)
            if self.rate_limiter is not None and self.rate_limit_key is not None:
                self.rate_limiter.observe(self.rate_limit_key, status, response.headers)
            if 200 <= status < 300:
                return _success_body(response, method, path)
            if status == 401 and not refreshed:
                # A 401 means HighLevel refused the request before acting on it: even a create
                # may be sent again with a fresh token, once.
                refreshed = True
                new_token = yield Refresh(token)
                if new_token is not None:
                    token = new_token
                    attempt -= 1
                    continue
            error = parse_error(response, method, path, self.clock.time())
            if isinstance(error, RateLimitedError):
                wait = self._rate_limit_wait(error, response, attempt)
                if attempt >= self.retry.attempts or wait > self.retry.max_retry_after:
                    raise error
                # With a limiter, observe() paused the key and the next Acquire waits it out.
                if self.rate_limiter is None or self.rate_limit_key is None:
                    yield Sleep(wait)
                continue
            if status >= 500:
                if op.create:
                    raise self._unknown(op, path, params, body, error) from error
                if attempt >= self.retry.attempts:
                    raise error
                yield Sleep(self.retry.backoff(attempt, self.rng))
                continue
            raise error

    def _rate_limit_wait(
        self, error: RateLimitedError, response: httpx.Response, attempt: int
    ) -> float:
        if error.retry_after is not None:
            return error.retry_after
        interval = response.headers.get("x-ratelimit-interval-milliseconds")
        try:
            return float(interval) / 1000.0 if interval else self.retry.backoff(attempt, self.rng)
        except ValueError:
            return self.retry.backoff(attempt, self.rng)

    @staticmethod
    def _unknown(
        op: Operation,
        path: str,
        params: dict[str, object],
        body: Any,
        cause: BaseException,
    ) -> OutcomeUnknownError:
        return OutcomeUnknownError(
            operation_id=op.id, method=op.method, path=path, params=params, body=body, cause=cause
        )

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }

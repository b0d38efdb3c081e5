"""The one error tree of ``tnhl.highlevel``.

::

    HighLevelError(Exception)
    ├── ConfigurationError        bad or missing settings; names the field
    ├── MissingScopeError         raised BEFORE any request: .operation_id, .scope
    ├── AuthError                 token invalid/expired and not refreshable; OAuth grant refused
    ├── TransportError            connection errors/timeouts after the retries: .method, .path
    ├── OutcomeUnknownError       a create may have reached HighLevel: .operation_id, .method,
    │                             .path, .params, .body, .cause
    ├── PaginationError           a repeating cursor
    ├── DailyQuotaExhaustedError  .key (location), .resets_at (epoch seconds or None)
    └── APIError                  .status, .method, .path, .trace_id, .message, .messages,
        │                         .error, .body
        ├── BadRequestError 400
        │   └── DuplicateContactError: .contact_id, .matching_field
        ├── UnauthorizedError 401
        ├── ForbiddenError 403
        ├── NotFoundError 404
        ├── UnprocessableError 422
        ├── RateLimitedError 429: .retry_after
        └── ServerError 5xx

No error ever carries a token: messages are built from the method, the path template and
HighLevel's own error text only. ``retryable`` tells the sync engine whether trying the same
operation later may succeed, so the engine never classifies by status code itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AuthError",
    "BadRequestError",
    "ConfigurationError",
    "DailyQuotaExhaustedError",
    "DuplicateContactError",
    "ForbiddenError",
    "HighLevelError",
    "MissingScopeError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PaginationError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "UnauthorizedError",
    "UnprocessableError",
    "error_for_status",
]


class HighLevelError(Exception):
    """Base of every error raised by ``tnhl.highlevel``."""

    @property
    def retryable(self) -> bool:
        """True when the same operation may succeed if tried again later."""
        return False


class ConfigurationError(HighLevelError):
    """Bad or missing settings; ``field`` names the setting."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class MissingScopeError(HighLevelError):
    """The token lacks the scope an operation needs; raised before any request is sent."""

    def __init__(self, operation_id: str, scope: str) -> None:
        self.operation_id = operation_id
        self.scope = scope
        super().__init__(f"{operation_id} needs the scope {scope!r}, which the token lacks")


class AuthError(HighLevelError):
    """The token is invalid or expired and cannot be refreshed, or an OAuth grant was refused."""


class TransportError(HighLevelError):
    """The connection failed or timed out, after the retries allowed in one call."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: {message}")

    @property
    def retryable(self) -> bool:
        return True


class OutcomeUnknownError(HighLevelError):
    """A create may have reached HighLevel; read back before trying again, never re-send blindly."""

    def __init__(
        self,
        *,
        operation_id: str,
        method: str,
        path: str,
        params: Mapping[str, object],
        body: object,
        cause: BaseException | None,
    ) -> None:
        self.operation_id = operation_id
        self.method = method
        self.path = path
        self.params = dict(params)
        self.body = body
        self.cause = cause
        reason = type(cause).__name__ if cause is not None else "unknown"
        super().__init__(
            f"{operation_id} ({method} {path}): the request may have reached HighLevel "
            f"({reason}); read back before creating again"
        )

    @property
    def retryable(self) -> bool:
        return True


class PaginationError(HighLevelError):
    """A paginated listing returned a cursor it had already returned."""


class DailyQuotaExhaustedError(HighLevelError):
    """The daily request quota of a location is used up."""

    def __init__(self, key: str, resets_at: float | None = None) -> None:
        self.key = key
        self.resets_at = resets_at
        when = f" until {resets_at:.0f}" if resets_at is not None else ""
        super().__init__(f"daily request quota exhausted for {key!r}{when}")

    @property
    def retryable(self) -> bool:
        return True


class APIError(HighLevelError):
    """HighLevel answered an error status; parsed from ``{statusCode, message, error}``."""

    def __init__(
        self,
        *,
        status: int,
        method: str,
        path: str,
        messages: list[str] | None = None,
        error: str | None = None,
        trace_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.messages = list(messages or [])
        self.message = "; ".join(self.messages)
        self.error = error
        self.trace_id = trace_id
        self.body: dict[str, Any] = dict(body or {})
        detail = self.message or error or "no message"
        trace = f" (traceId {trace_id})" if trace_id else ""
        super().__init__(f"{method} {path} -> {status}: {detail}{trace}")


class BadRequestError(APIError):
    """400: the request is wrong; trying again will not help."""


class DuplicateContactError(BadRequestError):
    """400 from a create: the location forbids duplicates and this contact already exists."""

    def __init__(
        self,
        *,
        contact_id: str | None,
        matching_field: str | None,
        status: int,
        method: str,
        path: str,
        messages: list[str] | None = None,
        error: str | None = None,
        trace_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.contact_id = contact_id
        self.matching_field = matching_field
        super().__init__(
            status=status,
            method=method,
            path=path,
            messages=messages,
            error=error,
            trace_id=trace_id,
            body=body,
        )


class UnauthorizedError(APIError):
    """401 after the one refresh allowed in a call (or with a token that cannot refresh)."""


class ForbiddenError(APIError):
    """403: the token may not do this (scope or location)."""


class NotFoundError(APIError):
    """404: the object does not exist (or is not visible to this location)."""


class UnprocessableError(APIError):
    """422: validation failed; ``messages`` keeps HighLevel's list."""


class RateLimitedError(APIError):
    """429 after the retries; ``retry_after`` in seconds when HighLevel said so."""

    def __init__(
        self,
        *,
        retry_after: float | None,
        status: int,
        method: str,
        path: str,
        messages: list[str] | None = None,
        error: str | None = None,
        trace_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            status=status,
            method=method,
            path=path,
            messages=messages,
            error=error,
            trace_id=trace_id,
            body=body,
        )

    @property
    def retryable(self) -> bool:
        return True


class ServerError(APIError):
    """5xx: HighLevel failed; a later try may succeed."""

    @property
    def retryable(self) -> bool:
        return True


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    422: UnprocessableError,
}


def error_for_status(status: int) -> type[APIError]:
    """The APIError subclass for a status (429 and duplicates need their extra fields)."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)

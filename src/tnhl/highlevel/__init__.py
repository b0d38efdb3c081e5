"""Client for the HighLevel (LeadConnector) Contacts API v2; imports nothing else from tnhl."""

from __future__ import annotations

from tnhl.highlevel._errors import (
    APIError,
    AuthError,
    BadRequestError,
    ConfigurationError,
    DailyQuotaExhaustedError,
    DuplicateContactError,
    ForbiddenError,
    HighLevelError,
    MissingScopeError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
    UnprocessableError,
)

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
]

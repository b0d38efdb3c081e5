"""Client for the HighLevel (LeadConnector) Contacts API v2; imports nothing else from tnhl.

Start with :class:`HighLevelClient` (or :class:`AsyncHighLevelClient`) and an auth such as
:class:`PrivateIntegrationToken`; every operation is in :data:`OPERATIONS`. See docs/client.md.
"""

from __future__ import annotations

from tnhl.highlevel._auth import Auth, PrivateIntegrationToken
from tnhl.highlevel._client import AsyncHighLevelClient, HighLevelClient
from tnhl.highlevel._clock import Clock, FakeClock, SystemClock
from tnhl.highlevel._core import API_VERSION, DEFAULT_BASE_URL, RetryPolicy
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
from tnhl.highlevel._events import WEBHOOK_EVENTS, WebhookEvent, get_webhook_event
from tnhl.highlevel._exchange import EXCHANGE_BODY_LIMIT, Exchange, ExchangeObserver
from tnhl.highlevel._logging import RedactingFilter, redact, redact_processor
from tnhl.highlevel._models import (
    Contact,
    ContactCreate,
    ContactUpdate,
    ContactUpsert,
    CustomFieldInput,
    CustomFieldValue,
    WireModel,
)
from tnhl.highlevel._oauth import OAuthApp, code_challenge, pkce_pair
from tnhl.highlevel._oauth_auth import LocationTokenAuth, OAuthAuth
from tnhl.highlevel._operations import OPERATIONS, Operation, get_operation
from tnhl.highlevel._ratelimit import LimiterSnapshot, RateLimiter, parse_retry_after
from tnhl.highlevel._ratelimit_state import (
    LimiterState,
    MemoryLimiterState,
    RedisLimiterState,
    SqliteLimiterState,
)
from tnhl.highlevel._records import (
    AppointmentEvent,
    ContactList,
    Note,
    NoteCreate,
    NoteUpdate,
    Task,
    TaskCreate,
    TaskUpdate,
)
from tnhl.highlevel._search import FilterGroup, SearchFilter, SearchRequest, SortSpec
from tnhl.highlevel._tokens import (
    EncryptedFileTokenStore,
    MemoryTokenStore,
    TokenSet,
    TokenStore,
    generate_secret_key,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "EXCHANGE_BODY_LIMIT",
    "OPERATIONS",
    "WEBHOOK_EVENTS",
    "APIError",
    "AppointmentEvent",
    "AsyncHighLevelClient",
    "Auth",
    "AuthError",
    "BadRequestError",
    "Clock",
    "ConfigurationError",
    "Contact",
    "ContactCreate",
    "ContactList",
    "ContactUpdate",
    "ContactUpsert",
    "CustomFieldInput",
    "CustomFieldValue",
    "DailyQuotaExhaustedError",
    "DuplicateContactError",
    "EncryptedFileTokenStore",
    "Exchange",
    "ExchangeObserver",
    "FakeClock",
    "FilterGroup",
    "ForbiddenError",
    "HighLevelClient",
    "HighLevelError",
    "LimiterSnapshot",
    "LimiterState",
    "LocationTokenAuth",
    "MemoryLimiterState",
    "MemoryTokenStore",
    "MissingScopeError",
    "NotFoundError",
    "Note",
    "NoteCreate",
    "NoteUpdate",
    "OAuthApp",
    "OAuthAuth",
    "Operation",
    "OutcomeUnknownError",
    "PaginationError",
    "PrivateIntegrationToken",
    "RateLimitedError",
    "RateLimiter",
    "RedactingFilter",
    "RedisLimiterState",
    "RetryPolicy",
    "SearchFilter",
    "SearchRequest",
    "ServerError",
    "SortSpec",
    "SqliteLimiterState",
    "SystemClock",
    "Task",
    "TaskCreate",
    "TaskUpdate",
    "TokenSet",
    "TokenStore",
    "TransportError",
    "UnauthorizedError",
    "UnprocessableError",
    "WebhookEvent",
    "WireModel",
    "code_challenge",
    "generate_secret_key",
    "get_operation",
    "get_webhook_event",
    "parse_retry_after",
    "pkce_pair",
    "redact",
    "redact_processor",
]

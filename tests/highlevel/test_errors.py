"""The error tree: classes by status, retryable classification, parsing, no secrets."""

from __future__ import annotations

import httpx
import pytest

from tnhl.highlevel import (
    APIError,
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
from tnhl.highlevel._core import parse_error


def _parse(status: int, body: object, headers: dict[str, str] | None = None) -> APIError:
    response = httpx.Response(status, json=body, headers=headers)
    return parse_error(response, "POST", "/contacts/", now=1_000.0)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, BadRequestError, False),
        (401, UnauthorizedError, False),
        (403, ForbiddenError, False),
        (404, NotFoundError, False),
        (422, UnprocessableError, False),
        (429, RateLimitedError, True),
        (500, ServerError, True),
        (502, ServerError, True),
        (504, ServerError, True),
    ],
)
def test_class_and_retryable_by_status(status: int, cls: type[APIError], retryable: bool) -> None:
    """Each status maps to its class, and retryable follows DESIGN.md's reliability rules."""
    error = _parse(status, {"statusCode": status, "message": "m"})
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert isinstance(error, HighLevelError)
    assert error.retryable is retryable
    assert error.status == status


def test_other_errors_retryable() -> None:
    """Transport, outcome-unknown and quota errors are retryable; config/scope/paging are not."""
    assert TransportError("x", method="GET", path="/p").retryable
    unknown = OutcomeUnknownError(
        operation_id="create-note", method="POST", path="/p", params={}, body={}, cause=None
    )
    assert unknown.retryable
    assert DailyQuotaExhaustedError("loc", resets_at=5.0).retryable
    assert not ConfigurationError("f", "bad").retryable
    assert not MissingScopeError("get-contact", "contacts.readonly").retryable
    assert not PaginationError("loop").retryable


def test_message_string_or_list() -> None:
    """message as a string gives one message; as a list (422) every item is kept."""
    one = _parse(400, {"statusCode": 400, "message": "Bad Request", "error": "Bad"})
    assert (one.messages, one.message, one.error) == (["Bad Request"], "Bad Request", "Bad")
    many = _parse(422, {"statusCode": 422, "message": ["a", "b"]})
    assert (many.messages, many.message) == (["a", "b"], "a; b")


def test_trace_id_sources() -> None:
    """traceId comes from the body first, then x-trace-id, then traceid headers."""
    assert _parse(400, {"traceId": "body"}, {"x-trace-id": "h"}).trace_id == "body"
    assert _parse(400, {}, {"x-trace-id": "h1"}).trace_id == "h1"
    assert _parse(400, {}, {"traceid": "h2"}).trace_id == "h2"
    assert _parse(400, {}).trace_id is None


def test_duplicate_meta() -> None:
    """A 400 with meta.contactId is a DuplicateContactError (still a BadRequestError)."""
    error = _parse(400, {"message": "dup", "meta": {"contactId": "c9", "matchingField": "phone"}})
    assert isinstance(error, DuplicateContactError)
    assert isinstance(error, BadRequestError)
    assert (error.contact_id, error.matching_field) == ("c9", "phone")


def test_retry_after_seconds_and_date() -> None:
    """Retry-After as seconds or as an HTTP date (relative to now) sets retry_after."""
    seconds = _parse(429, {}, {"Retry-After": "7"})
    assert isinstance(seconds, RateLimitedError)
    assert seconds.retry_after == 7.0
    dated = _parse(429, {}, {"Retry-After": "Thu, 01 Jan 1970 00:17:00 GMT"})
    assert isinstance(dated, RateLimitedError)
    assert dated.retry_after == 20.0


def test_non_json_error_body() -> None:
    """A non-JSON error body still gives a classified error with the reason phrase."""
    error = parse_error(httpx.Response(502, content=b"<html>"), "GET", "/x")
    assert isinstance(error, ServerError)
    assert error.body == {}
    assert error.messages == ["Bad Gateway"]

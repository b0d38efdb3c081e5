"""The clients over an injected transport and a fake clock: requests, retries, errors."""

from __future__ import annotations

import httpx
import pytest
from hl_support import LOCATION, TOKEN, Recorder, RefreshingAuth, Runner, reply

from tnhl.highlevel._auth import PrivateIntegrationToken
from tnhl.highlevel._core import RetryPolicy
from tnhl.highlevel._errors import (
    ConfigurationError,
    DuplicateContactError,
    MissingScopeError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
    UnprocessableError,
)
from tnhl.highlevel._exchange import Exchange
from tnhl.highlevel._models import ContactCreate, CustomFieldInput
from tnhl.highlevel._ratelimit import RateLimiter

CONTACT = {"contact": {"id": "c1", "firstName": "Ada"}}


def test_sends_headers_path_and_query(runner: Runner) -> None:
    """Every request carries Bearer, Version and Accept; path params are quoted, query kept."""
    rec = Recorder([reply(200, {"contact": None})])
    body = runner.call(
        rec,
        "get-duplicate-contact",
        params={"locationId": LOCATION, "email": "a+b@x.io", "number": "+1 555"},
    )
    assert body == {"contact": None}
    (req,) = rec.requests
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["version"] == "2021-07-28"
    assert req.headers["accept"] == "application/json"
    assert req.url.path == "/contacts/search/duplicate"
    assert req.url.params["email"] == "a+b@x.io"
    assert req.url.params["number"] == "+1 555"


def test_path_params_are_escaped(runner: Runner) -> None:
    """A path parameter cannot add path segments: '/' is percent-encoded."""
    rec = Recorder([reply(200, CONTACT)])
    runner.call(rec, "get-contact", params={"contactId": "a/b"})
    assert rec.requests[0].url.raw_path == b"/contacts/a%2Fb"


def test_model_body_goes_out_by_alias_and_only_set_fields(runner: Runner) -> None:
    """A model body is sent camelCase, without unset fields, custom fields as field_value."""
    rec = Recorder([reply(201, CONTACT)])
    model = ContactCreate(
        location_id=LOCATION,
        first_name="Ada",
        custom_fields=[CustomFieldInput(key="my_field", field_value="x")],
    )
    runner.call(rec, "create-contact", json=model)
    assert rec.bodies() == [
        {
            "locationId": LOCATION,
            "firstName": "Ada",
            "customFields": [{"key": "my_field", "field_value": "x"}],
        }
    ]


def test_missing_scope_is_refused_before_any_request(runner: Runner) -> None:
    """A token known to lack contacts.write gets MissingScopeError naming it; nothing is sent."""
    rec = Recorder([])
    auth = PrivateIntegrationToken(TOKEN, scopes=["contacts.readonly"], location_id=LOCATION)
    with pytest.raises(MissingScopeError) as info:
        runner.call(rec, "delete-contact", params={"contactId": "c1"}, auth=auth)
    assert info.value.scope == "contacts.write"
    assert info.value.operation_id == "delete-contact"
    assert rec.requests == []


@pytest.mark.parametrize(
    ("operation", "params", "json", "field"),
    [
        ("get-contact", {}, None, "params.contactId"),
        ("get-contact", {"contactId": "c1", "bogus": 1}, None, "params.bogus"),
        ("get-contacts", {}, None, "params.locationId"),
        ("get-contact", {"contactId": "c1"}, {"x": 1}, "json"),
        ("create-task", {"contactId": "c1"}, {"dueDate": "2026-01-01", "completed": False},
         "json.title"),
        ("no-such-op", {}, None, "operation_id"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(
    runner: Runner, operation: str, params: dict[str, object], json: object, field: str
) -> None:
    """Bad parameters or bodies raise ConfigurationError naming the field; nothing is sent."""
    rec = Recorder([])
    with pytest.raises(ConfigurationError) as info:
        runner.call(rec, operation, params=params, json=json)
    assert info.value.field == field
    assert rec.requests == []


def test_server_errors_are_retried_with_capped_jittered_backoff(runner: Runner) -> None:
    """A GET answered 503, 503, 200 succeeds on the third try after two backoff sleeps."""
    rec = Recorder([reply(503, {}), reply(503, {}), reply(200, CONTACT)])
    assert runner.call(rec, "get-contact", params={"contactId": "c1"}) == CONTACT
    assert len(rec.requests) == 3
    first, second = runner.clock.sleeps
    assert 0 <= first <= 0.5
    assert 0 <= second <= 1.0


def test_backoff_is_full_jitter_within_the_cap() -> None:
    """Backoff for retry n lies in [0, min(cap, base*2**(n-1))] and does vary."""
    import random

    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    rng = random.Random(1)
    samples = [policy.backoff(5, rng) for _ in range(200)]
    assert all(0 <= s <= 4.0 for s in samples)
    assert max(samples) > 3.0
    assert min(samples) < 1.0


def test_server_error_after_three_tries(runner: Runner) -> None:
    """Three 500s give ServerError (retryable), after exactly three requests."""
    rec = Recorder([reply(500, {"statusCode": 500, "message": "boom"})] * 3)
    with pytest.raises(ServerError) as info:
        runner.call(rec, "get-contact", params={"contactId": "c1"})
    assert info.value.retryable
    assert info.value.message == "boom"
    assert len(rec.requests) == 3


def test_connection_errors_become_transport_error(runner: Runner) -> None:
    """A read that keeps failing to connect raises TransportError after three tries."""
    rec = Recorder([httpx.ConnectError("refused")] * 3)
    with pytest.raises(TransportError) as info:
        runner.call(rec, "get-contact", params={"contactId": "c1"})
    assert info.value.retryable
    assert info.value.method == "GET"
    assert info.value.path == "/contacts/c1"
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    ("operation", "params", "body"),
    [
        ("create-contact", {}, {"locationId": LOCATION, "email": "a@b.c"}),
        ("create-task", {"contactId": "c1"},
         {"title": "Call", "dueDate": "2026-01-01T00:00:00Z", "completed": False}),
        ("create-note", {"contactId": "c1"}, {"body": "hello"}),
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "failure",
    [reply(502, {}), reply(504, {}), reply(500, {}), httpx.ReadTimeout("slow"),
     httpx.RemoteProtocolError("dropped")],
)  # fmt: skip
def test_create_that_may_have_landed_is_never_resent(
    runner: Runner, operation: str, params: dict[str, object], body: object, failure: object
) -> None:
    """A create answered 5xx or cut off after sending raises OutcomeUnknownError after ONE send."""
    rec = Recorder([failure])  # type: ignore[list-item]
    with pytest.raises(OutcomeUnknownError) as info:
        runner.call(rec, operation, params=params, json=body)
    assert len(rec.requests) == 1
    err = info.value
    assert err.operation_id == operation
    assert err.params == params
    assert err.body == body
    assert err.cause is not None
    assert err.retryable
    assert TOKEN not in str(err)


def test_create_is_retried_when_nothing_was_sent(runner: Runner) -> None:
    """A connect error sends nothing, so a create may be tried again."""
    rec = Recorder([httpx.ConnectError("refused"), reply(201, {"note": {"id": "n1"}})])
    result = runner.call(rec, "create-note", params={"contactId": "c1"}, json={"body": "x"})
    assert result == {"note": {"id": "n1"}}
    assert len(rec.requests) == 2


def test_create_is_retried_after_429_waiting_retry_after(runner: Runner) -> None:
    """A 429 means nothing was done: the create is re-sent after Retry-After seconds."""
    rec = Recorder([reply(429, {"statusCode": 429}, {"Retry-After": "2"}), reply(201, CONTACT)])
    result = runner.call(rec, "create-contact", json={"locationId": LOCATION})
    assert result == CONTACT
    assert runner.clock.sleeps == [2.0]


def test_429_without_retry_after_waits_the_interval_header(runner: Runner) -> None:
    """Without Retry-After, a 429 waits X-RateLimit-Interval-Milliseconds."""
    headers = {"X-RateLimit-Interval-Milliseconds": "10000"}
    rec = Recorder([reply(429, {}, headers), reply(200, CONTACT)])
    runner.call(rec, "get-contact", params={"contactId": "c1"})
    assert runner.clock.sleeps == [10.0]


def test_429_asking_too_long_a_wait_is_raised_at_once(runner: Runner) -> None:
    """A 429 whose Retry-After exceeds the policy's maximum is raised with retry_after."""
    rec = Recorder([reply(429, {"statusCode": 429, "message": "Too many"}, {"Retry-After": "600"})])
    with pytest.raises(RateLimitedError) as info:
        runner.call(rec, "get-contact", params={"contactId": "c1"})
    assert info.value.retry_after == 600.0
    assert info.value.retryable
    assert runner.clock.sleeps == []


def test_401_refreshes_once_and_retries_with_the_new_token(runner: Runner) -> None:
    """On 401 the client asks the auth for a new token once and re-sends with it."""
    auth = RefreshingAuth()
    rec = Recorder([reply(401, {"statusCode": 401, "message": "Invalid JWT"}), reply(201, CONTACT)])
    result = runner.call(rec, "create-contact", json={"locationId": LOCATION}, auth=auth)
    assert result == CONTACT
    assert auth.refresh_calls == ["old-token"]
    assert [r.headers["authorization"] for r in rec.requests] == [
        "Bearer old-token",
        "Bearer new-token",
    ]


def test_second_401_is_unauthorized_without_another_refresh(runner: Runner) -> None:
    """A 401 after the refresh raises UnauthorizedError; refresh was asked only once."""
    auth = RefreshingAuth(new=["new-token", "newer-token"])
    rec = Recorder([reply(401, {"statusCode": 401, "message": "Invalid JWT"})] * 2)
    with pytest.raises(UnauthorizedError) as info:
        runner.call(rec, "get-contact", params={"contactId": "c1"}, auth=auth)
    assert auth.refresh_calls == ["old-token"]
    assert len(rec.requests) == 2
    assert not info.value.retryable
    assert "new-token" not in str(info.value)


def test_401_with_a_static_token_is_unauthorized_at_once(runner: Runner) -> None:
    """A PIT cannot refresh: one 401 is final, and the error never shows the token."""
    rec = Recorder([reply(401, {"statusCode": 401, "message": "Invalid JWT", "error": "Unauth"})])
    with pytest.raises(UnauthorizedError) as info:
        runner.call(rec, "get-contact", params={"contactId": "c1"})
    assert len(rec.requests) == 1
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert info.value.error == "Unauth"


def test_duplicate_contact_400_carries_the_existing_id(runner: Runner) -> None:
    """400 with meta.contactId becomes DuplicateContactError (not retryable, not re-sent)."""
    body = {
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "meta": {"contactId": "dup1", "matchingField": "email", "contactName": "Ada"},
        "traceId": "t-1",
    }
    rec = Recorder([reply(400, body)])
    with pytest.raises(DuplicateContactError) as info:
        runner.call(rec, "create-contact", json={"locationId": LOCATION, "email": "a@b.c"})
    err = info.value
    assert (err.contact_id, err.matching_field) == ("dup1", "email")
    assert (err.status, err.trace_id) == (400, "t-1")
    assert err.body["meta"]["contactName"] == "Ada"
    assert not err.retryable
    assert len(rec.requests) == 1


def test_422_keeps_the_message_list(runner: Runner) -> None:
    """A 422's list of messages is kept in .messages and joined in .message."""
    body = {
        "statusCode": 422,
        "message": ["property additionalEmails should not exist", "email must be an email"],
        "error": "Unprocessable Entity",
    }
    rec = Recorder([reply(422, body)])
    with pytest.raises(UnprocessableError) as info:
        runner.call(rec, "update-contact", params={"contactId": "c1"}, json={"email": "x"})
    assert info.value.messages == body["message"]
    assert "additionalEmails" in info.value.message
    assert info.value.error == "Unprocessable Entity"
    assert not info.value.retryable


def test_trace_id_from_header_and_404(runner: Runner) -> None:
    """The trace id comes from the x-trace-id header when the body has none; 404 not retried."""
    rec = Recorder([reply(404, {"statusCode": 404, "message": "Contact not found"},
                          {"x-trace-id": "abc"})])  # fmt: skip
    with pytest.raises(NotFoundError) as info:
        runner.call(rec, "get-contact", params={"contactId": "c1"})
    assert info.value.trace_id == "abc"
    assert "abc" in str(info.value)
    assert len(rec.requests) == 1


def test_rate_limiter_paces_and_observes(runner: Runner) -> None:
    """With a limiter of 2 per 10 s, a third call waits on the clock; headers are observed."""
    limiter = RateLimiter(clock=runner.clock, burst=2, interval=10.0, margin=0.0)
    rec = Recorder(lambda _: reply(200, CONTACT, {"X-RateLimit-Daily-Remaining": "150000"}))
    start = runner.clock.time()
    for _ in range(3):
        runner.call(rec, "get-contact", params={"contactId": "c1"}, rate_limiter=limiter)
    assert runner.clock.time() - start >= 10.0
    # Without observe() the limiter would think 199,997 remain.
    assert limiter.snapshot(LOCATION).daily_remaining <= 150000


def test_429_with_limiter_waits_through_the_limiter(runner: Runner) -> None:
    """With a limiter, a 429 pauses the key and the retry waits there, not twice."""
    limiter = RateLimiter(clock=runner.clock, burst=100, interval=10.0)
    rec = Recorder([reply(429, {}, {"Retry-After": "3"}), reply(200, CONTACT)])
    start = runner.clock.time()
    runner.call(rec, "get-contact", params={"contactId": "c1"}, rate_limiter=limiter)
    waited = runner.clock.time() - start
    assert 3.0 <= waited < 6.0


def test_limiter_without_location_needs_a_key() -> None:
    """A limiter with an auth that names no location and no rate_limit_key is a config error."""
    from tnhl.highlevel._client import HighLevelClient

    with pytest.raises(ConfigurationError) as info:
        HighLevelClient(PrivateIntegrationToken(TOKEN), rate_limiter=RateLimiter())
    assert info.value.field == "rate_limit_key"


def test_client_repr_hides_the_token() -> None:
    """Neither the client's repr nor its auth's shows the token."""
    from tnhl.highlevel._client import HighLevelClient

    with HighLevelClient(PrivateIntegrationToken(TOKEN)) as client:
        assert TOKEN not in repr(client)


def test_on_exchange_hears_every_request_with_its_status_and_answer(runner: Runner) -> None:
    """A 503 retried, then a 200: the observer hears both requests (method, path with its query,
    status, body) in order, and never a header; a request that got no answer is heard with no
    status and the transport error's name."""
    heard: list[Exchange] = []
    busy = {"statusCode": 503, "message": "busy"}
    rec = Recorder([reply(503, busy), reply(200, CONTACT)])
    runner.call(rec, "get-contact", params={"contactId": "c1"}, on_exchange=heard.append)
    assert [(x.method, x.path, x.status, x.error) for x in heard] == [
        ("GET", "/contacts/c1", 503, None),
        ("GET", "/contacts/c1", 200, None),
    ]
    assert heard[0].body == '{"statusCode": 503, "message": "busy"}'
    assert heard[1].body == '{"contact": {"id": "c1", "firstName": "Ada"}}'
    assert all(x.seconds >= 0 and TOKEN not in repr(x) for x in heard)
    heard.clear()
    rec = Recorder([httpx.ConnectError("refused"), reply(200, {"contact": None})])
    params = {"locationId": LOCATION, "email": "a@x.io"}
    runner.call(rec, "get-duplicate-contact", params=params, on_exchange=heard.append)
    query = f"locationId={LOCATION}&email=a%40x.io"
    assert [(x.path, x.status, x.error, x.body) for x in heard] == [
        (f"/contacts/search/duplicate?{query}", None, "ConnectError", ""),
        (f"/contacts/search/duplicate?{query}", 200, None, '{"contact": null}'),
    ]

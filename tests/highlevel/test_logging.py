"""Log redaction: bearer tokens, OAuth secrets and PITs never reach a log line."""

from __future__ import annotations

import json
import logging
import string

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from tnhl.highlevel._logging import RedactingFilter, get_logger, redact, redact_processor

PIT = "pit-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {JWT}",
        f"headers={{'authorization': 'bearer {JWT}'}}",
        f"POST /oauth/token access_token={JWT}&refresh_token=r-123&client_secret=s3cr3t",
        json.dumps({"access_token": JWT, "refresh_token": "r-123", "client_secret": "s3cr3t"}),
        f"{{'accessToken': '{JWT}', 'refreshToken': 'r-123', 'clientSecret': 's3cr3t'}}",
        f"token {PIT} rejected",
        f"client_secret: s3cr3t; refresh_token : r-123 ; {PIT}",
    ],
)
def test_redact_removes_every_secret(text: str) -> None:
    """No secret survives, whatever the form it is written in."""
    out = redact(text)
    for secret in (JWT, "r-123", "s3cr3t", PIT):
        assert secret not in out
    assert "***" in out


def test_redact_keeps_ordinary_text() -> None:
    """Text without secrets is unchanged, and redaction is idempotent."""
    text = "GET /contacts/abc -> 200 (try 1); token_type=Bearer"
    assert redact(text) == text
    once = redact(f"Bearer {JWT}")
    assert redact(once) == once == "Bearer ***"


def test_stdlib_filter_redacts_arguments_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    """A record's %-arguments and exception text are redacted before any handler sees them."""
    logger = get_logger("tnhl.highlevel.test")
    assert (
        sum(isinstance(f, RedactingFilter) for f in get_logger("tnhl.highlevel.test").filters) == 1
    )
    with caplog.at_level(logging.DEBUG, logger="tnhl.highlevel.test"):
        logger.info("sending with %s", f"Bearer {JWT}")
        try:
            raise ValueError(f"bad token {PIT}")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert JWT not in text
    assert PIT not in text
    assert "Bearer ***" in text


def test_structlog_processor_redacts_nested_values() -> None:
    """The structlog processor masks secret keys and secret text in nested values."""
    event = {
        "event": f"refresh with refresh_token=abc {PIT}",
        "headers": {"Authorization": f"Bearer {JWT}", "Version": "2021-07-28"},
        "client_secret": "s3cr3t",
        "items": [f"Bearer {JWT}"],
    }
    out = redact_processor(None, "info", dict(event))
    rendered = json.dumps(out)
    for secret in (JWT, "s3cr3t", PIT, "abc"):
        assert secret not in rendered
    assert out["headers"]["Version"] == "2021-07-28"
    # It runs inside a real structlog chain.
    captured: list[str] = []
    structlog.configure(
        processors=[redact_processor, structlog.processors.JSONRenderer()],
        logger_factory=lambda *_: _ListLogger(captured),
        cache_logger_on_first_use=False,
    )
    try:
        structlog.get_logger().info("call", token=PIT, access_token=JWT)
    finally:
        structlog.reset_defaults()
    assert captured
    assert PIT not in captured[0]
    assert JWT not in captured[0]


class _ListLogger:
    def __init__(self, sink: list[str]) -> None:
        self._sink = sink

    def info(self, message: str) -> None:
        self._sink.append(message)

    msg = info


def test_filter_survives_a_bad_format_and_still_redacts(caplog: pytest.LogCaptureFixture) -> None:
    """A message whose %-arguments do not fit is logged raw, redacted, without raising."""
    logger = get_logger("tnhl.highlevel.test")
    with caplog.at_level(logging.INFO, logger="tnhl.highlevel.test"):
        logger.info("two %s %s", f"Bearer {JWT}")
    assert JWT not in caplog.text
    assert "two" in caplog.text


@given(st.text(alphabet=string.ascii_letters + string.digits + "-._~+/", min_size=8, max_size=60))
def test_any_bearer_or_secret_value_is_masked(token: str) -> None:
    """Property: whatever the token's characters, bearer and keyed forms never leak it."""
    assert redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"
    assert redact(f"refresh_token={token}&x=1") == "refresh_token=***&x=1"
    assert redact(json.dumps({"client_secret": token})) == '{"client_secret": "***"}'

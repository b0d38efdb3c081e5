"""The service's logging set-up: redaction and a stream looked up per call."""

from __future__ import annotations

import io
import logging
import sys

import pytest
import structlog

from tnhl.sync._logging import configure_logging


def test_logs_follow_the_current_stderr_after_the_old_one_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream closed after set-up (a test runner's capture) does not break later log lines."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(json_lines=True)
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    structlog.get_logger("tnhl.test").info("applied", event_id="e1")
    logging.getLogger("uvicorn").warning("plain stdlib line")
    out = second.getvalue()
    assert '"event_id": "e1"' in out
    assert "plain stdlib line" in out


def test_secrets_are_masked_in_structlog_and_stdlib_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bearer tokens, PITs and whsec_ secrets never reach the log, whichever logger wrote them."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging()
    structlog.get_logger("tnhl.test").warning("refused", header="Bearer abc.def.ghi")
    logging.getLogger("x").error("secret %s and %s", "whsec_c2VjcmV0c2VjcmV0", "pit-1234-5678")
    text = out.getvalue()
    for secret in ("abc.def.ghi", "c2VjcmV0c2VjcmV0", "1234-5678"):
        assert secret not in text
    assert text.count("***") >= 3


def test_alembic_info_lines_are_quiet_at_info_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration steps logged at INFO by alembic do not clutter the service's output."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging(level="info")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade -> 0001")
    logging.getLogger("alembic.runtime.migration").warning("kept")
    assert "Running upgrade" not in out.getvalue()
    assert "kept" in out.getvalue()

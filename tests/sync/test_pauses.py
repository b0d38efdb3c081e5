"""A connection whose OAuth login is no longer good: paused as "needs login", its events
kept, and said so once in the logs and in `tnhl status`'s health."""

from __future__ import annotations

from pathlib import Path

import structlog

from tnhl.highlevel import AuthError, UnauthorizedError
from tnhl.store import open_store
from tnhl.sync._admin import _connection_report
from tnhl.sync._pauses import Pauses

REFUSED = "POST /oauth/token -> 400: invalid_grant (the refresh token was used or revoked)"


def test_a_refused_refresh_pauses_the_connection_as_needing_a_login() -> None:
    """An AuthError pauses its location with a reason that says to log in again; records
    of it are held until the pause ends; other locations run."""
    pauses = Pauses(60.0)
    held = pauses.refused("loc-a", AuthError(REFUSED), 1000.0)
    assert held is not None
    assert held.outcome == "reschedule"
    assert held.due_at == 1060.0
    assert held.reason == f"connection paused: needs login: run `tnhl auth login` ({REFUSED})"
    assert pauses.held("loc-a", 1030.0) == held
    assert pauses.held("loc-b", 1030.0) is None
    assert pauses.held("loc-a", 1060.0) is None
    assert pauses.paused(1030.0) == {"loc-a": f"needs login: run `tnhl auth login` ({REFUSED})"}


def test_the_pause_is_logged_once_at_error_level() -> None:
    """Many records refused during one pause: one error line, naming the location."""
    pauses = Pauses(60.0)
    with structlog.testing.capture_logs() as logs:
        for at in (1000.0, 1001.0, 1002.0):
            refused = UnauthorizedError(status=401, method="GET", path="/x", messages=["no"])
            pauses.refused("loc-a", refused, at)
    assert [(e["event"], e["log_level"], e["location"]) for e in logs] == [
        ("connection paused", "error", "loc-a")
    ]


def test_status_health_says_needs_login(tmp_path: Path) -> None:
    """`tnhl status`'s health of such a connection says it needs a login and keeps events."""
    store = open_store(f"sqlite:///{tmp_path / 'tnhl.db'}")
    why = f"needs login: run `tnhl auth login` ({REFUSED})"
    try:
        report = _connection_report(store, "acme", "loc-a", {"credentials_refused": why}, 0.0)
    finally:
        store.close()
    assert report["health"] == f"{why} (paused; its events are kept)"

"""`tnhl verify`'s public URL checks against real servers over loopback: a running tnhl passes
every line and stores nothing; nothing listening, a TLS mismatch, a proxy's 502, a web page, a
stripped path, a connection the running tnhl lacks and a silent port each fail one clear line;
no public_url is one skip line; the setting itself is validated and named."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tnhl.simulator import RunningSimulator, running_simulator
from tnhl.sync import Settings, load_settings
from tnhl.sync._errors import SettingsError
from tnhl.sync._settings_file import OTHER_VARIABLES
from tnhl.sync._verify_public import verify_public

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for

SECRET = "whsec_" + "cHVibGljLXVybC1jaGVjay1zZWNyZXQtMzItYnl0ZXM="  # 32 bytes, a test value
REFUSED = "tnhl refused a test with a bad signature: 401, nothing stored"
NO_ANSWER = "skip TalkNotes and HighLevel webhooks: not checked while nothing answers at public_url"
TNHL = "`tnhl run` (127.0.0.1:8080)"  # the settings' host and port, named in the advice


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test gives decides the settings."""
    for key in list(os.environ):
        if key.upper().startswith("TNHL_") and key.upper() not in OTHER_VARIABLES:
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with running_simulator() as running:
        yield running


def _settings(sim: RunningSimulator, tmp_path: Path, **kw: Any) -> Settings:
    settings: Settings = settings_for(sim, tmp_path / "data", SECRET, **kw)
    return settings


def _lines(settings: Settings, public_url: str | None, **kw: Any) -> list[str]:
    with_url = settings.model_copy(update={"public_url": public_url})
    return [c.line() for c in verify_public(with_url, with_url.connection_list(), **kw)]


@contextmanager
def _other_server(status: int, content_type: str, body: bytes) -> Iterator[str]:
    """A loopback HTTP server that is not tnhl: every GET and POST gets the same answer."""

    class Answer(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_running_tnhl_at_public_url_passes_every_line(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """public_url at a real running tnhl: /healthz, the TalkNotes route and the HighLevel
    route are each one ok line; tnhl itself refused the badly signed tests."""
    settings = _settings(sim, tmp_path)
    with running_service(settings) as (_, base):
        lines = _lines(settings, base)
    assert lines == [
        f"ok   public URL {base} reaches tnhl (GET /healthz)",
        f"ok   TalkNotes webhooks reach tnhl at {base}/webhooks/talknotes ({REFUSED})",
        f"ok   HighLevel webhooks reach tnhl at {base}/webhooks/highlevel ({REFUSED})",
    ]


def test_the_checks_store_nothing(sim: RunningSimulator, tmp_path: Path) -> None:
    """One real event is stored; verify's two webhook posts add no event to the store (and
    leave the simulator's HighLevel as the real event made it)."""
    settings = _settings(sim, tmp_path)
    with running_service(settings) as (service, base):
        event = {"type": "contact.created", "timestamp": "2026-12-01T09:00:00Z"}
        data = {"id": "pv1", "full_name": "Ada Lovelace", "email": "ada-pv1@example.com"}
        talknotes_sender(base, SECRET)([{**event, "data": data}])
        wait_for(lambda: service.store.stats().counts.get("done") == 1, 10, "the real event")
        contacts = len(sim.state.all("contact"))
        assert all(line.startswith("ok   ") for line in _lines(settings, base))
        assert sum(service.store.stats().counts.values()) == 1
        assert service.store.stats().counts.get("done") == 1
        assert len(sim.state.all("contact")) == contacts


def test_nothing_listening_fails_with_connection_refused(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """A port nothing listens on: one FAIL line saying so and what to start; the webhook
    lines are skipped."""
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        lines = _lines(_settings(sim, tmp_path), f"http://127.0.0.1:{port}")
    assert lines == [
        f"FAIL public URL: GET http://127.0.0.1:{port}/healthz: connection refused: nothing "
        "listens there - start `tnhl run` (or the proxy in front of it), or correct public_url",
        NO_ANSWER,
    ]


def test_a_port_that_never_answers_fails_with_a_timeout(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """A port that accepts connections and never answers: FAIL after the timeout, not a
    hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        settings = _settings(sim, tmp_path)
        started = time.monotonic()
        lines = _lines(settings, f"http://127.0.0.1:{port}", timeout=0.3)
        assert time.monotonic() - started < 3
    assert lines == [
        f"FAIL public URL: GET http://127.0.0.1:{port}/healthz: no answer within 0.3 s - check "
        "that the firewall lets it through and the proxy forwards to `tnhl run`",
        NO_ANSWER,
    ]


def test_https_to_a_plain_http_port_fails_as_tls(sim: RunningSimulator, tmp_path: Path) -> None:
    """https:// at tnhl's own plain-HTTP port: the TLS handshake fails, and the line says
    what public_url must be."""
    settings = _settings(sim, tmp_path)
    with running_service(settings) as (_, base):
        tls = base.replace("http://", "https://")
        first, second = _lines(settings, tls)
    assert first.startswith(f"FAIL public URL: GET {tls}/healthz: TLS failed ([SSL")
    assert first.endswith(
        ") - public_url must be the https address of a proxy with a certificate for this host "
        "from a public CA (TalkNotes and HighLevel refuse others)"
    )
    assert second == NO_ANSWER


@pytest.mark.parametrize(
    ("status", "content_type", "body", "health", "webhooks"),
    [
        (
            502,
            "text/html",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "answered 502 (text/html): the proxy gets no answer from tnhl - is "
            f"{TNHL} running, and what the proxy forwards to?",
            "answered 502 (text/html): the proxy gets no answer from tnhl - is "
            f"{TNHL} running, and what the proxy forwards to?",
        ),
        (
            200,
            "text/html; charset=utf-8",
            b"<!doctype html><title>Welcome to nginx!</title>",
            "answered 200 (text/html), not tnhl's answer: something else serves /healthz - "
            f"point the proxy at {TNHL}",
            "answered 200 (text/html): something other than tnhl took a badly signed request - "
            f"point the proxy at {TNHL}",
        ),
        (
            404,
            "text/plain",
            b"404 page not found",
            "answered 404 (text/plain): /healthz does not reach tnhl - make the proxy pass every "
            f"path unchanged to {TNHL}",
            "answered 404 (text/plain): {path} does not reach tnhl - make the proxy pass every "
            f"path unchanged to {TNHL}",
        ),
    ],
    ids=["proxy-502", "web-page-200", "path-404"],
)
def test_something_else_answering_fails_every_line(
    sim: RunningSimulator,
    tmp_path: Path,
    status: int,
    content_type: str,
    body: bytes,
    health: str,
    webhooks: str,
) -> None:
    """A loopback server that is not tnhl: /healthz and both webhook routes FAIL, each
    naming the answer and what to do."""
    with _other_server(status, content_type, body) as base:
        lines = _lines(_settings(sim, tmp_path), base)
    talknotes, highlevel = "/webhooks/talknotes", "/webhooks/highlevel"
    assert lines == [
        f"FAIL public URL: GET {base}/healthz {health}",
        f"FAIL TalkNotes webhooks: POST {base}{talknotes} {webhooks.format(path=talknotes)}",
        f"FAIL HighLevel webhooks: POST {base}{highlevel} {webhooks.format(path=highlevel)}",
    ]


def test_each_connection_is_checked_at_its_own_path(sim: RunningSimulator, tmp_path: Path) -> None:
    """With `connections:`, TalkNotes posts to /webhooks/talknotes/NAME: the running tnhl's
    connection passes; one it does not have fails with tnhl's own 404 words."""
    acme = {"name": "acme", "location_id": sim.location_id, "highlevel_token": sim.token}
    acme["talknotes_secret"] = SECRET
    gamma = {**acme, "name": "gamma", "location_id": "GammaLocation0000001"}
    single = dict(location_id=None, talknotes_secret=None, highlevel_token=None)
    running = _settings(sim, tmp_path, connections=[acme], **single)
    both = _settings(sim, tmp_path, connections=[acme, gamma], **single)
    with running_service(running) as (_, base):
        lines = _lines(both, base)
    assert lines == [
        f"ok   public URL {base} reaches tnhl (GET /healthz)",
        f"ok   TalkNotes webhooks reach tnhl at {base}/webhooks/talknotes/acme ({REFUSED})",
        f"FAIL TalkNotes webhooks: POST {base}/webhooks/talknotes/gamma answered 404 "
        "(application/json): tnhl there says \"no connection named 'gamma' here\" - restart "
        "`tnhl run` with these settings, or check public_url",
        f"ok   HighLevel webhooks reach tnhl at {base}/webhooks/highlevel ({REFUSED})",
    ]


def test_without_public_url_one_skip_line(sim: RunningSimulator, tmp_path: Path) -> None:
    """public_url unset: one skip line saying what setting it checks; no request is made."""
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    lines = _lines(_settings(sim, tmp_path), None, transport=httpx.MockTransport(record))
    assert lines == [
        "skip public URL: not checked, as public_url is not set (set it to check that "
        "TalkNotes and HighLevel webhooks reach tnhl)"
    ]
    assert calls == []


def test_a_redirect_and_a_login_wall_fail_without_showing_credentials(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """(Pure logic, a mock transport.) A redirect is not followed but named; a proxy's own
    401 is not tnhl's refusal; a user and password in public_url never show."""

    def proxy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(301, headers={"location": "https://www.example.com/healthz"})
        return httpx.Response(401, headers={"www-authenticate": "Basic"}, text="login")

    transport = httpx.MockTransport(proxy)
    lines = _lines(
        _settings(sim, tmp_path), "https://ops:hunter2@tnhl.example.com", transport=transport
    )
    assert lines == [
        "FAIL public URL: GET https://tnhl.example.com/healthz answered 301 (no content type), "
        "a redirect to https://www.example.com/healthz - set public_url to where it leads: "
        "webhook senders do not follow redirects",
        "FAIL TalkNotes webhooks: POST https://tnhl.example.com/webhooks/talknotes answered 401 "
        "(text/plain), not tnhl's refusal: something in front of it asks for a login - let "
        f"/webhooks/talknotes through to {TNHL}",
        "FAIL HighLevel webhooks: POST https://tnhl.example.com/webhooks/highlevel answered 401 "
        "(text/plain), not tnhl's refusal: something in front of it asks for a login - let "
        f"/webhooks/highlevel through to {TNHL}",
    ]


def test_the_setting_is_read_and_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TNHL_PUBLIC_URL and the file's `public_url:` are known settings (a trailing / is
    dropped); plain http to another host and a ?query are refused naming public_url."""
    monkeypatch.setenv("TNHL_PUBLIC_URL", "https://tnhl.example.com/")
    assert load_settings().public_url == "https://tnhl.example.com"
    monkeypatch.delenv("TNHL_PUBLIC_URL")
    config = tmp_path / "tnhl.yaml"
    config.write_text("public_url: https://example.com/tnhl/\n", encoding="utf-8")
    assert load_settings(config).public_url == "https://example.com/tnhl"
    with pytest.raises(SettingsError) as plain:
        load_settings(public_url="http://example.com")
    assert str(plain.value) == (
        "setting public_url (TNHL_PUBLIC_URL): must use https:// (http:// is allowed only for "
        "this machine: localhost, 127.0.0.1 or ::1)"
    )
    config.write_text("public_url: https://tnhl.example.com/?x=1\n", encoding="utf-8")
    with pytest.raises(SettingsError) as query:
        load_settings(config)
    assert str(query.value) == (
        f"{config} line 1: public_url: must be the address alone, without a ?query or #fragment"
    )

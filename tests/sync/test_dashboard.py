"""The dashboard (issue 11) over real HTTP on loopback: off without a password, login, the
session cookie, CSRF on every POST, the login limit, secrets masked, and what each page shows.
The store is a real SQLite store; events are put in it and dead-lettered through its API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tnhl.mapping import load_mapping_text
from tnhl.simulator._serve import serve_in_thread
from tnhl.store import EventVerdict, InboundEvent, InboxRow, SqlStore
from tnhl.sync import load_settings, open_settings_store
from tnhl.sync._admin import limiter_path
from tnhl.sync._dashboard import dashboard_routes

PASSWORD = "correct-horse-battery-staple"
LOC = "loc-acme"
NOW = 1_800_000_000.0
MAPPING = load_mapping_text("recipes:\n  milestones: {enabled: false}\n")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    base: str
    store: SqlStore
    clock: Clock
    data_dir: Path


def _settings(tmp_path: Path, password: str | None) -> Any:
    return load_settings(
        location_id=LOC, data_dir=tmp_path, admin_password=password, lease_seconds=120
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = _settings(tmp_path, PASSWORD)
    store = open_settings_store(settings)
    clock = Clock()
    app = Starlette(routes=dashboard_routes(store, settings, {LOC: MAPPING}, clock=clock))
    try:
        with serve_in_thread(app) as base:
            yield Site(base, store, clock, tmp_path)
    finally:
        store.close()


def add(store: SqlStore, n: int, type_: str, contact: str, data: dict[str, Any]) -> None:
    body = {"type": type_, "timestamp": "2027-01-15T08:00:00Z", "data": data}
    store.add_inbound(
        InboundEvent("talknotes", f"evt-{n}", type_, LOC, contact, json.dumps(body), NOW)
    )


def kill_all(store: SqlStore, reason: str) -> None:
    """Dead-letter every received event (the folder's verdict), as a worker would."""
    store.claim("test", fold=lambda r: EventVerdict(r.id, "dead", reason), limit=0, now=NOW)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def login(http: httpx.Client, password: str = PASSWORD, **headers: str) -> httpx.Response:
    form = http.get("/login")
    return http.post(
        "/login",
        data={"password": password, "csrf": csrf_of(form.text), "next": "/"},
        headers=headers,
    )


@contextmanager
def signed_in(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        assert login(http).status_code == 303
        yield http


def state(store: SqlStore, inbox_id: int) -> str:
    row: InboxRow = store.get_event(inbox_id)
    return row.state


def test_no_password_no_dashboard(tmp_path: Path) -> None:
    """Without admin_password there is no dashboard route: `/` and `/login` are 404."""
    settings = _settings(tmp_path, None)
    store = open_settings_store(settings)
    try:
        routes = dashboard_routes(store, settings, {LOC: MAPPING})
        with serve_in_thread(Starlette(routes=routes)) as base:
            assert httpx.get(f"{base}/").status_code == 404
            assert httpx.get(f"{base}/login").status_code == 404
    finally:
        store.close()
    assert routes == []


def test_every_page_sends_a_stranger_to_the_login(site: Site) -> None:
    """Signed out, every page redirects to /login with the page to come back to, and a POST
    changes nothing."""
    add(site.store, 1, "contact.created", "c1", {"id": "c1"})
    kill_all(site.store, "rejected: test")
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        for path, back in [
            ("/", "%2F"),
            ("/events?q=c1", "%2Fevents%3Fq%3Dc1"),
            ("/events/1", "%2Fevents%2F1"),
            ("/dead", "%2Fdead"),
            ("/recipes", "%2Frecipes"),
            ("/preview", "%2Fpreview"),
        ]:
            r = http.get(path)
            assert (r.status_code, r.headers["location"]) == (303, f"/login?next={back}")
        r = http.post("/dead/1/replay", data={"csrf": "x"})
        assert r.status_code == 303
    assert state(site.store, 1) == "dead"


def test_a_wrong_password_is_refused_with_a_message(site: Site) -> None:
    """A wrong password: 401, the login page saying so, and no session cookie."""
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        r = login(http, "wrong")
        assert r.status_code == 401
        assert "Wrong password." in r.text
        assert "tnhl_session" not in http.cookies
        assert http.get("/").status_code == 303


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(site: Site) -> None:
    """The session cookie is HttpOnly and SameSite=Strict; Secure when served over https (a
    proxy's X-Forwarded-Proto from loopback, which uvicorn trusts)."""
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        plain = login(http).headers["set-cookie"]
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        https = login(http, **{"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    session = [c for c in plain.split(", ") if c.startswith("tnhl_session=")]
    assert len(session) == 1
    flags = {f.strip().lower() for f in session[0].split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags
    secure = [c for c in https.split(", ") if c.startswith("tnhl_session=")]
    assert "secure" in {f.strip().lower() for f in secure[0].split(";")[1:]}


def test_the_right_password_opens_the_page_asked_for_and_never_another_site(site: Site) -> None:
    """Logging in goes back to `next` when it is a path here, and to / otherwise."""
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        form = http.get("/login?next=/dead")
        r = http.post(
            "/login", data={"password": PASSWORD, "csrf": csrf_of(form.text), "next": "/dead"}
        )
        assert (r.status_code, r.headers["location"]) == (303, "/dead")
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        form = http.get("/login")
        r = http.post(
            "/login",
            data={"password": PASSWORD, "csrf": csrf_of(form.text), "next": "//evil.example/"},
        )
        assert (r.status_code, r.headers["location"]) == (303, "/")


def test_five_wrong_passwords_a_minute_then_even_the_right_one_waits(site: Site) -> None:
    """After 5 wrong passwords in a minute a client gets 429 (with Retry-After), even with
    the right password; a minute later it may log in."""
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        assert [login(http, "wrong").status_code for _ in range(5)] == [401] * 5
        blocked = login(http)
        assert (blocked.status_code, blocked.headers["retry-after"]) == (429, "60")
        assert "Too many wrong passwords" in blocked.text
        assert "tnhl_session" not in http.cookies
        site.clock.now += 61
        assert login(http).status_code == 303


def test_a_login_without_its_form_token_is_refused(site: Site) -> None:
    """A login POST without the login form's CSRF token is 403, even with the password."""
    with httpx.Client(base_url=site.base, follow_redirects=False) as http:
        http.get("/login")
        r = http.post("/login", data={"password": PASSWORD, "next": "/"})
        assert r.status_code == 403
        assert "tnhl_session" not in http.cookies


def test_a_replay_without_the_right_csrf_token_changes_nothing(site: Site) -> None:
    """Replay with no CSRF token, a wrong one, or another session's: 403 and the event stays
    dead; with the session's own token it is back in the queue."""
    add(site.store, 1, "contact.created", "c1", {"id": "c1"})
    kill_all(site.store, "rejected: test")
    [letter] = site.store.list_dead()
    with signed_in(site) as http, signed_in(site) as other:
        theirs = csrf_of(other.get("/dead").text)
        for data in ({}, {"csrf": "forged"}, {"csrf": theirs}):
            r = http.post(f"/dead/{letter.id}/replay", data=data)
            assert r.status_code == 403
            assert "nothing was done" in r.text
        assert state(site.store, 1) == "dead"
        assert site.store.list_dead()[0].replayed_at is None
        mine = csrf_of(http.get("/dead").text)
        r = http.post(f"/dead/{letter.id}/replay", data={"csrf": mine})
        assert (r.status_code, r.headers["location"]) == (303, "/events/1?replayed=1")
    assert state(site.store, 1) == "received"


def test_a_replay_of_an_event_under_a_location_no_connection_serves_is_refused(
    site: Site,
) -> None:
    """A dead event filed under a location id the settings no longer name: Replay answers 409
    saying why and what to run, and the event stays dead where it was."""
    body = json.dumps({"type": "contact.created", "data": {"id": "c9"}})
    site.store.add_inbound(
        InboundEvent("talknotes", "evt-9", "contact.created", "loc-typo", "c9", body, NOW)
    )
    kill_all(site.store, "forbidden: no access to this location")
    [letter] = site.store.list_dead()
    with signed_in(site) as http:
        mine = csrf_of(http.get("/dead").text)
        r = http.post(f"/dead/{letter.id}/replay", data={"csrf": mine})
    assert r.status_code == 409
    assert (
        "Not replayed: setting location_id (TNHL_LOCATION_ID): this event is filed under "
        "location loc-typo, which no configured connection serves" in r.text
    )
    assert "--to-connection NAME" in r.text
    event = site.store.get_event(1)
    assert (event.location_id, event.state) == ("loc-typo", "dead")


def test_logging_out_ends_the_session(site: Site) -> None:
    """After logout (a POST with the token) the old session cookie opens nothing."""
    with signed_in(site) as http:
        cookie = http.cookies["tnhl_session"]
        token = csrf_of(http.get("/").text)
        assert http.post("/logout", data={"csrf": token}).headers["location"] == "/login"
    with httpx.Client(
        base_url=site.base, follow_redirects=False, cookies={"tnhl_session": cookie}
    ) as stale:
        assert stale.get("/").status_code == 303


def test_a_forged_or_expired_session_cookie_opens_nothing(site: Site) -> None:
    """A session cookie with a changed signature, or older than 12 h, is not a session."""
    with signed_in(site) as http:
        cookie = http.cookies["tnhl_session"]
    payload, _, mac = cookie.partition(".")
    forged = f"{payload}.{mac[:-2]}AA"
    with httpx.Client(base_url=site.base, cookies={"tnhl_session": forged}) as http:
        assert http.get("/", follow_redirects=False).status_code == 303
    site.clock.now += 12 * 3600 + 1
    with httpx.Client(base_url=site.base, cookies={"tnhl_session": cookie}) as http:
        assert http.get("/", follow_redirects=False).status_code == 303


def test_the_story_never_shows_a_secret(site: Site) -> None:
    """Keys that look like secrets lose their values and tokens in text are masked, in the
    body as in the errors; the rest of the event is shown."""
    add(
        site.store,
        1,
        "contact.created",
        "c1",
        {
            "id": "c1",
            "email": "sam@example.com",
            "api_token": "tok-live-4242",
            "custom_fields": {"password": "hunter2", "clientSecret": "cs-777"},
            "notes": "Authorization: Bearer eyJhbGciOi.abc and pit-1234-5678-90ab",
        },
    )
    kill_all(site.store, "rejected: whsec_c2VjcmV0c2VjcmV0 was refused")
    with signed_in(site) as http:
        page = http.get("/events/1").text
    for secret in ("tok-live-4242", "hunter2", "cs-777", "eyJhbGciOi", "pit-1234", "c2VjcmV0"):
        assert secret not in page
    assert page.count("••• redacted") == 3
    assert "sam@example.com" in page
    assert "contact.created" in page


def test_the_event_log_searches_by_event_id_and_contact_and_filters(site: Site) -> None:
    """The search finds an event by its id or its contact (or part of one); the connection,
    state and source filters narrow the list."""
    add(site.store, 1, "contact.created", "c-sam", {"id": "c-sam"})
    add(site.store, 2, "contact.created", "c-kim", {"id": "c-kim"})
    add(site.store, 3, "task.created", "c-sam", {"id": "t1", "contactId": "c-sam"})

    def ids(http: httpx.Client, query: str) -> list[str]:
        return re.findall(
            r"<td><a href=\"/events/(\d+)\">\d+</a>", http.get(f"/events?{query}").text
        )

    with signed_in(site) as http:
        assert ids(http, "") == ["3", "2", "1"]
        assert ids(http, "q=evt-2") == ["2"]
        assert ids(http, "q=c-sam") == ["3", "1"]
        assert ids(http, "q=sam") == ["3", "1"]
        assert ids(http, "q=%233") == ["3"]
        assert ids(http, "q=nobody") == []
        assert ids(http, "state=received&source=talknotes&connection=default") == ["3", "2", "1"]
        assert ids(http, "state=dead") == []
        assert ids(http, "source=highlevel") == []


def test_the_connections_page_shows_health_counts_and_rate_limits(site: Site) -> None:
    """Per connection: events by state, dead letters, and the rate-limit snapshot the service
    writes, with a connection whose credentials HighLevel refused marked as paused."""
    add(site.store, 1, "contact.created", "c1", {"id": "c1"})
    kill_all(site.store, "rejected: test")
    add(site.store, 2, "contact.created", "c2", {"id": "c2"})
    snapshot = {
        "written_at": NOW - 3,
        "locations": {
            LOC: {
                "limit": 100,
                "interval_seconds": 10.0,
                "used_in_window": 37,
                "remaining": 63,
                "daily_remaining": 199_000,
                "paused_for_seconds": 0.0,
                "credentials_refused": "HighLevel answered 401: Invalid JWT",
            }
        },
    }
    limiter_path(_settings(site.data_dir, PASSWORD)).write_text(json.dumps(snapshot))
    with signed_in(site) as http:
        page = http.get("/").text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "default" in text
    assert "37 of 100 used in the 10 s window; 63 left" in text
    assert "daily remaining: 199000" in text
    assert "paused: HighLevel refused its credentials (HighLevel answered 401: Invalid JWT)" in text
    assert "as of 3.0 s ago" in text
    assert re.search(r'state-received">1<', page)
    assert re.search(r'state-dead">1<', page)


def test_recipes_are_listed_on_or_off(site: Site) -> None:
    """The recipes page lists the connection's recipes, a disabled one as off."""
    with signed_in(site) as http:
        page = http.get("/recipes").text
    rows = re.findall(
        r"<td><code>([\w-]+)</code></td>\s*<td>\s*<form[^>]*>(?:\s*<input[^>]*>)*"
        r"\s*<span class=\"onoff (on|off)\"",
        page,
    )
    assert rows == [
        ("follow-ups", "on"),
        ("milestones", "off"),
        ("first-completed-task", "on"),
        ("tenth-note", "on"),
    ]


def test_the_preview_shows_what_recipes_and_mapping_would_do(site: Site) -> None:
    """A pasted note event: the follow-up recipe's task and the note's HighLevel fields; bad
    JSON is named; nothing is stored."""
    event = {
        "type": "note.created",
        "timestamp": "2026-12-01T15:30:00Z",
        "data": {"id": "n1", "contactId": "c1", "noteContent": "Call Sam back Friday at 3pm."},
    }
    with signed_in(site) as http:
        token = csrf_of(http.get("/preview").text)
        page = http.post(
            "/preview", data={"csrf": token, "connection": "default", "event": json.dumps(event)}
        ).text
        bad = http.post("/preview", data={"csrf": token, "event": "{nope"}).text
        refused = http.post("/preview", data={"event": json.dumps(event)})
    assert "<code>follow-ups</code> fires" in page
    assert "Call Sam back" in page
    assert "&#34;body&#34;: &#34;Call Sam back Friday at 3pm.&#34;" in page
    assert "not JSON: Expecting property name enclosed in double quotes" in bad
    assert refused.status_code == 403
    assert site.store.list_events() == []


def test_htmx_is_served_from_the_package_and_pages_carry_a_strict_policy(site: Site) -> None:
    """htmx comes from the package (no CDN); pages are no-store, unframeable, and allow only
    their own scripts."""
    js = httpx.get(f"{site.base}/static/htmx.min.js")
    assert js.status_code == 200
    assert js.text.startswith("var htmx=function()")
    assert httpx.get(f"{site.base}/static/../_dashboard.py").status_code == 404
    page = httpx.get(f"{site.base}/login")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert '<script src="/static/htmx.min.js" defer></script>' in page.text

"""The dashboard in a real browser (Playwright driving Debian's Chromium, headless) over a real
service: intake, workers and the HighLevel simulator. A task whose contact never came is dead;
once the contact has landed, the dashboard finds the task, tells its story and replays it, and
the story follows it to done.

Chromium is the system one (/usr/bin/chromium, `apt-get install chromium`); `playwright
install` is never used (it downloads a browser). Missing either, the test skips, or fails under
TNHL_REQUIRE_EXTERNAL=1. Screenshots of the main pages go to DASHBOARD_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import FAST_RETRY, settings_for, talknotes_sender, wait_for
from tests.conftest import need

from tnhl.simulator import running_simulator
from tnhl.simulator._serve import serve_in_thread
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "dashboard-e2e-password"
AT = "2026-12-01T15:30:00Z"

pytestmark = [pytest.mark.external, pytest.mark.slow]


def _event(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "timestamp": AT, "data": data}


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright."""
    need(
        importlib.util.find_spec("playwright") is not None,
        "the playwright package is not installed (pip install -e '.[dev]')",
    )
    need(CHROMIUM.exists(), f"Chromium is not at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


def test_find_a_dead_task_tell_its_story_replay_it_and_see_it_done(
    tmp_path: Path, browser: Any
) -> None:
    """Log in (a wrong password first), search the event log for a contact, open its dead
    task's story, replay it: the story goes from dead to done, lists the create call answered
    201, and HighLevel has the task; a recipe turned off on the recipes page shows as off."""
    from playwright.sync_api import expect

    # Deadlines, not sleeps: on a loaded 2-core machine htmx's round trips may take seconds.
    expect.set_options(timeout=20_000)

    shots = Path(os.environ.get("DASHBOARD_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    secret = generate_secret()
    started = time.monotonic()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, admin_password=PASSWORD, orphan_timeout=0.3)
        # The service's own app: `tnhl run` serves the dashboard once admin_password is set.
        service = Service.from_settings(settings, retry=FAST_RETRY)
        service.start()
        try:
            with serve_in_thread(service.app) as base:
                send = talknotes_sender(base, secret)
                send(
                    [
                        _event("contact.created", {"id": "c-sam", "full_name": "Sam Lee"}),
                        _event(
                            "task.created",
                            {"id": "t-quote", "contactId": "c-ana", "taskName": "Send the quote"},
                        ),
                    ]
                )
                wait_for(lambda: len(service.store.list_dead()) == 1, 30, "the orphan task dead")
                send([_event("contact.created", {"id": "c-ana", "email": "ana@example.com"})])

                def ana() -> str | None:
                    return service.store.get_highlevel_id(sim.location_id, "contact", "c-ana")

                wait_for(lambda: ana() is not None, 30, "the late contact in HighLevel")
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(15_000)
                # A script or style the page's policy blocks shows here (htmx's own included).
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on(
                    "response",
                    lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
                )

                page.goto(f"{base}/")
                expect(page).to_have_url(f"{base}/login?next=%2F")
                page.fill("#password", "not-it")
                page.click("button:text('Log in')")
                expect(page.locator(".message")).to_have_text("Wrong password.")
                page.screenshot(path=str(shots / "login.png"))
                page.fill("#password", PASSWORD)
                page.click("button:text('Log in')")
                expect(page.locator("h1")).to_have_text("Connections")
                expect(page.locator(".connection .health")).to_have_text("1 dead letter")
                page.screenshot(path=str(shots / "connections.png"), full_page=True)

                page.click("nav >> text=Events")
                expect(page.locator("#event-rows tbody tr")).to_have_count(3)
                # htmx binds its triggers once the page has loaded: typing before that is lost
                # (a person types later; a test must wait for it).
                page.wait_for_load_state("load")
                page.wait_for_function("() => window.htmx !== undefined")
                page.fill("#q", "c-ana")  # htmx narrows the list as one types
                rows = page.locator("#event-rows tbody tr")
                expect(rows).to_have_count(2)
                page.screenshot(path=str(shots / "events.png"), full_page=True)
                rows.filter(has_text="task.created").locator("a").first.click()

                expect(page.locator("#state")).to_have_text("dead")
                expect(page.locator(".dead-letter")).to_contain_text("orphan_timeout")
                expect(page.locator("#body")).to_contain_text("Send the quote")
                page.screenshot(path=str(shots / "story-dead.png"), full_page=True)

                page.click(".dead-letter button:text('Replay')")
                expect(page.locator(".flash")).to_contain_text("replayed")
                expect(page.locator("#state")).to_have_text("done", timeout=30_000)
                expect(page.locator("#outcome")).to_be_visible()
                calls = page.locator("#calls tbody tr")
                expect(calls.filter(has_text="create-task")).to_contain_text("201")
                page.screenshot(path=str(shots / "story-done.png"), full_page=True)

                page.click("nav >> text=Dead letters")
                expect(page.locator("tbody")).to_contain_text("No dead letters.")
                page.click("nav >> text=Recipes")
                expect(page.locator("tbody tr").first).to_contain_text("follow-ups")
                tenth = page.locator("tbody tr").filter(has_text="tenth-note")
                tenth.locator("button").click()
                expect(page.locator(".flash")).to_have_text("tenth-note of default is now off.")
                tenth = page.locator("tbody tr").filter(has_text="tenth-note")
                expect(tenth.locator(".onoff")).to_have_text("off")
                expect(tenth).to_contain_text("set here")
                page.screenshot(path=str(shots / "recipes.png"), full_page=True)
                page.click("nav >> text=Mapping preview")
                page.click("button:text('Preview')")
                expect(page.locator("#runs")).to_contain_text("follow-ups")
                expect(page.locator("#plan")).to_contain_text('"body"')
                page.screenshot(path=str(shots / "preview.png"), full_page=True)

                page.click("button:text('Log out')")
                expect(page.locator("h1")).to_have_text("tnhl dashboard")
                ana_id = ana()
                assert ana_id is not None
                tasks = [t["title"] for t in sim.state.children("task", ana_id)]
                login_errors = [e for e in errors if "401" not in e]
        finally:
            service.stop()
    assert tasks == ["Send the quote"]
    assert login_errors == []  # the wrong password's 401 is the one console error expected
    assert time.monotonic() - started < 120

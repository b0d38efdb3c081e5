"""Recipes turned on and off from the dashboard (issue 11), through the whole service and the
simulator over loopback: the switch applies at once, outlives a restart, needs the session's
CSRF token, and names what it cannot find."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tnhl.simulator import RunningSimulator, running_simulator
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for

AT = "2026-12-07T10:00:00Z"
PASSWORD = "switch-recipes-password"
SIGNED = "The contract was signed today. Call {name} back tomorrow at 3pm."


@contextmanager
def _dashboard(base: str) -> Iterator[tuple[httpx.Client, str]]:
    """A signed-in dashboard session and its CSRF token."""
    with httpx.Client(base_url=base) as http:
        form = http.get("/login").text
        csrf = form.split('name="csrf" value="')[1].split('"')[0]
        signed_in = http.post("/login", data={"password": PASSWORD, "csrf": csrf, "next": "/"})
        assert signed_in.status_code == 303
        page = http.get("/recipes").text
        yield http, page.split('name="csrf" value="')[1].split('"')[0]


def _signed_note(send: Any, contact: str, name: str) -> None:
    send(
        [
            {"type": "contact.created", "timestamp": AT,
             "data": {"id": contact, "email": f"{contact}@x.io", "full_name": name}},
            {"type": "note.created", "timestamp": AT,
             "data": {"id": f"n-{contact}", "contactId": contact,
                      "noteContent": SIGNED.format(name=name)}},
        ]
    )  # fmt: skip


def _notes_and_tasks(sim: RunningSimulator, service: Service, contact: str) -> Any:
    """(sorted note titles, task titles) of a contact once it and its follow-up task landed
    and nothing is left to do."""
    loc = sim.location_id

    def landed() -> bool:
        hl = service.store.get_highlevel_id(loc, "contact", contact)
        counts = service.store.stats().counts
        idle = counts.get("received", 0) + counts.get("pending", 0) == 0
        return hl is not None and len(sim.state.children("task", hl)) == 1 and idle

    wait_for(landed, 30, f"{contact} and its follow-up task")
    hl = service.store.get_highlevel_id(loc, "contact", contact)
    assert hl is not None
    notes = sorted(str(n.get("title") or "") for n in sim.state.children("note", hl))
    return notes, [t["title"] for t in sim.state.children("task", hl)]


def test_a_recipe_switched_off_stays_off_across_a_restart_until_switched_on(
    tmp_path: Path,
) -> None:
    """Milestones switched off in the dashboard: a signing note gets its follow-up task and no
    milestone note, also after `tnhl run` restarts (the page says "set here"); switched on
    again: the next signing note gets its milestone note."""
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, admin_password=PASSWORD)
        with running_service(settings) as (service, base):
            with _dashboard(base) as (http, csrf):
                off = http.post("/recipes/default/milestones", data={"csrf": csrf, "on": "0"})
                assert off.status_code == 303
                flash = http.get(off.headers["location"]).text
                assert "milestones of default is now off." in flash
            send = talknotes_sender(base, secret)
            _signed_note(send, "c1", "Ana")
            assert _notes_and_tasks(sim, service, "c1") == ([""], ["Call Ana back"])
        with running_service(settings) as (service, base):
            with _dashboard(base) as (http, csrf):
                page = http.get("/recipes").text
                row = page[page.index("<code>milestones</code>") :].split("</tr>")[0]
                assert '<span class="onoff off">off</span>' in row
                assert "set here" in row
                send = talknotes_sender(base, secret, prefix="restarted")
                _signed_note(send, "c2", "Bo")
                assert _notes_and_tasks(sim, service, "c2") == ([""], ["Call Bo back"])
                on = http.post("/recipes/default/milestones", data={"csrf": csrf, "on": "1"})
                assert on.status_code == 303
            _signed_note(send, "c3", "Cy")
            assert _notes_and_tasks(sim, service, "c3") == (
                ["", "Milestone: signed"],
                ["Call Cy back"],
            )


def test_a_switch_needs_the_csrf_token_and_a_known_recipe(tmp_path: Path) -> None:
    """Without the session's CSRF token the switch is refused (403) and nothing is stored; an
    unknown recipe or connection is a 404 naming it."""
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, admin_password=PASSWORD)
        with running_service(settings) as (service, base), _dashboard(base) as (http, csrf):
            forged = http.post("/recipes/default/milestones", data={"on": "0"})
            assert forged.status_code == 403
            assert service.store.recipe_switches(sim.location_id) == {}
            missing = http.post("/recipes/default/no-such", data={"csrf": csrf, "on": "0"})
            assert missing.status_code == 404
            assert "default has no recipe named &#39;no-such&#39;" in missing.text
            nobody = http.post("/recipes/nobody/milestones", data={"csrf": csrf, "on": "0"})
            assert nobody.status_code == 404
            assert "no connection named &#39;nobody&#39;" in nobody.text
            assert service.store.recipe_switches(sim.location_id) == {}

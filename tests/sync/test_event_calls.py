"""Each HighLevel call an event's record made, with its status and HighLevel's answer (issue
11, "every event visible"), through the whole service and the simulator over loopback: in the
store, in `tnhl events show` and on the dashboard's story page."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from tnhl.cli._app import _register_commands, app
from tnhl.simulator import SimulatorConfig, running_simulator
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for

_register_commands()
AT = "2026-12-07T10:00:00Z"
PASSWORD = "calls-dashboard-password"


def _contact(talknotes_id: str, email: str) -> dict[str, Any]:
    data = {"id": talknotes_id, "email": email, "full_name": "Call Trail"}
    return {"type": "contact.created", "timestamp": AT, "data": data}


def _only_event(service: Any, state: str) -> int:
    def settled() -> bool:
        return [e.state for e in service.store.list_events(source="talknotes")] == [state]

    wait_for(settled, 20, f"the event {state}")
    (event,) = service.store.list_events(source="talknotes")
    return int(event.id)


def _show(sim: Any, data_dir: Path, inbox_id: int) -> dict[str, Any]:
    """`tnhl events show ID` as a user runs it beside `tnhl run`."""
    env = {
        "TNHL_HIGHLEVEL_BASE_URL": sim.base_url,
        "TNHL_HIGHLEVEL_TOKEN": sim.token,
        "TNHL_LOCATION_ID": sim.location_id,
        "TNHL_DATA_DIR": str(data_dir),
    }
    result = CliRunner().invoke(app, ["events", "show", str(inbox_id)], env=env)
    assert result.exit_code == 0, result.output
    detail: dict[str, Any] = json.loads(result.output)
    return detail


def test_a_created_contact_shows_its_lookup_and_create_with_highlevels_answers(
    tmp_path: Path,
) -> None:
    """A contact that lands: `events show` lists the duplicate lookup (200) and the create
    (201, the spec's status for POST /contacts/), each with its request as sent and what
    HighLevel answered; the token appears nowhere."""
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret)
        with running_service(settings) as (service, base):
            talknotes_sender(base, secret)([_contact("c1", "calls@example.com")])
            inbox_id = _only_event(service, "done")
            detail = _show(sim, tmp_path, inbox_id)
        loc = sim.location_id
        calls = detail["calls"]
        assert [(c["operation"], c["request"], c["status"]) for c in calls] == [
            (
                "get-duplicate-contact",
                f"GET /contacts/search/duplicate?locationId={loc}&email=calls%40example.com",
                200,
            ),
            ("create-contact", "POST /contacts/", 201),
        ]
        assert calls[0]["answer"] == {"contact": None}
        created = calls[1]["answer"]["contact"]
        assert created["email"] == "calls@example.com"
        assert created["id"] == service.store.get_highlevel_id(loc, "contact", "c1")
        assert all(c["seconds"] >= 0 and c["at"].endswith("+00:00") for c in calls)
        assert sim.token not in json.dumps(detail)


def test_a_refused_call_shows_highlevels_status_and_message(tmp_path: Path) -> None:
    """HighLevel refusing every request with 422: the dead event's story holds the refused
    call, its status 422 and HighLevel's own error body."""
    secret = generate_secret()
    with running_simulator() as sim:
        with sim.client() as admin:
            put = admin.put("/_admin/faults", json={"error_rates": {"422": 1.0}})
            assert put.status_code == 200, put.text
        settings = settings_for(sim, tmp_path, secret)
        with running_service(settings) as (service, base):
            talknotes_sender(base, secret)([_contact("c2", "refused@example.com")])
            inbox_id = _only_event(service, "dead")
            detail = _show(sim, tmp_path, inbox_id)
    (call,) = detail["calls"]
    assert call["operation"] == "get-duplicate-contact"
    assert call["status"] == 422
    assert call["answer"]["statusCode"] == 422


def test_a_rate_limited_try_shows_the_429_then_the_answer(tmp_path: Path) -> None:
    """A 429 storm of one request: the story starts with HighLevel's 429 and its body, and
    ends with the create answered 201; between them only the lookup, answered 200 (tried again
    after the pause, and once more when the try is given back to wait for a slot)."""
    secret = generate_secret()
    # A 1 s window, so the pause after the 429 is short.
    config = SimulatorConfig(rate_limit=RateLimitConfig(burst=100, interval_ms=1000))
    with running_simulator(config) as sim:
        settings = settings_for(sim, tmp_path, secret, rate_limit_interval=1.0)
        with running_service(settings) as (service, base):
            # Set once running: `tnhl run`'s token check at start would take the 429.
            with sim.client() as admin:
                put = admin.put("/_admin/faults", json={"storm_429": {"requests": 1}})
                assert put.status_code == 200, put.text
            talknotes_sender(base, secret)([_contact("c3", "storm@example.com")])
            inbox_id = _only_event(service, "done")
            calls = service.store.event_calls(inbox_id)
    first, *between, last = calls
    assert (first.operation, first.status) == ("get-duplicate-contact", 429)
    assert json.loads(first.answer)["statusCode"] == 429
    assert (last.operation, last.status) == ("create-contact", 201)
    assert between
    assert {(c.operation, c.status, c.answer) for c in between} == {
        ("get-duplicate-contact", 200, '{"contact":null}')
    }


def test_the_dashboard_story_lists_the_calls(tmp_path: Path) -> None:
    """The dashboard's page of a landed event shows its two calls with their statuses."""
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, admin_password=PASSWORD)
        with running_service(settings) as (service, base):
            talknotes_sender(base, secret)([_contact("c4", "story@example.com")])
            inbox_id = _only_event(service, "done")
            with httpx.Client(base_url=base) as http:
                form = http.get("/login").text
                csrf = form.split('name="csrf" value="')[1].split('"')[0]
                http.post("/login", data={"password": PASSWORD, "csrf": csrf, "next": "/"})
                page = http.get(f"/events/{inbox_id}")
    assert page.status_code == 200
    html = page.text
    section = html[html.index('id="calls"') :]
    assert "<code>POST /contacts/</code>" in section
    assert '<td class="call-status ">201</td>' in section
    assert "get-duplicate-contact" in section


TAG_ON_SIGNING = """\
recipes:
  tag-signed:
    trigger: talknotes.note.milestone
    when: [{path: milestone.family, equals: signed}]
    actions:
      - highlevel.add-tags:
          params: {contactId: "{{ contact.highlevel_id }}"}
          body: {tags: ["signed"]}
"""


def test_a_recipe_firing_shows_its_highlevel_calls(tmp_path: Path) -> None:
    """A recipe that tags the contact when a note says the contract was signed: its firing's
    story holds the tag call, POST /contacts/{id}/tags answered 201 (the spec's status)."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(TAG_ON_SIGNING)
    secret = generate_secret()
    note = {"id": "n1", "contactId": "c5", "noteContent": "The contract was signed today."}
    with running_simulator() as sim:
        settings = settings_for(sim, tmp_path, secret, mapping_file=mapping)
        with running_service(settings) as (service, base):
            send = talknotes_sender(base, secret)
            send([_contact("c5", "signed@example.com")])
            send([{"type": "note.created", "timestamp": AT, "data": note}])

            def fired() -> list[Any]:
                rows = service.store.list_events(source="recipe")
                return [r for r in rows if r.event_id.startswith("recipe:tag-signed:")]

            wait_for(lambda: [r.state for r in fired()] == ["done"], 30, "the tag recipe ran")
            (firing,) = fired()
            calls = service.store.event_calls(firing.id)
            hl = service.store.get_highlevel_id(sim.location_id, "contact", "c5")
    assert [(c.operation, c.request, c.status) for c in calls] == [
        ("highlevel.add-tags", f"POST /contacts/{hl}/tags", 201)
    ]
    assert json.loads(calls[0].answer)["tags"] == ["signed"]

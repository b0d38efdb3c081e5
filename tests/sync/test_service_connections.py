"""One service, three connections (issue 8), over the simulator with three locations and
three tokens: each connection's events land in its own location only, an unknown connection
is 404 with nothing stored, and a revoked token pauses its connection alone until fixed."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tnhl.simulator import RunningSimulator, SimulatorConfig, running_simulator
from tnhl.simulator._config import LocationConfig, PitConfig
from tnhl.simulator._serve import serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import signed_requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import FAST_RETRY, wait_for

TS = "2026-12-01T09:00:00Z"
NAMES = ("acme", "bolt", "cove")
LOCATIONS = {
    "acme": "LocAcme0000000000001",
    "bolt": "LocBolt0000000000002",
    "cove": "LocCove0000000000003",
}
TOKENS = {name: f"pit-{name}-0123456789" for name in NAMES}


def _people(name: str) -> list[dict[str, Any]]:
    """The same TalkNotes ids in every connection (p1, t1, n1): ids are per connection."""
    return [
        {
            "type": "contact.created",
            "timestamp": TS,
            "data": {"id": "p1", "full_name": f"Ada {name}", "email": f"ada@{name}.example"},
        },
        {
            "type": "task.created",
            "timestamp": TS,
            "data": {"id": "t1", "contactId": "p1", "taskName": f"Call {name} back"},
        },
        {
            "type": "note.created",
            "timestamp": TS,
            "data": {"id": "n1", "contactId": "p1", "noteContent": f"Met {name}"},
        },
    ]


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(
        locations=[LocationConfig(id=loc) for loc in LOCATIONS.values()],
        tokens=[PitConfig(token=SecretStr(TOKENS[n]), location_id=LOCATIONS[n]) for n in NAMES],
    )
    with running_simulator(config) as running:
        yield running


def _service(tmp_path: Path, sim: RunningSimulator, secrets: dict[str, str]) -> Service:
    lines = ["connections:"]
    for name in NAMES:
        lines += [
            f"  - name: {name}",
            f"    location_id: {LOCATIONS[name]}",
            f"    highlevel_token: {TOKENS[name]}",
            f"    talknotes_secret: {secrets[name]}",
        ]
    path = tmp_path / "tnhl.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings(
        path,
        highlevel_base_url=sim.base_url,
        data_dir=tmp_path / "data",
        workers=2,
        poll_interval=0.05,
        retry_scale=1e-5,
        http_timeout=2.0,
        credentials_pause=0.5,
    )
    return Service.from_settings(settings, retry=FAST_RETRY)


def _post_all(
    http: httpx.Client, path: str, secret: str, events: list[dict[str, Any]]
) -> list[int]:
    requests = signed_requests(events, secret, timestamp=int(time.time()), id_prefix=path[-4:])
    return [http.post(path, content=body, headers=h).status_code for h, body in requests]


def _post_everyone(http: httpx.Client, secrets: dict[str, str]) -> None:
    """Each connection's three events to its own path, each answered 202."""
    for name in NAMES:
        path = f"/webhooks/talknotes/{name}"
        assert _post_all(http, path, secrets[name], _people(name)) == [202, 202, 202]


def _location(sim: RunningSimulator, loc: str) -> dict[str, list[tuple[str, ...]]]:
    contacts = [c for c in sim.state.all("contact") if c.get("locationId") == loc]
    ids = {c["id"] for c in contacts}
    return {
        "contacts": sorted((c["firstName"], c["lastName"], c["email"]) for c in contacts),
        "tasks": sorted((t["title"],) for t in sim.state.all("task") if t["contactId"] in ids),
        "notes": sorted((n["body"],) for n in sim.state.all("note") if n["contactId"] in ids),
    }


def _done(service: Service) -> int:
    return service.store.stats().counts.get("done", 0)


def test_each_connection_lands_in_its_own_location_and_unknown_names_store_nothing(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    """Three connections with the same TalkNotes ids: each location gets exactly its own
    contact, task and note; /webhooks/talknotes/nope and the plain path are 404, stored
    nothing; a delivery signed with another connection's secret is 401."""
    secrets = {name: generate_secret() for name in NAMES}
    service = _service(tmp_path, sim, secrets)
    service.start()
    try:
        with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
            _post_everyone(http, secrets)
            assert _post_all(
                http, "/webhooks/talknotes/nope", secrets["acme"], _people("x")[:1]
            ) == [404]
            assert _post_all(http, "/webhooks/talknotes", secrets["acme"], _people("y")[:1]) == [
                404
            ]
            assert _post_all(
                http, "/webhooks/talknotes/bolt", secrets["acme"], _people("z")[:1]
            ) == [401]
            wait_for(lambda: _done(service) == 9, 20, "9 events done")
    finally:
        service.stop()
    assert {k: n for k, n in service.store.stats().counts.items() if n} == {"done": 9}
    for name in NAMES:
        assert _location(sim, LOCATIONS[name]) == {
            "contacts": [("Ada", name, f"ada@{name}.example")],
            "tasks": [(f"Call {name} back",)],
            "notes": [(f"Met {name}",)],
        }


def test_a_revoked_token_pauses_its_connection_alone_and_nothing_is_lost(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    """bolt's token is revoked: acme and cove complete; bolt's events stay pending, its
    records saying the connection is paused, none dead. With the token back, bolt's events
    complete, each once."""
    secrets = {name: generate_secret() for name in NAMES}
    sim.parts.tokens.revoke_pit(TOKENS["bolt"])
    service = _service(tmp_path, sim, secrets)
    service.start()
    try:
        with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
            _post_everyone(http, secrets)
            wait_for(lambda: _done(service) == 6, 20, "acme's and cove's 6 events done")
            bolt = service.store.get_record(LOCATIONS["bolt"], "contact", "p1")
            assert bolt is not None
            assert bolt.last_error is not None
            assert bolt.last_error == "connection paused: HighLevel answered 401: Invalid JWT"
            assert (bolt.attempts, bolt.status) == (0, "new")
            assert service.store.stats().counts.get("dead", 0) == 0
            assert _location(sim, LOCATIONS["bolt"]) == {"contacts": [], "tasks": [], "notes": []}
            sim.parts.tokens.add_pit(TOKENS["bolt"], location_id=LOCATIONS["bolt"])
            wait_for(lambda: _done(service) == 9, 20, "bolt's events done after the fix")
    finally:
        service.stop()
    assert {k: n for k, n in service.store.stats().counts.items() if n} == {"done": 9}
    assert _location(sim, LOCATIONS["bolt"]) == {
        "contacts": [("Ada", "bolt", "ada@bolt.example")],
        "tasks": [("Call bolt back",)],
        "notes": [("Met bolt",)],
    }

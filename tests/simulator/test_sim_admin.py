"""Admin endpoints, the request log, persistence across a restart, and config loading."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from tnhl.simulator import (
    ConfigError,
    LocationConfig,
    RunningSimulator,
    SimulatorConfig,
    build_simulator,
    load_config,
    running_simulator,
)


def test_state_shows_counts_and_records(client: httpx.Client, sim: RunningSimulator) -> None:
    """GET /_admin/state has per-location settings, counts and records."""
    cid = client.post("/contacts/", json={"locationId": sim.location_id, "email": "a@x.io"}).json()[
        "contact"
    ]["id"]
    client.post(f"/contacts/{cid}/notes", json={"body": "n"})
    loc = client.get("/_admin/state").json()["locations"][sim.location_id]
    assert loc["counts"] == {"contact": 1, "task": 0, "note": 1, "appointment": 0}
    assert loc["records"]["contact"][0]["email"] == "a@x.io"
    assert loc["settings"]["allow_duplicates"] is False


def test_request_log_counts_operations(client: httpx.Client, sim: RunningSimulator) -> None:
    """Each API call is logged with its operation id and status; admin calls are not."""
    client.delete("/_admin/requests")
    cid = client.post("/contacts/", json={"locationId": sim.location_id}).json()["contact"]["id"]
    client.get(f"/contacts/{cid}")
    client.get(f"/contacts/{cid}")
    client.get("/contacts/unknown")
    log = client.get("/_admin/requests").json()
    assert log["total"] == 4
    assert log["byOperation"] == {"create-contact": 1, "get-contact": 3}
    assert log["byStatus"] == {"201": 1, "200": 2, "400": 1}
    first = log["requests"][0]
    assert (first["method"], first["path"], first["status"]) == ("POST", "/contacts/", 201)
    assert first["location_id"] == sim.location_id
    assert sim.log.counts() == {"create-contact": 1, "get-contact": 3}
    assert client.delete("/_admin/requests").status_code == 200
    assert client.get("/_admin/requests").json()["total"] == 0


def test_reset_forgets_records(client: httpx.Client, sim: RunningSimulator) -> None:
    """POST /_admin/reset empties every location and the log."""
    client.post("/contacts/", json={"locationId": sim.location_id})
    assert client.post("/_admin/reset").status_code == 200
    assert sim.state.all("contact") == []
    assert sim.log.total() == 0


def test_appointment_seed_validation(client: httpx.Client, sim: RunningSimulator) -> None:
    """Seeding names unknown fields and unknown contacts."""
    r = client.post("/_admin/appointments", json={"contactId": "x", "colour": "red"})
    assert r.status_code == 422
    assert r.json()["message"] == ["0.property colour should not exist"]
    r = client.post("/_admin/appointments", json={"contactId": "nope"})
    assert r.status_code == 400


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """With a state file, contacts, tasks and settings written before a restart are there after."""
    cfg = SimulatorConfig(state_file=tmp_path / "sim.sqlite3")
    with running_simulator(cfg, token="pit-test", rng=random.Random(1)) as sim, sim.client() as c:
        cid = c.post(
            "/contacts/", json={"locationId": sim.location_id, "email": "keep@x.io"}
        ).json()["contact"]["id"]
        c.post(
            f"/contacts/{cid}/tasks",
            json={"title": "t", "dueDate": "2026-01-01", "completed": False},
        )
        c.put(f"/_admin/locations/{sim.location_id}", json={"allow_duplicates": True})
        gone = c.post("/contacts/", json={"locationId": sim.location_id}).json()["contact"]["id"]
        c.delete(f"/contacts/{gone}")
    with running_simulator(cfg, token="pit-test", rng=random.Random(2)) as sim, sim.client() as c:
        assert c.get(f"/contacts/{cid}").json()["contact"]["email"] == "keep@x.io"
        assert len(c.get(f"/contacts/{cid}/tasks").json()["tasks"]) == 1
        assert c.get(f"/contacts/{gone}").status_code == 400
        assert sim.state.location(sim.location_id).allow_duplicates is True
        # The email index came back too: duplicates are allowed now, so this creates another.
        assert (
            c.post(
                "/contacts/", json={"locationId": sim.location_id, "email": "keep@x.io"}
            ).status_code
            == 201
        )


def test_seeded_ids_are_reproducible() -> None:
    """The same seed gives the same ids (20 alphanumeric characters)."""
    ids = []
    for _ in range(2):
        with (
            running_simulator(SimulatorConfig(), token="t", rng=random.Random(42)) as sim,
            sim.client() as c,
        ):
            ids.append(
                c.post("/contacts/", json={"locationId": sim.location_id}).json()["contact"]["id"]
            )
    assert ids[0] == ids[1]
    assert len(ids[0]) == 20
    assert ids[0].isalnum()


def test_load_config_yaml(tmp_path: Path) -> None:
    """A YAML config sets locations, tokens and the rate limit."""
    path = tmp_path / "sim.yaml"
    path.write_text(
        "locations:\n  - id: LocA00000000000000001\n    allow_duplicates: true\n"
        "    duplicate_priority: [phone]\n"
        "tokens:\n  - token: pit-a\n    location_id: LocA00000000000000001\n"
        "rate_limit:\n  burst: 5\n",
        encoding="utf-8",
    )
    cfg = load_config(path)
    assert cfg.locations == [
        LocationConfig(
            id="LocA00000000000000001", allow_duplicates=True, duplicate_priority=["phone"]
        )
    ]
    assert cfg.rate_limit.burst == 5
    assert cfg.default_token == "pit-a"
    assert "pit-a" not in repr(cfg)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "locations:\n  - id: L\n    duplicate_priority: [fax]\n",
            "locations.0.duplicate_priority.0",
        ),
        ("rate_limit:\n  burst: 0\n", "rate_limit.burst"),
        ("colour: red\n", "colour"),
        ("- a\n", "top level must be a mapping"),
        ("a: [\n", "not valid yaml"),
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, text: str, needle: str) -> None:
    """Bad config files raise ConfigError naming the file and the field."""
    path = tmp_path / "sim.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert needle in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("path", ["/_admin/state", "/_admin/faults", "/_admin/webhooks"])
async def test_admin_refuses_remote_clients(path: str) -> None:
    """Every /_admin route answers 403 to a non-loopback client unless admin_remote is set."""
    for remote_ok, expected in ((False, 403), (True, 200)):
        parts = build_simulator(SimulatorConfig(admin_remote=remote_ok).with_defaults())
        transport = httpx.ASGITransport(app=parts.app, client=("203.0.113.9", 4321))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
                assert (await c.get(path)).status_code == expected
                api = await c.get("/contacts/x", headers={"Version": "2021-07-28"})
                assert api.status_code == 401  # the API itself is not behind the guard
        finally:
            parts.close()


def test_concurrent_creates_keep_the_duplicate_rule(sim: RunningSimulator) -> None:
    """Twenty parallel creates of one email: exactly one 201, the rest 400 naming it."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"locationId": sim.location_id, "email": "race@x.io"}
    with sim.client(timeout=10) as c, ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: c.post("/contacts/", json=body), range(20)))
    created = [r for r in answers if r.status_code == 201]
    assert len(created) == 1
    winner = created[0].json()["contact"]["id"]
    assert all(r.json()["meta"]["contactId"] == winner for r in answers if r.status_code == 400)
    assert len(sim.state.all("contact")) == 1


def test_reset_helper(client: httpx.Client, sim: RunningSimulator) -> None:
    """RunningSimulator.reset() empties records and the log but keeps location settings."""
    client.put(f"/_admin/locations/{sim.location_id}", json={"allow_duplicates": True})
    client.post("/contacts/", json={"locationId": sim.location_id})
    sim.reset()
    assert sim.state.all("contact") == []
    assert sim.log.total() == 0
    assert sim.state.location(sim.location_id).allow_duplicates is True

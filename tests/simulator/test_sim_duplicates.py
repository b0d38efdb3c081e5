"""The duplicate rules of docs/highlevel-api.md section 4, per location setting."""

from __future__ import annotations

from typing import Any

import httpx

from tnhl.simulator import RunningSimulator


def _settings(client: httpx.Client, sim: RunningSimulator, **settings: Any) -> None:
    r = client.put(f"/_admin/locations/{sim.location_id}", json=settings)
    assert r.status_code == 200, r.text


def _create(client: httpx.Client, sim: RunningSimulator, **fields: Any) -> httpx.Response:
    return client.post("/contacts/", json={"locationId": sim.location_id, **fields})


def test_create_with_duplicates_disallowed_is_400_with_meta(client, sim) -> None:
    """A create matching an existing email answers 400 with contactId, matchingField, name."""
    first = _create(client, sim, email="sam@x.io", firstName="Sam", lastName="Lee").json()
    r = _create(client, sim, email="SAM@x.io")
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "error": "Bad Request",
        "meta": {
            "contactId": first["contact"]["id"],
            "matchingField": "email",
            "contactName": "Sam Lee",
        },
    }


def test_create_matches_phone_in_any_format(client, sim) -> None:
    """Phones match after normalisation to E.164, and meta names the phone field."""
    _create(client, sim, phone="+1 555 010 2000")
    r = _create(client, sim, phone="(555) 010-2000")
    assert r.status_code == 400
    assert r.json()["meta"]["matchingField"] == "phone"


def test_create_with_duplicates_allowed_creates_another(client, sim) -> None:
    """With allow_duplicates on, the same email creates a second contact."""
    _settings(client, sim, allow_duplicates=True)
    a = _create(client, sim, email="d@x.io")
    b = _create(client, sim, email="d@x.io")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["contact"]["id"] != b.json()["contact"]["id"]


def test_upsert_follows_priority_and_ignores_the_second_field(client, sim) -> None:
    """Email first: the email's contact is updated and the phone owned by another is dropped."""
    by_email = _create(client, sim, email="e@x.io").json()["contact"]["id"]
    by_phone = _create(client, sim, phone="+15550003333").json()["contact"]["id"]
    r = client.post(
        "/contacts/upsert",
        json={
            "locationId": sim.location_id,
            "email": "e@x.io",
            "phone": "+15550003333",
            "firstName": "Eve",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["new"] is False
    assert body["contact"]["id"] == by_email
    assert body["contact"]["firstName"] == "Eve"
    assert "phone" not in body["contact"]
    assert sim.state.get("contact", by_phone)["phone"] == "+15550003333"


def test_upsert_with_phone_priority_updates_the_phone_contact(client, sim) -> None:
    """Phone first: the phone's contact is updated and the other's email is not taken."""
    _settings(client, sim, duplicate_priority=["phone", "email"])
    by_email = _create(client, sim, email="p@x.io").json()["contact"]["id"]
    by_phone = _create(client, sim, phone="+15550004444").json()["contact"]["id"]
    r = client.post(
        "/contacts/upsert",
        json={"locationId": sim.location_id, "email": "p@x.io", "phone": "+15550004444"},
    )
    assert r.json()["contact"]["id"] == by_phone
    assert "email" not in r.json()["contact"]
    assert sim.state.get("contact", by_email)["email"] == "p@x.io"


def test_upsert_sets_the_second_field_when_nobody_owns_it(client, sim) -> None:
    """A second field that matches nobody is applied to the matched contact."""
    cid = _create(client, sim, email="f@x.io").json()["contact"]["id"]
    r = client.post(
        "/contacts/upsert",
        json={"locationId": sim.location_id, "email": "f@x.io", "phone": "+15550005555"},
    )
    assert r.json()["contact"]["id"] == cid
    assert r.json()["contact"]["phone"] == "+15550005555"


def test_create_new_if_duplicate_allowed(client, sim) -> None:
    """The flag creates a new contact only where the location allows duplicates."""
    cid = _create(client, sim, email="g@x.io").json()["contact"]["id"]
    body = {"locationId": sim.location_id, "email": "g@x.io", "createNewIfDuplicateAllowed": True}
    ignored = client.post("/contacts/upsert", json=body).json()
    assert ignored["new"] is False
    assert ignored["contact"]["id"] == cid
    _settings(client, sim, allow_duplicates=True)
    created = client.post("/contacts/upsert", json=body).json()
    assert created["new"] is True
    assert created["contact"]["id"] != cid
    plain = client.post(
        "/contacts/upsert", json={**body, "createNewIfDuplicateAllowed": False}
    ).json()
    assert plain["new"] is False


def test_duplicate_endpoint_follows_the_setting(client, sim) -> None:
    """With duplicates allowed, the duplicate search looks at email before phone."""
    _settings(client, sim, allow_duplicates=True, duplicate_priority=["phone", "email"])
    by_email = _create(client, sim, email="h@x.io").json()["contact"]["id"]
    _create(client, sim, phone="+15550006666")
    r = client.get(
        "/contacts/search/duplicate",
        params={"locationId": sim.location_id, "email": "h@x.io", "number": "+15550006666"},
    )
    assert r.json()["contact"]["id"] == by_email


def test_bad_settings_are_rejected(client, sim) -> None:
    """The admin settings endpoint names the bad field."""
    r = client.put(f"/_admin/locations/{sim.location_id}", json={"duplicate_priority": ["fax"]})
    assert r.status_code == 422
    assert "duplicate_priority" in r.json()["message"][0]


def test_unlisted_location_forbids_duplicates() -> None:
    """A location missing from the config gets HighLevel's default: duplicates not allowed."""
    from pydantic import SecretStr

    from tnhl.simulator import PitConfig, SimulatorConfig, running_simulator

    loc = "Unlisted000000000001"
    cfg = SimulatorConfig(tokens=[PitConfig(token=SecretStr("pit-u"), location_id=loc)])
    with running_simulator(cfg) as sim, sim.client() as c:
        assert sim.location_id == loc
        assert c.post("/contacts/", json={"locationId": loc, "email": "u@x.io"}).status_code == 201
        again = c.post("/contacts/", json={"locationId": loc, "email": "u@x.io"})
        assert again.status_code == 400
        upsert = c.post("/contacts/upsert", json={"locationId": loc, "email": "u@x.io"})
        assert upsert.json()["new"] is False

"""Requests are validated as HighLevel's NestJS pipe does: headers, bearer, DTO rules."""

from __future__ import annotations

import httpx
import pytest

from tnhl.simulator import RunningSimulator
from tnhl.simulator._dtos import CREATE_TASK, UPDATE_CONTACT
from tnhl.simulator._http import SimHTTPError
from tnhl.simulator._validate import validate_body


def test_unknown_property_is_422_should_not_exist(
    client: httpx.Client, sim: RunningSimulator
) -> None:
    """A property outside the DTO answers 422 ["property X should not exist"]."""
    r = client.post("/contacts/", json={"locationId": sim.location_id, "additionalEmails": []})
    assert r.status_code == 422
    assert r.json() == {
        "statusCode": 422,
        "message": ["property additionalEmails should not exist"],
        "error": "Unprocessable Entity",
    }


def test_location_id_on_update_is_rejected(client: httpx.Client, sim: RunningSimulator) -> None:
    """UpdateContactDto has no locationId, so sending it is a 422."""
    cid = client.post("/contacts/", json={"locationId": sim.location_id}).json()["contact"]["id"]
    r = client.put(f"/contacts/{cid}", json={"locationId": sim.location_id})
    assert r.status_code == 422
    assert r.json()["message"] == ["property locationId should not exist"]


def test_missing_and_mistyped_required_fields(client: httpx.Client, sim: RunningSimulator) -> None:
    """create-task without title/dueDate and a mistyped completed lists every broken rule."""
    cid = client.post("/contacts/", json={"locationId": sim.location_id}).json()["contact"]["id"]
    r = client.post(f"/contacts/{cid}/tasks", json={"completed": "yes"})
    assert r.status_code == 422
    assert sorted(r.json()["message"]) == sorted(
        [
            "title should not be empty",
            "title must be a string",
            "dueDate should not be empty",
            "dueDate must be a string",
            "completed must be a boolean value",
        ]
    )


def test_missing_location_id_on_create(client: httpx.Client) -> None:
    """CreateContactDto requires locationId."""
    r = client.post("/contacts/", json={"email": "a@x.io"})
    assert r.status_code == 422
    assert "locationId should not be empty" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": 5}, "title must be a string"),
        ({"title": ""}, "title should not be empty"),
        ({"completed": None}, "completed must be a boolean value"),
    ],
)
def test_class_validator_wording(body: dict[str, object], message: str) -> None:
    """The messages use class-validator's wording."""
    full = {"title": "t", "dueDate": "2026-01-01T00:00:00Z", "completed": False, **body}
    with pytest.raises(SimHTTPError) as err:
        validate_body(CREATE_TASK, full)
    assert err.value.status == 422
    assert err.value.message == [message]


def test_nested_errors_carry_the_parent_path() -> None:
    """A bad nested value is reported with its path, as NestJS flattens nested errors."""
    with pytest.raises(SimHTTPError) as err:
        validate_body(UPDATE_CONTACT, {"dndSettings": {"Call": {"status": "maybe", "x": 1}}})
    assert err.value.message == [
        "dndSettings.Call.property x should not exist",
        "dndSettings.Call.status must be one of the following values: active, inactive, permanent",
    ]


def test_nullable_fields_take_null() -> None:
    """Fields the spec marks nullable (email, source on update) accept null."""
    assert validate_body(UPDATE_CONTACT, {"email": None, "source": None}) == {
        "email": None,
        "source": None,
    }


def test_body_that_is_not_an_object() -> None:
    """A JSON array body fails the way class-validator does on a non-object."""
    with pytest.raises(SimHTTPError) as err:
        validate_body(CREATE_TASK, [1, 2])
    assert err.value.message == ["an unknown value was passed to the validate function"]


def test_malformed_json_is_400(client: httpx.Client) -> None:
    """A body that is not JSON answers 400."""
    r = client.post("/contacts/", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_version_header_is_required(sim: RunningSimulator) -> None:
    """Without `Version: 2021-07-28`, or with another value, the answer is 400."""
    with httpx.Client(base_url=sim.base_url) as c:
        auth = {"Authorization": f"Bearer {sim.token}"}
        missing = c.get("/contacts/x", headers=auth)
        assert missing.status_code == 400
        assert missing.json()["message"] == "Version header was not found"
        wrong = c.get("/contacts/x", headers={**auth, "Version": "2021-04-15"})
        assert wrong.status_code == 400
        assert "2021-07-28" in wrong.json()["message"]


def test_bearer_token_is_required(sim: RunningSimulator) -> None:
    """No token, or an unknown one, answers 401 without echoing the token."""
    with httpx.Client(base_url=sim.base_url, headers={"Version": "2021-07-28"}) as c:
        assert c.get("/contacts/x").status_code == 401
        r = c.get("/contacts/x", headers={"Authorization": "Bearer pit-secret-value"})
        assert r.status_code == 401
        assert "pit-secret-value" not in r.text


def test_token_of_another_location_is_403(client: httpx.Client) -> None:
    """A PIT used against another location's data answers 403."""
    r = client.post("/contacts/", json={"locationId": "OtherLocation0000001"})
    assert r.status_code == 403
    assert r.json()["message"] == "The token does not have access to this location."

"""tnhl's own HighLevel client runs every one of the 32 operations against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from tnhl.highlevel import (
    OPERATIONS,
    DuplicateContactError,
    HighLevelClient,
    PrivateIntegrationToken,
)
from tnhl.simulator import RunningSimulator


def test_client_runs_all_32_operations(sim: RunningSimulator) -> None:
    """Each operation of the client's table succeeds against the simulator, over loopback."""
    loc = sim.location_id
    auth = PrivateIntegrationToken(sim.token, location_id=loc)
    done: dict[str, Any] = {}
    with HighLevelClient(auth, base_url=sim.base_url, timeout=10) as hl:

        def call(op: str, params: dict[str, Any] | None = None, json: Any = None) -> Any:
            done[op] = hl.call(op, params=params, json=json)
            return done[op]

        cid = call(
            "create-contact", json={"locationId": loc, "email": "all@x.io", "firstName": "All"}
        )["contact"]["id"]
        call("upsert-contact", json={"locationId": loc, "email": "all@x.io", "lastName": "Ops"})
        call("get-contact", {"contactId": cid})
        call("update-contact", {"contactId": cid}, {"phone": "+15550008888"})
        call("get-contacts", {"locationId": loc, "limit": 10})
        call("search-contacts-advanced", json={"locationId": loc, "pageLimit": 10})
        call("get-duplicate-contact", {"locationId": loc, "email": "all@x.io"})
        c = {"contactId": cid}
        tid = call(
            "create-task", c, {"title": "t", "dueDate": "2026-05-01T10:00:00Z", "completed": False}
        )["task"]["id"]
        t = {**c, "taskId": tid}
        call("get-all-tasks", c)
        call("get-task", t)
        call("update-task", t, {"body": "b"})
        call("update-task-completed", t, {"completed": True})
        call("delete-task", t)
        nid = call("create-note", c, {"body": "n"})["note"]["id"]
        n = {**c, "id": nid}
        call("get-all-notes", c)
        call("get-note", n)
        call("update-note", n, {"body": "m"})
        call("delete-note", n)
        call("get-appointments-for-contact", c)
        call("add-tags", c, {"tags": ["x", "y"]})
        call("remove-tags", c, {"tags": ["x"]})
        call(
            "create-association",
            {"type": "add"},
            {"contacts": [cid], "tags": ["z"], "locationId": loc},
        )
        biz = "0123456789abcdef01234567"
        call(
            "add-remove-contact-from-business",
            json={"locationId": loc, "ids": [cid], "businessId": biz},
        )
        call("get-contacts-by-businessId", {"businessId": biz, "locationId": loc})
        call("add-followers-contact", c, {"followers": ["u1"]})
        call("remove-followers-contact", c, {"followers": ["u1"]})
        call("add-contact-to-campaign", {**c, "campaignId": "camp1"}, {})
        call("remove-contact-from-campaign", {**c, "campaignId": "camp1"})
        call("remove-contact-from-every-campaign", c)
        call("add-contact-to-workflow", {**c, "workflowId": "wf1"}, {})
        call("delete-contact-from-workflow", {**c, "workflowId": "wf1"}, {})
        call("delete-contact", c)
    assert set(done) == set(OPERATIONS)
    assert done["upsert-contact"]["new"] is False
    assert done["get-contacts-by-businessId"]["contacts"][0]["id"] == cid
    assert done["delete-contact"] == {"succeded": True}


def test_client_sees_the_duplicate_error(sim: RunningSimulator) -> None:
    """The simulator's duplicate 400 reaches the client as its DuplicateContactError."""
    auth = PrivateIntegrationToken(sim.token, location_id=sim.location_id)
    body = {"locationId": sim.location_id, "email": "dup@x.io"}
    with HighLevelClient(auth, base_url=sim.base_url, timeout=10) as hl:
        first = hl.call("create-contact", json=body)["contact"]["id"]
        with pytest.raises(DuplicateContactError) as err:
            hl.call("create-contact", json=body)
    assert err.value.contact_id == first
    assert err.value.matching_field == "email"

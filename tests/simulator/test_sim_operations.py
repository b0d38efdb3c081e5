"""Every contacts operation answers with HighLevel's status code and envelope."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tnhl.simulator import OPERATIONS, RunningSimulator

ID = re.compile(r"^[A-Za-z0-9]{20}$")


def _contact(client: httpx.Client, sim: RunningSimulator, **fields: Any) -> dict[str, Any]:
    r = client.post("/contacts/", json={"locationId": sim.location_id, **fields})
    assert r.status_code == 201, r.text
    return dict(r.json()["contact"])


def test_the_table_has_the_32_official_operations() -> None:
    """The simulator routes exactly the 32 operation ids of the official contacts spec."""
    assert len({op.op_id for op in OPERATIONS}) == 32
    assert len(OPERATIONS) == 32


def test_create_contact_201_create_schema_and_20_char_id(client, sim) -> None:
    """POST /contacts/ answers 201 {contact} in CreateContactSchema's shape with a 20-char id."""
    c = _contact(client, sim, firstName="Ann", lastName="Lee", email="Ann@X.io", tags=["VIP"])
    assert ID.match(c["id"])
    assert c["locationId"] == sim.location_id
    assert c["deleted"] is False
    assert c["emailLowerCase"] == "ann@x.io"
    assert c["fullNameLowerCase"] == "ann lee"
    assert c["tags"] == ["vip"]


def test_get_update_delete_contact(client, sim) -> None:
    """GET 200 {contact}; PUT 200 {succeded, contact}; DELETE 200 {succeded: true}; then 400."""
    cid = _contact(client, sim, email="a@x.io")["id"]
    r = client.get(f"/contacts/{cid}")
    assert r.status_code == 200
    assert r.json()["contact"]["email"] == "a@x.io"
    r = client.put(
        f"/contacts/{cid}",
        json={"firstName": "Bo", "customFields": [{"key": "k", "field_value": "v"}]},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["succeded"] is True
    assert body["contact"]["firstName"] == "Bo"
    assert body["contact"]["customFields"][0]["value"] == "v"
    r = client.delete(f"/contacts/{cid}")
    assert (r.status_code, r.json()) == (200, {"succeded": True})
    r = client.get(f"/contacts/{cid}")
    assert r.status_code == 400
    assert r.json()["message"] == f"Contact with id {cid} not found"


def test_upsert_new_then_existing(client, sim) -> None:
    """Upsert answers 200 {new, contact, traceId}: new=true first, new=false on a match."""
    body = {"locationId": sim.location_id, "email": "u@x.io", "firstName": "U"}
    first = client.post("/contacts/upsert", json=body)
    assert first.status_code == 200
    assert first.json()["new"] is True
    assert first.json()["traceId"]
    second = client.post("/contacts/upsert", json={**body, "lastName": "V"})
    assert second.status_code == 200
    assert second.json()["new"] is False
    assert second.json()["contact"]["id"] == first.json()["contact"]["id"]
    assert second.json()["contact"]["lastName"] == "V"


def test_tasks_crud(client, sim) -> None:
    """Tasks: 201 {task} on create, {tasks} list, {task} get/put/completed, {succeded} delete."""
    cid = _contact(client, sim)["id"]
    task = {"title": "Call", "dueDate": "2026-10-25T11:00:00Z", "completed": False}
    r = client.post(f"/contacts/{cid}/tasks", json=task)
    assert r.status_code == 201
    tid = r.json()["task"]["id"]
    assert ID.match(tid)
    assert r.json()["task"]["dueDate"] == "2026-10-25T11:00:00.000Z"
    assert [t["id"] for t in client.get(f"/contacts/{cid}/tasks").json()["tasks"]] == [tid]
    assert client.get(f"/contacts/{cid}/tasks/{tid}").json()["task"]["title"] == "Call"
    r = client.put(f"/contacts/{cid}/tasks/{tid}", json={"title": "Call back"})
    assert r.status_code == 200
    assert r.json()["task"]["title"] == "Call back"
    r = client.put(f"/contacts/{cid}/tasks/{tid}/completed", json={"completed": True})
    assert r.status_code == 200
    assert r.json()["task"]["completed"] is True
    r = client.delete(f"/contacts/{cid}/tasks/{tid}")
    assert (r.status_code, r.json()) == (200, {"succeded": True})
    assert client.get(f"/contacts/{cid}/tasks/{tid}").status_code == 400


def test_notes_crud(client, sim) -> None:
    """Notes: 201 {note}, {notes}, {note} get/put, {succeded} delete."""
    cid = _contact(client, sim)["id"]
    r = client.post(f"/contacts/{cid}/notes", json={"body": "hello", "title": "T"})
    assert r.status_code == 201
    nid = r.json()["note"]["id"]
    assert r.json()["note"]["contactId"] == cid
    assert r.json()["note"]["dateAdded"]
    assert [n["id"] for n in client.get(f"/contacts/{cid}/notes").json()["notes"]] == [nid]
    r = client.put(f"/contacts/{cid}/notes/{nid}", json={"body": "bye", "pinned": True})
    assert r.status_code == 200
    assert r.json()["note"]["body"] == "bye"
    assert client.get(f"/contacts/{cid}/notes/{nid}").json()["note"]["pinned"] is True
    assert client.delete(f"/contacts/{cid}/notes/{nid}").json() == {"succeded": True}
    assert client.get(f"/contacts/{cid}/notes").json() == {"notes": []}


def test_tags_add_and_remove(client, sim) -> None:
    """POST tags 201 {tags} (all tags), DELETE tags 200 {tags} (what is left); unknown 404."""
    cid = _contact(client, sim, tags=["a"])["id"]
    r = client.post(f"/contacts/{cid}/tags", json={"tags": ["b", "A"]})
    assert (r.status_code, r.json()) == (201, {"tags": ["a", "b"]})
    r = client.request("DELETE", f"/contacts/{cid}/tags", json={"tags": ["a"]})
    assert (r.status_code, r.json()) == (200, {"tags": ["b"]})
    r = client.post("/contacts/AAAAAAAAAAAAAAAAAAAA/tags", json={"tags": ["x"]})
    assert r.status_code == 404
    assert r.json()["message"] == "Contact not found"


def test_followers_campaigns_workflows(client, sim) -> None:
    """Followers 201/200 with added/removed lists; campaigns 201/200; workflows 200/200."""
    cid = _contact(client, sim)["id"]
    r = client.post(f"/contacts/{cid}/followers", json={"followers": ["u1", "u2"]})
    assert (r.status_code, r.json()) == (
        201,
        {"followers": ["u1", "u2"], "followersAdded": ["u1", "u2"]},
    )
    r = client.request("DELETE", f"/contacts/{cid}/followers", json={"followers": ["u1", "u9"]})
    assert (r.status_code, r.json()) == (200, {"followers": ["u2"], "followersRemoved": ["u1"]})
    assert client.post(f"/contacts/{cid}/campaigns/c1", json={}).status_code == 201
    r = client.delete(f"/contacts/{cid}/campaigns/c1")
    assert (r.status_code, r.json()) == (200, {"succeded": True})
    assert client.delete(f"/contacts/{cid}/campaigns/removeAll").json() == {"succeded": True}
    r = client.post(
        f"/contacts/{cid}/workflow/w1", json={"eventStartTime": "2021-06-23T03:30:00+01:00"}
    )
    assert (r.status_code, r.json()) == (200, {"succeded": True})
    r = client.request("DELETE", f"/contacts/{cid}/workflow/w1", json={})
    assert (r.status_code, r.json()) == (200, {"succeded": True})


def test_appointments_seeded_through_admin(client, sim) -> None:
    """Seeded appointments come back as {events} with "YYYY-MM-DD HH:mm:ss" times."""
    cid = _contact(client, sim)["id"]
    seed = {
        "contactId": cid,
        "title": "Demo",
        "startTime": "2026-03-01T10:00:00Z",
        "endTime": "2026-03-01T10:30:00Z",
    }
    assert client.post("/_admin/appointments", json=seed).status_code == 201
    r = client.get(f"/contacts/{cid}/appointments")
    assert r.status_code == 200
    (event,) = r.json()["events"]
    assert event["startTime"] == "2026-03-01 10:00:00"
    assert event["title"] == "Demo"
    assert event["locationId"] == sim.location_id


def test_bulk_tags_and_bulk_business(client, sim) -> None:
    """Bulk tags 201 {succeded, errorCount, responses}; bulk business 200 {success, ids}."""
    a = _contact(client, sim, email="a@x.io")["id"]
    body = {"contacts": [a, "bad"], "tags": ["t1"], "locationId": sim.location_id}
    r = client.post("/contacts/bulk/tags/update/add", json=body)
    assert r.status_code == 201
    out = r.json()
    assert out["succeded"] is False
    assert out["errorCount"] == 1
    assert out["responses"][0]["tagsAdded"] == ["t1"]
    assert out["responses"][1]["message"] == "contact id is not a valid firebase id"
    biz = "0123456789abcdef01234567"
    r = client.post(
        "/contacts/bulk/business",
        json={"locationId": sim.location_id, "ids": [a], "businessId": biz},
    )
    assert (r.status_code, r.json()) == (200, {"success": True, "ids": [a]})
    r = client.get(f"/contacts/business/{biz}", params={"locationId": sim.location_id})
    assert r.status_code == 200
    assert r.json()["count"] == 1
    assert client.get(f"/contacts/{a}").json()["contact"]["tags"] == ["t1"]


def test_duplicate_lookup(client, sim) -> None:
    """GET /contacts/search/duplicate answers {contact} or {contact: null}."""
    cid = _contact(client, sim, email="d@x.io", phone="+15550001111")["id"]
    loc = sim.location_id
    r = client.get(
        "/contacts/search/duplicate", params={"locationId": loc, "number": "+15550001111"}
    )
    assert r.status_code == 200
    assert r.json()["contact"]["id"] == cid
    r = client.get("/contacts/search/duplicate", params={"locationId": loc, "email": "nobody@x.io"})
    assert r.json() == {"contact": None}


def test_unknown_ids_give_highlevels_errors(client, sim) -> None:
    """Unknown contact, task and note ids answer 400 with HighLevel's messages."""
    cid = _contact(client, sim)["id"]
    assert client.get("/contacts/nope").json()["message"] == "Contact with id nope not found"
    assert client.get(f"/contacts/{cid}/tasks/nope").status_code == 400
    assert client.get(f"/contacts/{cid}/notes/nope").status_code == 400
    assert client.put("/contacts/nope", json={}).status_code == 400
    r = client.get("/no/such/route")
    assert r.status_code == 404
    assert r.json()["message"] == "Cannot GET /no/such/route"

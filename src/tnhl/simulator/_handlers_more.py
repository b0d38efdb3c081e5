"""Contacts operations beyond contact/task/note CRUD: lists, search, tags, followers,
campaigns, workflows, appointments and the two bulk endpoints (docs/highlevel-api.md §2, §5).
"""

from __future__ import annotations

import re
from typing import Any

from tnhl.simulator import _dtos as dto
from tnhl.simulator._api import Call, Op
from tnhl.simulator._contacts import contact_view, find_duplicate, require_contact, webhook_contact
from tnhl.simulator._handlers import READ, WRITE, Result
from tnhl.simulator._http import SimHTTPError
from tnhl.simulator._search import business_page, list_page, search
from tnhl.simulator._state import public

__all__ = ["MORE_OPS"]

_FIRESTORE_ID = re.compile(r"^[A-Za-z0-9]{20}$")


def _location_query(call: Call) -> str:
    location_id = call.query.get("locationId")
    if not location_id:
        raise SimHTTPError(422, ["locationId should not be empty", "locationId must be a string"])
    return location_id


def _location_contacts(call: Call, location_id: str) -> list[dict[str, Any]]:
    return [c for c in call.state.all("contact") if c["locationId"] == location_id]


def _number(
    call: Call, name: str, default: float | None, *, maximum: float | None = None
) -> float | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SimHTTPError(
            422, [f"{name} must be a number conforming to the specified constraints"]
        ) from None
    if value < 0 or value != value:
        raise SimHTTPError(422, [f"{name} must not be less than 0"])
    if maximum is not None and value > maximum:
        raise SimHTTPError(422, [f"{name} must not be greater than {maximum:g}"])
    return value


def list_contacts(call: Call) -> Result:
    location_id = _location_query(call)
    limit = _number(call, "limit", 20, maximum=100) or 20
    base = str(call.request.base_url).rstrip("/")
    return 200, list_page(
        _location_contacts(call, location_id),
        base_url=base,
        location_id=location_id,
        limit=int(limit),
        start_after_id=call.query.get("startAfterId") or None,
        start_after=_number(call, "startAfter", None),
        query=call.query.get("query"),
    )


def business_contacts(call: Call) -> Result:
    location_id = _location_query(call)
    return 200, business_page(
        _location_contacts(call, location_id),
        business_id=call.params["businessId"],
        skip=int(_number(call, "skip", 0) or 0),
        limit=int(_number(call, "limit", 25) or 25),
        query=call.query.get("query"),
    )


def search_contacts(call: Call) -> Result:
    return 200, search(_location_contacts(call, call.body["locationId"]), call.body)


def duplicate(call: Call) -> Result:
    location_id = _location_query(call)
    probe = {"email": call.query.get("email"), "phone": call.query.get("number")}
    settings = call.state.location(location_id)
    if settings is not None and settings.allow_duplicates:
        # With duplicates allowed HighLevel searches email first, then phone (spec text).
        found = next(
            (
                hit
                for field in ("email", "phone")
                if probe[field]
                and (hit := call.state.find_by(location_id, field, str(probe[field])))
            ),
            None,
        )
    else:
        dup = find_duplicate(call.state, location_id, probe)
        found = dup[0] if dup else None
    record = call.state.get("contact", found) if found else None
    return 200, {"contact": contact_view(record) if record else None}


def appointments(call: Call) -> Result:
    contact = require_contact(call.state, call.params["contactId"])
    events = call.state.children("appointment", contact["id"])
    return 200, {"events": [public(e) for e in events]}


def _change_tags(call: Call, add: bool) -> Result:
    state = call.state
    tags = [t.strip().lower() for t in call.body["tags"] if t.strip()]
    with state.lock:
        record = dict(require_contact(state, call.params["contactId"], status=404))
        before = list(record.get("tags", []))
        if add:
            record["tags"] = list(dict.fromkeys(before + tags))
        else:
            record["tags"] = [t for t in before if t not in tags]
        if record["tags"] != before:
            record["dateUpdated"] = state.now()
            state.put("contact", record)
            call.emit("ContactTagUpdate", record["locationId"], webhook_contact(record))
    return (201 if add else 200), {"tags": record["tags"]}


def add_tags(call: Call) -> Result:
    return _change_tags(call, add=True)


def remove_tags(call: Call) -> Result:
    return _change_tags(call, add=False)


def _change_followers(call: Call, add: bool) -> Result:
    state = call.state
    wanted = list(dict.fromkeys(call.body["followers"]))
    with state.lock:
        record = dict(require_contact(state, call.params["contactId"]))
        before = list(record.get("followers", []))
        if add:
            changed = [f for f in wanted if f not in before]
            record["followers"] = before + changed
        else:
            changed = [f for f in wanted if f in before]
            record["followers"] = [f for f in before if f not in wanted]
        state.put("contact", record)
    if add:
        return 201, {"followers": record["followers"], "followersAdded": changed}
    return 200, {"followers": record["followers"], "followersRemoved": changed}


def add_followers(call: Call) -> Result:
    return _change_followers(call, add=True)


def remove_followers(call: Call) -> Result:
    return _change_followers(call, add=False)


def _membership(call: Call, key: str, item: str | None, add: bool) -> None:
    state = call.state
    with state.lock:
        record = dict(require_contact(state, call.params["contactId"]))
        current = list(record.get(key, []))
        if item is None:
            current = []
        elif add and item not in current:
            current.append(item)
        elif not add and item in current:
            current.remove(item)
        record[key] = current
        state.put("contact", record)


def add_campaign(call: Call) -> Result:
    _membership(call, "_campaigns", call.params["campaignId"], add=True)
    return 201, {"succeded": True}


def remove_campaign(call: Call) -> Result:
    _membership(call, "_campaigns", call.params["campaignId"], add=False)
    return 200, {"succeded": True}


def remove_all_campaigns(call: Call) -> Result:
    _membership(call, "_campaigns", None, add=False)
    return 200, {"succeded": True}


def add_workflow(call: Call) -> Result:
    _membership(call, "_workflows", call.params["workflowId"], add=True)
    return 200, {"succeded": True}


def remove_workflow(call: Call) -> Result:
    _membership(call, "_workflows", call.params["workflowId"], add=False)
    return 200, {"succeded": True}


def bulk_tags(call: Call) -> Result:
    kind = call.params["type"]
    if kind not in ("add", "remove"):
        raise SimHTTPError(422, ["type must be one of the following values: add, remove"])
    body = call.body
    if body.get("removeAllTags") and kind != "remove":
        raise SimHTTPError(422, ["removeAllTags can only be used with remove type"])
    tags = [t.strip().lower() for t in body["tags"] if t.strip()]
    responses: list[dict[str, Any]] = []
    state = call.state
    with state.lock:
        for contact_id in body["contacts"]:
            responses.append(_bulk_tag_one(call, contact_id, kind, tags))
    errors = sum(1 for r in responses if r["type"] == "error")
    return 201, {"succeded": errors == 0, "errorCount": errors, "responses": responses}


def _bulk_tag_one(call: Call, contact_id: str, kind: str, tags: list[str]) -> dict[str, Any]:
    if not _FIRESTORE_ID.match(contact_id):
        return {
            "contactId": contact_id,
            "message": "contact id is not a valid firebase id",
            "type": "error",
        }
    record = call.state.get("contact", contact_id)
    if record is None:
        return {"contactId": contact_id, "message": "contact is deleted", "type": "error"}
    if record["locationId"] != call.body["locationId"]:
        return {
            "contactId": contact_id,
            "message": "contact does not belong to location",
            "type": "error",
        }
    record = dict(record)
    old = list(record.get("tags", []))
    if kind == "add":
        record["tags"] = list(dict.fromkeys(old + tags))
    elif call.body.get("removeAllTags"):
        record["tags"] = []
    else:
        record["tags"] = [t for t in old if t not in tags]
    if record["tags"] != old:
        record["dateUpdated"] = call.state.now()
        call.state.put("contact", record)
        call.emit("ContactTagUpdate", record["locationId"], webhook_contact(record))
    return {
        "contactId": contact_id,
        "message": "Tags updated",
        "type": "success",
        "oldTags": old,
        "tagsAdded": [t for t in record["tags"] if t not in old],
        "tagsRemoved": [t for t in old if t not in record["tags"]],
    }


def bulk_business(call: Call) -> Result:
    body = call.body
    business_id = body.get("businessId")
    done: list[str] = []
    state = call.state
    with state.lock:
        for contact_id in body["ids"]:
            record = state.get("contact", contact_id)
            if record is None or record["locationId"] != body["locationId"]:
                continue
            record = dict(record)
            changed = record.get("businessId") != business_id
            record["businessId"] = business_id
            if changed:
                record["dateUpdated"] = state.now()
                call.emit("ContactUpdate", record["locationId"], webhook_contact(record))
            state.put("contact", record)
            done.append(contact_id)
    return 200, {"success": True, "ids": done}


C = "/contacts/{contactId}"
# Order matters where paths overlap: literal segments before {contactId} ones.
MORE_OPS: list[Op] = [
    Op("get-contacts", "GET", "/contacts/", READ, list_contacts),
    Op("search-contacts-advanced", "POST", "/contacts/search", READ, search_contacts, dto.SEARCH),
    Op("get-duplicate-contact", "GET", "/contacts/search/duplicate", READ, duplicate),
    Op(
        "get-contacts-by-businessId",
        "GET",
        "/contacts/business/{businessId}",
        READ,
        business_contacts,
    ),
    Op(
        "create-association",
        "POST",
        "/contacts/bulk/tags/update/{type}",
        WRITE,
        bulk_tags,
        dto.BULK_TAGS,
    ),
    Op(
        "add-remove-contact-from-business",
        "POST",
        "/contacts/bulk/business",
        WRITE,
        bulk_business,
        dto.BULK_BUSINESS,
    ),
    Op("get-appointments-for-contact", "GET", f"{C}/appointments", READ, appointments),
    Op("add-tags", "POST", f"{C}/tags", WRITE, add_tags, dto.TAGS),
    Op("remove-tags", "DELETE", f"{C}/tags", WRITE, remove_tags, dto.TAGS),
    Op("add-followers-contact", "POST", f"{C}/followers", WRITE, add_followers, dto.FOLLOWERS),
    Op(
        "remove-followers-contact",
        "DELETE",
        f"{C}/followers",
        WRITE,
        remove_followers,
        dto.FOLLOWERS,
    ),
    Op(
        "remove-contact-from-every-campaign",
        "DELETE",
        f"{C}/campaigns/removeAll",
        WRITE,
        remove_all_campaigns,
    ),
    Op(
        "add-contact-to-campaign",
        "POST",
        f"{C}/campaigns/{{campaignId}}",
        WRITE,
        add_campaign,
        dto.ADD_TO_CAMPAIGN,
    ),
    Op(
        "remove-contact-from-campaign",
        "DELETE",
        f"{C}/campaigns/{{campaignId}}",
        WRITE,
        remove_campaign,
    ),
    Op(
        "add-contact-to-workflow",
        "POST",
        f"{C}/workflow/{{workflowId}}",
        WRITE,
        add_workflow,
        dto.WORKFLOW,
    ),
    Op(
        "delete-contact-from-workflow",
        "DELETE",
        f"{C}/workflow/{{workflowId}}",
        WRITE,
        remove_workflow,
        dto.WORKFLOW,
    ),
]

"""Contact records: building them from request bodies, the duplicate rules, response views.

Duplicate semantics follow docs/highlevel-api.md section 4: with duplicates disallowed a create
that matches an existing contact answers 400 with `meta.contactId`/`matchingField`/`contactName`;
upsert looks contacts up in the location's priority order, updates the first match, and silently
drops the second matching field when it belongs to a different contact.
"""

from __future__ import annotations

import hashlib
import re
import string
from datetime import UTC, datetime
from typing import Any

from tnhl.simulator._http import SimHTTPError
from tnhl.simulator._state import MatchField, SimState, normalize_phone, public

__all__ = [
    "apply_fields",
    "contact_view",
    "create_contact",
    "create_view",
    "find_duplicate",
    "list_view",
    "new_contact",
    "require_contact",
    "upsert_contact",
    "webhook_contact",
]

# Fields a request may set that are stored as given.
_PLAIN = (
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "dndSettings",
    "inboundDndSettings",
    "source",
    "country",
    "companyName",
    "assignedTo",
    "gender",
)
_DOB = re.compile(
    r"^(\d{4})[/\-._](\d{1,2})[/\-._](\d{1,2})|^(\d{1,2})[/\-._](\d{1,2})[/\-._](\d{4})"
)
_B62 = string.ascii_letters + string.digits


def require_contact(state: SimState, contact_id: str, *, status: int = 400) -> dict[str, Any]:
    """The contact, or HighLevel's error for an unknown or malformed id."""
    record = state.get("contact", contact_id)
    if record is None:
        if status == 404:
            raise SimHTTPError(404, "Contact not found")
        raise SimHTTPError(400, f"Contact with id {contact_id} not found")
    return record


def custom_field_id(location_id: str, key: str) -> str:
    """A stable 20-character id for a custom field written by key (the simulator has no schema)."""
    digest = int.from_bytes(hashlib.sha256(f"{location_id}:{key}".encode()).digest(), "big")
    chars = []
    for _ in range(20):
        digest, rem = divmod(digest, 62)
        chars.append(_B62[rem])
    return "".join(chars)


def _merge_custom_fields(record: dict[str, Any], written: list[dict[str, Any]]) -> None:
    # Written {id|key, field_value} (or {id, value}); read back as {id, value}, merged by id.
    current = {cf["id"]: cf for cf in record.get("customFields", [])}
    for item in written:
        cf_id = item.get("id") or custom_field_id(record["locationId"], str(item["key"]))
        value = item["field_value"] if "field_value" in item else item.get("value")
        if value is None or value == "":
            current.pop(cf_id, None)
        else:
            current[cf_id] = {"id": cf_id, "value": value}
    record["customFields"] = list(current.values())


def _date_of_birth(raw: str | None) -> str | None:
    if raw is None:
        return None
    m = _DOB.match(raw)
    if m is None:
        return None
    if m.group(1):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        month, day, year = int(m.group(4)), int(m.group(5)), int(m.group(6))
    try:
        return datetime(year, month, day, tzinfo=UTC).strftime("%Y-%m-%dT00:00:00.000Z")
    except ValueError:
        raise SimHTTPError(422, ["dateOfBirth must be a valid date"]) from None


def apply_fields(record: dict[str, Any], body: dict[str, Any]) -> set[str]:
    """Apply the writable fields in `body` to `record`; return the names that changed."""
    before = dict(record)
    for name in _PLAIN:
        if name in body:
            record[name] = body[name]
    if "email" in body:
        email = body["email"]
        record["email"] = email.strip() if isinstance(email, str) and email.strip() else None
        record["emailLowerCase"] = record["email"].lower() if record["email"] else None
    if "phone" in body:
        phone = body["phone"]
        record["phone"] = normalize_phone(phone) if phone else None
    if "tags" in body:
        # Tags given on create/update replace the set; HighLevel stores them lowercased.
        record["tags"] = _unique([t.strip().lower() for t in body["tags"] if t.strip()])
    if "customFields" in body:
        _merge_custom_fields(record, body["customFields"])
    if "dateOfBirth" in body:
        record["dateOfBirth"] = _date_of_birth(body["dateOfBirth"])
    for name in ("firstName", "lastName", "name"):
        if name in body:
            record[name] = body[name] or None
    if "name" in body and body["name"] and not ("firstName" in body or "lastName" in body):
        first, _, last = body["name"].strip().partition(" ")
        record["firstName"], record["lastName"] = first or None, last or None
    _derive_names(record, explicit_name="name" in body and bool(body["name"]))
    return {k for k in set(before) | set(record) if before.get(k) != record.get(k)}


def _derive_names(record: dict[str, Any], *, explicit_name: bool) -> None:
    first, last = record.get("firstName"), record.get("lastName")
    if not explicit_name:
        record["name"] = " ".join(p for p in (first, last) if p) or None
    record["firstNameLowerCase"] = first.lower() if first else None
    record["lastNameLowerCase"] = last.lower() if last else None
    full = " ".join(p for p in (first, last) if p)
    record["fullNameLowerCase"] = full.lower() if full else None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def new_contact(state: SimState, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
    now = state.now()
    record: dict[str, Any] = {
        "id": state.ids.firestore(),
        "locationId": location_id,
        "type": "lead",
        "source": "public api",
        "tags": [],
        "customFields": [],
        "dnd": False,
        "followers": [],
        "dateAdded": now,
        "dateUpdated": now,
        "_campaigns": [],
        "_workflows": [],
    }
    apply_fields(record, body)
    return record


def find_duplicate(
    state: SimState, location_id: str, body: dict[str, Any]
) -> tuple[str, MatchField] | None:
    """The first existing contact matching `body` by the location's priority: (id, field)."""
    settings = state.location(location_id)
    order: list[MatchField] = settings.duplicate_priority if settings else ["email", "phone"]
    for match in order:
        value = body.get(match)
        if isinstance(value, str) and value.strip():
            found = state.find_by(location_id, match, value)
            if found is not None:
                return found, match
    return None


def create_contact(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /contacts/: create, or 400 with meta when the location forbids duplicates."""
    location_id = body["locationId"]
    with state.lock:
        # A location the config does not list gets HighLevel's default: no duplicates.
        settings = state.location(location_id)
        if settings is None or not settings.allow_duplicates:
            dup = find_duplicate(state, location_id, body)
            if dup is not None:
                existing = state.get("contact", dup[0]) or {}
                raise SimHTTPError(
                    400,
                    "This location does not allow duplicated contacts.",
                    meta={
                        "contactId": dup[0],
                        "matchingField": dup[1],
                        "contactName": existing.get("name") or "",
                    },
                )
        record = new_contact(state, location_id, body)
        state.put("contact", record)
        return record


def upsert_contact(state: SimState, body: dict[str, Any]) -> tuple[bool, dict[str, Any], set[str]]:
    """POST /contacts/upsert: (is new, the contact, changed field names)."""
    location_id = body["locationId"]
    fields = {
        k: v for k, v in body.items() if k not in ("locationId", "createNewIfDuplicateAllowed")
    }
    with state.lock:
        settings = state.location(location_id)
        allow = settings.allow_duplicates if settings else False
        if not (allow and body.get("createNewIfDuplicateAllowed")):
            dup = find_duplicate(state, location_id, fields)
            if dup is not None:
                existing_id, matched = dup
                other: MatchField = "phone" if matched == "email" else "email"
                value = fields.get(other)
                if isinstance(value, str) and value.strip():
                    owner = state.find_by(location_id, other, value)
                    if owner is not None and owner != existing_id:
                        # Another contact owns the second field: drop it silently (issue #37).
                        fields.pop(other)
                record = dict(state.get("contact", existing_id) or {})
                changed = apply_fields(record, fields)
                if changed:
                    record["dateUpdated"] = state.now()
                state.put("contact", record)
                return False, record, changed
        record = new_contact(state, location_id, fields)
        state.put("contact", record)
        return True, record, set(record)


_VIEW_FIELDS = (
    "id", "locationId", "name", "firstName", "lastName", "firstNameLowerCase",
    "lastNameLowerCase", "fullNameLowerCase", "email", "emailLowerCase", "phone", "companyName",
    "timezone", "dnd", "dndSettings", "type", "source", "assignedTo", "address1", "city",
    "state", "country", "postalCode", "website", "tags", "dateOfBirth", "dateAdded",
    "dateUpdated", "customFields", "businessId", "followers",
)  # fmt: skip


def contact_view(record: dict[str, Any]) -> dict[str, Any]:
    """GetContectByIdSchema: GET, PUT and upsert responses."""
    pub = public(record)
    return {k: pub[k] for k in _VIEW_FIELDS if k in pub}


def create_view(record: dict[str, Any]) -> dict[str, Any]:
    """CreateContactSchema: the POST /contacts/ response has its own shape."""
    view = contact_view(record)
    view.pop("name", None)
    view.pop("followers", None)
    view.update(deleted=False, bounceEmail=False, unsubscribeEmail=False, offers=[], products=[])
    dob = record.get("dateOfBirth")
    if dob:
        view["birthMonth"] = int(dob[5:7])
        view["birthDay"] = int(dob[8:10])
    return view


def list_view(record: dict[str, Any]) -> dict[str, Any]:
    """A contact as list and search responses carry it (ContactsSearchSchema and more)."""
    view = contact_view(record)
    view.setdefault("followers", [])
    return view


def webhook_contact(record: dict[str, Any]) -> dict[str, Any]:
    """The Contact* webhook payload's fields (docs/highlevel-api.md section 11)."""
    keep = (
        "id", "address1", "city", "state", "companyName", "country", "source", "dateAdded",
        "dateOfBirth", "dnd", "email", "name", "firstName", "lastName", "phone", "postalCode",
        "tags", "website", "assignedTo", "customFields",
    )  # fmt: skip
    pub = public(record)
    data = {k: pub[k] for k in keep if k in pub}
    data["attachments"] = []
    return data

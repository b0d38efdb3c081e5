"""The TalkNotes OpenAPI document: well-formed 3.1, complete, and in step with the models."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

# schemathesis ships the official OpenAPI 3.1 meta-schema (as a jsonschema_rs validator); no
# other OpenAPI validator is installed.
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from tnhl.store import Told
from tnhl.sync._profile import build_profile
from tnhl.talknotes import (
    EVENT_TYPES,
    EXAMPLE_EVENTS,
    generate,
    outbound_event,
    parse_event,
    talknotes_openapi,
)


def operation() -> dict[str, Any]:
    op: dict[str, Any] = talknotes_openapi()["paths"]["/webhooks/talknotes"]["post"]
    return op


def test_document_is_valid_openapi_31() -> None:
    """The document validates against the OpenAPI 3.1 schema."""
    doc = talknotes_openapi()
    assert doc["openapi"] == "3.1.0"
    errors = [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(doc)]
    assert errors == []
    broken = {**doc, "paths": {"/webhooks/talknotes": {"post": {"responses": "none"}}}}
    assert not OPENAPI_31_VALIDATOR.is_valid(broken)


def body_validator() -> jsonschema_rs.Validator:
    doc = talknotes_openapi()
    schema = {"$ref": "#/components/schemas/TalkNotesEvent", "components": doc["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


def test_generated_events_match_the_published_schema() -> None:
    """Events the parser accepts also validate against the JSON Schema in the document."""
    check = body_validator()
    for raw in generate(300, seed=4, n_people=20):
        assert check.is_valid(raw), raw


def test_published_schema_refuses_what_the_parser_refuses() -> None:
    """A body missing a required field fails the published schema too."""
    check = body_validator()
    raw = {
        "type": "task.created",
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {"id": "t", "contactId": "c"},
    }
    assert not check.is_valid(raw)


def test_responses_and_headers() -> None:
    """The operation documents 202, 400, 401, 422 and 503 and the three signature headers."""
    op = operation()
    assert {"202", "400", "401", "422", "503"} <= set(op["responses"])
    assert "Retry-After" in op["responses"]["503"]["headers"]
    headers = {p["name"] for p in op["parameters"] if p["in"] == "header" and p["required"]}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_every_event_type_has_a_schema() -> None:
    """The body schema's discriminator maps each of the nine types to a component."""
    doc = talknotes_openapi()
    body = doc["components"]["schemas"]["TalkNotesEvent"]
    mapping = body["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_TYPES)
    for ref in mapping.values():
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]


def test_field_names_are_the_contracts() -> None:
    """The data schemas use the contract's field names and required fields."""
    schemas = talknotes_openapi()["components"]["schemas"]
    assert set(schemas["TaskData"]["required"]) == {"id", "contactId", "taskName"}
    assert {"dueDate", "priority", "description", "completed", "assignee", "updated_at"} <= set(
        schemas["TaskData"]["properties"]
    )
    assert set(schemas["NoteData"]["required"]) == {"id", "contactId", "noteContent"}
    assert {"email", "external_id", "full_name", "phone", "custom_fields"} <= set(
        schemas["ContactData"]["properties"]
    )


@pytest.mark.parametrize("name", sorted(EXAMPLE_EVENTS))
def test_examples_are_valid_events(name: str) -> None:
    """Every example in the document is accepted by the parser."""
    assert parse_event(json.dumps(EXAMPLE_EVENTS[name])).type == name


def test_returns_a_copy() -> None:
    """Mutating the returned document does not change the next one."""
    talknotes_openapi()["paths"].clear()
    assert "/webhooks/talknotes" in talknotes_openapi()["paths"]


def test_priority_is_published_as_free_text() -> None:
    """The schema publishes priority as text of 1 to 64 characters, saying why numbers fail."""
    schemas = talknotes_openapi()["components"]["schemas"]
    text, null = schemas["TaskData"]["properties"]["priority"]["anyOf"]
    assert (text["type"], text["minLength"], text["maxLength"]) == ("string", 1, 64)
    assert "enum" not in text
    assert "lowest in others" in text["description"]
    assert null == {"type": "null"}
    check = body_validator()
    medium = {**EXAMPLE_EVENTS["task.created"]}
    medium["data"] = {**medium["data"], "priority": "Medium"}
    assert check.is_valid(medium)
    medium["data"] = {**medium["data"], "priority": 1}
    assert not check.is_valid(medium)


def test_published_schema_refuses_control_characters_in_ids() -> None:
    """The published schema refuses a NUL in `data.id` and `data.contactId`, as the parser does."""
    check = body_validator()
    base = EXAMPLE_EVENTS["task.created"]
    assert check.is_valid(base)
    for field in ("id", "contactId"):
        bad = {**base, "data": {**base["data"], field: "tn\x00t"}}
        assert not check.is_valid(bad), field


def test_webhook_id_header_refuses_control_characters() -> None:
    """The webhook-id header schema publishes the refusal of control characters."""
    [header] = [p for p in operation()["parameters"] if p["name"] == "webhook-id"]
    check = jsonschema_rs.Draft202012Validator(header["schema"])
    assert check.is_valid("msg_2b7Yk1")
    assert not check.is_valid("msg\x00")
    assert not check.is_valid("msg\n1")
    assert "422" in header["description"]


def test_outbound_events_match_the_published_webhook_schema() -> None:
    """What tnhl sends TalkNotes (built from HighLevel payloads) validates against the
    document's `webhooks.highLevelChange` body schema; a body without `data` does not."""
    doc = talknotes_openapi()
    assert errors_of(doc) == []
    hook = doc["webhooks"]["highLevelChange"]["post"]
    ref = hook["requestBody"]["content"]["application/json"]["schema"]
    check = jsonschema_rs.Draft202012Validator({**ref, "components": doc["components"]})
    payloads = [
        {"type": "ContactUpdate", "id": "h1", "email": "a@x.io", "tags": ["vip"]},
        {"type": "TaskComplete", "id": "t1", "contactId": "h1", "title": "Call"},
        {"type": "NoteCreate", "id": "n1", "contactId": "h1", "body": "hello"},
        {"type": "AppointmentCreate", "appointment": {"id": "a1", "contactId": "h1"}},
        {"type": "ContactDelete", "id": "h1"},
    ]
    for payload in payloads:
        body = outbound_event(payload, talknotes_id=None, talknotes_contact_id="c1", now=0.0)
        assert check.is_valid(body), body
    assert not check.is_valid({"type": "contact.updated", "timestamp": "2026-01-01T00:00:00Z"})


def test_a_built_profile_matches_the_published_profile_schema() -> None:
    """`build_profile`'s body validates against `webhooks.contactProfile`; one whose tasks are
    not split into open and completed does not."""
    doc = talknotes_openapi()
    hook = doc["webhooks"]["contactProfile"]["post"]
    ref = hook["requestBody"]["content"]["application/json"]["schema"]
    check = jsonschema_rs.Draft202012Validator({**ref, "components": doc["components"]})
    contact = {"highlevel_id": "h1", "full_name": "Ann", "email": None, "tags": []}
    rows = [
        (Told("L", "h1", "contact", "x" * 64, 0.0, contact_id="h1", data=contact), "c1"),
        (Told("L", "t1", "task", "y" * 64, 0.0, contact_id="h1", data={"taskName": "Call"}), None),
        (Told("L", "n1", "note", "z" * 64, 0.0, contact_id="h1", data={"noteContent": "hi"}), None),
    ]
    body = build_profile("h1", rows, 0.0)
    assert body is not None
    assert check.is_valid(body), body
    flat = {**body, "data": {**body["data"], "tasks": []}}
    assert not check.is_valid(flat)


def errors_of(doc: dict[str, Any]) -> list[str]:
    return [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(doc)]

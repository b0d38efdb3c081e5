"""The webhook events table against the official docs data (webhook-events.json, scopes.json)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import tnhl.highlevel as hl
from tnhl.highlevel import WEBHOOK_EVENTS, get_webhook_event

# The docs' non-standard schema types, as the table reads them.
NONSTANDARD_TYPES = {
    "Date": "string",  # only nested today (AppInstall's trial.trialStartDate)
    "Email/SMS": "string",  # ProviderOutboundMessage's "type": the channel's name
    "null": "boolean",  # the Price pages' trackInventory: a flag whose documented value is null
}
# Pages without a parseable schema: their properties come from their first example.
SCHEMA_FROM_EXAMPLE = {"RelationDelete", "UserCreate"}
# The scope table calls ProviderOutboundMessage by a longer name.
SCOPE_TABLE_ALIASES = {"ConversationProviderOutboundMessage": "ProviderOutboundMessage"}
# (event, example "type") pairs that are not the event's body_type, each for a reason.
EXAMPLE_TYPES_NOT_BODY_TYPE = {
    ("AppointmentDelete", "AppointmentCreate"),  # doc bug (SOURCE.md): copied from Create
    ("AppointmentUpdate", "AppointmentCreate"),  # doc bug (SOURCE.md): copied from Create
    ("InboundMessage", "OutboundMessage"),  # doc bug: an inbound call copied from OutboundMessage
    ("ProviderOutboundMessage", "Email"),  # the channel varies; body_type keeps "SMS"
    ("UserCreate", "string"),  # the first example is a template of types, not a delivery
}
# Every event whose body_type is not its name: the decisions of the table, written out.
BODY_TYPES_NOT_NAME = {
    "AppInstall": "INSTALL",
    "AppUninstall": "UNINSTALL",
    "ConversationUnreadWebhook": "ConversationUnreadUpdate",
    "PlanChange": "PLAN_CHANGE",
    "PriceDelete": "one_time",  # "type" there is the price's kind (PriceCreate's "priceType")
    "PriceUpdate": "one_time",
    "ProviderOutboundMessage": "SMS",
}
PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _json_type(value: object) -> str:
    for name in ("boolean", "integer", "number", "string", "object", "array"):
        if isinstance(value, PY_TYPES[name]):
            return name
    raise AssertionError(f"not a JSON value: {value!r}")


@pytest.fixture(scope="module")
def spec_events(specs_dir: Path) -> dict[str, dict[str, Any]]:
    path = specs_dir / "webhooks" / "webhook-events.json"
    events: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["events"]
    return events


@pytest.fixture(scope="module")
def spec_scopes(specs_dir: Path) -> list[dict[str, Any]]:
    path = specs_dir / "docs-data" / "scopes.json"
    scopes: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["scopes"]
    return scopes


def documented(spec_event: dict[str, Any], name: str) -> dict[str, str]:
    """The documented top-level properties of an event, name -> JSON Schema type, in order."""
    schema = spec_event["schema"]
    if name in SCHEMA_FROM_EXAMPLE:
        assert schema is None or "properties" not in schema
        return {key: _json_type(value) for key, value in spec_event["examples"][0].items()}
    return {
        key: NONSTANDARD_TYPES.get(prop["type"], prop["type"])
        for key, prop in schema["properties"].items()
    }


EVENT_NAMES = sorted(WEBHOOK_EVENTS)


def test_same_event_names(spec_events: dict[str, dict[str, Any]]) -> None:
    """The table has exactly the spec's 58 events, keyed and sorted by name."""
    assert len(spec_events) == 58
    assert list(WEBHOOK_EVENTS) == sorted(spec_events)
    assert all(name == event.name for name, event in WEBHOOK_EVENTS.items())


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_field_names_match_spec(name: str, spec_events: dict[str, dict[str, Any]]) -> None:
    """Each event's fields are its schema's top-level properties, in order (or its example's)."""
    fields = [field for field, _ in WEBHOOK_EVENTS[name].fields]
    assert fields == list(documented(spec_events[name], name))


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_field_types_match_spec(name: str, spec_events: dict[str, dict[str, Any]]) -> None:
    """Each field's type is the spec's, with the docs' odd types read as NONSTANDARD_TYPES says."""
    assert dict(WEBHOOK_EVENTS[name].fields) == documented(spec_events[name], name)


def test_relation_delete_broken_schema_agrees_with_its_example(
    spec_events: dict[str, dict[str, Any]],
) -> None:
    """RelationDelete's invalid schema text, minus its trailing comma, lists the example's keys."""
    text = spec_events["RelationDelete"]["schema"]["_unparsed_text"]
    schema = json.loads(re.sub(r",\s*}", "}", text))
    assert list(schema["properties"]) == list(spec_events["RelationDelete"]["examples"][0])


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_titles_match_spec(name: str, spec_events: dict[str, dict[str, Any]]) -> None:
    """Each event's title is its doc page's title."""
    assert WEBHOOK_EVENTS[name].title == spec_events[name]["title"]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_descriptions_are_own_one_liners(name: str, spec_events: dict[str, dict[str, Any]]) -> None:
    """Each description is one non-empty line of our own, not the doc's sentence."""
    description = WEBHOOK_EVENTS[name].description
    assert description.strip()
    assert "\n" not in description
    assert description != spec_events[name]["description"]


def test_scopes_match_scope_table(
    spec_events: dict[str, dict[str, Any]], spec_scopes: list[dict[str, Any]]
) -> None:
    """Each event's scopes are the scope-table rows that list it; empty when none does."""
    expected: dict[str, list[str]] = {name: [] for name in spec_events}
    for row in spec_scopes:
        for listed in row["webhookEvents"]:
            name = SCOPE_TABLE_ALIASES.get(listed, listed)
            assert name in spec_events, f"scope table lists unknown event {listed!r}"
            if row["scope"] not in expected[name]:
                expected[name].append(row["scope"])
    assert {name: list(event.scopes) for name, event in WEBHOOK_EVENTS.items()} == expected


def test_body_type_follows_examples(spec_events: dict[str, dict[str, Any]]) -> None:
    """Every example's "type" is the event's body_type, except the listed doc bugs and variants."""
    seen: set[tuple[str, str]] = set()
    for name, spec_event in spec_events.items():
        for example in spec_event["examples"] or []:
            if "type" not in example:
                continue
            if (name, example["type"]) in EXAMPLE_TYPES_NOT_BODY_TYPE:
                seen.add((name, example["type"]))
                continue
            assert WEBHOOK_EVENTS[name].body_type == example["type"], name
    assert seen == EXAMPLE_TYPES_NOT_BODY_TYPE  # no stale exception


def test_body_type_is_the_name_except_where_decided() -> None:
    """body_type is the event name for all events but the seven written out here."""
    decided = {n: e.body_type for n, e in WEBHOOK_EVENTS.items() if e.body_type != n}
    assert decided == BODY_TYPES_NOT_NAME


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_schema_property_lists_documented_fields(
    name: str, spec_events: dict[str, dict[str, Any]]
) -> None:
    """`schema` is a JSON Schema object with one property per documented field and its type."""
    expected = {key: {"type": t} for key, t in documented(spec_events[name], name).items()}
    assert WEBHOOK_EVENTS[name].schema == {"type": "object", "properties": expected}


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_sample_carries_every_field_typed(
    name: str, spec_events: dict[str, dict[str, Any]]
) -> None:
    """sample() has exactly the documented fields, each a value of its JSON type."""
    event = WEBHOOK_EVENTS[name]
    fields = documented(spec_events[name], name)
    body = event.sample("LOC123")
    assert list(body) == list(fields)
    for key, json_type in fields.items():
        value = body[key]
        assert isinstance(value, PY_TYPES[json_type]), (key, value)
        assert json_type == "boolean" or not isinstance(value, bool), (key, value)
    if "locationId" in fields:
        assert body["locationId"] == "LOC123"
    if fields.get("type") == "string":
        assert body["type"] == event.body_type


def test_sample_looks_like_a_delivery() -> None:
    """sample() gives fresh ids and ISO timestamps, as a contact delivery would carry them."""
    event = get_webhook_event("ContactCreate")
    first, second = event.sample("LOC123"), event.sample("LOC123")
    assert first["type"] == "ContactCreate"
    assert isinstance(first["id"], str)
    assert len(first["id"]) >= 10
    assert first["id"] != second["id"]
    assert isinstance(first["dateAdded"], str)
    assert datetime.fromisoformat(first["dateAdded"]).tzinfo is not None
    invoice = get_webhook_event("InvoicePaid").sample("LOC123")
    assert invoice["_id"]
    assert "type" not in invoice
    assert "locationId" not in invoice


def test_sample_overrides_win() -> None:
    """Keyword overrides replace generated values and may add keys."""
    body = get_webhook_event("NoteCreate").sample(
        "LOC123", id="N1", locationId="OTHER", body="hello", extra=[1]
    )
    assert body["id"] == "N1"
    assert body["locationId"] == "OTHER"
    assert body["body"] == "hello"
    assert body["extra"] == [1]


def test_unknown_event_raises_key_error_naming_it() -> None:
    """get_webhook_event("Nope") raises KeyError whose message names "Nope"."""
    with pytest.raises(KeyError, match="Nope"):
        get_webhook_event("Nope")


def test_unknown_event_suggests_close_names() -> None:
    """A near miss such as "ContactCreated" points at "ContactCreate"."""
    with pytest.raises(KeyError, match="ContactCreate"):
        get_webhook_event("ContactCreated")


def test_public_names_and_read_only_table() -> None:
    """The package exports the table, the class and the lookup; the table cannot be changed."""
    assert hl.get_webhook_event("TaskCreate") is hl.WEBHOOK_EVENTS["TaskCreate"]
    assert isinstance(hl.WEBHOOK_EVENTS["TaskCreate"], hl.WebhookEvent)
    with pytest.raises(TypeError):
        hl.WEBHOOK_EVENTS["Nope"] = hl.WEBHOOK_EVENTS["TaskCreate"]  # type: ignore[index]

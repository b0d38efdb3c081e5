"""Planned calls against the official HighLevel spec: operation ids, path params, DTO fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tnhl.mapping import load_mapping_text
from tnhl.sync._plan_types import Calls, PlannedCall
from tnhl.sync._planner import plan_event, update_body

RICH = load_mapping_text(
    "contact:\n"
    "  tags: [talknotes]\n"
    "  source: TalkNotes\n"
    "  fields: {companyName: company, city: city, gender: gender}\n"
    "  custom_fields:\n"
    "    budget: {id: f1, type: number}\n"
    "    topics: {key: contact.topics, type: list}\n"
    "    industry: {key: contact.industry}\n"
    "tasks:\n"
    "  priority: {mode: body_line}\n"
    "  assignees: {sam: u-1}\n"
)
CONTACT = {
    "id": "c1",
    "full_name": "Dr. Jane van Smith",
    "email": "Jane@X.com",
    "phone": "+44 20 7946 0958",
    "company": "ACME",
    "city": "Leeds",
    "gender": "female",
    "custom_fields": {"budget": "1200", "topics": "a,b", "industry": "retail"},
}
TASK = {
    "id": "t1",
    "contactId": "c1",
    "taskName": "Call",
    "description": "about X",
    "priority": "high",
    "dueDate": "2026-12-01",
    "assignee": "sam",
    "completed": False,
}
NOTE = {"id": "n1", "contactId": "c1", "noteTitle": "T", "noteContent": "B"}


class Ids:
    def __init__(self, known: dict[tuple[str, str], str]) -> None:
        self.known = known

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        return self.known.get((kind, talknotes_id))


ALL = {("contact", "c1"): "H1", ("task", "t1"): "HT1", ("note", "n1"): "HN1"}
ONLY_CONTACT = {("contact", "c1"): "H1"}


def _planned() -> Iterator[PlannedCall]:
    cases: list[tuple[str, dict[str, Any], dict[tuple[str, str], str], Any]] = [
        ("contact.created", CONTACT, {}, RICH),
        ("contact.created", CONTACT, {}, load_mapping_text("contact: {create_mode: create}")),
        ("contact.updated", {**CONTACT, "phone": None}, ALL, RICH),
        ("contact.deleted", {"id": "c1"}, ALL, RICH),
        ("task.created", TASK, ONLY_CONTACT, RICH),
        ("task.updated", TASK, ALL, RICH),
        ("task.completed", TASK, ALL, RICH),
        ("note.created", NOTE, ONLY_CONTACT, RICH),
        ("note.updated", NOTE, ALL, RICH),
        ("note.deleted", NOTE, ALL, RICH),
    ]
    for event_type, data, known, mapping in cases:
        plan = plan_event(
            event_type,
            data,
            location_id="L1",
            event_id="e",
            ids=Ids(known),
            mapping=mapping,
            timestamp="2026-11-27T10:00:00Z",
        )
        assert isinstance(plan, Calls), (event_type, plan)
        yield from plan.calls
        for call in plan.calls:
            if call.on_duplicate == "adopt":
                # What the executor sends after adopting HighLevel's duplicate.
                yield PlannedCall("update-contact", {"contactId": "H9"}, update_body(call.body))


@pytest.fixture(scope="module")
def spec(specs_dir: Path) -> dict[str, Any]:
    return dict(json.loads((specs_dir / "apps" / "contacts.json").read_text(encoding="utf-8")))


def _operations(spec: dict[str, Any]) -> dict[str, tuple[list[str], dict[str, Any] | None]]:
    out = {}
    for ops in spec["paths"].values():
        for op in ops.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            params = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            out[op["operationId"]] = (params, schema)
    return out


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


_TYPES = {"string": str, "boolean": bool, "array": list, "number": (int, float), "object": dict}


def _check_value(spec: dict[str, Any], where: str, schema: dict[str, Any], value: Any) -> None:
    schema = _resolve(spec, schema)
    if value is None:
        return  # clearing a field on update; the spec marks these nullable
    if "anyOf" in schema:
        variants = [_resolve(spec, s) for s in schema["anyOf"]]
        allowed = set().union(*(v.get("properties", {}) for v in variants))
        assert isinstance(value, dict), where
        assert set(value) <= allowed, f"{where}: {sorted(set(value) - allowed)}"
        return
    expected = _TYPES.get(schema.get("type", ""))
    if expected is not None:
        assert isinstance(value, expected), f"{where}: {value!r} is not {schema['type']}"
    if schema.get("type") == "array" and "items" in schema:
        for i, item in enumerate(value):
            _check_value(spec, f"{where}[{i}]", schema["items"], item)


def test_planned_calls_match_the_official_spec(spec: dict[str, Any]) -> None:
    """Planned calls are real operations with their params and DTO fields, keys on creates only."""
    ops = _operations(spec)
    seen = set()
    for call in _planned():
        seen.add(call.operation_id)
        assert call.operation_id in ops, call.operation_id
        path_params, body_schema = ops[call.operation_id]
        assert sorted(call.params) == sorted(path_params), call.operation_id
        # Only real creates carry an idempotency key; an upsert is safe to re-send.
        is_create = call.operation_id in {"create-contact", "create-task", "create-note"}
        assert (call.key is not None) == is_create, call.operation_id
        if body_schema is None:
            # None, not {}: the client refuses any JSON body on an operation that takes none.
            assert call.body is None, call.operation_id
            continue
        assert call.body is not None, call.operation_id
        dto = _resolve(spec, body_schema)
        props = dto.get("properties", {})
        extra = set(call.body) - set(props)
        assert not extra, f"{call.operation_id} sends fields its DTO lacks: {sorted(extra)}"
        missing = set(dto.get("required", [])) - set(call.body)
        assert not missing, f"{call.operation_id} misses required {sorted(missing)}"
        for name, value in call.body.items():
            _check_value(spec, f"{call.operation_id}.{name}", props[name], value)
    assert seen == {
        "upsert-contact",
        "create-contact",
        "update-contact",
        "delete-contact",
        "create-task",
        "update-task",
        "update-task-completed",
        "create-note",
        "update-note",
        "delete-note",
    }

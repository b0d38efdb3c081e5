"""Models: camelCase on the wire, unknown fields kept, custom field shapes, search rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tnhl.highlevel import (
    Contact,
    ContactCreate,
    ContactUpdate,
    CustomFieldInput,
    FilterGroup,
    SearchFilter,
    SearchRequest,
    TaskCreate,
)
from tnhl.highlevel._records import ContactList, TaskCompleted, UpsertResponse

READ = {
    "id": "c1",
    "locationId": "loc",
    "firstName": "Ada",
    "dndSettings": {"Call": {"status": "active"}},
    "customFields": [{"id": "f1", "value": "XYZ Corp"}, {"id": "f2", "value": 3}],
    "brandNewField": {"nested": [1, 2]},
    "tags": ["a"],
}


def test_contact_round_trip_keeps_unknown_fields() -> None:
    """A read contact dumps back to exactly what was read, unknown fields included."""
    contact = Contact.model_validate(READ)
    assert contact.first_name == "Ada"
    assert contact.custom_field("f2") == 3
    assert contact.custom_field("nope") is None
    assert contact.to_wire() == READ


def test_read_modify_write_loses_nothing() -> None:
    """Changing one field of a read contact and writing it keeps every other field."""
    contact = Contact.model_validate(READ)
    changed = contact.model_copy(update={"first_name": "Grace"})
    wire = changed.to_wire()
    assert wire["firstName"] == "Grace"
    assert wire["brandNewField"] == {"nested": [1, 2]}


def test_inputs_accept_snake_or_camel_and_send_only_set_fields() -> None:
    """Inputs populate by name or alias; unset fields are not sent (null would clear them)."""
    by_name = ContactCreate(location_id="loc", email="a@b.c")
    by_alias = ContactCreate.model_validate({"locationId": "loc", "email": "a@b.c"})
    assert by_name.to_wire() == by_alias.to_wire() == {"locationId": "loc", "email": "a@b.c"}
    assert ContactUpdate(phone=None).to_wire() == {"phone": None}


def test_custom_field_write_shape() -> None:
    """Custom fields are written {id|key, field_value}; the read shape converts to it."""
    assert CustomFieldInput(id="f1", field_value=["a", "b"]).to_wire() == {
        "id": "f1",
        "field_value": ["a", "b"],
    }
    assert CustomFieldInput(key="my_field", field_value=100.5).to_wire() == {
        "key": "my_field",
        "field_value": 100.5,
    }
    read = Contact.model_validate(READ).custom_fields[0]
    assert CustomFieldInput.from_read(read).to_wire() == {"id": "f1", "field_value": "XYZ Corp"}


def test_custom_field_needs_id_or_key() -> None:
    """A custom field with neither id nor key is refused, naming customFields."""
    with pytest.raises(ValidationError, match="customFields"):
        CustomFieldInput(field_value="x")


def test_custom_field_read_shape_is_not_a_write_shape() -> None:
    """{id, value} (the read shape) is not accepted as a write: field_value is required."""
    with pytest.raises(ValidationError, match="field_value"):
        ContactCreate.model_validate(
            {"locationId": "loc", "customFields": [{"id": "f1", "value": "x"}]}
        )


def test_task_create_requires_spec_fields() -> None:
    """CreateTaskParams requires title, dueDate and completed; completed=False is sent."""
    with pytest.raises(ValidationError):
        TaskCreate.model_validate({"title": "t"})
    wire = TaskCreate(title="t", due_date="2026-01-01T00:00:00Z", completed=False).to_wire()
    assert wire == {"title": "t", "dueDate": "2026-01-01T00:00:00Z", "completed": False}
    assert TaskCompleted(completed=True).to_wire() == {"completed": True}


def test_envelopes_parse() -> None:
    """Response envelopes parse: upsert's traceId, list meta's cursor."""
    upsert = UpsertResponse.model_validate({"new": True, "contact": READ, "traceId": "t"})
    assert (upsert.new, upsert.trace_id, upsert.contact.id) == (True, "t", "c1")
    listing = ContactList.model_validate(
        {"contacts": [READ], "meta": {"startAfterId": "c1", "startAfter": 1631087949919}}
    )
    assert listing.meta is not None
    assert listing.meta.start_after == 1631087949919


def test_search_request_wire_shape() -> None:
    """A search with a nested OR group, a range and a sort serialises as HighLevel expects."""
    request = SearchRequest(
        location_id="loc",
        page_limit=20,
        filters=[
            FilterGroup(
                group="OR",
                filters=[
                    SearchFilter(field="firstNameLowerCase", operator="eq", value="ada"),
                    SearchFilter(field="email", operator="exists"),
                ],
            ),
            SearchFilter(field="dateAdded", operator="range", value={"gte": "2026-01-01"}),
        ],
        sort=[{"field": "dateAdded", "direction": "desc"}],  # type: ignore[list-item]
    )
    assert request.to_wire() == {
        "locationId": "loc",
        "pageLimit": 20,
        "filters": [
            {
                "group": "OR",
                "filters": [
                    {"field": "firstNameLowerCase", "operator": "eq", "value": "ada"},
                    {"field": "email", "operator": "exists"},
                ],
            },
            {"field": "dateAdded", "operator": "range", "value": {"gte": "2026-01-01"}},
        ],
        "sort": [{"field": "dateAdded", "direction": "desc"}],
    }
    # pageLimit is always sent, even when left at its default.
    assert SearchRequest(location_id="loc").to_wire() == {"locationId": "loc", "pageLimit": 100}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"field": "email", "operator": "exists", "value": "x"}, "takes no value"),
        ({"field": "email", "operator": "eq"}, "needs a value"),
        ({"field": "dateAdded", "operator": "range", "value": {"from": 1}}, "unknown range"),
        ({"field": "dateAdded", "operator": "range", "value": 3}, "range needs"),
        ({"field": "email", "operator": "like", "value": "x"}, "operator"),
        ({"field": "email", "operator": "eq", "value": "x" * 76}, "75"),
    ],
)
def test_search_filter_rules(data: dict[str, object], fragment: str) -> None:
    """Each operator's value rule is enforced with a message naming the problem."""
    with pytest.raises(ValidationError, match=fragment):
        SearchFilter.model_validate(data)


def test_search_paging_rules() -> None:
    """page and searchAfter together, or pageLimit over 500, are refused."""
    with pytest.raises(ValidationError, match="not both"):
        SearchRequest(location_id="l", page=2, search_after=[1, "a"])
    with pytest.raises(ValidationError):
        SearchRequest(location_id="l", page_limit=501)

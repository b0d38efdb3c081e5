"""Property tests: no input makes the parser fail in any way but InvalidEvent."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tnhl.talknotes import EVENT_TYPES, InvalidEvent, TalkNotesEvent, parse_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "id",
        "contactId",
        "taskName",
        "noteContent",
        "noteTitle",
        "email",
        "phone",
        "full_name",
        "external_id",
        "dueDate",
        "priority",
        "completed",
        "custom_fields",
        "updated_at",
        "x",
    ]
)
near_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(EVENT_TYPES) | st.text(max_size=8),
        "timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "x", 5]),
        "data": st.dictionaries(field_names, json_values, max_size=8),
    }
)


def outcome(raw: bytes) -> TalkNotesEvent | InvalidEvent:
    try:
        return parse_event(raw)
    except InvalidEvent as exc:
        error = exc
    assert error.problems, "an InvalidEvent must name at least one problem"
    for problem in error.problems:
        assert problem["field"]
        assert problem["problem"]
    return error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(raw: bytes) -> None:
    """Random bytes parse or raise InvalidEvent with named problems, nothing else."""
    outcome(raw)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    """Any JSON document parses or raises InvalidEvent, nothing else."""
    outcome(json.dumps(value).encode())


@settings(max_examples=250, deadline=None)
@given(near_events)
def test_near_miss_events(value: dict[str, Any]) -> None:
    """Event-shaped documents with random field values parse or raise InvalidEvent; a parsed
    event keeps its type and has an entity key."""
    result = outcome(json.dumps(value).encode())
    if isinstance(result, TalkNotesEvent):
        assert result.type == value["type"]
        assert result.type in EVENT_TYPES

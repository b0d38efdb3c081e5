"""The operations table against the official spec (apps/contacts.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tnhl.highlevel._operations import OPERATIONS, WRITE

_METHODS = {"get", "post", "put", "delete", "patch"}


def _spec_operations(specs_dir: Path) -> dict[str, dict[str, Any]]:
    spec = json.loads((specs_dir / "apps" / "contacts.json").read_text(encoding="utf-8"))
    found: dict[str, dict[str, Any]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            found[op["operationId"]] = {"method": method.upper(), "path": path, **op}
    return found


@pytest.fixture(scope="module")
def spec_ops(specs_dir: Path) -> dict[str, dict[str, Any]]:
    return _spec_operations(specs_dir)


def test_same_operation_ids(spec_ops: dict[str, dict[str, Any]]) -> None:
    """The table has exactly the spec's 32 operations: none missing, none extra."""
    assert len(spec_ops) == 32
    assert set(OPERATIONS) == set(spec_ops)


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_operation_matches_spec(operation_id: str, spec_ops: dict[str, dict[str, Any]]) -> None:
    """Method, path, query parameters, scope and success status equal the spec's."""
    ours = OPERATIONS[operation_id]
    theirs = spec_ops[operation_id]
    assert ours.method == theirs["method"]
    assert ours.path == theirs["path"]

    params = [p for p in theirs.get("parameters", []) if p.get("in") == "query"]
    assert set(ours.query) == {p["name"] for p in params}
    assert set(ours.required_query) == {p["name"] for p in params if p.get("required")}
    declared_path = {p["name"] for p in theirs.get("parameters", []) if p.get("in") == "path"}
    # The spec forgets to declare `type` of the bulk tag path; every declared one must match.
    assert declared_path <= set(ours.path_params)
    assert set(re.findall(r"\{([^}]+)\}", theirs["path"])) == set(ours.path_params)

    scopes = {s for req in theirs.get("security") or [] for v in req.values() for s in v}
    if scopes:
        assert ours.scope_declared
        assert {ours.scope} == scopes
    else:
        assert not ours.scope_declared
        assert ours.scope == WRITE

    successes = sorted(int(code) for code in theirs["responses"] if code.startswith("2"))
    assert successes == [ours.success]
    assert ours.has_body == ("requestBody" in theirs)


def test_creates_are_the_three_creates() -> None:
    """Exactly create-contact, create-task and create-note are marked never-resend."""
    assert {op.id for op in OPERATIONS.values() if op.create} == {
        "create-contact",
        "create-task",
        "create-note",
    }

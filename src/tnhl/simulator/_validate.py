"""Request-body validation that answers the way HighLevel's NestJS class-validator pipe does.

HighLevel validates with `whitelist` + `forbidNonWhitelisted`, so an unknown property is a 422
`"property X should not exist"`, and each broken rule adds one class-validator message
(`"title must be a string"`, `"title should not be empty"`). Nested errors carry the parent path
as a prefix (`"dndSettings.Call.status must be one of the following values: ..."`), as NestJS's
ValidationPipe flattens them. Sources: docs/highlevel-api.md sections 3.3, 3.4 and 10.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from tnhl.simulator._http import SimHTTPError

__all__ = ["Dto", "Field", "validate_body", "validate_dto"]

Kind = Literal[
    "string", "boolean", "number", "string_list", "list", "object", "dto", "custom_fields"
]

# class-validator's IsEmail is stricter than this, but this catches what a fuzzer or a typo sends.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_FORMATS = re.compile(
    r"^(\d{4}[/\-._]\d{1,2}[/\-._]\d{1,2}|\d{1,2}[/\-._]\d{1,2}[/\-._]\d{4})"
    r"(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$"
)


@dataclass(frozen=True)
class Field:
    kind: Kind
    required: bool = False
    nullable: bool = False
    not_empty: bool = False
    enum: tuple[str, ...] = ()
    dto: Dto | None = None
    max_length_each: int | None = None
    email: bool = False
    date: bool = False


@dataclass(frozen=True)
class Dto:
    name: str
    fields: dict[str, Field] = field(default_factory=dict)


def validate_body(dto: Dto, body: Any) -> dict[str, Any]:
    """Validate a parsed JSON body against `dto`; return it, or raise a 422 `SimHTTPError`."""
    if not isinstance(body, dict):
        raise SimHTTPError(422, ["an unknown value was passed to the validate function"])
    errors = validate_dto(dto, body, "")
    if errors:
        raise SimHTTPError(422, errors)
    return body


def validate_dto(dto: Dto, body: dict[str, Any], prefix: str) -> list[str]:
    errors: list[str] = []
    for name in body:
        if name not in dto.fields:
            errors.append(f"{prefix}property {name} should not exist")
    for name, spec in dto.fields.items():
        errors.extend(_check(name, spec, body.get(name), name in body, prefix))
    return errors


def _missing_messages(name: str, spec: Field, prefix: str) -> list[str]:
    p = f"{prefix}{name}"
    if spec.kind == "string":
        return [f"{p} should not be empty", f"{p} must be a string"]
    if spec.kind == "boolean":
        return [f"{p} must be a boolean value"]
    if spec.kind == "number":
        return [f"{p} must be a number conforming to the specified constraints"]
    if spec.kind == "string_list":
        return [f"{p} should not be empty", f"{p} must be an array"]
    return [f"{p} should not be empty"]


def _check(name: str, spec: Field, value: Any, present: bool, prefix: str) -> list[str]:
    p = f"{prefix}{name}"
    if not present:
        return _missing_messages(name, spec, prefix) if spec.required else []
    if value is None:
        # class-validator's IsOptional lets null through; a required field takes null only
        # where the DTO says so (bulk/business's businessId).
        return _missing_messages(name, spec, prefix) if spec.required and not spec.nullable else []
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            return [f"{p} must be a string"]
        if spec.not_empty and value == "":
            return [f"{p} should not be empty"]
        if spec.enum and value not in spec.enum:
            return [f"{p} must be one of the following values: {', '.join(spec.enum)}"]
        if spec.email and not _EMAIL.match(value):
            return [f"{p} must be an email"]
        if spec.date and not _DATE_FORMATS.match(value):
            return [f"{p} must be a valid date (YYYY-MM-DD, MM/DD/YYYY or the like)"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{p} must be a boolean value"]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{p} must be a number conforming to the specified constraints"]
    if kind == "string_list":
        if not isinstance(value, list):
            return [f"{p} must be an array"]
        if not all(isinstance(v, str) for v in value):
            return [f"each value in {p} must be a string"]
        limit = spec.max_length_each
        if limit is not None and any(len(v) > limit for v in value):
            return [f"each value in {p} must be shorter than or equal to {limit} characters"]
        if spec.not_empty and not value:
            return [f"{p} should not be empty"]
        return []
    if kind == "object":
        return [] if isinstance(value, dict) else [f"{p} must be an object"]
    if kind == "list":
        return [] if isinstance(value, list) else [f"{p} must be an array"]
    if kind == "dto":
        if not isinstance(value, dict):
            return [f"nested property {p} must be either object or array"]
        assert spec.dto is not None
        return validate_dto(spec.dto, value, f"{p}.")
    return _check_custom_fields(p, value)


_CUSTOM_FIELD_KEYS = ("id", "key", "field_value", "value")


def _check_custom_fields(p: str, value: Any) -> list[str]:
    # Written as {id | key, field_value}; {id, value} is also accepted in practice
    # (docs/highlevel-api.md section 3.5), so both are allowed here.
    if not isinstance(value, list):
        return [f"{p} must be an array"]
    errors: list[str] = []
    for i, item in enumerate(value):
        q = f"{p}.{i}"
        if not isinstance(item, dict):
            errors.append(f"nested property {q} must be either object or array")
            continue
        errors.extend(
            f"{q}.property {k} should not exist" for k in item if k not in _CUSTOM_FIELD_KEYS
        )
        for k in ("id", "key"):
            if k in item and not isinstance(item[k], str):
                errors.append(f"{q}.{k} must be a string")
        if not item.get("id") and not item.get("key"):
            errors.append(f"{q}.id should not be empty")
    return errors

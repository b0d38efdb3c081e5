"""Apply a MappingConfig to one TalkNotes record: the HighLevel request fields, and warnings.

Pure: no I/O, no clock (the reference time for a default due date is passed in). Values the
config says to drop are dropped with a warning; values that cannot be mapped otherwise raise
TransformError naming the TalkNotes field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jmespath

from ._errors import TransformError
from ._models import CustomFieldSpec, MappingConfig
from ._transforms import (
    default_due,
    normalise_completed,
    normalise_email,
    normalise_priority,
    parse_due_date,
    split_name,
    to_e164,
)

__all__ = ["Mapped", "map_contact", "map_note", "map_task"]


@dataclass
class Mapped:
    """HighLevel body fields (a None value means "clear this field") and warnings."""

    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _custom_value(name: str, spec: CustomFieldSpec, value: Any) -> Any:
    where = f"custom_fields.{name}"
    if spec.type == "number":
        if isinstance(value, bool):
            raise TransformError(where, f"not a number: {value!r}")
        if isinstance(value, int):
            return value
        try:
            number = float(
                value if isinstance(value, float) else str(value).strip().replace(",", "")
            )
        except ValueError:
            raise TransformError(where, f"not a number: {value!r}") from None
        if not math.isfinite(number):
            raise TransformError(where, f"not a finite number: {value!r}")
        return int(number) if number.is_integer() else number
    if spec.type == "list":
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        return [s for s in (str(i).strip() for i in items) if s]
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _custom_fields(data: Mapping[str, Any], cfg: MappingConfig) -> list[dict[str, Any]]:
    extras = data.get("custom_fields") or {}
    if not isinstance(extras, Mapping):
        raise TransformError("custom_fields", "must be an object of name: value")
    out: list[dict[str, Any]] = []
    for name, spec in cfg.contact.custom_fields.items():
        if spec.path is not None:
            value = jmespath.search(spec.path, dict(data))
        else:
            value = extras.get(name, data.get(name))
        if value is None or value == "":
            continue
        target = {"key": spec.key} if spec.key is not None else {"id": spec.id}
        out.append({**target, "field_value": _custom_value(name, spec, value)})
    if cfg.contact.unmapped_custom_fields == "by_key":
        for name in sorted(set(extras) - set(cfg.contact.custom_fields)):
            value = extras[name]
            if value is None or value == "":
                continue
            text = _custom_value(name, CustomFieldSpec(key=name), value)
            out.append({"key": name, "field_value": text})
    return out


def map_contact(data: Mapping[str, Any], cfg: MappingConfig) -> Mapped:
    """CreateContactDto-style fields from a TalkNotes contact (no locationId)."""
    c = cfg.contact
    out = Mapped()
    clear = c.clear_on_null
    if "full_name" in data:
        parts = split_name(
            str(data["full_name"] or ""),
            rule=c.name.split,
            prefixes=c.name.prefixes,
            suffixes=c.name.suffixes,
            particles=c.name.particles,
        )
        if parts is not None:
            out.fields.update(firstName=parts.first, lastName=parts.last, name=parts.name)
        elif clear:
            out.fields.update(firstName=None, lastName=None, name=None)
    if "email" in data:
        raw = _text(data["email"])
        if raw is None:
            if clear:
                out.fields["email"] = None
        else:
            try:
                out.fields["email"] = normalise_email(raw, lowercase=c.email.lowercase)
            except TransformError as exc:
                if c.email.on_invalid == "reject":
                    raise
                out.warnings.append(f"{exc} (dropped: not sent to HighLevel)")
    if "phone" in data:
        raw = _text(data["phone"])
        if raw is None:
            if clear:
                out.fields["phone"] = None
        else:
            try:
                out.fields["phone"] = to_e164(
                    raw, region=c.phone.default_region, validation=c.phone.validation
                )
            except TransformError as exc:
                if c.phone.on_invalid == "reject":
                    raise
                out.warnings.append(f"{exc} (dropped: not sent to HighLevel)")
    for hl_field, expr in c.fields.items():
        value = jmespath.search(expr, dict(data))
        if value is not None:
            out.fields[hl_field] = str(value)
    custom = _custom_fields(data, cfg)
    if custom:
        out.fields["customFields"] = custom
    return out


def _priority_label(data: Mapping[str, Any], cfg: MappingConfig, out: Mapped) -> str | None:
    p = cfg.tasks.priority
    raw = data.get("priority")
    if p.mode == "ignore" or raw is None:
        return None
    try:
        level = normalise_priority(raw, aliases=p.aliases)
    except TransformError as exc:
        written = _written_priority(raw)
        if written is None:
            out.warnings.append(f"{exc} (ignored)")
            return None
        # A word tnhl does not know still says something the user meant: keep it verbatim
        # as the label rather than lose it (or the task).
        out.warnings.append(
            f"priority: unknown priority {written!r}, used as the label as written"
            " (map it to a level with tasks.priority.aliases)"
        )
        return written
    return None if level is None else p.labels.get(level)


def _written_priority(raw: object) -> str | None:
    """The priority as the user wrote it (spaces tidied), or None when it is no word or number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) or (isinstance(raw, float) and math.isfinite(raw)):
        return str(raw)
    if isinstance(raw, str):
        return " ".join(raw.split()) or None
    return None


def map_task(
    data: Mapping[str, Any],
    cfg: MappingConfig,
    *,
    create: bool,
    reference: datetime | None,
    due_reference: datetime | None = None,
) -> Mapped:
    """CreateTaskParams (create) or UpdateTaskBody fields from a TalkNotes task.

    `reference` is the event's time; a created task without a due date is due a configured
    number of days after it (HighLevel requires dueDate). `due_reference` is the time of the
    event that set `dueDate`: a due date in words ("Friday 3pm") is read from then on.
    """
    t = cfg.tasks
    out = Mapped()
    title = _text(data.get("taskName"))
    if create and title is None:
        raise TransformError("taskName", "required (HighLevel tasks need a title)")
    label = _priority_label(data, cfg, out)
    if title is not None:
        if label is not None and t.priority.mode == "title_prefix":
            title = t.priority.title_format.format(label=label, title=title)
        out.fields["title"] = title
    body = _text(data.get("description")) if t.description_to_body else None
    if label is not None and t.priority.mode == "body_line":
        line = t.priority.body_format.format(label=label)
        body = line if body is None else f"{line}\n\n{body}"
    if body is not None:
        out.fields["body"] = body
    due_raw = data.get("dueDate")
    due: str | None = None
    if due_raw is not None and due_raw != "":
        try:
            due = parse_due_date(
                due_raw,
                zone=t.due.zone,
                date_only_time=t.due.date_only_time,
                day_first=t.due.day_first,
                reference=due_reference,
            )
        except TransformError as exc:
            if t.due.on_invalid == "reject" or not create:
                raise
            out.warnings.append(f"{exc} (default due date used)")
    if due is None and create:
        if reference is None:
            raise TransformError(
                "dueDate", "missing, and the event has no timestamp to default from"
            )
        due = default_due(
            reference, zone=t.due.zone, days=t.due.default_days, at=t.due.default_time
        )
    if due is not None:
        out.fields["dueDate"] = due
    if "completed" in data and data["completed"] is not None:
        out.fields["completed"] = normalise_completed(data["completed"])
    elif create:
        out.fields["completed"] = False
    assignee = _text(data.get("assignee"))
    if assignee is not None:
        if assignee in t.assignees:
            out.fields["assignedTo"] = t.assignees[assignee]
        elif t.unmapped_assignee == "pass_through":
            out.fields["assignedTo"] = assignee
        else:
            out.warnings.append(f"assignee: {assignee!r} has no HighLevel user in the mapping")
    if "assignedTo" not in out.fields and create and t.default_assignee is not None:
        out.fields["assignedTo"] = t.default_assignee
    return out


def map_note(data: Mapping[str, Any], cfg: MappingConfig, *, create: bool) -> Mapped:
    """NotesDTO (create) or UpdateNoteDTO fields from a TalkNotes note."""
    n = cfg.notes
    out = Mapped()
    title = _text(data.get("noteTitle"))
    body = data.get("noteContent")
    body = body.strip() if isinstance(body, str) and body.strip() else _text(body)
    if n.title_in_body and title is not None and body is not None:
        body = n.title_in_body_format.format(title=title, body=body)
    if body is None and create:
        if title is None:
            raise TransformError("noteContent", "required (a HighLevel note needs a body)")
        body = title
    if body is not None:
        out.fields["body"] = body
    if title is not None and n.send_title:
        out.fields["title"] = title
    return out

"""The mapping file's schema: pydantic models, strict (unknown keys are errors)."""

from __future__ import annotations

import re
import string
from datetime import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import phonenumbers
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ._milestones import DEFAULT_MILESTONES
from ._recipes import Recipe
from ._transforms import priority_key

__all__ = [
    "SYNCED_FIELDS",
    "ContactConfig",
    "CustomFieldSpec",
    "DueConfig",
    "EmailConfig",
    "FollowUpsConfig",
    "MappingConfig",
    "MilestonesConfig",
    "NameConfig",
    "NotesConfig",
    "PhoneConfig",
    "PriorityConfig",
    "SyncConfig",
    "SyncRule",
    "TasksConfig",
]

# String-valued fields of CreateContactDto a user may fill from TalkNotes data with a jmespath
# expression (contacts.json). Names, email and phone come from the seed fields; tags and
# customFields have their own sections; dnd settings are objects and not offered.
ContactField = Literal[
    "address1",
    "city",
    "state",
    "postalCode",
    "country",
    "website",
    "timezone",
    "source",
    "companyName",
    "assignedTo",
    "dateOfBirth",
    "gender",
]

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_RECIPE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_template(template: str, allowed: set[str]) -> str:
    # Only bare {name} placeholders: str.format would otherwise allow attribute access
    # ({title.__class__}) from a user-edited file.
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        if name not in allowed or spec or conv:
            names = ", ".join("{" + a + "}" for a in sorted(allowed))
            raise ValueError(f"placeholder {{{name}}} not allowed; use only {names}")
    return template


def _compile_jmespath(expr: str) -> str:
    try:
        jmespath.compile(expr)
    except JMESPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a valid jmespath expression ({first})") from None
    return expr


JmesPath = Annotated[str, AfterValidator(_compile_jmespath)]


class NameConfig(_Strict):
    split: Literal["last_word", "first_word"] = "last_word"
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    particles: tuple[str, ...] = ()


class PhoneConfig(_Strict):
    default_region: str = "US"
    validation: Literal["possible", "valid"] = "valid"
    on_invalid: Literal["drop", "reject"] = "drop"

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        if v.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {v!r}; use an ISO 3166 two-letter code such as US")
        return v.upper()


class EmailConfig(_Strict):
    lowercase: bool = True
    on_invalid: Literal["drop", "reject"] = "drop"


class CustomFieldSpec(_Strict):
    key: str | None = None
    id: str | None = None
    type: Literal["text", "number", "list"] = "text"
    path: JmesPath | None = None

    @model_validator(mode="after")
    def _one_target(self) -> CustomFieldSpec:
        if (self.key is None) == (self.id is None):
            raise ValueError("give exactly one of key or id")
        return self


class ContactConfig(_Strict):
    create_mode: Literal["upsert", "create"] = "upsert"
    clear_on_null: bool = True
    name: NameConfig = NameConfig()
    phone: PhoneConfig = PhoneConfig()
    email: EmailConfig = EmailConfig()
    tags: tuple[str, ...] = ()
    source: str | None = None
    fields: dict[ContactField, JmesPath] = Field(default_factory=dict)
    custom_fields: dict[str, CustomFieldSpec] = Field(default_factory=dict)
    unmapped_custom_fields: Literal["ignore", "by_key"] = "ignore"


PriorityLevel = Literal["low", "normal", "high", "urgent"]


def _default_labels() -> dict[PriorityLevel, str | None]:
    return {"low": "Low", "normal": None, "high": "High", "urgent": "Urgent"}


class PriorityConfig(_Strict):
    mode: Literal["title_prefix", "body_line", "ignore"] = "title_prefix"
    labels: dict[PriorityLevel, str | None] = Field(default_factory=_default_labels)
    title_format: str = "[{label}] {title}"
    body_format: str = "Priority: {label}"
    # Extra words people use (word: level), over the built-in ones; keys stored folded.
    aliases: dict[str, PriorityLevel] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: dict[str, PriorityLevel]) -> dict[str, PriorityLevel]:
        out: dict[str, PriorityLevel] = {}
        first: dict[str, str] = {}
        for word, level in v.items():
            key = priority_key(word)
            if not key:
                raise ValueError("an alias must be a non-blank word")
            if key in out and out[key] != level:
                raise ValueError(
                    f"{first[key]!r} and {word!r} are the same word (case-insensitive)"
                    " with different levels"
                )
            out[key] = level
            first.setdefault(key, word)
        return out

    @field_validator("title_format")
    @classmethod
    def _title(cls, v: str) -> str:
        return _check_template(v, {"label", "title"})

    @field_validator("body_format")
    @classmethod
    def _body(cls, v: str) -> str:
        return _check_template(v, {"label"})


def _hhmm(v: Any) -> time:
    if isinstance(v, int) and not isinstance(v, bool):
        # YAML 1.1 reads an unquoted 09:00 as the sexagesimal integer 540.
        v = f"{v // 60:02d}:{v % 60:02d}"
    if isinstance(v, time):
        return v
    if not isinstance(v, str) or not _HHMM.match(v):
        raise ValueError(f"must be a time of day as HH:MM, got {v!r}")
    hh, mm = v.split(":")
    return time(int(hh), int(mm))


class DueConfig(_Strict):
    timezone: str = "UTC"
    date_only_time: time = time(9, 0)
    day_first: bool = False
    default_days: int = Field(default=1, ge=0, le=365)
    default_time: time = time(9, 0)
    on_invalid: Literal["reject", "default"] = "reject"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. America/New_York)") from None
        return v

    @field_validator("date_only_time", "default_time", mode="before")
    @classmethod
    def _time(cls, v: Any) -> time:
        return _hhmm(v)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TasksConfig(_Strict):
    priority: PriorityConfig = PriorityConfig()
    due: DueConfig = DueConfig()
    description_to_body: bool = True
    assignees: dict[str, str] = Field(default_factory=dict)
    default_assignee: str | None = None
    unmapped_assignee: Literal["ignore", "pass_through"] = "ignore"


class NotesConfig(_Strict):
    send_title: bool = True
    title_in_body: bool = False
    title_in_body_format: str = "{title}\n\n{body}"

    @field_validator("title_in_body_format")
    @classmethod
    def _fmt(cls, v: str) -> str:
        return _check_template(v, {"title", "body"})


# The fields (TalkNotes' names) both sides hold and tnhl compares when both changed one.
SYNCED_FIELDS = {
    "contact": ("email", "phone", "full_name"),
    "task": ("taskName", "description", "dueDate"),
    "note": ("noteContent",),
}
Direction = Literal["both", "to_highlevel", "to_talknotes"]


class SyncRule(_Strict):
    """One field's two-way rule: which way its changes go, and whose wins when both sides
    changed it within the sync delay."""

    direction: Direction = "both"
    prefer: Literal["newest", "highlevel", "talknotes"] = "newest"


def _rules(kind: str) -> Any:
    def check(v: dict[str, SyncRule]) -> dict[str, SyncRule]:
        known = SYNCED_FIELDS[kind]
        for name in v:
            if name not in known:
                raise ValueError(f"{name}: not a synced {kind} field (one of {', '.join(known)})")
        return v

    return AfterValidator(check)


class SyncConfig(_Strict):
    """Two-way sync (HighLevel -> TalkNotes): where records may be born, and per field its
    direction and which side wins a conflict."""

    create: Direction = "both"
    contact: Annotated[dict[str, SyncRule], _rules("contact")] = Field(default_factory=dict)
    task: Annotated[dict[str, SyncRule], _rules("task")] = Field(default_factory=dict)
    note: Annotated[dict[str, SyncRule], _rules("note")] = Field(default_factory=dict)

    def rule(self, kind: str, field: str) -> SyncRule:
        rules: dict[str, SyncRule] = getattr(self, kind, {})
        return rules.get(field, _BOTH)


_BOTH = SyncRule()


class FollowUpsConfig(_Strict):
    """Tasks from the follow-ups a note states ("call Sam back Friday at 3pm")."""

    enabled: bool = True
    default_time: time = time(9, 0)  # when the sentence says no time of day
    assignee: str | None = None  # a TalkNotes assignee (tasks.assignees maps it); none: unassigned

    @field_validator("default_time", mode="before")
    @classmethod
    def _time(cls, v: Any) -> time:
        return _hhmm(v)


class MilestonesConfig(_Strict):
    """Milestone notes from what notes state ("the deal was signed"): per family its phrases
    (merged over the defaults key by key; an empty list turns that family off)."""

    enabled: bool = True
    families: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_MILESTONES))


class MappingConfig(_Strict):
    version: Literal[1] = 1
    contact: ContactConfig = ContactConfig()
    tasks: TasksConfig = TasksConfig()
    notes: NotesConfig = NotesConfig()
    sync: SyncConfig = SyncConfig()
    followups: FollowUpsConfig = FollowUpsConfig()
    milestones: MilestonesConfig = MilestonesConfig()
    recipes: dict[str, Recipe] = Field(default_factory=dict)

    @field_validator("recipes")
    @classmethod
    def _recipe_names(cls, v: dict[str, Recipe]) -> dict[str, Recipe]:
        for name in v:
            if not _RECIPE_NAME.fullmatch(name):
                raise ValueError(f"{name!r}: a recipe's name is 1-64 of a-z, 0-9, - and _")
        return v

    def recipes_with(self, action: str) -> list[tuple[str, Recipe]]:
        """The enabled recipes that run `action`, by name."""
        return [(n, r) for n, r in self.recipes.items() if r.enabled and action in r.action_ids()]

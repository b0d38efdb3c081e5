"""Field mapping TalkNotes -> HighLevel: a user-editable YAML file and pure transforms."""

from __future__ import annotations

from ._apply import Mapped, map_contact, map_note, map_task
from ._catalog import CatalogEntry, catalog, get_entry
from ._check import MappingProblem, check_record
from ._config import default_mapping, load_mapping, load_mapping_text
from ._errors import MappingError, MappingFileError, MappingIssue, TransformError
from ._followups import FollowUp, find_follow_ups, natural_date
from ._milestones import Milestone, find_milestones
from ._models import SYNCED_FIELDS, MappingConfig, SyncConfig, SyncRule
from ._recipes import Recipe, check_action, fires, render
from ._transforms import (
    NameParts,
    Priority,
    default_due,
    format_due,
    normalise_completed,
    normalise_email,
    normalise_priority,
    parse_due_date,
    split_name,
    to_e164,
)

__all__ = [
    "SYNCED_FIELDS",
    "CatalogEntry",
    "FollowUp",
    "Mapped",
    "MappingConfig",
    "MappingError",
    "MappingFileError",
    "MappingIssue",
    "MappingProblem",
    "Milestone",
    "NameParts",
    "Priority",
    "Recipe",
    "SyncConfig",
    "SyncRule",
    "TransformError",
    "catalog",
    "check_action",
    "check_record",
    "default_due",
    "default_mapping",
    "find_follow_ups",
    "find_milestones",
    "fires",
    "format_due",
    "get_entry",
    "load_mapping",
    "load_mapping_text",
    "map_contact",
    "map_note",
    "map_task",
    "natural_date",
    "normalise_completed",
    "normalise_email",
    "normalise_priority",
    "parse_due_date",
    "render",
    "split_name",
    "to_e164",
]

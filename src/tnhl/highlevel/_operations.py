"""The 32 operations of the Contacts API v2, defined once.

Encoded by hand from the official spec ``apps/contacts.json`` (never loaded at run time);
``tests/highlevel/test_spec.py`` compares this table with the spec and fails on any difference
in method, path, parameters, scope or success status, and on extra or missing operations.

Two deliberate departures from the spec, both written down in the table:
- The bulk operations (``create-association``, ``add-remove-contact-from-business``) declare no
  security at all; HighLevel's scopes table lists them under no scope. We treat them as
  ``contacts.write`` (they change contacts) and mark ``scope_declared=False``.
- ``/contacts/bulk/tags/update/{type}`` does not declare its ``type`` path parameter; we do
  (``add`` or ``remove``, highlevel-api.md §2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tnhl.highlevel import _records as r
from tnhl.highlevel import _search as s
from tnhl.highlevel._errors import ConfigurationError
from tnhl.highlevel._models import ContactCreate, ContactUpdate, ContactUpsert, WireModel

__all__ = ["OPERATIONS", "READ", "WRITE", "Operation", "get_operation"]

READ = "contacts.readonly"
WRITE = "contacts.write"
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class Operation:
    """One API operation: everything the client needs to send it and read the answer."""

    id: str
    method: str
    path: str
    scope: str
    success: int
    summary: str
    query: tuple[str, ...] = ()
    required_query: tuple[str, ...] = ()
    request: type[WireModel] | None = None
    response: type[WireModel] | None = None
    create: bool = False  # never re-sent when it may have reached HighLevel
    scope_declared: bool = True

    @property
    def path_params(self) -> tuple[str, ...]:
        """Names of the ``{placeholders}`` of the path, in order."""
        return tuple(_PLACEHOLDER.findall(self.path))

    @property
    def has_body(self) -> bool:
        return self.request is not None

    def parse(self, body: Any) -> Any:
        """The answer `body` of `call` as this operation's response model (as-is if it has none).

        Raises pydantic's ValidationError when the answer does not have the documented shape.
        """
        if self.response is None or body is None:
            return body
        return self.response.model_validate(body)


_CONTACT = "/contacts/{contactId}"
_TASK = _CONTACT + "/tasks/{taskId}"
_NOTE = _CONTACT + "/notes/{id}"

_TABLE: tuple[Operation, ...] = (
    # Contacts
    Operation("search-contacts-advanced", "POST", "/contacts/search", READ, 200,
              "Search contacts (filters, sort, page or searchAfter)",
              request=s.SearchRequest, response=r.ContactList),
    Operation("get-duplicate-contact", "GET", "/contacts/search/duplicate", READ, 200,
              "Find the contact an email or phone would duplicate",
              query=("locationId", "number", "email"), required_query=("locationId",),
              response=r.DuplicateLookupResponse),
    Operation("get-contact", "GET", _CONTACT, READ, 200, "Get a contact",
              response=r.ContactEnvelope),
    Operation("update-contact", "PUT", _CONTACT, WRITE, 200, "Update a contact",
              request=ContactUpdate, response=r.ContactUpdateResponse),
    Operation("delete-contact", "DELETE", _CONTACT, WRITE, 200, "Delete a contact",
              response=r.Succeeded),
    Operation("upsert-contact", "POST", "/contacts/upsert", WRITE, 200,
              "Create or update a contact by the location's duplicate rules",
              request=ContactUpsert, response=r.UpsertResponse),
    Operation("create-contact", "POST", "/contacts/", WRITE, 201, "Create a contact",
              request=ContactCreate, response=r.ContactEnvelope, create=True),
    Operation("get-contacts", "GET", "/contacts/", READ, 200,
              "List contacts (deprecated by HighLevel; use search)",
              query=("locationId", "startAfterId", "startAfter", "query", "limit"),
              required_query=("locationId",), response=r.ContactList),
    Operation("get-contacts-by-businessId", "GET", "/contacts/business/{businessId}", READ, 200,
              "List the contacts of a business",
              query=("limit", "locationId", "skip", "query"), required_query=("locationId",),
              response=r.ContactList),
    # Tasks
    Operation("get-all-tasks", "GET", _CONTACT + "/tasks", READ, 200, "List a contact's tasks",
              response=r.TaskList),
    Operation("create-task", "POST", _CONTACT + "/tasks", WRITE, 201, "Create a task",
              request=r.TaskCreate, response=r.TaskEnvelope, create=True),
    Operation("get-task", "GET", _TASK, READ, 200, "Get a task", response=r.TaskEnvelope),
    Operation("update-task", "PUT", _TASK, WRITE, 200, "Update a task",
              request=r.TaskUpdate, response=r.TaskEnvelope),
    Operation("delete-task", "DELETE", _TASK, WRITE, 200, "Delete a task",
              response=r.Succeeded),
    Operation("update-task-completed", "PUT", _TASK + "/completed", WRITE, 200,
              "Mark a task completed or not", request=r.TaskCompleted, response=r.TaskEnvelope),
    # Appointments
    Operation("get-appointments-for-contact", "GET", _CONTACT + "/appointments", READ, 200,
              "List a contact's appointments", response=r.EventList),
    # Tags
    Operation("add-tags", "POST", _CONTACT + "/tags", WRITE, 201, "Add tags to a contact",
              request=r.TagsInput),
    Operation("remove-tags", "DELETE", _CONTACT + "/tags", WRITE, 200,
              "Remove tags from a contact", request=r.TagsInput),
    # Notes
    Operation("get-all-notes", "GET", _CONTACT + "/notes", READ, 200, "List a contact's notes",
              response=r.NoteList),
    Operation("create-note", "POST", _CONTACT + "/notes", WRITE, 201, "Create a note",
              request=r.NoteCreate, response=r.NoteEnvelope, create=True),
    Operation("get-note", "GET", _NOTE, READ, 200, "Get a note", response=r.NoteEnvelope),
    Operation("update-note", "PUT", _NOTE, WRITE, 200, "Update a note",
              request=r.NoteUpdate, response=r.NoteEnvelope),
    Operation("delete-note", "DELETE", _NOTE, WRITE, 200, "Delete a note",
              response=r.Succeeded),
    # Bulk (no security declared in the spec: treated as contacts.write)
    Operation("create-association", "POST", "/contacts/bulk/tags/update/{type}", WRITE, 201,
              "Add or remove tags of many contacts (type: add | remove)",
              request=r.BulkTagsInput, scope_declared=False),
    Operation("add-remove-contact-from-business", "POST", "/contacts/bulk/business", WRITE, 200,
              "Add contacts to a business, or remove them (businessId null)",
              request=r.BulkBusinessInput, scope_declared=False),
    # Followers
    Operation("add-followers-contact", "POST", _CONTACT + "/followers", WRITE, 201,
              "Add followers (user ids) to a contact", request=r.FollowersInput),
    Operation("remove-followers-contact", "DELETE", _CONTACT + "/followers", WRITE, 200,
              "Remove followers from a contact", request=r.FollowersInput),
    # Campaigns
    Operation("add-contact-to-campaign", "POST", _CONTACT + "/campaigns/{campaignId}", WRITE,
              201, "Add a contact to a campaign", request=r.EmptyBody, response=r.Succeeded),
    Operation("remove-contact-from-campaign", "DELETE", _CONTACT + "/campaigns/{campaignId}",
              WRITE, 200, "Remove a contact from a campaign", response=r.Succeeded),
    Operation("remove-contact-from-every-campaign", "DELETE", _CONTACT + "/campaigns/removeAll",
              WRITE, 200, "Remove a contact from every campaign", response=r.Succeeded),
    # Workflows
    Operation("add-contact-to-workflow", "POST", _CONTACT + "/workflow/{workflowId}", WRITE, 200,
              "Add a contact to a workflow", request=r.WorkflowInput, response=r.Succeeded),
    Operation("delete-contact-from-workflow", "DELETE", _CONTACT + "/workflow/{workflowId}",
              WRITE, 200, "Remove a contact from a workflow",
              request=r.WorkflowInput, response=r.Succeeded),
)  # fmt: skip

OPERATIONS: Mapping[str, Operation] = MappingProxyType({op.id: op for op in _TABLE})
if len(OPERATIONS) != len(_TABLE):  # pragma: no cover - a typo in the table above
    raise RuntimeError("duplicate operation id in the operations table")


def get_operation(operation_id: str) -> Operation:
    """The operation named `operation_id` (its spec operationId)."""
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise ConfigurationError(
            "operation_id", f"unknown operation {operation_id!r} (see `tnhl catalog`)"
        ) from None

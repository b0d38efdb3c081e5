"""The TalkNotes contract as an OpenAPI 3.1 document, served at `GET /openapi.json`.

Body schemas come from the pydantic models, so the document cannot drift from what intake
accepts. The prose lives in docs/talknotes-contract.md.
"""

from __future__ import annotations

__all__ = ["EXAMPLE_EVENTS", "talknotes_openapi"]

import copy
from functools import cache
from typing import Any

from tnhl.talknotes._events import event_adapter
from tnhl.talknotes._outbound import OUTBOUND_TYPES

EXAMPLE_EVENTS: dict[str, dict[str, Any]] = {
    "contact.created": {
        "type": "contact.created",
        "timestamp": "2026-03-02T09:30:00Z",
        "data": {
            "id": "tn_c_8f2k1",
            "full_name": "Sam Reyes",
            "email": "sam.reyes@example.com",
            "phone": "+1 415 555 0142",
            "external_id": "crm-1042",
            "custom_fields": {"company": "Reyes Roofing"},
        },
    },
    "task.created": {
        "type": "task.created",
        "timestamp": "2026-03-02T09:31:10+01:00",
        "data": {
            "id": "tn_t_77ab",
            "contactId": "tn_c_8f2k1",
            "taskName": "Call Sam back about the quote",
            "dueDate": "2026-03-06",
            "priority": "high",
            "assignee": "alex@agency.example",
        },
    },
    "note.created": {
        "type": "note.created",
        "timestamp": "2026-03-02T09:32:00Z",
        "data": {
            "id": "tn_n_3c9",
            "contactId": "tn_c_8f2k1",
            "noteTitle": "Roof quote",
            "noteContent": "Call Sam back Friday about the quote. Wants slate, not tile.",
        },
    },
    "contact.deleted": {
        "type": "contact.deleted",
        "timestamp": "2026-03-05T17:00:00Z",
        "data": {"id": "tn_c_8f2k1"},
    },
}

_SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "Unique id of this message; redeliveries reuse it. Intake deduplicates "
        "on it for at least 7 days. At most 255 characters; one holding a control character "
        "(NUL, tab, newline, ...) is refused with 422 on field `webhook-id`.",
        "schema": {
            "type": "string",
            "maxLength": 255,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
        },
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix time in whole seconds when the message was signed; refused when "
        "more than 300 s away from the receiver's clock, either way.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` entries over "
        "`{webhook-id}.{webhook-timestamp}.{raw body}` with the base64-decoded part of the "
        "`whsec_` secret (Standard Webhooks). One matching `v1` entry suffices.",
        "schema": {"type": "string"},
    },
]


def _error(description: str, *, problems: bool = False) -> dict[str, Any]:
    ref = "#/components/schemas/ProblemError" if problems else "#/components/schemas/Error"
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


@cache
def _document() -> dict[str, Any]:
    schema = event_adapter().json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs")
    components["TalkNotesEvent"] = schema
    components["Accepted"] = {
        "type": "object",
        "required": ["status", "id"],
        "properties": {
            "status": {"enum": ["accepted", "duplicate"]},
            "id": {"type": "string", "description": "The webhook-id that was stored."},
        },
    }
    components["Error"] = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    components["ProblemError"] = {
        "type": "object",
        "required": ["error", "message", "problems"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "problem"],
                    "properties": {
                        "field": {"type": "string", "examples": ["data.taskName"]},
                        "problem": {"type": "string", "examples": ["is required"]},
                    },
                },
            },
        },
    }
    retry_after = {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "string"},
        }
    }
    unavailable = _error("The event could not be stored; retry later (nothing was stored).")
    unavailable["headers"] = retry_after
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tnhl TalkNotes webhook contract",
            "version": "1.0.0",
            "description": "What an app (TalkNotes or yours) sends to tnhl so that contacts, "
            "tasks and notes reach HighLevel. See docs/talknotes-contract.md.",
        },
        "paths": {
            "/webhooks/talknotes": {
                "post": {
                    "operationId": "receiveTalkNotesEvent",
                    "summary": "Deliver one signed TalkNotes event",
                    "description": "Verified, stored, deduplicated on webhook-id, then answered "
                    "202; processing happens afterwards. Retry on 5xx and network errors with "
                    "the same webhook-id; do not retry 400, 401, 413 or 422 unchanged.",
                    "parameters": _SIGNATURE_HEADERS,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/TalkNotesEvent"},
                                "examples": {
                                    name: {"value": value} for name, value in EXAMPLE_EVENTS.items()
                                },
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Stored (or already stored: status `duplicate`).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}
                                }
                            },
                        },
                        "400": _error("The body is not JSON.", problems=True),
                        "401": _error("Missing or wrong signature, or timestamp out of range."),
                        "413": _error("The body is larger than 1 MiB."),
                        "422": _error(
                            "Never applicable, so not stored: the body is JSON but not a valid "
                            "event, the webhook-id holds a control character, or the event "
                            "breaks a rule of this connection's field mapping. Each problem "
                            "names its field.",
                            problems=True,
                        ),
                        "503": unavailable,
                    },
                }
            }
        },
        "webhooks": {
            "highLevelChange": _outbound_webhook(
                "receiveHighLevelChange",
                "What tnhl POSTs to talknotes_outbound_url when HighLevel changes",
                "Signed per Standard Webhooks with talknotes_outbound_secret; one webhook-id "
                "per change, the same on every retry. Changes of one contact arrive in order. "
                "tnhl's own writes to HighLevel are never sent back.",
                "OutboundEvent",
            ),
            "contactProfile": _outbound_webhook(
                "receiveContactProfile",
                "A contact's whole profile, POSTed to talknotes_outbound_url when any part "
                "of it changed",
                "profile.updated: the contact's fields, its open and completed tasks, its "
                "notes and upcoming appointments, as HighLevel holds them; at most one per "
                "contact per profile_interval (changes in between are coalesced). Signed "
                "like the changes; the webhook-id is the same for the same content.",
                "ProfileEvent",
            ),
        },
        "components": {
            "schemas": {
                **components,
                "OutboundEvent": _OUTBOUND_EVENT,
                "ProfileEvent": _PROFILE_EVENT,
            }
        },
    }


_NULLABLE_TEXT = {"type": ["string", "null"]}
_OUTBOUND_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {"type": "string", "enum": sorted(set(OUTBOUND_TYPES.values()))},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {
            "type": "object",
            "required": ["id", "highlevel_id"],
            "properties": {
                "id": {
                    **_NULLABLE_TEXT,
                    "description": "Your id, when tnhl knows it; null "
                    'for a record born in HighLevel (answer {"id": ...} to link it).',
                },
                "highlevel_id": _NULLABLE_TEXT,
                "contactId": {**_NULLABLE_TEXT, "description": "Your id of the contact."},
                "highlevel_contact_id": _NULLABLE_TEXT,
                "full_name": _NULLABLE_TEXT,
                "email": _NULLABLE_TEXT,
                "phone": _NULLABLE_TEXT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "custom_fields": {
                    "type": "object",
                    "description": "Keyed by your mapping's names (by id), else HighLevel's id.",
                },
                "taskName": _NULLABLE_TEXT,
                "description": _NULLABLE_TEXT,
                "dueDate": _NULLABLE_TEXT,
                "assignee": _NULLABLE_TEXT,
                "completed": {"type": "boolean"},
                "noteContent": _NULLABLE_TEXT,
                "title": _NULLABLE_TEXT,
                "startTime": _NULLABLE_TEXT,
                "endTime": _NULLABLE_TEXT,
                "status": _NULLABLE_TEXT,
                "address": _NULLABLE_TEXT,
                "notes": _NULLABLE_TEXT,
            },
        },
    },
}


_ITEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "highlevel_id"],
        "properties": {"id": _NULLABLE_TEXT, "highlevel_id": {"type": "string"}},
        "description": "Each with the fields its change events carry (taskName, ... ).",
    },
}
_PROFILE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {"const": "profile.updated"},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {
            "type": "object",
            "required": ["id", "highlevel_id", "tasks", "notes", "appointments"],
            "properties": {
                "id": {**_NULLABLE_TEXT, "description": "Your id of the contact, if linked."},
                "highlevel_id": {"type": "string"},
                "full_name": _NULLABLE_TEXT,
                "email": _NULLABLE_TEXT,
                "phone": _NULLABLE_TEXT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "custom_fields": {"type": "object"},
                "tasks": {
                    "type": "object",
                    "required": ["open", "completed"],
                    "properties": {"open": _ITEMS, "completed": _ITEMS},
                },
                "notes": _ITEMS,
                "appointments": {**_ITEMS, "description": "Upcoming ones, soonest first."},
            },
        },
    },
}


def _outbound_webhook(
    operation: str, summary: str, description: str, schema: str
) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation,
            "summary": summary,
            "description": description,
            "parameters": _SIGNATURE_HEADERS,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                },
            },
            "responses": {
                "2XX": {
                    "description": 'Taken. `{"id": "<your id>"}` links a record born '
                    "in HighLevel to yours.",
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"id": {"type": "string"}}}
                        }
                    },
                },
                "4XX": {"description": "Refused: not retried (a dead letter in tnhl)."},
                "5XX": {"description": "Retried on tnhl's schedule (408, 409, 425, 429 too)."},
            },
        }
    }


def talknotes_openapi() -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.1 document for `POST /webhooks/talknotes`."""
    return copy.deepcopy(_document())

"""The request DTOs of the contacts API, encoded from the official spec's components.

Field sets and required lists follow `apps/contacts.json` (CreateContactDto, UpdateContactDto,
UpsertContactDto, CreateTaskParams, UpdateTaskBody, UpdateTaskStatusParams, NotesDTO,
UpdateNoteDTO, TagsDTO, FollowersDTO, UpdateTagsDTO, ContactsBusinessUpdate, CreateWorkflowDto,
AddContactToCampaignDto); SearchBodyV2DTO is empty in the spec, so it follows
docs/highlevel-api.md section 5.
"""

from __future__ import annotations

from tnhl.simulator._validate import Dto, Field

__all__ = [
    "ADD_TO_CAMPAIGN",
    "BULK_BUSINESS",
    "BULK_TAGS",
    "CREATE_CONTACT",
    "CREATE_NOTE",
    "CREATE_TASK",
    "FOLLOWERS",
    "SEARCH",
    "TAGS",
    "UPDATE_CONTACT",
    "UPDATE_NOTE",
    "UPDATE_TASK",
    "UPDATE_TASK_STATUS",
    "UPSERT_CONTACT",
    "WORKFLOW",
]

_S = Field("string")
_SN = Field("string", nullable=True)
_B = Field("boolean")

_DND_SETTING = Dto(
    "DndSettingSchema",
    {
        "status": Field("string", required=True, enum=("active", "inactive", "permanent")),
        "message": _S,
        "code": _S,
    },
)
_DND_SETTINGS = Dto(
    "DndSettingsSchema",
    {k: Field("dto", dto=_DND_SETTING) for k in ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")},
)
_INBOUND_DND = Dto(
    "InboundDndSettingsSchema",
    {
        "all": Field(
            "dto",
            dto=Dto(
                "InboundDndSettingSchema",
                {
                    "status": Field("string", required=True, enum=("active", "inactive")),
                    "message": _S,
                },
            ),
        )
    },
)

_CONTACT_COMMON: dict[str, Field] = {
    "firstName": _SN,
    "lastName": _SN,
    "name": _SN,
    "email": Field("string", nullable=True, email=True),
    "phone": _SN,
    "address1": _SN,
    "city": _SN,
    "state": _SN,
    "postalCode": _S,
    "website": _SN,
    "timezone": _SN,
    "dnd": _B,
    "dndSettings": Field("dto", dto=_DND_SETTINGS),
    "inboundDndSettings": Field("dto", dto=_INBOUND_DND),
    "tags": Field("string_list"),
    "customFields": Field("custom_fields"),
    # The spec types it `object`; HighLevel really takes a date string in one of eight formats.
    "dateOfBirth": Field("string", nullable=True, date=True),
    "country": _S,
}

CREATE_CONTACT = Dto(
    "CreateContactDto",
    {
        **_CONTACT_COMMON,
        "locationId": Field("string", required=True),
        "gender": _S,
        "source": _S,
        "companyName": _SN,
        "assignedTo": _S,
    },
)
UPSERT_CONTACT = Dto(
    "UpsertContactDto",
    {**CREATE_CONTACT.fields, "createNewIfDuplicateAllowed": _B},
)
UPDATE_CONTACT = Dto(
    "UpdateContactDto",
    {**_CONTACT_COMMON, "source": _SN, "assignedTo": _SN},
)

_TASK_FIELDS: dict[str, Field] = {
    "title": _S,
    "body": _S,
    "dueDate": Field("string", date=True),
    "completed": _B,
    "assignedTo": _S,
}
CREATE_TASK = Dto(
    "CreateTaskParams",
    {
        **_TASK_FIELDS,
        "title": Field("string", required=True, not_empty=True),
        "dueDate": Field("string", required=True, date=True),
        "completed": Field("boolean", required=True),
    },
)
UPDATE_TASK = Dto("UpdateTaskBody", dict(_TASK_FIELDS))
UPDATE_TASK_STATUS = Dto("UpdateTaskStatusParams", {"completed": Field("boolean", required=True)})

_NOTE_FIELDS: dict[str, Field] = {
    "userId": _S,
    "body": _S,
    "title": _S,
    "color": _S,
    "pinned": _B,
}
CREATE_NOTE = Dto("NotesDTO", {**_NOTE_FIELDS, "body": Field("string", required=True)})
UPDATE_NOTE = Dto("UpdateNoteDTO", dict(_NOTE_FIELDS))

TAGS = Dto("TagsDTO", {"tags": Field("string_list", required=True)})
FOLLOWERS = Dto("FollowersDTO", {"followers": Field("string_list", required=True)})
BULK_TAGS = Dto(
    "UpdateTagsDTO",
    {
        "contacts": Field("string_list", required=True),
        "tags": Field("string_list", required=True),
        "locationId": Field("string", required=True),
        "removeAllTags": _B,
    },
)
BULK_BUSINESS = Dto(
    "ContactsBusinessUpdate",
    {
        "locationId": Field("string", required=True),
        "ids": Field("string_list", required=True, max_length_each=50),
        # Required but nullable: null removes the contacts from their business.
        "businessId": Field("string", nullable=True),
    },
)
ADD_TO_CAMPAIGN = Dto("AddContactToCampaignDto", {})
WORKFLOW = Dto("CreateWorkflowDto", {"eventStartTime": _S})

_FILTER_OPERATORS = ("eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range")
SEARCH = Dto(
    "SearchBodyV2DTO",
    {
        "locationId": Field("string", required=True),
        "pageLimit": Field("number", required=True),
        "page": Field("number"),
        # Their items are checked by the search module, which knows the filter grammar.
        "searchAfter": Field("list"),
        "filters": Field("list"),
        "sort": Field("list"),
        "query": _S,
    },
)
FILTER_OPERATORS = _FILTER_OPERATORS

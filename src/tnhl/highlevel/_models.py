"""Pydantic models of the Contacts API v2: contacts, custom fields and their inputs.

Wire names are camelCase, Python names snake_case. Every model keeps unknown fields
(``extra="allow"``) so reading a contact, changing one field and writing it back loses
nothing HighLevel added after this code was written. Serialise with :meth:`WireModel.to_wire`
(``by_alias=True, exclude_unset=True``): only the fields a caller set go out, which matters
because HighLevel treats a present ``null`` as "clear this field".

Sources: the official spec ``apps/contacts.json`` (schemas ``GetContectByIdSchema``,
``CreateContactDto``, ``UpdateContactDto``, ``UpsertContactDto``, ``CustomFieldSchema``,
``customFieldsInput*Schema``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "Contact",
    "ContactCreate",
    "ContactUpdate",
    "ContactUpsert",
    "CustomFieldInput",
    "CustomFieldValue",
    "WireModel",
]


class WireModel(BaseModel):
    """Base of every model: camelCase aliases, snake_case names, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON object to send: wire names, only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class CustomFieldValue(WireModel):
    """A custom field as HighLevel returns it: ``{id, value}``."""

    id: str
    value: Any = None


class CustomFieldInput(WireModel):
    """A custom field as HighLevel accepts it: ``{id | key, field_value}``.

    ``field_value`` stays snake_case on the wire (the spec's name); writing ``value`` here is
    the classic mistake of other integrations, so the read shape is not accepted.
    """

    id: str | None = None
    key: str | None = None
    field_value: Any = Field(alias="field_value")

    @model_validator(mode="after")
    def _id_or_key(self) -> CustomFieldInput:
        if not self.id and not self.key:
            raise ValueError("customFields[]: give either `id` or `key`")
        return self

    @classmethod
    def from_read(cls, field: CustomFieldValue) -> CustomFieldInput:
        """The write shape of a field read from HighLevel (for read-modify-write)."""
        return cls(id=field.id, field_value=field.value)


class Contact(WireModel):
    """A contact as read: GET by id, the create/update/upsert responses and search items.

    The three read shapes differ (see highlevel-api.md §3); fields missing from one shape are
    simply None, and fields not named here are kept as extras.
    """

    id: str
    location_id: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company_name: str | None = None
    timezone: str | None = None
    dnd: bool | None = None
    dnd_settings: dict[str, Any] | None = None
    type: str | None = None
    source: str | None = None
    assigned_to: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None
    website: str | None = None
    tags: list[str] = Field(default_factory=list)
    date_of_birth: str | None = None
    date_added: str | None = None
    date_updated: str | None = None
    business_id: str | None = None
    custom_fields: list[CustomFieldValue] = Field(default_factory=list)
    # Search items only: the cursor for going past 10,000 records ([sortValue, id]).
    search_after: list[Any] | None = None

    def custom_field(self, field_id: str) -> Any:
        """The value of the custom field `field_id`, or None when the contact lacks it."""
        for field in self.custom_fields:
            if field.id == field_id:
                return field.value
        return None


class _ContactWrite(WireModel):
    """Fields shared by create, update and upsert."""

    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    website: str | None = None
    timezone: str | None = None
    dnd: bool | None = None
    dnd_settings: dict[str, Any] | None = None
    inbound_dnd_settings: dict[str, Any] | None = None
    tags: list[str] | None = None
    custom_fields: list[CustomFieldInput] | None = None
    source: str | None = None
    date_of_birth: str | None = None
    country: str | None = None
    assigned_to: str | None = None


class ContactCreate(_ContactWrite):
    """Body of ``create-contact`` (CreateContactDto; ``locationId`` required)."""

    location_id: str
    gender: str | None = None
    company_name: str | None = None


class ContactUpsert(ContactCreate):
    """Body of ``upsert-contact`` (UpsertContactDto)."""

    create_new_if_duplicate_allowed: bool | None = None


class ContactUpdate(_ContactWrite):
    """Body of ``update-contact`` (UpdateContactDto): no locationId, companyName or gender.

    ``tags`` here replaces every tag of the contact; prefer add-tags / remove-tags.
    """

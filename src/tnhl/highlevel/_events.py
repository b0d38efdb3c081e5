"""The 58 documented HighLevel webhook events, defined once.

Encoded by hand from GoHighLevel/highlevel-api-docs at commit
0af86a4cbd48c66a4071c7e509d1079f9f10ed17: the pages ``docs/webhook events/*.md`` (title, schema,
examples) and the scope table ``docs/oauth/Scopes.md``. Nothing is loaded at run time;
``tests/highlevel/test_webhook_events.py`` compares this table with both and fails on any
difference in names, fields, scopes or the examples' ``type`` values.

How the docs were read:
- ``fields`` are the top-level properties of a page's schema, each with its JSON Schema type.
  Two top-level types are not JSON Schema's: ProviderOutboundMessage's ``type`` is ``"Email/SMS"``
  (a string), and the Price pages type ``trackInventory`` as ``"null"`` (their value is null); the
  name reads as a flag, so we call it a boolean. (``"Date"`` occurs only nested, in AppInstall.)
- RelationDelete's schema is invalid JSON upstream (a trailing comma) and UserCreate has none;
  their fields come from their examples (UserCreate's first example is a template of types).
- ``scopes`` are the scopes whose row in the scope table lists the event. That table names
  ProviderOutboundMessage ``ConversationProviderOutboundMessage`` (under
  ``conversations/message.write``); we read it as this event. Most events are listed nowhere.
- ``body_type`` is the ``type`` value a delivery's body carries. See the table for where it is
  not the event name.
"""

from __future__ import annotations

import difflib
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

__all__ = ["WEBHOOK_EVENTS", "WebhookEvent", "get_webhook_event"]

_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array"})
_EMPTY: Mapping[str, object] = MappingProxyType({"number": 0, "integer": 0, "boolean": False})
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One webhook event: what it reports, who may receive it, and its body's fields."""

    name: str  # as HighLevel names it when you subscribe, e.g. "ContactCreate"
    title: str  # the title of its doc page, e.g. "Contact"
    description: str
    body_type: str  # the body's "type" value; the event name unless the docs show otherwise
    scopes: tuple[str, ...]  # empty when the scope table lists the event under no scope
    fields: tuple[tuple[str, str], ...]  # (name, JSON Schema type) of each top-level property

    @property
    def schema(self) -> dict[str, Any]:
        """The body as a JSON Schema object with one typed property per field."""
        return {"type": "object", "properties": {name: {"type": t} for name, t in self.fields}}

    def sample(self, location_id: str, **overrides: object) -> dict[str, object]:
        """A plausible delivery body for tests and demos: every field, then `overrides`.

        ``type`` is :attr:`body_type`, ``locationId`` is `location_id`, ``id``/``_id``/``*Id``
        strings are fresh ids, date-like strings are the current time (ISO 8601, UTC), and
        everything else is empty: ``""``, ``0``, ``False``, ``[]`` or ``{}``. An event without a
        ``type`` or ``locationId`` field gets none (`location_id` is then unused).
        """
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = {name: self._value(name, t, location_id, now) for name, t in self.fields}
        body.update(overrides)
        return body

    def _value(self, name: str, json_type: str, location_id: str, now: str) -> object:
        if json_type == "array":
            return []
        if json_type == "object":
            return {}
        if json_type != "string":
            return _EMPTY[json_type]
        if name == "type":
            return self.body_type
        if name == "locationId":
            return location_id
        if name in ("id", "_id") or name.endswith("Id"):
            return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))
        if name == "timestamp" or name.endswith("At") or "date" in name.lower():
            return now
        return ""


def _fields(spec: str) -> tuple[tuple[str, str], ...]:
    """Parse ``"id name dnd:boolean tags:array"``: ``name[:type]``, the type string by default."""
    parsed: list[tuple[str, str]] = []
    for item in spec.split():
        name, _, json_type = item.partition(":")
        json_type = json_type or "string"
        if json_type not in _JSON_TYPES:
            raise ValueError(f"field {name!r}: {json_type!r} is not a JSON Schema type")
        parsed.append((name, json_type))
    return tuple(parsed)


def _event(
    name: str,
    title: str,
    description: str,
    fields: str,
    scopes: tuple[str, ...] = (),
    *,
    body_type: str | None = None,
) -> WebhookEvent:
    return WebhookEvent(name, title, description, body_type or name, scopes, _fields(fields))


# Fields shared by several events (each page repeats its schema in full).
_APPOINTMENT = "type locationId appointment:object"
_ASSOCIATION = (
    "id associationType firstObjectKey firstObjectLabel {}secondObjectKey secondObjectLabel {}key "
    "locationId"
)
_CONTACT = (
    "type locationId id address1 city companyName country source dateAdded dateOfBirth "
    "dnd:boolean {}email name firstName lastName phone postalCode state tags:array website "
    "attachments:array assignedTo customFields:array"
)
_INVOICE = (
    "_id status liveMode:boolean amountPaid:number altId altType name businessDetails:object "
    "invoiceNumber currency contactDetails:object issueDate dueDate discount:object "
    "invoiceItems:array total:number title amountDue:number createdAt updatedAt "
    "totalSummary:object"
)
_LOCATION = "type id name email stripeProductId companyId"
_MESSAGE = (
    "type locationId attachments:array body contactId conversationId dateAdded direction "
    "messageType emailMessageId threadId provider to cc bcc userId {}conversationProviderId"
)
_NOTE = "type locationId id body contactId dateAdded"
_OBJECT_SCHEMA = (
    "labels:object description searchableProperties:array primaryDisplayProperty key locationId "
    "createdBy:object updatedBy:object timestamp objectType"
)
_OPPORTUNITY = (
    "type locationId id assignedTo contactId monetaryValue:number name pipelineId "
    "pipelineStageId source status dateAdded"
)
_ORDER = (
    "type altId altType _id contactId contactSnapshot:object status fulfillmentStatus currency "
    "amount:number liveMode:boolean items:array amountSummary:object taxSummary:array "
    "source:object createdAt updatedAt"
)
# PriceCreate calls the price's kind "priceType"; PriceDelete/PriceUpdate put "type" in its place.
_PRICE = (
    "_id membershipOffers:array variantOptionIds:array locationId product userId name {} "
    "currency amount:number recurring:object createdAt updatedAt compareAtPrice:number "
    "trackInventory:boolean availableQuantity:number allowOutOfStockPurchases:boolean"
)
_PRODUCT = (
    "_id description variants:array medias:array locationId name productType "
    "availableInStore:boolean userId createdAt updatedAt statementDescriptor image"
)
_RECORD = "type locationId owners:array followers:array properties:array id timestamp"
_RELATION = (
    "id firstObjectKey firstRecordId secondObjectKey secondRecordId associationId locationId"
)
_TASK = "type locationId id assignedTo body contactId title dateAdded dueDate"

_CAMPAIGNS = ("campaigns.readonly",)
_CONTACTS = ("contacts.readonly",)
_CONVERSATIONS = ("conversations.readonly",)
_MESSAGES = ("conversations/message.readonly",)
_LOCATIONS = ("locations.readonly",)
_OPPORTUNITIES = ("opportunities.readonly",)

# Events whose documented body has no "type" field (Association*, Invoice*, ObjectSchema*,
# PriceCreate, Product*, Relation*) keep the event name as body_type, the value every typed event
# carries; sample() leaves "type" out for them, as the docs do.
_TABLE: tuple[WebhookEvent, ...] = (
    # The app events use their own upper-case "type" values in every example.
    _event("AppInstall", "App", "The app was installed on a location or an agency.",
           "type appId companyId locationId userId planId trial:object "
           "isWhitelabelCompany:boolean whitelabelDetails:object companyName",
           body_type="INSTALL"),
    _event("AppUninstall", "App", "The app was uninstalled from a location or an agency.",
           "type appId companyId locationId", body_type="UNINSTALL"),
    _event("AppointmentCreate", "Appointment", "An appointment was created.", _APPOINTMENT),
    # The Delete and Update examples say "AppointmentCreate": a copy-paste slip in the docs.
    _event("AppointmentDelete", "Appointment", "An appointment was deleted.", _APPOINTMENT),
    _event("AppointmentUpdate", "Appointment", "An appointment was changed.", _APPOINTMENT),
    _event("AssociationCreate", "Association Created",
           "An association between two object types was defined.", _ASSOCIATION.format("", "")),
    _event("AssociationDelete", "Association Deleted",
           "An association between two object types was removed.",
           _ASSOCIATION.format("firstObjectToSecondObjectCardinality ",
                               "secondObjectToFirstObjectCardinality ")),
    _event("AssociationUpdate", "Association Updated",
           "An association between two object types was changed.",
           _ASSOCIATION.format("firstObjectToSecondObjectCardinality ",
                               "secondObjectToFirstObjectCardinality ")),
    _event("CampaignStatusUpdate", "Campaign", "A contact's status in a campaign changed.",
           "type locationId id contactId status templateId replied dateAdded", _CAMPAIGNS),
    _event("ContactCreate", "Contact", "A contact was created.", _CONTACT.format(""), _CONTACTS),
    _event("ContactDelete", "Contact", "A contact was deleted.", _CONTACT.format(""), _CONTACTS),
    _event("ContactDndUpdate", "Contact", "A contact's do-not-disturb settings changed.",
           _CONTACT.format("dndSettings:object "), _CONTACTS),
    _event("ContactTagUpdate", "Contact", "A contact's tags changed.", _CONTACT.format(""),
           _CONTACTS),
    _event("ContactUpdate", "Contact", "A contact was changed.", _CONTACT.format("")),
    # The example's "type" is "ConversationUnreadUpdate", not the event's name.
    _event("ConversationUnreadWebhook", "Conversation", "A conversation's unread state changed.",
           "type locationId id contactId unreadCount:number inbox:boolean starred:boolean "
           "deleted:boolean", _CONVERSATIONS, body_type="ConversationUnreadUpdate"),
    # One inbound call example says "OutboundMessage": copied from the OutboundMessage page.
    _event("InboundMessage", "InboundMessage",
           "A contact sent a message (SMS, email, call, ...) to the location.",
           _MESSAGE.format(""), _MESSAGES),
    _event("InvoiceCreate", "Invoice", "An invoice was created.", _INVOICE),
    _event("InvoiceDelete", "Invoice", "An invoice was deleted.", _INVOICE),
    _event("InvoicePaid", "Invoice", "An invoice was paid in full.", _INVOICE),
    _event("InvoicePartiallyPaid", "Invoice", "A payment covered part of an invoice.", _INVOICE),
    _event("InvoiceSent", "Invoice", "An invoice was sent.", _INVOICE),
    _event("InvoiceUpdate", "Invoice", "An invoice was changed.", _INVOICE),
    _event("InvoiceVoid", "Invoice", "An invoice was voided.", _INVOICE),
    _event("LCEmailStats", "LC Email", "Delivery statistics of an email sent through LC Email.",
           "type locationId companyId webhookPayload:object"),
    _event("LocationCreate", "Location", "A location (sub-account) was created.", _LOCATION,
           _LOCATIONS),
    _event("LocationUpdate", "Location", "A location (sub-account) was changed.", _LOCATION,
           _LOCATIONS),
    _event("NoteCreate", "Note", "A note was added to a contact.", _NOTE, _CONTACTS),
    _event("NoteDelete", "Note", "A contact's note was deleted.", _NOTE, _CONTACTS),
    _event("NoteUpdate", "Note", "A contact's note was changed.", _NOTE),
    _event("ObjectSchemaCreate", "Object Schema Create", "A custom object was defined.",
           _OBJECT_SCHEMA),
    _event("ObjectSchemaUpdate", "Update Custom Object",
           "A custom object's definition was changed.", _OBJECT_SCHEMA),
    _event("OpportunityAssignedToUpdate", "Opportunity",
           "An opportunity was assigned to another user.", _OPPORTUNITY),
    _event("OpportunityCreate", "Opportunity", "An opportunity was created.", _OPPORTUNITY,
           _OPPORTUNITIES),
    _event("OpportunityDelete", "Opportunity", "An opportunity was deleted.", _OPPORTUNITY,
           _OPPORTUNITIES),
    _event("OpportunityMonetaryValueUpdate", "Opportunity",
           "An opportunity's monetary value changed.", _OPPORTUNITY, _OPPORTUNITIES),
    _event("OpportunityStageUpdate", "Opportunity",
           "An opportunity moved to another pipeline stage.", _OPPORTUNITY, _OPPORTUNITIES),
    _event("OpportunityStatusUpdate", "Opportunity", "An opportunity's status changed.",
           _OPPORTUNITY, _OPPORTUNITIES),
    _event("OpportunityUpdate", "Opportunity", "An opportunity was changed.", _OPPORTUNITY),
    # The Order examples also carry "locationId", which the schemas do not list.
    _event("OrderCreate", "Order", "An order was placed.", _ORDER),
    _event("OrderStatusUpdate", "Order", "An order's status changed.", _ORDER),
    _event("OutboundMessage", "OutboundMessage",
           "A message (SMS, email, call, ...) went from the location to a contact.",
           _MESSAGE.format("source "), _MESSAGES),
    _event("PlanChange", "Plan Change", "An installer switched to another plan of a paid app.",
           "type appId locationId companyId userId currentPlanId newPlanId",
           body_type="PLAN_CHANGE"),
    _event("PriceCreate", "Price", "A product price was created.", _PRICE.format("priceType")),
    # Here "type" is the price's kind ("one_time" or "recurring"), as in the upstream pages'
    # examples (lost from the extracted data: their code fence reads "```json{").
    _event("PriceDelete", "Price", "A product price was deleted.", _PRICE.format("type"),
           body_type="one_time"),
    _event("PriceUpdate", "Price", "A product price was changed.", _PRICE.format("type"),
           body_type="one_time"),
    _event("ProductCreate", "Product", "A product was created.", _PRODUCT),
    _event("ProductDelete", "Product", "A product was deleted.", _PRODUCT),
    _event("ProductUpdate", "Product", "A product was changed.", _PRODUCT),
    # "type" is the channel, "SMS" or "Email" (the schema says "Email/SMS"); SMS stands for both.
    _event("ProviderOutboundMessage", "Conversation Provider - Outbound Message",
           "A user sent a message that the location's custom conversation provider must deliver.",
           "contactId locationId messageId emailMessageId type attachments:array message phone "
           "emailTo emailFrom html subject userId",
           ("conversations/message.write",), body_type="SMS"),
    # The Record examples omit the "type" their schemas list.
    _event("RecordCreate", "Record Create", "A custom object record was created.", _RECORD),
    _event("RecordDelete", "Delete Record", "A custom object record was deleted.", _RECORD),
    _event("RecordUpdate", "Record Update", "A custom object record was changed.", _RECORD),
    _event("RelationCreate", "Relation Create", "Two records were linked by an association.",
           _RELATION),
    _event("RelationDelete", "Relation Delete", "A link between two records was removed.",
           _RELATION),
    _event("TaskComplete", "Task", "A task was marked completed.", _TASK),
    _event("TaskCreate", "Task", "A task was created.", _TASK, _CONTACTS),
    _event("TaskDelete", "Task", "A task was deleted.", _TASK, _CONTACTS),
    _event("UserCreate", "User", "A user was created.",
           "type locationId companyId id firstName lastName email phone extension role "
           "permissions:object locations:array"),
)  # fmt: skip

WEBHOOK_EVENTS: Mapping[str, WebhookEvent] = MappingProxyType(
    {event.name: event for event in sorted(_TABLE, key=lambda event: event.name)}
)
if len(WEBHOOK_EVENTS) != len(_TABLE):
    raise ValueError("an event name appears twice in the webhook events table")


def get_webhook_event(name: str) -> WebhookEvent:
    """The webhook event called `name` (e.g. ``"ContactCreate"``); KeyError if undocumented."""
    try:
        return WEBHOOK_EVENTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, WEBHOOK_EVENTS, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see WEBHOOK_EVENTS"
        raise KeyError(f"unknown HighLevel webhook event {name!r}; {hint}") from None

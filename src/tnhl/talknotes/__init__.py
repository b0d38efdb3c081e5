"""The TalkNotes side: the event contract tnhl accepts, its signatures and test streams.

Imports nothing from tnhl but (at most) `tnhl.highlevel`.
"""

from __future__ import annotations

from tnhl.talknotes._errors import (
    InvalidEvent,
    MalformedEvent,
    Problem,
    SecretFormatError,
    SignatureError,
    TalkNotesError,
)
from tnhl.talknotes._events import (
    EVENT_TYPES,
    ContactData,
    ContactRef,
    EventType,
    NewContactData,
    NoteData,
    NoteRef,
    TalkNotesEvent,
    TaskCompletedData,
    TaskData,
    entity_key,
    event_schema,
    parse_event,
)
from tnhl.talknotes._fields import Priority
from tnhl.talknotes._generator import DEFAULT_START, generate, signed_requests
from tnhl.talknotes._openapi import EXAMPLE_EVENTS, talknotes_openapi
from tnhl.talknotes._outbound import (
    OUTBOUND_TYPES,
    Delivered,
    DeliveryFailed,
    TalkNotesOut,
    WebhookOut,
    changed_at,
    content_digest,
    epoch_of,
    iso_z,
    outbound_event,
)
from tnhl.talknotes._signing import (
    TOLERANCE_SECONDS,
    WebhookVerifier,
    decode_secret,
    generate_secret,
    sign,
)

__all__ = [
    "DEFAULT_START",
    "EVENT_TYPES",
    "EXAMPLE_EVENTS",
    "OUTBOUND_TYPES",
    "TOLERANCE_SECONDS",
    "ContactData",
    "ContactRef",
    "Delivered",
    "DeliveryFailed",
    "EventType",
    "InvalidEvent",
    "MalformedEvent",
    "NewContactData",
    "NoteData",
    "NoteRef",
    "Priority",
    "Problem",
    "SecretFormatError",
    "SignatureError",
    "TalkNotesError",
    "TalkNotesEvent",
    "TalkNotesOut",
    "TaskCompletedData",
    "TaskData",
    "WebhookOut",
    "WebhookVerifier",
    "changed_at",
    "content_digest",
    "decode_secret",
    "entity_key",
    "epoch_of",
    "event_schema",
    "generate",
    "generate_secret",
    "iso_z",
    "outbound_event",
    "parse_event",
    "sign",
    "signed_requests",
    "talknotes_openapi",
]

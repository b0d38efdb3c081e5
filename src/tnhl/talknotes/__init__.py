"""The TalkNotes side: the event contract tnhl accepts, its signatures and test streams."""

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
    Priority,
    TalkNotesEvent,
    TaskCompletedData,
    TaskData,
    entity_key,
    parse_event,
)
from tnhl.talknotes._signing import (
    TOLERANCE_SECONDS,
    WebhookVerifier,
    decode_secret,
    generate_secret,
    sign,
)

__all__ = [
    "EVENT_TYPES",
    "TOLERANCE_SECONDS",
    "ContactData",
    "ContactRef",
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
    "TaskCompletedData",
    "TaskData",
    "WebhookVerifier",
    "decode_secret",
    "entity_key",
    "generate_secret",
    "parse_event",
    "sign",
]

"""Webhook signature verification (pure) and the intake app that makes events durable."""

from __future__ import annotations

from tnhl.webhooks._errors import (
    HighLevelPayloadError,
    HighLevelSignatureError,
    InboxUnavailable,
    KeyFormatError,
    WebhookError,
)
from tnhl.webhooks._highlevel import (
    DEFAULT_ED25519_PEM,
    DEFAULT_RSA_PEM,
    UNTYPED,
    HighLevelEvent,
    HighLevelKeys,
    HighLevelVerifier,
    sign_ed25519,
    sign_rsa,
)
from tnhl.webhooks._inbox import InboxWriter, StoredInfo
from tnhl.webhooks._intake import (
    SOURCE_HIGHLEVEL,
    SOURCE_TALKNOTES,
    TalkNotesRoute,
    create_intake_app,
)

__all__ = [
    "DEFAULT_ED25519_PEM",
    "DEFAULT_RSA_PEM",
    "SOURCE_HIGHLEVEL",
    "SOURCE_TALKNOTES",
    "UNTYPED",
    "HighLevelEvent",
    "HighLevelKeys",
    "HighLevelPayloadError",
    "HighLevelSignatureError",
    "HighLevelVerifier",
    "InboxUnavailable",
    "InboxWriter",
    "KeyFormatError",
    "StoredInfo",
    "TalkNotesRoute",
    "WebhookError",
    "create_intake_app",
    "sign_ed25519",
    "sign_rsa",
]

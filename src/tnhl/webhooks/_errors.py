"""Errors of the webhooks package.

::

    WebhookError
    ├── HighLevelSignatureError   a HighLevel delivery does not verify (HTTP 401)
    ├── HighLevelPayloadError     a verified HighLevel body is not a usable event (HTTP 400)
    ├── KeyFormatError            a configured public key is unusable (a config error)
    └── InboxUnavailable          the inbox cannot persist right now (HTTP 503 / 429)

TalkNotes signature and body errors are `tnhl.talknotes` errors (SignatureError,
InvalidEvent); the intake app maps both families to responses.
"""

from __future__ import annotations

__all__ = [
    "HighLevelPayloadError",
    "HighLevelSignatureError",
    "InboxUnavailable",
    "KeyFormatError",
    "WebhookError",
]


class WebhookError(Exception):
    """Base of every error raised by `tnhl.webhooks`."""


class HighLevelSignatureError(WebhookError):
    """The HighLevel signature is missing, malformed, wrong, or the timestamp is stale."""


class HighLevelPayloadError(WebhookError, ValueError):
    """The HighLevel body is not a JSON object with a string `type`."""


class KeyFormatError(WebhookError, ValueError):
    """A configured HighLevel public key is not a PEM of the expected kind."""


class InboxUnavailable(WebhookError):
    """The inbox could not persist the event; the sender must retry later.

    The engine raises it from its `InboxWriter` when the store is down or locked.
    """

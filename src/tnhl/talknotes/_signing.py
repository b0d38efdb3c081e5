"""Standard Webhooks signatures (https://www.standardwebhooks.com/, spec v1).

`sign` makes the three headers for a body; `WebhookVerifier` checks them. The scheme is
HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with the base64-decoded part of a
`whsec_` secret, sent as space-separated `v1,<base64>` entries in `webhook-signature`.

We implement the scheme here rather than call the `standardwebhooks` package (tests check the two
agree) because the package reads the clock itself (tests and replays need an injectable one),
decodes the body to `str` (a copy per request, and a crash on non-UTF-8 bytes), and raises
ValueError on a malformed signature entry instead of a verification error.
"""

from __future__ import annotations

__all__ = ["TOLERANCE_SECONDS", "WebhookVerifier", "decode_secret", "generate_secret", "sign"]

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping, Sequence

from tnhl.talknotes._errors import SecretFormatError, SignatureError

TOLERANCE_SECONDS = 300
_PREFIX = "whsec_"
_MIN_KEY_BYTES = 24  # the spec: secrets SHOULD be 24 to 64 bytes
_MAX_KEY_BYTES = 64
_MAX_ID_LENGTH = 255


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; `SecretFormatError` if it is unusable.

    The error never contains the secret itself.
    """
    if not isinstance(secret, str) or not secret.startswith(_PREFIX):
        raise SecretFormatError("the TalkNotes signing secret must start with 'whsec_'")
    encoded = secret[len(_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretFormatError(
            "the TalkNotes signing secret is not base64 after 'whsec_'"
        ) from None
    if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
        raise SecretFormatError(
            f"the TalkNotes signing secret must decode to {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES}"
            f" bytes (it decodes to {len(key)}); make one with `generate_secret()`"
        )
    return key


def generate_secret() -> str:
    """A fresh random `whsec_` secret of 32 bytes."""
    return _PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    # update() twice instead of concatenating: no copy of a large body per request.
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode(), hashlib.sha256)
    mac.update(body)
    return mac.digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for `body`."""
    key = decode_secret(secret)
    signature = base64.b64encode(_digest(key, msg_id, str(timestamp), body)).decode("ascii")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }


class WebhookVerifier:
    """Verifies Standard Webhooks headers against raw body bytes with one secret.

    Build it once (the secret is decoded and checked here, so a bad secret fails at startup,
    not on the first request). Several secrets may be given, to rotate without downtime: a
    delivery signed with any of them passes. `clock` returns Unix seconds; `tolerance` applies
    both ways.
    """

    __slots__ = ("_clock", "_keys", "_macs", "_tolerance")

    def __init__(
        self,
        secret: str | Sequence[str],
        *,
        clock: Callable[[], float] = time.time,
        tolerance: int = TOLERANCE_SECONDS,
    ) -> None:
        secrets_ = [secret] if isinstance(secret, str) else list(secret)
        if not secrets_:
            raise SecretFormatError("at least one TalkNotes signing secret is needed")
        self._keys = tuple(decode_secret(one) for one in secrets_)
        # HMAC state after absorbing each key, built once: copying it per request skips the
        # key setup (two SHA-256 blocks of padded key) every delivery would otherwise repeat.
        self._macs = tuple(hmac.new(key, digestmod=hashlib.sha256) for key in self._keys)
        self._clock = clock
        self._tolerance = tolerance

    def __repr__(self) -> str:
        return f"WebhookVerifier(secrets=<{len(self._keys)} redacted>, tolerance={self._tolerance})"

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Check the headers (looked up lower-case) and return the `webhook-id`.

        Raises `SignatureError` naming what failed: a missing header, a timestamp that is not
        an integer or is outside the tolerance, or no `v1` signature matching the body.
        """
        msg_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        header = headers.get("webhook-signature")
        if not msg_id:
            raise SignatureError("missing webhook-id header")
        if not stamp:
            raise SignatureError("missing webhook-timestamp header")
        if not header:
            raise SignatureError("missing webhook-signature header")
        if len(msg_id) > _MAX_ID_LENGTH:
            raise SignatureError(f"webhook-id is longer than {_MAX_ID_LENGTH} characters")
        if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
            raise SignatureError("webhook-timestamp is not a Unix time in whole seconds")
        skew = int(stamp) - self._clock()
        if skew < -self._tolerance:
            raise SignatureError("webhook-timestamp is too old (more than 5 minutes)")
        if skew > self._tolerance:
            raise SignatureError("webhook-timestamp is too far in the future (more than 5 minutes)")
        candidates = []
        for entry in header.split(" "):
            version, _, encoded = entry.partition(",")
            if version != "v1" or not encoded:
                continue
            try:
                candidates.append(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError):
                continue
        matched = False
        prefix = f"{msg_id}.{stamp}.".encode()
        for keyed in self._macs:
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)
            expected = mac.digest()
            for candidate in candidates:
                # Compare all (no early exit) so timing does not reveal which one matched.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise SignatureError("no webhook-signature entry matches the body")
        return msg_id

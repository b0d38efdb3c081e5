"""HighLevel webhook verification (pure: bytes and headers in, a verdict out).

HighLevel signs the raw JSON body two ways (sources: HighLevel's docs/oauth/
WebhookAuthentication.md in GoHighLevel/highlevel-api-docs, and the Webhook Integration Guide at
https://marketplace.gohighlevel.com/docs/webhook/WebhookIntegrationGuide):

- `X-GHL-Signature`: Ed25519, base64, the current scheme;
- `X-WH-Signature`: RSA-SHA256 PKCS#1 v1.5, base64, legacy (announced for deprecation in 2026).

Like the official SDK (GoHighLevel/highlevel-api-sdk, lib/webhook/webhook-manager.ts), when
`X-GHL-Signature` is present only it is checked: no fallback to the legacy header, so a
forged Ed25519 header cannot be "rescued" by a legacy one. Unlike the SDK we verify the raw
bytes, not a re-serialisation of the parsed body.

Replay protection: duplicate `webhookId`s are dropped by the inbox's unique (source, event id),
kept at least 7 days; and the body's `timestamp` must be at most 75 minutes old and at most 5
minutes ahead of our clock. Not 5 minutes old as for TalkNotes: HighLevel retries a delivery
answered 429 up to 6 times about 10 minutes apart, with jitter (about 1 h 10 min in the worst
case; docs/highlevel-api.md section 11), and each retry carries the first try's body and
timestamp. A 5-minute window would refuse every retry of an event tnhl could not store, and
HighLevel does not retry a refusal: the event would be lost.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_ED25519_PEM",
    "DEFAULT_RSA_PEM",
    "UNTYPED",
    "HighLevelEvent",
    "HighLevelKeys",
    "HighLevelVerifier",
    "sign_ed25519",
    "sign_rsa",
]

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from tnhl.webhooks._errors import HighLevelPayloadError, HighLevelSignatureError, KeyFormatError

_B64_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")

# HighLevel's published public keys, encoded here so tnhl never reads spec files at run time.
# Ed25519 (X-GHL-Signature): as quoted from the Webhook Integration Guide (URL above).
DEFAULT_ED25519_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""
# RSA-4096 (X-WH-Signature): GoHighLevel/highlevel-api-docs, docs/oauth/WebhookAuthentication.md.
DEFAULT_RSA_PEM = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""

Scheme = Literal["ed25519", "rsa"]
MAX_AGE_SECONDS = 75 * 60  # HighLevel's last retry, ~1 h 10 min after the first try, fits
MAX_AHEAD_SECONDS = 300  # clock skew


def _load(pem: str | bytes, kind: type[Any], name: str) -> Any:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"the HighLevel {name} public key is not a PEM public key") from exc
    if not isinstance(key, kind):
        raise KeyFormatError(f"the HighLevel {name} public key is a PEM of another key type")
    return key


@dataclass(frozen=True, slots=True)
class HighLevelKeys:
    """The public keys HighLevel deliveries are checked against; `None` disables a scheme."""

    ed25519: Ed25519PublicKey | None
    rsa: RSAPublicKey | None

    @classmethod
    def from_pem(
        cls, *, ed25519: str | bytes | None = None, rsa: str | bytes | None = None
    ) -> HighLevelKeys:
        """Keys from PEM text; `KeyFormatError` names the key that is unusable."""
        return cls(
            ed25519=_load(ed25519, Ed25519PublicKey, "Ed25519") if ed25519 else None,
            rsa=_load(rsa, RSAPublicKey, "RSA") if rsa else None,
        )

    @classmethod
    def default(cls) -> HighLevelKeys:
        """HighLevel's published keys (both schemes)."""
        return cls.from_pem(ed25519=DEFAULT_ED25519_PEM, rsa=DEFAULT_RSA_PEM)

    @classmethod
    def from_setting(cls, value: str | None) -> HighLevelKeys:
        """HighLevel's published keys, with the one `value` gives in place of the published
        key of its scheme (Ed25519 or RSA). `value` is PEM text, the path of a PEM file, or
        the PEM's one-line base64 body; `KeyFormatError` says which was tried and failed."""
        if value is None or not value.strip():
            return cls.default()
        text = value.strip()
        if "-----BEGIN" not in text:
            path = Path(text).expanduser()
            if path.is_file():
                text = path.read_text(encoding="ascii", errors="replace")
            elif len(text) < 1024 and _B64_LINE.fullmatch(text):
                text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----\n"
            else:
                raise KeyFormatError("is neither PEM text, a readable file nor a base64 public key")
        try:
            key = serialization.load_pem_public_key(text.encode("ascii", errors="replace"))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError("is not a PEM public key") from exc
        published = cls.default()
        if isinstance(key, Ed25519PublicKey):
            return cls(ed25519=key, rsa=published.rsa)
        if isinstance(key, RSAPublicKey):
            return cls(ed25519=published.ed25519, rsa=key)
        raise KeyFormatError("is a public key of neither Ed25519 nor RSA")


# The type a body without `type` is stored under (no HighLevel type has parentheses).
UNTYPED = "(untyped)"


@dataclass(frozen=True, slots=True)
class HighLevelEvent:
    """What intake needs from a verified HighLevel delivery (the body itself is stored raw)."""

    type: str
    location_id: str
    webhook_id: str
    entity_key: str
    timestamp: datetime | None


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise HighLevelSignatureError("the signature header is not base64") from None


def _entity_key(payload: dict[str, Any], type_: str) -> str:
    # Contact* events carry the contact as the object itself (`id`); appointments nest it.
    if type_.startswith("Contact"):
        key = payload.get("id")
    elif type_.startswith("Appointment"):
        nested = payload.get("appointment")
        key = nested.get("contactId") if isinstance(nested, dict) else None
    else:
        key = payload.get("contactId")
        if not isinstance(key, str) or not key:
            key = payload.get("id") or payload.get("_id")  # invoices and products: `_id`
    return key if isinstance(key, str) else ""


class HighLevelVerifier:
    """Checks HighLevel signatures and the replay window, then reads the envelope.

    `require_timestamp=False` (default) accepts a signed body without `timestamp`: HighLevel
    retries only on 429, so refusing an authentic event loses it; the dedupe on `webhookId`
    still stops replays of the same delivery. The window: at most `max_age` seconds old (long
    enough for HighLevel's retries, see the module docstring), at most `max_ahead` ahead.
    """

    __slots__ = ("_clock", "_keys", "_max_age", "_max_ahead", "_require_timestamp")

    def __init__(
        self,
        keys: HighLevelKeys | None = None,
        *,
        clock: Callable[[], float] = time.time,
        max_age: float = MAX_AGE_SECONDS,
        max_ahead: float = MAX_AHEAD_SECONDS,
        require_timestamp: bool = False,
    ) -> None:
        self._keys = keys if keys is not None else HighLevelKeys.default()
        self._clock = clock
        self._max_age = max_age
        self._max_ahead = max_ahead
        self._require_timestamp = require_timestamp

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> Scheme:
        """Which scheme verified the body; `HighLevelSignatureError` if none did."""
        ghl = headers.get("x-ghl-signature")
        if ghl is not None:
            if self._keys.ed25519 is None:
                raise HighLevelSignatureError("X-GHL-Signature sent but no Ed25519 key configured")
            try:
                self._keys.ed25519.verify(_b64(ghl), body)
            except InvalidSignature:
                raise HighLevelSignatureError("X-GHL-Signature does not match the body") from None
            return "ed25519"
        legacy = headers.get("x-wh-signature")
        if legacy is not None:
            if self._keys.rsa is None:
                raise HighLevelSignatureError("X-WH-Signature sent but no RSA key configured")
            try:
                self._keys.rsa.verify(_b64(legacy), body, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise HighLevelSignatureError("X-WH-Signature does not match the body") from None
            return "rsa"
        raise HighLevelSignatureError("missing X-GHL-Signature (or legacy X-WH-Signature) header")

    def read(self, body: bytes) -> HighLevelEvent:
        """The envelope of a verified body, with the replay window checked.

        A body without `type` is read as `UNTYPED`: HighLevel documents invoice, product,
        association and custom-object events with none, and refusing an authentic event loses
        it (HighLevel retries only a 429). Raises `HighLevelPayloadError` for a body that is
        not a JSON object or has a `type` that is not a non-empty string,
        `HighLevelSignatureError` for a stale or missing `timestamp`.
        """
        try:
            # Decode strictly first: json.loads(bytes) would also accept UTF-16/32, which the
            # inbox (text, UTF-8) could not store faithfully.
            payload = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise HighLevelPayloadError("body: is not UTF-8 JSON") from None
        if not isinstance(payload, dict):
            raise HighLevelPayloadError("body: must be a JSON object")
        type_ = payload.get("type")
        if type_ is None:
            type_ = UNTYPED
        if not isinstance(type_, str) or not type_:
            raise HighLevelPayloadError("type: must be a non-empty string")
        location = payload.get("locationId")
        if not isinstance(location, str) or not location:
            # Invoice and order bodies name it as altType/altId; location events by their id.
            if payload.get("altType") == "location":
                location = payload.get("altId")
            elif type_.startswith("Location"):
                location = payload.get("id")
        webhook_id = payload.get("webhookId")
        if not isinstance(webhook_id, str) or not webhook_id:
            # No id to dedupe on: the body's hash makes identical redeliveries collide.
            webhook_id = "sha256:" + hashlib.sha256(body).hexdigest()
        return HighLevelEvent(
            type=type_,
            location_id=location if isinstance(location, str) else "",
            webhook_id=webhook_id,
            entity_key=_entity_key(payload, type_),
            timestamp=self._check_time(payload.get("timestamp")),
        )

    def verify(self, headers: Mapping[str, str], body: bytes) -> HighLevelEvent:
        """`verify_signature` then `read`."""
        self.verify_signature(headers, body)
        return self.read(body)

    def _check_time(self, raw: Any) -> datetime | None:
        if raw is None:
            if self._require_timestamp:
                raise HighLevelSignatureError("timestamp is missing from the body")
            return None
        if not isinstance(raw, str):
            raise HighLevelPayloadError("timestamp: must be an ISO 8601 string")
        try:
            stamp = datetime.fromisoformat(raw)
        except ValueError:
            raise HighLevelPayloadError("timestamp: is not an ISO 8601 date-time") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)  # HighLevel sends UTC ("...Z")
        age = self._clock() - stamp.timestamp()
        if age > self._max_age:
            raise HighLevelSignatureError(
                f"timestamp is more than {self._max_age / 60:g} minutes old (a replay?)"
            )
        if -age > self._max_ahead:
            raise HighLevelSignatureError(
                f"timestamp is more than {self._max_ahead / 60:g} minutes ahead of this clock"
            )
        return stamp


def sign_ed25519(private_key: Ed25519PrivateKey, body: bytes) -> dict[str, str]:
    """The `x-ghl-signature` header for `body` (for simulators and tests with their own keys)."""
    return {"x-ghl-signature": base64.b64encode(private_key.sign(body)).decode("ascii")}


def sign_rsa(private_key: RSAPrivateKey, body: bytes) -> dict[str, str]:
    """The legacy `x-wh-signature` header for `body` (for simulators and tests)."""
    signature = private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"x-wh-signature": base64.b64encode(signature).decode("ascii")}

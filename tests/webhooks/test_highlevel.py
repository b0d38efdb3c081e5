"""HighLevel webhook verification: Ed25519, legacy RSA, precedence, replay window, envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tnhl.webhooks import (
    DEFAULT_ED25519_PEM,
    DEFAULT_RSA_PEM,
    HighLevelKeys,
    HighLevelPayloadError,
    HighLevelSignatureError,
    HighLevelVerifier,
    KeyFormatError,
    sign_ed25519,
    sign_rsa,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC).timestamp()
ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


KEYS = HighLevelKeys.from_pem(ed25519=pem(ED_KEY), rsa=pem(RSA_KEY))


def verifier(now: float = NOW, **kwargs: Any) -> HighLevelVerifier:
    return HighLevelVerifier(KEYS, clock=lambda: now, **kwargs)


def payload(**fields: Any) -> bytes:
    base = {
        "type": "ContactCreate",
        "locationId": "loc_1",
        "id": "hl_c_1",
        "email": "sam@example.com",
        "timestamp": "2026-03-02T09:29:30.000Z",
        "webhookId": "wh_1",
    }
    return json.dumps({**base, **fields}, separators=(",", ":")).encode()


def test_ed25519_signature_verifies() -> None:
    """A body signed with the configured Ed25519 key verifies as the ed25519 scheme."""
    body = payload()
    assert verifier().verify_signature(sign_ed25519(ED_KEY, body), body) == "ed25519"


def test_rsa_signature_verifies() -> None:
    """A body signed with the configured RSA key (legacy header) verifies as rsa."""
    body = payload()
    assert verifier().verify_signature(sign_rsa(RSA_KEY, body), body) == "rsa"


@pytest.mark.parametrize("signer", [sign_ed25519, sign_rsa])
def test_tampered_body_fails(signer: Any) -> None:
    """Changing one byte after signing fails either scheme."""
    key = ED_KEY if signer is sign_ed25519 else RSA_KEY
    headers = signer(key, payload())
    with pytest.raises(HighLevelSignatureError, match="does not match"):
        verifier().verify_signature(headers, payload(email="eve@example.com"))


def test_ed25519_header_wins_without_fallback() -> None:
    """With a bad X-GHL-Signature, a valid X-WH-Signature does not rescue the delivery."""
    body = payload()
    other = ed25519.Ed25519PrivateKey.generate()
    headers = {**sign_ed25519(other, body), **sign_rsa(RSA_KEY, body)}
    with pytest.raises(HighLevelSignatureError, match="X-GHL-Signature"):
        verifier().verify_signature(headers, body)


def test_both_headers_valid_uses_ed25519() -> None:
    """When both headers are present and valid, the Ed25519 one is the one checked."""
    body = payload()
    headers = {**sign_ed25519(ED_KEY, body), **sign_rsa(RSA_KEY, body)}
    assert verifier().verify_signature(headers, body) == "ed25519"


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "missing X-GHL-Signature"),
        ({"x-ghl-signature": "%%%"}, "not base64"),
        ({"x-ghl-signature": "AAAA"}, "does not match"),
        ({"x-wh-signature": "AAAA"}, "does not match"),
    ],
)
def test_missing_or_malformed_signatures(headers: dict[str, str], words: str) -> None:
    """Missing, non-base64 and wrong-length signatures are refused with a reason."""
    with pytest.raises(HighLevelSignatureError, match=words):
        verifier().verify_signature(headers, payload())


def test_scheme_without_key_is_refused() -> None:
    """A header for a scheme whose key is not configured is refused, naming the scheme."""
    body = payload()
    only_rsa = HighLevelVerifier(HighLevelKeys(ed25519=None, rsa=KEYS.rsa), clock=lambda: NOW)
    with pytest.raises(HighLevelSignatureError, match="no Ed25519 key"):
        only_rsa.verify_signature(sign_ed25519(ED_KEY, body), body)


def test_default_keys_refuse_our_signatures() -> None:
    """By default HighLevel's published keys are used, so our own key's signatures fail."""
    body = payload()
    default = HighLevelVerifier(clock=lambda: NOW)
    with pytest.raises(HighLevelSignatureError):
        default.verify_signature(sign_ed25519(ED_KEY, body), body)
    with pytest.raises(HighLevelSignatureError):
        default.verify_signature(sign_rsa(RSA_KEY, body), body)


def test_default_keys_equal_the_published_files(specs_dir: Path) -> None:
    """The PEMs compiled into tnhl are the keys in the official webhook key files."""
    folder = specs_dir / "webhooks"
    ed_file = serialization.load_pem_public_key(
        (folder / "webhook-public-key-ed25519.x-ghl-signature.pem").read_bytes()
    )
    rsa_file = serialization.load_pem_public_key(
        (folder / "webhook-public-key-rsa.x-wh-signature.pem").read_bytes()
    )
    keys = HighLevelKeys.default()
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert keys.ed25519 is not None
    assert keys.rsa is not None
    assert keys.ed25519.public_bytes(der, spki) == ed_file.public_bytes(der, spki)
    assert keys.rsa.public_bytes(der, spki) == rsa_file.public_bytes(der, spki)
    assert keys.rsa.key_size == 4096


def test_bad_key_pem_is_a_config_error() -> None:
    """An unusable or wrong-kind PEM raises KeyFormatError naming the key."""
    with pytest.raises(KeyFormatError, match="Ed25519"):
        HighLevelKeys.from_pem(ed25519="not a pem")
    with pytest.raises(KeyFormatError, match="RSA public key is a PEM of another"):
        HighLevelKeys.from_pem(rsa=DEFAULT_ED25519_PEM)
    with pytest.raises(KeyFormatError, match="Ed25519 public key is a PEM of another"):
        HighLevelKeys.from_pem(ed25519=DEFAULT_RSA_PEM)


@pytest.mark.parametrize(
    ("skew", "refusal"),
    [
        (-4500, None),  # 75 minutes old: HighLevel's 6th retry, ~70 min after the first try
        (300, None),
        (-4501, "more than 75 minutes old"),
        (301, "more than 5 minutes ahead"),
    ],
)
def test_replay_window_fits_highlevels_retries(skew: int, refusal: str | None) -> None:
    """The body's timestamp may be up to 75 minutes old (a 429 retry carries the first try's
    timestamp) and 5 minutes ahead; one more second either way is refused."""
    stamp = datetime.fromtimestamp(NOW + skew, UTC).isoformat().replace("+00:00", "Z")
    body = payload(timestamp=stamp)
    if refusal is None:
        assert verifier().read(body).timestamp == datetime.fromtimestamp(NOW + skew, UTC)
    else:
        with pytest.raises(HighLevelSignatureError, match=refusal):
            verifier().read(body)


def _spki(key: Any) -> bytes:
    assert key is not None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bytes(key.public_bytes(der, spki))


def test_key_setting_takes_pem_text_a_file_or_a_base64_line(tmp_path: Path) -> None:
    """highlevel_webhook_key: PEM text, a PEM file's path, or the PEM's base64 line; an
    Ed25519 key replaces only the published Ed25519 key, an RSA key only the RSA one; unset,
    both published keys are used."""
    text = pem(ED_KEY).decode()
    path = tmp_path / "simulator.pem"
    path.write_text(text, encoding="ascii")
    line = "".join(text.strip().splitlines()[1:-1])
    published = HighLevelKeys.default()
    for value in (text, str(path), line):
        keys = HighLevelKeys.from_setting(value)
        assert _spki(keys.ed25519) == _spki(ED_KEY.public_key())
        assert _spki(keys.rsa) == _spki(published.rsa)
    keys = HighLevelKeys.from_setting(pem(RSA_KEY).decode())
    assert _spki(keys.ed25519) == _spki(published.ed25519)
    assert _spki(keys.rsa) == _spki(RSA_KEY.public_key())
    unset = HighLevelKeys.from_setting(None)
    assert _spki(unset.ed25519) == _spki(published.ed25519)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("no-such-file.pem", "neither PEM text, a readable file nor a base64 public key"),
        ("QUJD", "is not a PEM public key"),
        ("-----BEGIN PUBLIC KEY-----\nQUJD\n-----END PUBLIC KEY-----", "is not a PEM public key"),
    ],
)
def test_unusable_key_setting_says_what_is_wrong(value: str, problem: str) -> None:
    """A missing file, a base64 line or PEM that is no key: KeyFormatError with the problem."""
    with pytest.raises(KeyFormatError, match=problem):
        HighLevelKeys.from_setting(value)


def test_missing_timestamp_is_accepted_unless_required() -> None:
    """A body without timestamp passes by default and fails with require_timestamp."""
    body = json.dumps({"type": "NoteCreate", "locationId": "l", "contactId": "c"}).encode()
    assert verifier().read(body).timestamp is None
    with pytest.raises(HighLevelSignatureError, match="missing"):
        verifier(require_timestamp=True).read(body)


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"type": "ContactUpdate", "id": "hl_c_9"}, "hl_c_9"),
        ({"type": "ContactDndUpdate", "id": "hl_c_9", "contactId": "x"}, "hl_c_9"),
        ({"type": "NoteCreate", "id": "n1", "contactId": "hl_c_2"}, "hl_c_2"),
        ({"type": "TaskComplete", "id": "t1", "contactId": "hl_c_3"}, "hl_c_3"),
        (
            {"type": "AppointmentCreate", "id": None, "appointment": {"contactId": "hl_c_4"}},
            "hl_c_4",
        ),
        ({"type": "AppointmentDelete", "id": None, "appointment": "junk"}, ""),
        ({"type": "LocationUpdate", "id": "loc_2"}, "loc_2"),
    ],
)
def test_entity_key_per_event_family(fields: dict[str, Any], key: str) -> None:
    """The entity key is the contact: `id` for Contact*, appointment.contactId, else contactId."""
    assert verifier().read(payload(**fields)).entity_key == key


def test_envelope_fields() -> None:
    """read() returns type, location and webhookId from the body."""
    event = verifier().read(payload())
    assert (event.type, event.location_id, event.webhook_id) == ("ContactCreate", "loc_1", "wh_1")


def test_missing_webhook_id_falls_back_to_the_body_hash() -> None:
    """Without webhookId the event id is the body's SHA-256, so identical redeliveries dedupe."""
    body = payload(webhookId=None)
    first, again = verifier().read(body), verifier().read(body)
    assert first.webhook_id.startswith("sha256:")
    assert first.webhook_id == again.webhook_id
    assert verifier().read(payload(webhookId=None, email="x@y.zz")).webhook_id != first.webhook_id


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{nope", "not UTF-8 JSON"),
        ('{"type": "NoteCreate"}'.encode("utf-16"), "not UTF-8 JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"locationId": "l", "type": ""}', "type"),
        (b'{"type": 5}', "type"),
        (b'{"type": "NoteCreate", "timestamp": 17}', "timestamp"),
        (b'{"type": "NoteCreate", "timestamp": "yesterday"}', "timestamp"),
    ],
)
def test_unusable_bodies_are_payload_errors(body: bytes, words: str) -> None:
    """A signed body that is not a usable event is a payload error naming the field."""
    with pytest.raises(HighLevelPayloadError, match=words):
        verifier().read(body)


def test_documented_events_without_type_are_read_as_untyped(specs_dir: Path) -> None:
    """Every example in the official events file that has no `type` (invoices, products,
    associations, ...) reads as "(untyped)" instead of failing; those that name a location
    keep it. The docs give 20 events no type."""
    path = specs_dir / "webhooks" / "webhook-events.json"
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    # Without `timestamp`: the examples' own are as old as the docs, outside the replay window.
    untyped = {
        name: {k: v for k, v in example.items() if k != "timestamp"}
        for name, spec in events.items()
        for example in spec.get("examples") or []
        if isinstance(example, dict) and "type" not in example
    }
    assert {"InvoicePaid", "ProductCreate", "AssociationCreate", "RelationCreate"} <= set(untyped)
    assert len(untyped) >= 20  # 20 in the file of record
    for name, example in untyped.items():
        event = verifier().read(json.dumps(example).encode())
        assert event.type == "(untyped)", name
    paid = verifier().read(json.dumps(untyped["InvoicePaid"]).encode())
    assert paid.location_id == "6578278e879ad2646715ba9c"  # the example's altId
    product = verifier().read(json.dumps(untyped["ProductCreate"]).encode())
    assert (product.location_id, product.entity_key) == (
        "3SwdhCsvxI8Au3KsPJt6",
        "655b33a82209e60b6adb87a5",
    )


def test_verify_runs_both_steps() -> None:
    """verify() checks the signature and returns the envelope."""
    body = payload()
    event = verifier().verify(sign_ed25519(ED_KEY, body), body)
    assert event.webhook_id == "wh_1"
    with pytest.raises(HighLevelSignatureError):
        verifier().verify({}, body)

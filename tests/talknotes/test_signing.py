"""Standard Webhooks signing and verification of TalkNotes deliveries."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from tnhl.talknotes import (
    SecretFormatError,
    SignatureError,
    WebhookVerifier,
    decode_secret,
    generate_secret,
    sign,
)

# The spec's published test vector: standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py::test_sign_function.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_767_000_000


def verifier(secret: str = VECTOR_SECRET, now: float = VECTOR_TS) -> WebhookVerifier:
    return WebhookVerifier(secret, clock=lambda: now)


def test_sign_matches_the_published_vector() -> None:
    """`sign` produces the Standard Webhooks spec's test-vector signature."""
    headers = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }


def test_verify_accepts_the_published_vector() -> None:
    """The verifier accepts the vector's headers and returns the message id."""
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    assert verifier().verify(headers, VECTOR_BODY) == VECTOR_ID


def test_agrees_with_the_reference_package() -> None:
    """Our signatures verify with the `standardwebhooks` package, and its signatures with us."""
    secret = generate_secret()
    ours = sign(secret, "msg_1", NOW, b'{"a": 1}')
    ref = Webhook(secret)
    ref_sig = ref.sign("msg_1", datetime.fromtimestamp(NOW, tz=UTC), '{"a": 1}')
    assert ours["webhook-signature"] == ref_sig
    assert verifier(secret, NOW).verify({**ours, "webhook-signature": ref_sig}, b'{"a": 1}')


def test_tampered_body_is_refused() -> None:
    """One changed byte in the body fails verification."""
    headers = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    with pytest.raises(SignatureError, match="no webhook-signature entry matches"):
        verifier().verify(headers, b'{"test": 2432232315}')


def test_other_secret_is_refused() -> None:
    """A signature made with another secret fails."""
    headers = sign(generate_secret(), VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    with pytest.raises(SignatureError):
        verifier().verify(headers, VECTOR_BODY)


def test_changed_id_or_timestamp_is_refused() -> None:
    """The id and timestamp are signed too: changing either fails."""
    headers = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    with pytest.raises(SignatureError):
        verifier().verify({**headers, "webhook-id": "msg_other"}, VECTOR_BODY)
    with pytest.raises(SignatureError):
        verifier().verify({**headers, "webhook-timestamp": str(VECTOR_TS + 1)}, VECTOR_BODY)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_five_minute_tolerance_both_ways(offset: int, ok: bool) -> None:
    """Timestamps up to 300 s old or ahead pass; one second more fails."""
    headers = sign(VECTOR_SECRET, VECTOR_ID, NOW + offset, VECTOR_BODY)
    check = verifier(now=NOW)
    if ok:
        assert check.verify(headers, VECTOR_BODY) == VECTOR_ID
    else:
        with pytest.raises(SignatureError, match="too"):
            check.verify(headers, VECTOR_BODY)


def test_several_signatures_one_valid() -> None:
    """A header with several entries (key rotation, other versions) passes if one v1 matches."""
    good = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)["webhook-signature"]
    header = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "garbage",
            "v1,***notbase64***",
            good,
        ]
    )
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": header,
    }
    assert verifier().verify(headers, VECTOR_BODY) == VECTOR_ID


def test_only_v1_entries_count() -> None:
    """A correct signature labelled with another version does not pass."""
    good = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)["webhook-signature"]
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": good.replace("v1,", "v1a,"),
    }
    with pytest.raises(SignatureError):
        verifier().verify(headers, VECTOR_BODY)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("webhook-id", "missing webhook-id"),
        ("webhook-timestamp", "missing webhook-timestamp"),
        ("webhook-signature", "missing webhook-signature"),
    ],
)
def test_missing_headers_are_named(missing: str, message: str) -> None:
    """Each missing header is named in the error."""
    headers = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    del headers[missing]
    with pytest.raises(SignatureError, match=message):
        verifier().verify(headers, VECTOR_BODY)


@pytest.mark.parametrize("stamp", ["hello", "1614265330.5", "-1614265330", "١٦١٤٢٦٥٣٣٠"])
def test_non_integer_timestamp_is_refused(stamp: str) -> None:
    """A timestamp that is not whole ASCII seconds is refused before any HMAC work."""
    headers = {**sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY), "webhook-timestamp": stamp}
    with pytest.raises(SignatureError, match="not a Unix time"):
        verifier().verify(headers, VECTOR_BODY)


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_!!!not-base64!!!", "not base64"),
        ("whsec_", "decode to 24 to 64 bytes"),
        ("whsec_" + base64.b64encode(b"short").decode(), "decode to 24 to 64 bytes"),
    ],
)
def test_bad_secret_is_a_clear_config_error(secret: str, words: str) -> None:
    """An unusable secret fails at construction with a message that does not echo it."""
    with pytest.raises(SecretFormatError, match=words) as info:
        WebhookVerifier(secret)
    assert secret.removeprefix("whsec_") not in str(info.value) or secret == "whsec_"


def test_unpadded_secret_is_accepted() -> None:
    """A secret whose base64 lost its padding still decodes (as other SDKs accept it)."""
    raw = bytes(range(25))
    padded = base64.b64encode(raw).decode()
    assert padded.endswith("=")
    assert decode_secret("whsec_" + padded.rstrip("=")) == raw


def test_secret_never_in_repr() -> None:
    """The verifier's repr does not show the secret."""
    secret = generate_secret()
    assert secret[6:] not in repr(WebhookVerifier(secret))
    assert "redacted" in repr(WebhookVerifier(secret))


def test_generated_secrets_are_fresh_and_valid() -> None:
    """generate_secret gives distinct 32-byte whsec_ secrets."""
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert len(decode_secret(first)) == 32


def test_rotation_accepts_either_secret() -> None:
    """With two secrets configured, deliveries signed with either pass; others fail."""
    old, new = generate_secret(), generate_secret()
    check = WebhookVerifier([old, new], clock=lambda: NOW)
    for secret in (old, new):
        assert check.verify(sign(secret, "m", NOW, b"{}"), b"{}") == "m"
    with pytest.raises(SignatureError):
        check.verify(sign(generate_secret(), "m", NOW, b"{}"), b"{}")
    assert "2 redacted" in repr(check)


def test_no_secret_is_a_config_error() -> None:
    """An empty list of secrets is refused at construction."""
    with pytest.raises(SecretFormatError, match="at least one"):
        WebhookVerifier([])


def test_one_verifier_checks_many_deliveries_independently() -> None:
    """A verifier reused for many deliveries keeps no state from one to the next."""
    secret = generate_secret()
    check = WebhookVerifier(secret, clock=lambda: NOW)
    for i in range(50):
        body = f'{{"n": {i}}}'.encode()
        headers = sign(secret, f"m{i}", NOW, body)
        assert check.verify(headers, body) == f"m{i}"
        with pytest.raises(SignatureError):
            check.verify(headers, body + b" ")
    assert check.verify(sign(secret, "m0", NOW, b'{"n": 0}'), b'{"n": 0}') == "m0"

"""Private Integration Tokens: static, never refreshed, never shown."""

from __future__ import annotations

import pytest

from tnhl.highlevel._auth import Auth, PrivateIntegrationToken, normalise_scopes
from tnhl.highlevel._errors import ConfigurationError

PIT = "pit-0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


def test_pit_is_an_auth_and_returns_its_token() -> None:
    """A PIT satisfies the Auth protocol and hands out the same token every time."""
    auth = PrivateIntegrationToken(PIT, location_id="loc1", scopes=["contacts.readonly"])
    assert isinstance(auth, Auth)
    assert auth.get_token() == PIT
    assert auth.location_id == "loc1"
    assert auth.scopes == frozenset({"contacts.readonly"})


async def test_pit_async_token() -> None:
    """aget_token returns the token too."""
    assert await PrivateIntegrationToken(PIT).aget_token() == PIT


async def test_pit_cannot_refresh() -> None:
    """After a 401 a PIT has nothing new to offer: both refresh methods return None."""
    auth = PrivateIntegrationToken(PIT)
    assert auth.refresh_after_unauthorized(PIT) is None
    assert await auth.arefresh_after_unauthorized(PIT) is None


def test_unknown_scopes_are_none_not_empty() -> None:
    """Without scopes the client must not pre-check: scopes is None, not an empty set."""
    assert PrivateIntegrationToken(PIT).scopes is None
    assert PrivateIntegrationToken(PIT, scopes=[]).scopes == frozenset()


def test_repr_and_str_never_show_the_token() -> None:
    """repr() and str() mask the token but show the location."""
    auth = PrivateIntegrationToken(PIT, location_id="loc1")
    for text in (repr(auth), str(auth), f"{auth}"):
        assert PIT not in text
        assert "loc1" in text


@pytest.mark.parametrize("bad", ["", "   ", f"{PIT}\n", f"pit {PIT}"])
def test_bad_token_is_rejected_without_echoing_it(bad: str) -> None:
    """Empty or whitespace-bearing tokens raise ConfigurationError naming `token`, not its value."""
    with pytest.raises(ConfigurationError) as info:
        PrivateIntegrationToken(bad)
    assert info.value.field == "token"
    assert PIT not in str(info.value)


def test_blank_location_id_is_rejected() -> None:
    """A blank location id is an error naming the field."""
    with pytest.raises(ConfigurationError, match="location_id"):
        PrivateIntegrationToken(PIT, location_id=" ")


def test_scopes_accept_a_space_separated_string_and_reject_blanks() -> None:
    """normalise_scopes splits HighLevel's space-separated form and refuses blank entries."""
    assert normalise_scopes("contacts.readonly contacts.write") == frozenset(
        {"contacts.readonly", "contacts.write"}
    )
    with pytest.raises(ConfigurationError, match="scopes"):
        normalise_scopes(["contacts.readonly", " "])

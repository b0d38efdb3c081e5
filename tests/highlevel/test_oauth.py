"""OAuthApp: authorize URLs and the token endpoints, over real loopback HTTP and MockTransport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hl_oauth_loopback import CLIENT_ID, CLIENT_SECRET, OAuthServer, serve
from pydantic import SecretStr

from tnhl.highlevel._clock import FakeClock
from tnhl.highlevel._errors import AuthError, ConfigurationError
from tnhl.highlevel._oauth import OAuthApp

NOW = 1_700_000_000.0
REDIRECT = "https://example.com/oauth/callback"


@pytest.fixture
def server() -> Iterator[tuple[OAuthServer, str]]:
    """A fresh fake HighLevel OAuth server on loopback, and its base URL."""
    state = OAuthServer()
    with serve(state.app()) as url:
        yield state, url


def make_app(base_url: str = "https://services.leadconnectorhq.com", **kwargs: object) -> OAuthApp:
    return OAuthApp(
        CLIENT_ID,
        CLIENT_SECRET,
        redirect_uri=REDIRECT,
        base_url=base_url,
        clock=FakeClock(NOW),
        **kwargs,  # type: ignore[arg-type]
    )


def test_authorize_url_standard_and_white_label_hosts() -> None:
    """The URL goes to /v2/oauth/chooselocation with code, client id, redirect, scopes, state."""
    app = make_app()
    url = urlsplit(app.authorize_url(["contacts.write", "contacts.readonly"], state="xyz"))
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "marketplace.gohighlevel.com",
        "/v2/oauth/chooselocation",
    )
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": [REDIRECT],
        "scope": ["contacts.readonly contacts.write"],
        "state": ["xyz"],
    }
    assert "scope=contacts.readonly%20contacts.write" in url.query
    white = urlsplit(app.authorize_url("contacts.readonly", white_label=True))
    assert white.netloc == "marketplace.leadconnectorhq.com"
    assert white.path == "/v2/oauth/chooselocation"
    assert "state" not in parse_qs(white.query)


def test_authorize_url_needs_a_scope() -> None:
    """Asking for no scope is a ConfigurationError naming `scopes`."""
    with pytest.raises(ConfigurationError, match="scopes"):
        make_app().authorize_url([])


def test_bad_app_settings_name_the_field() -> None:
    """Empty client id / secret are rejected with the field's name, never the value."""
    with pytest.raises(ConfigurationError, match="client_id"):
        OAuthApp("", CLIENT_SECRET)
    with pytest.raises(ConfigurationError, match="client_secret"):
        OAuthApp(CLIENT_ID, SecretStr(""))


def test_exchange_code_sends_the_spec_form_and_parses_tokens(
    server: tuple[OAuthServer, str],
) -> None:
    """exchange_code posts the form fields of the spec and returns a complete TokenSet."""
    state, url = server
    tokens = make_app(url).exchange_code("good-code")
    assert state.forms == [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "authorization_code",
            "code": "good-code",
            "user_type": "Location",
            "redirect_uri": REDIRECT,
        }
    ]
    assert tokens.access_token.get_secret_value() == "access-1"
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == "refresh-1"
    assert tokens.expires_at == NOW + 86399
    assert tokens.scopes == frozenset({"contacts.readonly", "contacts.write"})
    assert (tokens.user_type, tokens.location_id, tokens.company_id, tokens.user_id) == (
        "Location",
        "loc1",
        "comp1",
        "user1",
    )


def test_refresh_rotates_and_the_old_refresh_token_is_refused(
    server: tuple[OAuthServer, str],
) -> None:
    """A refresh returns a new pair; reusing the spent refresh token gives HighLevel's error."""
    state, url = server
    app = make_app(url)
    first = app.exchange_code("good-code")
    assert first.refresh_token is not None
    second = app.refresh(first.refresh_token, user_type="Location")
    assert second.access_token.get_secret_value() == "access-2"
    assert state.forms[-1]["grant_type"] == "refresh_token"
    assert state.forms[-1]["refresh_token"] == "refresh-1"
    with pytest.raises(AuthError, match="400: Invalid grant: refresh token is invalid"):
        app.refresh(first.refresh_token)


def test_errors_carry_highlevels_message_but_no_secret(server: tuple[OAuthServer, str]) -> None:
    """A refused code gives AuthError with the message; the echoed code and secret are masked."""
    _, url = server
    with pytest.raises(AuthError) as info:
        make_app(url).exchange_code("stolen-code-abcdef")
    text = str(info.value)
    assert "400: Invalid code: ***" in text
    assert "stolen-code-abcdef" not in text
    assert CLIENT_SECRET not in text
    bad_secret = OAuthApp(CLIENT_ID, "wrong-secret-123456", base_url=url)
    with pytest.raises(AuthError, match="401: Invalid client credentials") as info2:
        bad_secret.exchange_code("good-code")
    assert "wrong-secret-123456" not in str(info2.value)


def test_location_token_uses_agency_bearer_and_version(server: tuple[OAuthServer, str]) -> None:
    """location_token posts companyId/locationId with the agency token; no refresh token back."""
    state, url = server
    app = make_app(url)
    agency = app.exchange_code("good-code", user_type="Company")
    assert agency.user_type == "Company"
    minted = app.location_token(agency.access_token, "comp1", "locA")
    assert state.forms[-1] == {"companyId": "comp1", "locationId": "locA"}
    assert minted.access_token.get_secret_value().startswith("location-access-")
    assert minted.refresh_token is None
    assert (minted.user_type, minted.location_id, minted.company_id) == (
        "Location",
        "locA",
        "comp1",
    )
    with pytest.raises(AuthError, match="401: Invalid JWT"):
        app.location_token("not-an-agency-token", "comp1", "locA")


async def test_async_variants_over_loopback(server: tuple[OAuthServer, str]) -> None:
    """aexchange_code, arefresh and alocation_token behave like their sync twins."""
    state, url = server
    app = make_app(url)
    agency = await app.aexchange_code("good-code", user_type="Company")
    assert agency.refresh_token is not None
    renewed = await app.arefresh(agency.refresh_token, user_type="Company")
    assert renewed.access_token.get_secret_value() == "access-2"
    minted = await app.alocation_token(renewed.access_token, "comp1", "locB")
    assert minted.location_id == "locB"
    assert state.requests == {
        "token:authorization_code": 1,
        "token:refresh_token": 1,
        "locationToken": 1,
    }


def test_unreachable_server_is_an_auth_error_without_secrets() -> None:
    """A connection failure becomes AuthError naming the error type only."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app = make_app(transport=httpx.MockTransport(refuse))
    with pytest.raises(AuthError, match="could not reach HighLevel \\(ConnectError\\)") as info:
        app.refresh("refresh-SECRET-xyz")
    assert "refresh-SECRET-xyz" not in str(info.value)
    assert info.value.__cause__ is None


def test_odd_answers_are_handled() -> None:
    """422 list messages are joined, a non-JSON 502 still errors, a missing expires_in is 1 day."""
    answers = iter(
        [
            httpx.Response(422, json={"statusCode": 422, "message": ["a is bad", "b is bad"]}),
            httpx.Response(502, text="<html>bad gateway</html>"),
            httpx.Response(200, json={"userId": "u"}),
            httpx.Response(200, json={"access_token": "tok", "userId": "u"}),
        ]
    )
    app = make_app(transport=httpx.MockTransport(lambda request: next(answers)))
    with pytest.raises(AuthError, match="422: a is bad; b is bad"):
        app.refresh("r1-abcdef")
    with pytest.raises(AuthError, match="502: no error message"):
        app.refresh("r1-abcdef")
    with pytest.raises(AuthError, match="no access_token"):
        app.refresh("r1-abcdef")
    tokens = app.refresh("r1-abcdef")
    assert tokens.expires_at == NOW + 86399
    assert tokens.scopes == frozenset()


def test_app_repr_hides_the_client_secret() -> None:
    """repr/str of OAuthApp never show the client secret."""
    app = make_app()
    assert CLIENT_SECRET not in repr(app)
    assert CLIENT_SECRET not in str(app)
    assert CLIENT_ID in repr(app)


def test_form_fields_match_the_official_spec(specs_dir: Path) -> None:
    """Every form field we send and response field we read is declared in apps/oauth.json."""
    spec = json.loads((specs_dir / "apps" / "oauth.json").read_text())
    schemas = spec["components"]["schemas"]
    token_body = schemas["GetAccessCodebodyDto"]
    assert set(token_body["required"]) <= {"client_id", "client_secret", "grant_type"}
    sent = {"client_id", "client_secret", "grant_type", "code", "refresh_token", "user_type"}
    assert sent | {"redirect_uri"} <= set(token_body["properties"])
    assert {"authorization_code", "refresh_token"} <= set(
        token_body["properties"]["grant_type"]["enum"]
    )
    assert set(schemas["GetLocationAccessCodeBodyDto"]["required"]) == {"companyId", "locationId"}
    read = {"access_token", "expires_in", "refresh_token", "scope", "userType", "locationId"}
    assert read | {"companyId", "userId"} <= set(
        schemas["GetAccessCodeSuccessfulResponseDto"]["properties"]
    )
    location_op = spec["paths"]["/oauth/locationToken"]["post"]
    assert any(p["name"] == "Version" for p in location_op["parameters"])

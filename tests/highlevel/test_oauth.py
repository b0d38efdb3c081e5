"""OAuthApp: authorize URLs and the token endpoints, over real loopback HTTP and MockTransport."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from hl_oauth_loopback import CLIENT_ID, CLIENT_SECRET, OAuthServer, serve
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tnhl.highlevel import code_challenge, pkce_pair
from tnhl.highlevel._clock import FakeClock
from tnhl.highlevel._errors import AuthError, ConfigurationError
from tnhl.highlevel._oauth import OAuthApp

NOW = 1_700_000_000.0
REDIRECT = "https://example.com/oauth/callback"
# RFC 7636 appendix B: this verifier's S256 challenge.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
# GetAccessCodebodyDto's properties in apps/oauth.json: all a strict validator would allow.
SPEC_FORM = {"client_id", "client_secret", "grant_type", "code", "refresh_token", "user_type"}
SPEC_FORM |= {"redirect_uri"}


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


def test_authorize_url_follows_the_base_url() -> None:
    """Another API base (`tnhl simulate`) serves the page itself; marketplace_url overrides."""
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url="http://127.0.0.1:8787/")
    for white_label in (False, True):
        url = app.authorize_url("contacts.readonly", white_label=white_label, state="s")
        assert url == (
            "http://127.0.0.1:8787/v2/oauth/chooselocation?response_type=code"
            f"&client_id={CLIENT_ID}&scope=contacts.readonly&state=s"
        )
    custom = OAuthApp(CLIENT_ID, CLIENT_SECRET, marketplace_url="https://mp.example.com/")
    assert custom.authorize_url("contacts.readonly").startswith(
        "https://mp.example.com/v2/oauth/chooselocation?response_type=code&"
    )
    with pytest.raises(ConfigurationError, match="marketplace_url"):
        OAuthApp(CLIENT_ID, CLIENT_SECRET, marketplace_url=" ")


def test_authorize_url_carries_the_pkce_challenge() -> None:
    """code_challenge= adds the challenge and code_challenge_method=S256."""
    url = urlsplit(make_app().authorize_url("contacts.readonly", code_challenge=RFC_CHALLENGE))
    query = parse_qs(url.query)
    assert query["code_challenge"] == [RFC_CHALLENGE]
    assert query["code_challenge_method"] == ["S256"]


def test_pkce_pair_follows_rfc_7636() -> None:
    """S256 of RFC 7636's example verifier is its example challenge; pairs are fresh."""
    assert code_challenge(RFC_VERIFIER) == RFC_CHALLENGE
    verifier, challenge = pkce_pair()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", verifier)
    assert challenge == code_challenge(verifier)
    assert pkce_pair()[0] != verifier


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


def test_exchange_code_sends_the_code_verifier(server: tuple[OAuthServer, str]) -> None:
    """code_verifier= goes into the exchange form, beside the spec's fields."""
    state, url = server
    make_app(url).exchange_code("good-code", code_verifier=RFC_VERIFIER)
    assert state.forms[-1]["code_verifier"] == RFC_VERIFIER
    assert set(state.forms[-1]) - SPEC_FORM == {"code_verifier"}


def strict_token_endpoint(state: OAuthServer) -> Starlette:
    """The token endpoint if it validated its form like HighLevel's contacts API does
    (class-validator, forbidNonWhitelisted): an unknown field is a 422 naming it."""

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        unknown = sorted(set(form) - SPEC_FORM)
        if unknown:
            state.forms.append(form)
            message = [f"property {name} should not exist" for name in unknown]
            body = {"statusCode": 422, "message": message, "error": "Unprocessable Entity"}
            return JSONResponse(body, 422)
        return await state.token(request)

    return Starlette(routes=[Route("/oauth/token", token, methods=["POST"])])


def test_a_strict_token_endpoint_gets_the_exchange_again_without_the_verifier() -> None:
    """A 422 naming code_verifier (no PKCE there): the same code is sent once more without it."""
    state = OAuthServer()
    with serve(strict_token_endpoint(state)) as url:
        tokens = make_app(url).exchange_code("good-code", code_verifier=RFC_VERIFIER)
    assert [form.get("code_verifier") for form in state.forms] == [RFC_VERIFIER, None]
    assert tokens.access_token.get_secret_value() == "access-1"


async def test_a_strict_token_endpoint_async() -> None:
    """aexchange_code falls back the same way."""
    state = OAuthServer()
    with serve(strict_token_endpoint(state)) as url:
        tokens = await make_app(url).aexchange_code("good-code", code_verifier=RFC_VERIFIER)
    assert [form.get("code_verifier") for form in state.forms] == [RFC_VERIFIER, None]
    assert tokens.location_id == "loc1"


def test_a_refused_verifier_is_not_sent_again() -> None:
    """Only the 422 of an unknown field is retried: a 400 for a wrong verifier is an AuthError."""
    answers = [httpx.Response(400, json={"message": "Invalid grant: code_verifier is invalid"})]
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    app = make_app(transport=httpx.MockTransport(reply))
    with pytest.raises(AuthError, match="400: Invalid grant: code_verifier is invalid"):
        app.exchange_code("a-code-123456", code_verifier=RFC_VERIFIER)
    assert len(seen) == 1


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

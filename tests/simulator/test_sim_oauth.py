"""The OAuth endpoints over real loopback HTTP: token grants, rotation, locationToken, page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from tnhl.simulator._oauth import oauth_routes
from tnhl.simulator._serve import serve_in_thread
from tnhl.simulator._tokens import TokenRegistry

CLIENT = "app9-abc"
SECRET = "client-secret-1"
REDIRECT = "http://127.0.0.1:9/callback"
# RFC 7636 appendix B: a verifier and its S256 challenge.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
AUTHORIZE = {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT}


@pytest.fixture(scope="module")
def registry() -> TokenRegistry:
    reg = TokenRegistry()
    reg.add_client(
        CLIENT,
        SECRET,
        company_id="comp1",
        locations=["locA", "locB"],
        scopes=["contacts.readonly", "contacts.write", "oauth.write"],
    )
    return reg


@pytest.fixture(scope="module")
def http(registry: TokenRegistry) -> Iterator[httpx.Client]:
    app = Starlette(routes=oauth_routes(registry))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=5) as client:
        yield client


def _token(http: httpx.Client, **form: str) -> httpx.Response:
    return http.post("/oauth/token", data={"client_id": CLIENT, "client_secret": SECRET, **form})


def _code(http: httpx.Client, location: str = "locA") -> str:
    params = {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT}
    r = http.get(
        "/v2/oauth/chooselocation", params={**params, "location_id": location, "state": "xyz"}
    )
    assert r.status_code == 302
    location_header = urlsplit(r.headers["location"])
    assert location_header.path == "/callback"
    assert parse_qs(location_header.query)["state"] == ["xyz"]
    return parse_qs(location_header.query)["code"][0]


def test_chooselocation_page_lists_locations(http: httpx.Client) -> None:
    """The authorize page is HTML with one link per installed location."""
    params = {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT}
    for path in ("/oauth/chooselocation", "/v2/oauth/chooselocation"):
        r = http.get(path, params=params)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "location_id=locA" in r.text
        assert "location_id=locB" in r.text


def test_chooselocation_rejects_bad_redirect(http: httpx.Client) -> None:
    """A non-http redirect_uri gets a 422 naming the field."""
    r = http.get("/v2/oauth/chooselocation", params={"client_id": CLIENT, "redirect_uri": "x"})
    assert r.status_code == 422
    assert any("redirect_uri" in m for m in r.json()["message"])


def test_authorization_code_flow(http: httpx.Client) -> None:
    """A code from the page exchanges for a Location token pair in HighLevel's shape."""
    r = _token(http, grant_type="authorization_code", code=_code(http), redirect_uri=REDIRECT)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86399
    assert body["userType"] == "Location"
    assert body["locationId"] == "locA"
    assert body["companyId"] == "comp1"
    assert set(body["scope"].split()) == {"contacts.readonly", "contacts.write", "oauth.write"}
    assert body["refresh_token"]
    assert body["access_token"].count(".") == 2


def test_refresh_rotation_over_http(http: httpx.Client) -> None:
    """A refresh returns a new pair and the same repeat within 30 s returns that same pair."""
    first = _token(http, grant_type="authorization_code", code=_code(http)).json()
    second = _token(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    again = _token(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.json()["refresh_token"] == new["refresh_token"]
    third = _token(http, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert third.status_code == 200


def test_bad_grant_and_missing_fields(http: httpx.Client) -> None:
    """Unknown grant types and missing fields give 422 lists; bad secrets give 401."""
    r = _token(http, grant_type="password")
    assert r.status_code == 422
    assert r.json()["error"] == "Unprocessable Entity"
    r = http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 422
    assert "client_id should not be empty" in r.json()["message"]
    r = http.post(
        "/oauth/token",
        data={"client_id": CLIENT, "client_secret": "nope", "grant_type": "client_credentials"},
    )
    assert r.status_code == 401
    assert r.json()["statusCode"] == 401
    r = _token(http, grant_type="refresh_token", refresh_token="not-a-token")
    assert r.status_code == 400


def test_location_token_from_agency_token(http: httpx.Client) -> None:
    """client_credentials then /oauth/locationToken gives a Location token without refresh."""
    agency = _token(http, grant_type="client_credentials").json()
    assert agency["userType"] == "Company"
    r = http.post(
        "/oauth/locationToken",
        data={"companyId": "comp1", "locationId": "locB"},
        headers={"Authorization": f"Bearer {agency['access_token']}", "Version": "2021-07-28"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["locationId"] == "locB"
    assert "refresh_token" not in body
    r = http.post(
        "/oauth/locationToken",
        data={"companyId": "comp1", "locationId": "locB"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert r.status_code == 401
    r = http.post("/oauth/locationToken", data={"companyId": "comp1", "locationId": "locB"})
    assert (r.status_code, r.json()["message"]) == (401, "Invalid JWT")


def test_agency_install_code_gives_company_token(http: httpx.Client) -> None:
    """Choosing the agency install on the page yields a Company token with a refresh token."""
    params = {"client_id": CLIENT, "redirect_uri": REDIRECT + "?state=s1", "agency": "1"}
    r = http.get("/oauth/chooselocation", params=params)
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == ["s1"]
    body = _token(http, grant_type="authorization_code", code=query["code"][0]).json()
    assert body["userType"] == "Company"
    assert "locationId" not in body
    assert body["refresh_token"]
    r = _token(http, grant_type="authorization_code", code=query["code"][0])
    assert r.status_code == 400


def _pkce_code(http: httpx.Client, challenge: str, method: str = "S256") -> str:
    params = {**AUTHORIZE, "code_challenge": challenge, "code_challenge_method": method}
    r = http.get("/v2/oauth/chooselocation", params={**params, "location_id": "locA"})
    assert r.status_code == 302
    return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]


def test_pkce_binds_the_code_to_its_verifier(http: httpx.Client) -> None:
    """A code issued with an S256 challenge is exchanged only with the matching verifier."""
    code = _pkce_code(http, CHALLENGE)
    missing = _token(http, grant_type="authorization_code", code=code)
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        "Invalid grant: code_verifier is invalid",
    )
    wrong = _token(http, grant_type="authorization_code", code=code, code_verifier="x" * 43)
    assert wrong.status_code == 400
    right = _token(http, grant_type="authorization_code", code=code, code_verifier=VERIFIER)
    assert right.status_code == 200
    assert right.json()["locationId"] == "locA"
    again = _token(http, grant_type="authorization_code", code=code, code_verifier=VERIFIER)
    assert again.status_code == 400


def test_plain_pkce_and_codes_without_a_challenge(http: httpx.Client) -> None:
    """`plain` compares the verifier as is; without a challenge a code_verifier is ignored."""
    code = _pkce_code(http, VERIFIER, method="plain")
    r = _token(http, grant_type="authorization_code", code=code, code_verifier=VERIFIER)
    assert r.status_code == 200
    r = _token(http, grant_type="authorization_code", code=_code(http), code_verifier=VERIFIER)
    assert r.status_code == 200


def test_bad_pkce_parameters_are_422(http: httpx.Client) -> None:
    """An unknown challenge method or a malformed challenge is refused at the page."""
    params = {**AUTHORIZE, "code_challenge": "short", "code_challenge_method": "S512"}
    r = http.get("/v2/oauth/chooselocation", params=params)
    assert r.status_code == 422
    assert r.json()["message"] == [
        "code_challenge_method must be one of the following values: S256, plain",
        "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
    ]


def test_cancel_redirects_with_access_denied(http: httpx.Client) -> None:
    """deny=1 (the page's Cancel) sends the browser back with error=access_denied and state."""
    r = http.get("/v2/oauth/chooselocation", params={**AUTHORIZE, "deny": "1", "state": "s9"})
    assert r.status_code == 302
    back = urlsplit(r.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    assert parse_qs(back.query) == {
        "error": ["access_denied"],
        "error_description": ["The user denied access"],
        "state": ["s9"],
    }


def test_the_pages_links_pick_a_location_and_keep_the_request(http: httpx.Client) -> None:
    """Following the page's link (relative to the page, on the simulator's own base URL) gives
    the redirect with a code bound to the request's PKCE challenge, and echoes the state."""
    params = {**AUTHORIZE, "state": "s7", "code_challenge": CHALLENGE}
    params["code_challenge_method"] = "S256"
    page = http.get("/v2/oauth/chooselocation", params=params)
    links = {
        html.unescape(text): html.unescape(href)
        for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', page.text)
    }
    assert sorted(links) == ["Agency (Company) install", "Cancel", "locA", "locB"]
    assert all(link.startswith("/v2/oauth/chooselocation?") for link in links.values())
    r = http.get(urljoin(str(page.url), links["locB"]))
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == ["s7"]
    code = query["code"][0]
    assert _token(http, grant_type="authorization_code", code=code).status_code == 400
    body = _token(http, grant_type="authorization_code", code=code, code_verifier=VERIFIER).json()
    assert body["locationId"] == "locB"

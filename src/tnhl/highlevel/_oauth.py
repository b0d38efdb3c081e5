"""HighLevel's OAuth 2.0 authorization-code flow: `OAuthApp` talks to the token endpoints.

Facts from the official spec `apps/oauth.json` and docs `docs/oauth/Authorization.md`
(GoHighLevel/highlevel-api-docs), summarised in highlevel-api.md section 6:

- authorize at `https://marketplace.gohighlevel.com/v2/oauth/chooselocation` (white-label host
  `marketplace.leadconnectorhq.com`) with `response_type=code`, `client_id`, `redirect_uri` and
  space-separated `scope`; any other API base (`tnhl simulate`, a proxy) serves that page
  itself at `<base>/v2/oauth/chooselocation`;
- `POST /oauth/token`, form-encoded `client_id`, `client_secret`, `grant_type`
  (`authorization_code` | `refresh_token`), `code` or `refresh_token`, `user_type`,
  `redirect_uri`; it answers `access_token`, `refresh_token`, `expires_in`, `scope`, `userType`,
  `locationId`, `companyId`, `userId`;
- `POST /oauth/locationToken` (agency bearer token, `Version: 2021-07-28`), form-encoded
  `companyId`, `locationId`; it answers a location `access_token` and no refresh token.

Neither `state` nor PKCE (RFC 7636) is in HighLevel's docs. Integrations rely on `state`
coming back on the redirect; `code_challenge` (S256) rides along on the authorize URL and
`code_verifier` on the code exchange. Should the token endpoint refuse that unknown field
(class-validator's 422 "property code_verifier should not exist"), the exchange is sent once
more without it: validation runs before the code is spent.

Errors become `AuthError` carrying HighLevel's own message and status; the client secret, codes
and tokens never appear in them (the answers are read in `_oauth_answers`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode

import httpx
from pydantic import SecretStr

from ._auth import normalise_scopes
from ._clock import Clock, SystemClock
from ._core import DEFAULT_BASE_URL
from ._errors import AuthError, ConfigurationError
from ._oauth_answers import (
    error_text,
    json_body,
    location_defaults,
    read_tokens,
    refuses_verifier,
    scrub,
)
from ._tokens import TokenSet

__all__ = [
    "API_VERSION",
    "AUTHORIZE_URL",
    "WHITE_LABEL_AUTHORIZE_URL",
    "OAuthApp",
    "code_challenge",
    "pkce_pair",
]

AUTHORIZE_URL = "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"
WHITE_LABEL_AUTHORIZE_URL = "https://marketplace.leadconnectorhq.com/v2/oauth/chooselocation"
CHOOSE_LOCATION_PATH = "/v2/oauth/chooselocation"
API_VERSION = "2021-07-28"
_USER_TYPES = ("Location", "Company")
_ACCEPT = {"Accept": "application/json"}


def _require(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(field, "must be a non-empty string")
    return value


def _secret(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def code_challenge(verifier: str) -> str:
    """The S256 `code_challenge` of a PKCE `code_verifier` (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE (`code_verifier`, S256 `code_challenge`): 43 characters of 32 random bytes."""
    verifier = secrets.token_urlsafe(32)
    return verifier, code_challenge(verifier)


class OAuthApp:
    """A HighLevel marketplace app: builds the authorize URL and calls the token endpoints."""

    def __init__(
        self,
        client_id: str,
        client_secret: str | SecretStr,
        *,
        redirect_uri: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        marketplace_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.client_id = _require(client_id, "client_id")
        secret = _secret(client_secret)
        _require(secret, "client_secret")
        self._client_secret = SecretStr(secret)
        if redirect_uri is not None:
            _require(redirect_uri, "redirect_uri")
        self.redirect_uri = redirect_uri
        self.base_url = _require(base_url, "base_url").rstrip("/")
        # Where the chooselocation page is: HighLevel's marketplace for HighLevel's API, else
        # the API's own host (`tnhl simulate` serves the page beside its token endpoint).
        if marketplace_url is not None:
            _require(marketplace_url, "marketplace_url")
        self.marketplace_url = marketplace_url.rstrip("/") if marketplace_url else None
        self._transport = transport
        self._async_transport = async_transport
        self.clock: Clock = clock or SystemClock()
        self._timeout = timeout

    def __repr__(self) -> str:
        return (
            f"OAuthApp(client_id={self.client_id!r}, client_secret='***', "
            f"redirect_uri={self.redirect_uri!r}, base_url={self.base_url!r})"
        )

    __str__ = __repr__

    # -- the browser step -------------------------------------------------------------------

    def authorize_url(
        self,
        scopes: Iterable[str] | str,
        *,
        white_label: bool = False,
        state: str | None = None,
        code_challenge: str | None = None,
    ) -> str:
        """The URL to send the installing user to; HighLevel redirects back with `?code=`.

        `state` comes back on the redirect (compare it); `code_challenge` is the S256 PKCE
        challenge (`pkce_pair()`), whose verifier goes to `exchange_code(code_verifier=)`.
        """
        wanted = normalise_scopes(scopes)
        if not wanted:
            raise ConfigurationError("scopes", "ask for at least one scope")
        params: dict[str, str] = {"response_type": "code", "client_id": self.client_id}
        if self.redirect_uri is not None:
            params["redirect_uri"] = self.redirect_uri
        params["scope"] = " ".join(sorted(wanted))
        if state is not None:
            params["state"] = state
        if code_challenge is not None:
            params["code_challenge"] = _require(code_challenge, "code_challenge")
            params["code_challenge_method"] = "S256"
        # quote (not quote_plus): scopes are separated by %20, as in HighLevel's examples.
        return f"{self._choose_location(white_label)}?{urlencode(params, quote_via=quote)}"

    def _choose_location(self, white_label: bool) -> str:
        if self.marketplace_url is not None:
            return f"{self.marketplace_url}{CHOOSE_LOCATION_PATH}"
        if self.base_url != DEFAULT_BASE_URL:
            return f"{self.base_url}{CHOOSE_LOCATION_PATH}"
        return WHITE_LABEL_AUTHORIZE_URL if white_label else AUTHORIZE_URL

    # -- token endpoint forms ---------------------------------------------------------------

    def _grant_form(self, grant_type: str, **fields: str | None) -> dict[str, str]:
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "grant_type": grant_type,
        }
        form.update({k: v for k, v in fields.items() if v is not None})
        return form

    def _code_form(self, code: str, user_type: str, code_verifier: str | None) -> dict[str, str]:
        _require(code, "code")
        if user_type not in _USER_TYPES:
            raise ConfigurationError(
                "user_type", f"must be one of {_USER_TYPES}, got {user_type!r}"
            )
        if code_verifier is not None:
            _require(code_verifier, "code_verifier")
        return self._grant_form(
            "authorization_code",
            code=code,
            user_type=user_type,
            redirect_uri=self.redirect_uri,
            code_verifier=code_verifier,
        )

    def _refresh_form(
        self, refresh_token: str | SecretStr, user_type: str | None
    ) -> dict[str, str]:
        token = _secret(refresh_token)
        _require(token, "refresh_token")
        if user_type is not None and user_type not in _USER_TYPES:
            raise ConfigurationError(
                "user_type", f"must be one of {_USER_TYPES}, got {user_type!r}"
            )
        return self._grant_form(
            "refresh_token",
            refresh_token=token,
            user_type=user_type,
            redirect_uri=self.redirect_uri,
        )

    @staticmethod
    def _location_request(
        agency_access_token: str | SecretStr, company_id: str, location_id: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        token = _secret(agency_access_token)
        _require(token, "agency_access_token")
        _require(company_id, "company_id")
        _require(location_id, "location_id")
        headers = {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }
        return headers, {"companyId": company_id, "locationId": location_id}

    # -- sync -------------------------------------------------------------------------------

    def exchange_code(
        self, code: str, *, user_type: str = "Location", code_verifier: str | None = None
    ) -> TokenSet:
        """Trade the `code` from the redirect for tokens (`grant_type=authorization_code`);
        `code_verifier` is the PKCE verifier whose challenge was on the authorize URL."""
        form = self._code_form(code, user_type, code_verifier)
        response = self._send("/oauth/token", form, None)
        if code_verifier is not None and refuses_verifier(response):
            form.pop("code_verifier")
            response = self._send("/oauth/token", form, None)
        return self._parse("/oauth/token", response, form, None, None)

    def refresh(self, refresh_token: str | SecretStr, *, user_type: str | None = None) -> TokenSet:
        """Trade a refresh token for new tokens; the old refresh token stops working."""
        return self._post("/oauth/token", self._refresh_form(refresh_token, user_type))

    def location_token(
        self, agency_access_token: str | SecretStr, company_id: str, location_id: str
    ) -> TokenSet:
        """Mint a location token from an agency token (`POST /oauth/locationToken`)."""
        token, error = self._mint(agency_access_token, company_id, location_id)
        if token is None:
            raise AuthError(error)
        return token

    def _mint(
        self, agency_access_token: str | SecretStr, company_id: str, location_id: str
    ) -> tuple[TokenSet | None, str]:
        """`location_token`, but a 401 (agency token refused) comes back as (None, message)."""
        headers, form = self._location_request(agency_access_token, company_id, location_id)
        response = self._send("/oauth/locationToken", form, headers)
        return self._minted(response, form, headers)

    def _post(self, path: str, form: Mapping[str, str]) -> TokenSet:
        return self._parse(path, self._send(path, form, None), form, None, None)

    def _send(
        self, path: str, form: Mapping[str, str], headers: Mapping[str, str] | None
    ) -> httpx.Response:
        try:
            with httpx.Client(
                base_url=self.base_url, transport=self._transport, timeout=self._timeout
            ) as client:
                return client.post(path, data=dict(form), headers=dict(headers or _ACCEPT))
        except httpx.HTTPError as exc:
            raise AuthError(
                f"POST {path}: could not reach HighLevel ({type(exc).__name__})"
            ) from None

    # -- async ------------------------------------------------------------------------------

    async def aexchange_code(
        self, code: str, *, user_type: str = "Location", code_verifier: str | None = None
    ) -> TokenSet:
        """`exchange_code` for asyncio."""
        form = self._code_form(code, user_type, code_verifier)
        response = await self._asend("/oauth/token", form, None)
        if code_verifier is not None and refuses_verifier(response):
            form.pop("code_verifier")
            response = await self._asend("/oauth/token", form, None)
        return self._parse("/oauth/token", response, form, None, None)

    async def arefresh(
        self, refresh_token: str | SecretStr, *, user_type: str | None = None
    ) -> TokenSet:
        """`refresh` for asyncio."""
        return await self._apost("/oauth/token", self._refresh_form(refresh_token, user_type))

    async def alocation_token(
        self, agency_access_token: str | SecretStr, company_id: str, location_id: str
    ) -> TokenSet:
        """`location_token` for asyncio."""
        token, error = await self._amint(agency_access_token, company_id, location_id)
        if token is None:
            raise AuthError(error)
        return token

    async def _amint(
        self, agency_access_token: str | SecretStr, company_id: str, location_id: str
    ) -> tuple[TokenSet | None, str]:
        headers, form = self._location_request(agency_access_token, company_id, location_id)
        response = await self._asend("/oauth/locationToken", form, headers)
        return self._minted(response, form, headers)

    async def _apost(self, path: str, form: Mapping[str, str]) -> TokenSet:
        return self._parse(path, await self._asend(path, form, None), form, None, None)

    async def _asend(
        self, path: str, form: Mapping[str, str], headers: Mapping[str, str] | None
    ) -> httpx.Response:
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, transport=self._async_transport, timeout=self._timeout
            ) as client:
                return await client.post(path, data=dict(form), headers=dict(headers or _ACCEPT))
        except httpx.HTTPError as exc:
            raise AuthError(
                f"POST {path}: could not reach HighLevel ({type(exc).__name__})"
            ) from None

    # -- responses --------------------------------------------------------------------------

    def _minted(
        self, response: httpx.Response, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[TokenSet | None, str]:
        path = "/oauth/locationToken"
        if response.status_code == 401:
            bearer = headers["Authorization"].removeprefix("Bearer ")
            text = scrub(f"POST {path} -> 401: {error_text(json_body(response))}", [bearer])
            return None, text
        return self._parse(path, response, form, headers, location_defaults(form)), ""

    def _parse(
        self,
        path: str,
        response: httpx.Response,
        form: Mapping[str, str],
        headers: Mapping[str, str] | None,
        defaults: Mapping[str, str] | None,
    ) -> TokenSet:
        """The answer read, every secret this request carried masked in an error."""
        bearer = (headers or {}).get("Authorization", "").removeprefix("Bearer ")
        secrets = [
            self._client_secret.get_secret_value(),
            form.get("code", ""),
            form.get("code_verifier", ""),
            form.get("refresh_token", ""),
            bearer,
        ]
        return read_tokens(path, response, secrets=secrets, clock=self.clock, defaults=defaults)

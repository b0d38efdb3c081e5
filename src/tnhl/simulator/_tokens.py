"""Who may call the simulator: Private Integration Tokens and OAuth tokens, with scopes.

HighLevel facts followed here (docs/highlevel-api.md §6-8): access tokens last a day
(`expires_in` 86399); refresh tokens are single-use and rotate, but a repeat refresh within 30 s
with the same refresh token gets the same new pair; an agency (Company) token mints Location
tokens; a token lacking the scope gets 401 "The token is not authorized for this scope."; a token
used against a location it does not cover gets 403 "The token does not have access to this
location.". The app id is the part of the client id before the first "-" (the official SDK
does the same), and rate limits are counted per app.

Tokens are opaque to the simulator's callers but shaped like JWTs, as HighLevel's are, so clients
that peek into them do not crash. Nothing here ever puts a token or secret into a message.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from tnhl.simulator._http import SimHTTPError

__all__ = [
    "ACCESS_TTL",
    "REFRESH_REUSE_WINDOW",
    "Principal",
    "TokenGrant",
    "TokenRegistry",
    "app_id_of",
]

ACCESS_TTL = 86399.0
REFRESH_TTL = 365 * 86400.0
# HighLevel changelog: concurrent refreshes within 30 s with the same refresh token get the same
# new token back, so two workers racing to refresh do not lock each other out.
REFRESH_REUSE_WINDOW = 30.0
CODE_TTL = 600.0
_PRUNE_AT = 10_000  # access tokens kept before expired ones are swept (long benchmark runs)

MSG_INVALID_JWT = "Invalid JWT"
MSG_INVALID_TOKEN = "Invalid token: access token is invalid"  # noqa: S105 (a message)
MSG_SCOPE = "The token is not authorized for this scope."
MSG_LOCATION = "The token does not have access to this location."
MSG_AUTH_CLASS = (
    "This authClass type is not allowed to access this scope. "
    "Please reach out to the Platform team to get it added."
)
MSG_CLIENT = "Invalid client: client credentials are invalid"
MSG_GRANT = "Invalid grant: {what} is invalid"

Kind = Literal["pit", "location", "company"]


@dataclass(frozen=True)
class Principal:
    """What a bearer token stands for; the API uses `app_id` + location for rate limits."""

    kind: Kind
    app_id: str
    location_id: str | None
    company_id: str | None
    scopes: frozenset[str]
    expires_at: float | None


@dataclass(frozen=True)
class TokenGrant:
    """One answer of the token endpoints."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int
    principal: Principal
    user_id: str

    def to_json(self, *, location_token: bool = False) -> dict[str, object]:
        p = self.principal
        body: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(sorted(p.scopes)),
            "userId": self.user_id,
        }
        if p.location_id is not None:
            body["locationId"] = p.location_id
        if location_token:
            body["appId"] = p.app_id
            return body
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        body["userType"] = "Location" if p.kind == "location" else "Company"
        if p.company_id is not None:
            body["companyId"] = p.company_id
        body["isBulkInstallation"] = False
        return body


def app_id_of(client_id: str) -> str:
    return client_id.split("-", 1)[0]


@dataclass
class _Client:
    secret: str = field(repr=False)
    company_id: str
    locations: frozenset[str]
    scopes: frozenset[str]


@dataclass
class _Code:
    client_id: str
    location_id: str | None
    scopes: frozenset[str]
    redirect_uri: str | None
    expires_at: float


@dataclass
class _Refresh:
    client_id: str
    location_id: str | None
    scopes: frozenset[str]
    expires_at: float
    used_at: float | None = None
    replacement: TokenGrant | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt_like(claims: dict[str, object]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class TokenRegistry:
    """Thread-safe store of clients, codes, access and refresh tokens and PITs."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pits: dict[str, Principal] = {}
        self._access: dict[str, Principal] = {}
        self._clients: dict[str, _Client] = {}
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}

    def __repr__(self) -> str:
        return f"<TokenRegistry clients={len(self._clients)} pits={len(self._pits)}>"

    # -- configuration ------------------------------------------------------------------------

    def add_pit(
        self,
        token: str,
        *,
        location_id: str,
        scopes: Iterable[str] = ("contacts.readonly", "contacts.write"),
        app_id: str = "pit",
    ) -> None:
        """Accept `token` as a Sub-Account Private Integration Token (never expires)."""
        if not token:
            raise ValueError("token: must not be empty")
        if not location_id:
            raise ValueError("location_id: must not be empty")
        principal = Principal("pit", app_id, location_id, None, frozenset(scopes), None)
        with self._lock:
            self._pits[token] = principal

    def revoke_pit(self, token: str) -> None:
        """Stop accepting `token` (as HighLevel does when a PIT is deleted): 401 from now on."""
        with self._lock:
            self._pits.pop(token, None)

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        company_id: str,
        locations: Iterable[str],
        scopes: Iterable[str],
    ) -> None:
        """Register a marketplace app installed in `company_id` at `locations`."""
        if not client_id or not client_secret:
            raise ValueError("client_id/client_secret: must not be empty")
        client = _Client(client_secret, company_id, frozenset(locations), frozenset(scopes))
        with self._lock:
            self._clients[client_id] = client

    def client_locations(self, client_id: str) -> list[str] | None:
        """The locations a client is installed at, or None for an unknown client."""
        with self._lock:
            client = self._clients.get(client_id)
            return None if client is None else sorted(client.locations)

    def issue_code(
        self,
        client_id: str,
        location_id: str | None,
        *,
        scopes: Iterable[str] | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """An authorization code, as the chooselocation page hands out (None: agency install)."""
        with self._lock:
            client = self._clients.get(client_id)
            if client is None:
                raise SimHTTPError(400, "client_id: unknown client")
            if location_id is not None and location_id not in client.locations:
                raise SimHTTPError(400, "location_id: the app is not installed at this location")
            granted = client.scopes if scopes is None else frozenset(scopes) & client.scopes
            code = secrets.token_hex(20)
            self._codes[code] = _Code(
                client_id, location_id, granted, redirect_uri, self._clock() + CODE_TTL
            )
            return code

    # -- grants -------------------------------------------------------------------------------

    def _client(self, client_id: str, client_secret: str) -> _Client:
        client = self._clients.get(client_id)
        if client is None or not _same(client.secret, client_secret):
            raise SimHTTPError(401, MSG_CLIENT)
        return client

    def _mint(
        self,
        client_id: str,
        client: _Client,
        location_id: str | None,
        scopes: frozenset[str],
        ttl: float,
        *,
        with_refresh: bool,
    ) -> TokenGrant:
        now = self._clock()
        kind: Kind = "company" if location_id is None else "location"
        principal = Principal(
            kind, app_id_of(client_id), location_id, client.company_id, scopes, now + ttl
        )
        claims: dict[str, object] = {
            "authClass": "Company" if kind == "company" else "Location",
            "authClassId": location_id or client.company_id,
            "oauthMeta": {"scopes": sorted(scopes), "client": app_id_of(client_id)},
            "iat": int(now),
            "exp": int(now + ttl),
        }
        access = _jwt_like(claims)
        if len(self._access) >= _PRUNE_AT:
            self._prune(now)
        self._access[access] = principal
        refresh: str | None = None
        if with_refresh:
            refresh = _jwt_like({**claims, "exp": int(now + REFRESH_TTL), "refresh": True})
            self._refresh[refresh] = _Refresh(client_id, location_id, scopes, now + REFRESH_TTL)
        return TokenGrant(access, refresh, int(ttl), principal, f"user-{client.company_id}")

    def _prune(self, now: float) -> None:
        # Tokens expired for over a day go; recently expired ones stay so that callers still
        # get "access token is invalid" (expired) rather than "Invalid JWT" (unknown).
        horizon = now - ACCESS_TTL
        for token in [t for t, p in self._access.items() if (p.expires_at or now) <= horizon]:
            del self._access[token]
        for token in [t for t, r in self._refresh.items() if r.expires_at <= now]:
            del self._refresh[token]
        for code in [c for c, e in self._codes.items() if e.expires_at <= now]:
            del self._codes[code]

    def exchange_code(
        self,
        client_id: str,
        client_secret: str,
        code: str,
        *,
        redirect_uri: str | None = None,
        user_type: str | None = None,
        access_ttl: float = ACCESS_TTL,
    ) -> TokenGrant:
        """grant_type=authorization_code: a code is single-use and short-lived."""
        with self._lock:
            client = self._client(client_id, client_secret)
            entry = self._codes.pop(code, None)
            if entry is None or entry.client_id != client_id or entry.expires_at <= self._clock():
                raise SimHTTPError(400, MSG_GRANT.format(what="authorization code"))
            if entry.redirect_uri is not None and redirect_uri not in (None, entry.redirect_uri):
                raise SimHTTPError(400, "redirect_uri: does not match the authorization request")
            location = entry.location_id
            if user_type == "Company":
                location = None
            elif user_type == "Location" and location is None:
                raise SimHTTPError(400, "user_type: Location needs a code issued for a location")
            return self._mint(
                client_id, client, location, entry.scopes, access_ttl, with_refresh=True
            )

    def refresh(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        access_ttl: float = ACCESS_TTL,
    ) -> TokenGrant:
        """grant_type=refresh_token with rotation: the old refresh token stops working."""
        with self._lock:
            client = self._client(client_id, client_secret)
            now = self._clock()
            entry = self._refresh.get(refresh_token)
            invalid = SimHTTPError(400, MSG_GRANT.format(what="refresh token"))
            if entry is None or entry.client_id != client_id or entry.expires_at <= now:
                raise invalid
            if entry.used_at is not None:
                if now - entry.used_at <= REFRESH_REUSE_WINDOW and entry.replacement is not None:
                    return entry.replacement
                raise invalid
            grant = self._mint(
                client_id, client, entry.location_id, entry.scopes, access_ttl, with_refresh=True
            )
            entry.used_at = now
            entry.replacement = grant
            return grant

    def client_credentials(
        self, client_id: str, client_secret: str, *, access_ttl: float = ACCESS_TTL
    ) -> TokenGrant:
        """grant_type=client_credentials: an agency token for the client's company."""
        with self._lock:
            client = self._client(client_id, client_secret)
            return self._mint(
                client_id, client, None, client.scopes, access_ttl, with_refresh=False
            )

    def location_token(
        self,
        agency: Principal,
        company_id: str,
        location_id: str,
        *,
        access_ttl: float = ACCESS_TTL,
    ) -> TokenGrant:
        """POST /oauth/locationToken: an agency token mints a Location token (no refresh)."""
        if agency.kind != "company":
            raise SimHTTPError(401, MSG_AUTH_CLASS)
        with self._lock:
            if company_id != agency.company_id:
                raise SimHTTPError(403, "The token does not have access to this company.")
            for client_id, client in self._clients.items():
                if app_id_of(client_id) == agency.app_id and client.company_id == company_id:
                    break
            else:
                raise SimHTTPError(401, MSG_INVALID_TOKEN)
            if location_id not in client.locations:
                raise SimHTTPError(400, "locationId: the app is not installed at this location")
            scopes = agency.scopes - {"oauth.write", "oauth.readonly"}
            return self._mint(
                client_id, client, location_id, scopes, access_ttl, with_refresh=False
            )

    # -- checking calls -----------------------------------------------------------------------

    def authorize(
        self, authorization: str | None, *, scope: str | None, location_id: str | None
    ) -> Principal:
        """The principal behind an `Authorization` header, or the SimHTTPError HighLevel gives."""
        if not authorization:
            raise SimHTTPError(401, MSG_INVALID_JWT)
        kind, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if kind.lower() != "bearer" or not token:
            raise SimHTTPError(401, MSG_INVALID_JWT)
        with self._lock:
            principal = self._pits.get(token) or self._access.get(token)
        if principal is None:
            raise SimHTTPError(401, MSG_INVALID_JWT)
        if principal.expires_at is not None and principal.expires_at <= self._clock():
            raise SimHTTPError(401, MSG_INVALID_TOKEN)
        if scope is not None and scope not in principal.scopes:
            raise SimHTTPError(401, MSG_SCOPE)
        if location_id is not None:
            if principal.kind == "company":
                raise SimHTTPError(401, MSG_AUTH_CLASS)
            if principal.location_id != location_id:
                raise SimHTTPError(403, MSG_LOCATION)
        return principal

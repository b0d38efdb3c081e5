"""What HighLevel's token endpoints answer, read: a `TokenSet`, or an `AuthError` with
HighLevel's own message and status, any secret it echoes masked.

`POST /oauth/token` answers `access_token`, `refresh_token`, `expires_in`, `scope`, `userType`,
`locationId`, `companyId`, `userId`; `POST /oauth/locationToken` answers a location
`access_token` and no refresh token (its `userType`, `companyId` and `locationId` come from the
request). Errors are `{statusCode, message, error}`, `message` sometimes a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from ._auth import normalise_scopes
from ._clock import Clock
from ._errors import AuthError
from ._tokens import TokenSet

__all__ = [
    "error_text",
    "json_body",
    "location_defaults",
    "read_tokens",
    "refuses_verifier",
    "scrub",
]

# "Access tokens are valid for a day" (docs/oauth/Authorization.md); the spec's example is 86399.
_DEFAULT_EXPIRES_IN = 86_399.0


def read_tokens(
    path: str,
    response: httpx.Response,
    *,
    secrets: Iterable[str],
    clock: Clock,
    defaults: Mapping[str, str] | None,
) -> TokenSet:
    """The tokens of a 2xx answer of `POST path` (`defaults` fill fields it leaves out), or
    `AuthError` naming the status and HighLevel's message with `secrets` masked."""
    body = json_body(response)
    if response.status_code >= 400:
        raise AuthError(
            scrub(f"POST {path} -> {response.status_code}: {error_text(body)}", secrets)
        )
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise AuthError(f"POST {path} -> {response.status_code}: no access_token in the answer")
    merged: dict[str, Any] = {**(defaults or {}), **body}
    expires_in = merged.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else _DEFAULT_EXPIRES_IN
    refresh = merged.get("refresh_token")
    return TokenSet(
        access_token=SecretStr(merged["access_token"]),
        refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
        expires_at=clock.time() + lifetime,
        scopes=normalise_scopes(merged.get("scope") or "", field="scope"),
        user_type=_str_or_none(merged.get("userType")),
        location_id=_str_or_none(merged.get("locationId")),
        company_id=_str_or_none(merged.get("companyId")),
        user_id=_str_or_none(merged.get("userId")),
    )


def refuses_verifier(response: httpx.Response) -> bool:
    """A 422 from a token endpoint that validates its form strictly and knows no PKCE."""
    return response.status_code == 422 and "code_verifier" in error_text(json_body(response))


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def location_defaults(form: Mapping[str, str]) -> dict[str, str]:
    # The locationToken answer has neither userType nor companyId; we know both.
    return {
        "userType": "Location",
        "companyId": form["companyId"],
        "locationId": form["locationId"],
    }


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def error_text(body: object) -> str:
    """HighLevel's `{statusCode, message, error}` (message may be a list) as one line."""
    if isinstance(body, dict):
        message = body.get("message") or body.get("error_description") or body.get("error")
        if isinstance(message, list):
            return "; ".join(str(m) for m in message)
        if message:
            return str(message)
    return "no error message"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Mask any secret HighLevel might echo back (a code or token inside its message)."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text

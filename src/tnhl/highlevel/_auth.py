"""How the client gets a bearer token: the `Auth` protocol and static Private Integration Tokens.

OAuth implementations (`OAuthAuth`, `LocationTokenAuth`) live in `_oauth_auth.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ._errors import ConfigurationError

__all__ = ["Auth", "PrivateIntegrationToken", "normalise_scopes"]


@runtime_checkable
class Auth(Protocol):
    """A source of bearer tokens for one location (or company)."""

    @property
    def location_id(self) -> str | None:
        """The location these tokens act on (the client's rate-limit key), if known."""
        ...

    @property
    def scopes(self) -> frozenset[str] | None:
        """The scopes the token carries; None means unknown, so the client does not pre-check."""
        ...

    def get_token(self) -> str:
        """A token valid for the next request (refreshing it first if it is about to expire)."""
        ...

    async def aget_token(self) -> str:
        """`get_token` for asyncio."""
        ...

    def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        """A new token after HighLevel answered 401 to `rejected_token`; None if none can be had."""
        ...

    async def arefresh_after_unauthorized(self, rejected_token: str) -> str | None:
        """`refresh_after_unauthorized` for asyncio."""
        ...


def normalise_scopes(scopes: Iterable[str] | str | None, field: str = "scopes") -> frozenset[str]:
    """Scopes from an iterable or a space-separated string; rejects blanks with a clear error."""
    if scopes is None:
        return frozenset()
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    for item in items:
        if not isinstance(item, str) or not item.strip() or any(c.isspace() for c in item):
            raise ConfigurationError(field, f"each scope must be a non-blank word, got {item!r}")
    return frozenset(items)


class PrivateIntegrationToken:
    """A static Private Integration Token (`pit-...`): never expires, cannot be refreshed.

    PITs are "static/fixed OAuth2 Access Tokens" created under Settings > Private Integrations
    (https://marketplace.gohighlevel.com/docs/Authorization/PrivateIntegrationsToken/index.html).
    Pass `scopes` if you know them so the client can refuse an out-of-scope call before sending.
    """

    def __init__(
        self,
        token: str,
        *,
        scopes: Iterable[str] | None = None,
        location_id: str | None = None,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError("token", "must be a non-empty string")
        if token != token.strip() or any(c.isspace() for c in token):
            # A pasted token with a newline would make an invalid header; never echo it.
            raise ConfigurationError("token", "must not contain whitespace")
        if location_id is not None and not location_id.strip():
            raise ConfigurationError("location_id", "must be a non-empty string or None")
        self._token = token
        self._scopes = normalise_scopes(scopes) if scopes is not None else None
        self._location_id = location_id

    @property
    def location_id(self) -> str | None:
        return self._location_id

    @property
    def scopes(self) -> frozenset[str] | None:
        return self._scopes

    def get_token(self) -> str:
        return self._token

    async def aget_token(self) -> str:
        return self._token

    def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        return None  # a static token cannot be renewed; the caller reports the 401

    async def arefresh_after_unauthorized(self, rejected_token: str) -> str | None:
        return None

    def __repr__(self) -> str:
        scopes = sorted(self._scopes) if self._scopes is not None else None
        return (
            f"PrivateIntegrationToken(token='***', location_id={self._location_id!r}, "
            f"scopes={scopes!r})"
        )

    __str__ = __repr__

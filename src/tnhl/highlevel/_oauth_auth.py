"""OAuth-backed `Auth`: tokens that renew themselves, one renewal at a time.

- `OAuthAuth` keeps a location's (or company's) grant in a `TokenStore`, refreshes it when fewer
  than `refresh_margin` seconds remain (the official SDK uses 30 s) and once after a 401.
- `LocationTokenAuth` mints location tokens from an agency (Company) `Auth` with
  `POST /oauth/locationToken`; those come without a refresh token, so it mints again instead.

Single flight: however many threads and asyncio tasks (in any event loops) find the token
stale at once, exactly one renewal request is sent; the rest wait for its outcome. The renewed
`TokenSet` is saved to the store *before* anyone is handed the new access token: refresh tokens
are single-use, so a new pair that was used but never stored would lock us out.

Do not call the sync methods from inside an event loop while an async renewal runs on that
same loop: the sync caller would block the loop the renewal needs (use the async methods there).

Across processes sharing one store there is no lock; HighLevel answers concurrent refreshes
with the same refresh token within 30 s with the same new tokens (highlevel-api.md section 6),
and a process whose refresh fails reloads the store on the next 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from ._auth import Auth
from ._clock import Clock
from ._errors import AuthError, ConfigurationError
from ._oauth import OAuthApp
from ._tokens import MemoryTokenStore, TokenSet, TokenStore

__all__ = ["LocationTokenAuth", "OAuthAuth"]


class _Flight:
    """One renewal in progress; followers in threads or event loops wait for its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._done = False
        self._result: TokenSet | None = None
        self._error: str | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def finish(self, result: TokenSet | None, error: str | None) -> None:
        """Publish the outcome; (None, None) means "abandoned": followers should try again."""
        with self._lock:
            self._result, self._error, self._done = result, error, True
            waiters, self._waiters = self._waiters, []
        self._event.set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_wake, future)

    def outcome(self) -> TokenSet | None:
        if self._error is not None:
            # A fresh error per follower: one exception object raised in many threads would
            # collect all their tracebacks.
            raise AuthError(self._error)
        return self._result

    def wait(self) -> TokenSet | None:
        self._event.wait()
        return self.outcome()

    async def await_outcome(self) -> TokenSet | None:
        loop = asyncio.get_running_loop()
        with self._lock:
            future: asyncio.Future[None] | None = None
            if not self._done:
                future = loop.create_future()
                self._waiters.append((loop, future))
        if future is not None:
            await future
        return self.outcome()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _RenewingAuth:
    """The single-flight machinery shared by OAuthAuth and LocationTokenAuth."""

    def __init__(self, store: TokenStore, key: str, clock: Clock, refresh_margin: float) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError("key", "must be a non-empty string")
        if refresh_margin < 0:
            raise ConfigurationError("refresh_margin", f"must be >= 0, got {refresh_margin!r}")
        self._store = store
        self._key = key
        self._clock = clock
        self._margin = refresh_margin
        self._lock = threading.Lock()
        self._flight: _Flight | None = None
        self._cached: TokenSet | None = None

    # Hooks for subclasses: send the renewal request AND save its result, then return it.
    def _renew(self, current: TokenSet | None) -> TokenSet:
        raise NotImplementedError

    async def _arenew(self, current: TokenSet | None) -> TokenSet:
        raise NotImplementedError

    def _can_renew(self, current: TokenSet | None) -> bool:
        return True

    # -- what the client sees ----------------------------------------------------------------

    @property
    def tokens(self) -> TokenSet | None:
        """The current TokenSet (secrets masked in its repr), loaded from the store if needed."""
        with self._lock:
            return self._load()

    @property
    def scopes(self) -> frozenset[str] | None:
        current = self.tokens
        return current.scopes if current is not None and current.scopes else None

    def get_token(self) -> str:
        return self._sync(rejected=None)

    async def aget_token(self) -> str:
        return await self._async(rejected=None)

    def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        if not self._can_renew(self._reload()):
            return None
        return self._sync(rejected=rejected_token)

    async def arefresh_after_unauthorized(self, rejected_token: str) -> str | None:
        if not self._can_renew(self._reload()):
            return None
        return await self._async(rejected=rejected_token)

    # -- single flight -------------------------------------------------------------------------

    def _load(self) -> TokenSet | None:
        if self._cached is None:
            self._cached = self._store.load(self._key)
        return self._cached

    def _reload(self) -> TokenSet | None:
        with self._lock:
            self._cached = self._store.load(self._key)
            return self._cached

    def _usable(self, current: TokenSet | None, rejected: str | None) -> str | None:
        if current is None or current.expires_at - self._clock.time() < self._margin:
            return None
        token = current.access_token.get_secret_value()
        return None if token == rejected else token

    def _plan(
        self, rejected: str | None
    ) -> tuple[str | None, _Flight | None, bool, TokenSet | None]:
        """Under the lock: (a usable token) or (a flight to join) or (a new flight to lead)."""
        with self._lock:
            token = self._usable(self._load(), rejected)
            if token is not None:
                return token, None, False, None
            # Stale or rejected in our cache: another process (or a restart) may have renewed.
            self._cached = self._store.load(self._key)
            token = self._usable(self._cached, rejected)
            if token is not None:
                return token, None, False, None
            if self._flight is not None:
                return None, self._flight, False, None
            self._flight = _Flight()
            return None, self._flight, True, self._cached

    def _land(self, flight: _Flight, result: TokenSet | None, error: str | None) -> None:
        with self._lock:
            if result is not None:
                self._cached = result
            if self._flight is flight:
                self._flight = None
        flight.finish(result, error)

    def _abort(self, flight: _Flight, exc: BaseException) -> None:
        if isinstance(exc, AuthError):
            self._land(flight, None, str(exc))
        elif isinstance(exc, Exception):
            # e.g. the store could not save: followers must not each try again with a refresh
            # token that may already be spent, so they fail too.
            self._land(flight, None, f"token renewal failed ({type(exc).__name__})")
        else:  # cancelled or interrupted, not refused: a follower may lead instead
            self._land(flight, None, None)

    def _sync(self, rejected: str | None) -> str:
        while True:
            token, flight, lead, current = self._plan(rejected)
            if token is not None:
                return token
            assert flight is not None
            if lead:
                try:
                    result = self._renew(current)
                except BaseException as exc:
                    self._abort(flight, exc)
                    raise
                self._land(flight, result, None)
                return result.access_token.get_secret_value()
            renewed = flight.wait()
            if renewed is not None:
                return renewed.access_token.get_secret_value()
            # The leader was interrupted (not refused): go round and maybe lead ourselves.

    async def _async(self, rejected: str | None) -> str:
        while True:
            token, flight, lead, current = self._plan(rejected)
            if token is not None:
                return token
            assert flight is not None
            if lead:
                try:
                    result = await self._arenew(current)
                except BaseException as exc:
                    self._abort(flight, exc)
                    raise
                self._land(flight, result, None)
                return result.access_token.get_secret_value()
            renewed = await flight.await_outcome()
            if renewed is not None:
                return renewed.access_token.get_secret_value()

    def _describe(self, **fields: Any) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"{type(self).__name__}({inner})"


class OAuthAuth(_RenewingAuth):
    """An OAuth grant kept in `store` under `key`, refreshed before expiry and after a 401."""

    def __init__(
        self,
        app: OAuthApp,
        store: TokenStore,
        key: str,
        *,
        clock: Clock | None = None,
        refresh_margin: float = 30.0,
    ) -> None:
        super().__init__(store, key, clock or app.clock, refresh_margin)
        self._app = app

    @property
    def app(self) -> OAuthApp:
        """The OAuth app these tokens belong to (e.g. to build a LocationTokenAuth)."""
        return self._app

    @property
    def location_id(self) -> str | None:
        current = self.tokens
        return current.location_id if current is not None else None

    def _can_renew(self, current: TokenSet | None) -> bool:
        return current is not None and current.refresh_token is not None

    def _refresh_token(self, current: TokenSet | None) -> str:
        if current is None:
            raise AuthError(
                f"no OAuth tokens stored under {self._key!r}: complete the authorization first"
            )
        if current.refresh_token is None:
            raise AuthError(
                f"the token stored under {self._key!r} expired and has no refresh token"
            )
        return current.refresh_token.get_secret_value()

    def _keep(self, current: TokenSet | None, new: TokenSet) -> TokenSet:
        # The refresh answer may omit ids the original grant had; keep what we knew.
        if current is not None:
            fill = {
                name: getattr(current, name)
                for name in ("refresh_token", "location_id", "company_id", "user_id", "user_type")
                if getattr(new, name) is None
            }
            if not new.scopes and current.scopes:
                fill["scopes"] = current.scopes
            new = new.model_copy(update=fill)
        self._store.save(self._key, new)  # before anyone sees the new access token
        return new

    def _renew(self, current: TokenSet | None) -> TokenSet:
        refresh_token = self._refresh_token(current)
        user_type = current.user_type if current is not None else None
        return self._keep(current, self._app.refresh(refresh_token, user_type=user_type))

    async def _arenew(self, current: TokenSet | None) -> TokenSet:
        refresh_token = self._refresh_token(current)
        user_type = current.user_type if current is not None else None
        return self._keep(current, await self._app.arefresh(refresh_token, user_type=user_type))

    def __repr__(self) -> str:
        return self._describe(app=self._app, key=self._key)

    __str__ = __repr__


class LocationTokenAuth(_RenewingAuth):
    """Location tokens minted from an agency `Auth`; minted again when they near expiry."""

    def __init__(
        self,
        app: OAuthApp,
        agency_auth: Auth,
        company_id: str,
        location_id: str,
        *,
        store: TokenStore | None = None,
        key: str | None = None,
        clock: Clock | None = None,
        refresh_margin: float = 30.0,
    ) -> None:
        for name, value in (("company_id", company_id), ("location_id", location_id)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(name, "must be a non-empty string")
        super().__init__(
            store if store is not None else MemoryTokenStore(),
            key or f"location-token:{location_id}",
            clock or app.clock,
            refresh_margin,
        )
        self._app = app
        self._agency = agency_auth
        self._company_id = company_id
        self._location_id = location_id

    @property
    def location_id(self) -> str | None:
        return self._location_id

    def _renew(self, current: TokenSet | None) -> TokenSet:
        agency_token = self._agency.get_token()
        minted, refused = self._app._mint(agency_token, self._company_id, self._location_id)
        if minted is None:  # the agency token was refused: renew it once, then mint again
            retry = self._agency.refresh_after_unauthorized(agency_token)
            if retry is None:
                raise AuthError(f"{refused} (the agency token cannot be refreshed)")
            minted = self._app.location_token(retry, self._company_id, self._location_id)
        self._store.save(self._key, minted)
        return minted

    async def _arenew(self, current: TokenSet | None) -> TokenSet:
        agency_token = await self._agency.aget_token()
        minted, refused = await self._app._amint(agency_token, self._company_id, self._location_id)
        if minted is None:
            retry = await self._agency.arefresh_after_unauthorized(agency_token)
            if retry is None:
                raise AuthError(f"{refused} (the agency token cannot be refreshed)")
            minted = await self._app.alocation_token(retry, self._company_id, self._location_id)
        self._store.save(self._key, minted)
        return minted

    def __repr__(self) -> str:
        return self._describe(
            app=self._app, company_id=self._company_id, location_id=self._location_id
        )

    __str__ = __repr__

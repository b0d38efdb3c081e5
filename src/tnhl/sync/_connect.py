"""Each connection's parts: its HighLevel client and mapping (a `Route` the executor runs its
records with) and its TalkNotes intake route. Nothing is shared between connections but the
rate limiter, whose windows are kept per location."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import cast

import httpx
from pydantic import SecretStr

from tnhl.highlevel import (
    Auth,
    EncryptedFileTokenStore,
    ExchangeObserver,
    HighLevelClient,
    LimiterState,
    MemoryLimiterState,
    OAuthApp,
    OAuthAuth,
    PrivateIntegrationToken,
    RateLimiter,
    RedisLimiterState,
    RetryPolicy,
    SqliteLimiterState,
)
from tnhl.mapping import MappingConfig, load_mapping
from tnhl.sync._calls import Route
from tnhl.sync._connections import ConnectionSettings
from tnhl.sync._delta import door_check
from tnhl.sync._errors import SettingsError
from tnhl.sync._pacing import PacedLimiter
from tnhl.sync._readback import CallFn
from tnhl.sync._reconcile import patient
from tnhl.sync._settings import Settings
from tnhl.talknotes import TalkNotesOut, WebhookOut
from tnhl.webhooks import TalkNotesRoute

__all__ = [
    "check_secrets",
    "connection_call",
    "highlevel_routes",
    "limiter_state",
    "talknotes_outs",
    "talknotes_routes",
]


def _auth(settings: Settings, base_url: str, token: SecretStr | None, location: str) -> Auth:
    """A Private Integration Token, or the location's stored OAuth tokens (refreshed, rotated
    and saved back by OAuthAuth)."""
    if token is not None and token.get_secret_value():
        return PrivateIntegrationToken(token.get_secret_value(), location_id=location)
    client_id, client_secret, token_file, key = settings.oauth_files()
    app = OAuthApp(client_id, client_secret, base_url=base_url, timeout=settings.http_timeout)
    return OAuthAuth(app, EncryptedFileTokenStore(token_file, key), location)


def _credentials(settings: Settings, conn: ConnectionSettings) -> tuple[str, SecretStr | None]:
    """Base URL and PIT (None: the location's OAuth tokens) of a connection, or a
    SettingsError naming the missing one."""
    if not settings.connections:  # the single-location settings: their own messages
        base_url, token, _ = settings.require_highlevel()
        return base_url, token
    if not settings.highlevel_base_url:
        settings.require_highlevel()  # raises, naming highlevel_base_url
    assert settings.highlevel_base_url is not None
    if conn.highlevel_token is not None and conn.highlevel_token.get_secret_value():
        return settings.highlevel_base_url, conn.highlevel_token
    if settings.oauth_client_id or settings.token_file is not None:
        settings.oauth_files()
        return settings.highlevel_base_url, None
    raise SettingsError(
        f"connections[{conn.name}].highlevel_token",
        "not set (a Private Integration Token of that sub-account; or set oauth_client_id, "
        "oauth_client_secret, token_file and token_file_key for its stored OAuth tokens)",
    )


def limiter_state(settings: Settings) -> LimiterState:
    """In memory by default (one process: `tnhl run`); shared when several processes pace
    the same locations (`tnhl worker`s): SQLite on one machine, Redis across machines."""
    where = settings.rate_limit_state
    if where is None or where == "memory":
        return MemoryLimiterState()
    if where == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteLimiterState(settings.data_dir / "ratelimit.db")
    if where.startswith(("redis://", "rediss://")):
        import redis

        return RedisLimiterState(redis.Redis.from_url(where))
    raise SettingsError("rate_limit_state", "must be memory, sqlite or a redis:// URL")


def talknotes_outs(
    connections: list[ConnectionSettings], timeout: float
) -> dict[str, TalkNotesOut]:
    """Each connection with an outbound URL: where its HighLevel changes are delivered."""
    outs: dict[str, TalkNotesOut] = {}
    for c in connections:
        target = c.outbound()
        if target is not None:
            outs[c.location_id] = WebhookOut(target[0], target[1], timeout=timeout)
    return outs


def _zoned(mapping: MappingConfig, zone: str | None) -> MappingConfig:
    """The connection's time zone, when it has one, is the zone of its dates without an
    offset (over the mapping file's `tasks.due.timezone`: one mapping file may serve
    sub-accounts in several zones)."""
    if zone is None:
        return mapping
    due = mapping.tasks.due.model_copy(update={"timezone": zone})
    tasks = mapping.tasks.model_copy(update={"due": due})
    return mapping.model_copy(update={"tasks": tasks})


def highlevel_routes(
    settings: Settings,
    connections: list[ConnectionSettings],
    *,
    limiter: PacedLimiter,
    client_call: CallFn | None = None,
    mapping: MappingConfig | None = None,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
    on_exchange: ExchangeObserver | None = None,
) -> tuple[dict[str, Route], list[HighLevelClient]]:
    """location -> Route, and the clients to close. `client_call` and `mapping` replace every
    connection's (tests and benchmarks: one fake HighLevel); `on_exchange` hears each request
    the clients send."""
    routes: dict[str, Route] = {}
    clients: list[HighLevelClient] = []
    for conn in connections:
        conn_mapping = _zoned(
            mapping if mapping is not None else load_mapping(conn.mapping_file), conn.time_zone
        )
        # Its own recipes dict: a recipe switched for one connection stays off the others' (a
        # shared mapping is given in tests and benchmarks).
        conn_mapping = conn_mapping.model_copy(update={"recipes": dict(conn_mapping.recipes)})
        call = client_call
        if call is None:
            base_url, token = _credentials(settings, conn)
            client = HighLevelClient(
                _auth(settings, base_url, token, conn.location_id),
                base_url=base_url,
                transport=transport,
                # The client paces through the executor's slot (PacedLimiter is duck-typed
                # to the limiter the client expects), keyed by this connection's location.
                rate_limiter=cast(RateLimiter, limiter),
                rate_limit_key=conn.location_id,
                retry=retry,
                timeout=settings.http_timeout,
                random=rng,
                on_exchange=on_exchange,
            )
            clients.append(client)
            call = client.call
        routes[conn.location_id] = Route(call, conn_mapping)
    return routes, clients


def _secret(settings: Settings, conn: ConnectionSettings | None) -> SecretStr:
    if not settings.connections or conn is None:
        return settings.require_talknotes_secret()
    secret = conn.talknotes_secret
    if secret is None or not secret.get_secret_value():
        raise SettingsError(
            f"connections[{conn.name}].talknotes_secret",
            "not set (the whsec_... secret that connection's TalkNotes signs with)",
        )
    return secret


def check_secrets(settings: Settings) -> None:
    """Every connection's TalkNotes secret is set (intake needs them), or a SettingsError."""
    entries: list[ConnectionSettings | None] = list(settings.connections) or [None]
    for conn in entries:
        _secret(settings, conn)


def _key_opens(key_location: Callable[[str], str | None], location: str, key: str) -> bool:
    return key_location(key) == location


def talknotes_routes(
    settings: Settings,
    connections: list[ConnectionSettings],
    routes: dict[str, Route],
    key_location: Callable[[str], str | None] | None = None,
) -> tuple[TalkNotesRoute | None, dict[str, TalkNotesRoute]]:
    """The route of `POST /webhooks/talknotes` (one connection only) and of each
    `POST /webhooks/talknotes/{name}`; a connection without a secret is a SettingsError.
    `key_location` (the store's) opens each one's unsigned entry to its own API keys."""
    named: dict[str, TalkNotesRoute] = {}
    for conn in connections:
        secret = _secret(settings, conn)
        check = door_check(routes[conn.location_id].mapping)
        opens = None
        if key_location is not None:
            opens = partial(_key_opens, key_location, conn.location_id)
        named[conn.name] = TalkNotesRoute(
            secret.get_secret_value(), conn.location_id, check, key_opens=opens
        )
    plain = next(iter(named.values())) if len(named) == 1 else None
    return plain, named


def connection_call(
    settings: Settings, conn: ConnectionSettings
) -> tuple[CallFn, list[HighLevelClient]]:
    """One connection's HighLevel calls outside the workers (`tnhl backfill`): paced by a
    limiter of the settings' state (shared with a running `tnhl run` when that is SQLite or
    Redis), waiting for slots; and the clients to close."""
    limiter = RateLimiter(
        state=limiter_state(settings),
        burst=settings.rate_limit_burst,
        interval=settings.rate_limit_interval,
        margin=0.03 * settings.rate_limit_interval,
    )
    routes, clients = highlevel_routes(settings, [conn], limiter=PacedLimiter(limiter))
    return patient(routes[conn.location_id].call), clients

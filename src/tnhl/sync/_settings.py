"""Settings of the service: environment (TNHL_*), an optional YAML file, then defaults.

Precedence, highest first: explicit overrides (CLI flags), environment variables, the config
file (`--config` or TNHL_CONFIG), the defaults below. Secrets are `SecretStr`, so they never show
in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic_settings
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tnhl.highlevel import ConfigurationError, EncryptedFileTokenStore
from tnhl.sync._connections import (
    DEFAULT_CONNECTION,
    ConnectionSettings,
    check_connections,
    check_outbound_secret,
    check_url,
)
from tnhl.sync._errors import SettingsError
from tnhl.sync._settings_file import (
    OTHER_VARIABLES,
    Located,
    SettingsFile,
    YamlSource,
    check_names,
    in_environment,
    read_settings_file,
    suggest,
)
from tnhl.webhooks import HighLevelKeys

__all__ = ["OTHER_VARIABLES", "Settings", "load_settings"]


class Settings(BaseSettings):
    """Everything `tnhl run`, `status`, `dlq` and `demo` need."""

    model_config = SettingsConfigDict(
        env_prefix="TNHL_", extra="forbid", validate_default=True, populate_by_name=True
    )

    highlevel_base_url: str | None = None
    highlevel_token: SecretStr | None = None
    # OAuth instead of a Private Integration Token: the app's credentials and the encrypted
    # token file holding the location's tokens (saved there by the OAuth install flow).
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    token_file: Path | None = None
    token_file_key: SecretStr | None = None
    location_id: str | None = None
    talknotes_secret: SecretStr | None = None
    # HighLevel -> TalkNotes for the single connection (in `connections:`, per entry).
    talknotes_outbound_url: str | None = None
    talknotes_outbound_secret: SecretStr | None = None
    # Where TalkNotes and HighLevel reach this tnhl (its proxy's https address); `tnhl verify`
    # checks that webhooks get through it.
    public_url: str | None = None
    outbound_delay: float = Field(
        default=2.0,
        ge=0,
        description="seconds a HighLevel event waits before it is told to TalkNotes, so tnhl's "
        "own write that caused it is recorded first (and it is known as an echo)",
    )
    reconcile_interval: float = Field(
        default=300.0,
        ge=0,
        description="seconds between polls of HighLevel for changes no webhook brought "
        "(connections with an outbound URL); 0 turns reconciliation off",
    )
    profile_interval: float = Field(
        default=60.0,
        ge=0,
        description="at most one profile.updated per contact per this many seconds (changes "
        "in between are coalesced); 0 sends no profiles",
    )
    recipe_poll_interval: float = Field(
        default=60.0,
        gt=0,
        description="seconds between checks of recipes' poll and schedule triggers "
        "(poll.task.due_soon, schedule.daily, ...)",
    )
    retention_days: float = Field(
        default=30.0,
        description="finished (done or skipped) events older than this many days are deleted, "
        "with their calls, once an hour; dead letters and recipe firings are kept; 0 keeps "
        "everything, else at least 7 (a sender may deliver an event again within a week)",
    )
    recipe_loop_limit: int = Field(
        default=20,
        ge=1,
        description="a recipe that fires this many times for one contact within 10 minutes is "
        "taken to feed itself (its action causes the event that triggers it) and does not "
        "fire for that contact again until the 10 minutes have passed",
    )
    reconcile_sweep_interval: float = Field(
        default=86_400.0,
        gt=0,
        description="seconds between sweeps for contacts deleted in HighLevel whose webhook "
        "was lost",
    )
    # The public key HighLevel webhooks are verified with, in place of HighLevel's published
    # key of its scheme: PEM text, a PEM file's path or its base64 line (`tnhl simulate` signs
    # with a key of its own and prints it). Unset: HighLevel's published keys.
    highlevel_webhook_key: str | None = None
    data_dir: Path = Path(".tnhl")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store; default: sqlite in data_dir"
    )
    mapping_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=4, ge=1, le=64)
    batch_limit: int = Field(default=50, ge=1, le=1000)
    lease_seconds: float = Field(default=120.0, gt=0)
    poll_interval: float = Field(default=0.5, gt=0)
    sweep_interval: float = Field(default=5.0, gt=0)
    retry_scale: float = Field(default=1.0, gt=0, description="multiplies the retry schedule")
    orphan_timeout: float = Field(
        default=86_400.0,
        gt=0,
        description="seconds a task or note waits for its contact before it is dead-lettered",
    )
    crash_limit: int = Field(
        default=3, ge=1, description="crashes of tnhl's own code on one record before it is dead"
    )
    credentials_pause: float = Field(
        default=60.0,
        gt=0,
        description="seconds a connection waits, calling nothing, after HighLevel refused its "
        "token (then one record probes it)",
    )
    rate_limit_burst: int = Field(default=100, ge=1)
    rate_limit_interval: float = Field(default=10.0, gt=0)
    rate_limit_state: str | None = Field(
        default=None,
        description="where rate-limit windows live: none (in memory, one process), "
        "'sqlite' (data_dir/ratelimit.db, processes on one machine) or a redis:// URL",
    )
    http_timeout: float = Field(default=30.0, gt=0)
    log_json: bool = False
    # The dashboard at `/` (issue 11): off unless a password is set (`tnhl init` makes one).
    admin_password: SecretStr | None = None
    # The single connection's dry run (in `connections:`, per entry): see _connections.
    dry_run: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Sub-accounts served, each with its own credentials (see _connections). Empty: the one
    # connection "default" made of location_id, highlevel_token, talknotes_secret, mapping_file.
    connections: list[ConnectionSettings] = Field(default_factory=list)

    @field_validator("connections")
    @classmethod
    def _unique_connections(cls, value: list[ConnectionSettings]) -> list[ConnectionSettings]:
        check_connections(value)
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: float) -> float:
        if value != 0 and value < 7:
            raise ValueError(
                "must be 0 (keep everything) or at least 7: an event's id must be remembered "
                "for a week to drop a repeated delivery"
            )
        return value

    @field_validator("highlevel_base_url", "talknotes_outbound_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        checked = check_url(value)
        if checked is None:
            return None
        parts = urlsplit(checked)
        if parts.query or parts.fragment:
            raise ValueError("must be the address alone, without a ?query or #fragment")
        return checked.rstrip("/")  # paths are joined to it: /healthz, /webhooks/...

    @field_validator("token_file_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            try:  # builds the cipher only: the file is not touched
                EncryptedFileTokenStore(Path("tokens.enc"), value)
            except ConfigurationError as exc:
                raise ValueError(exc.problem) from None
        return value

    @field_validator("rate_limit_state")
    @classmethod
    def _limiter_state(cls, value: str | None) -> str | None:
        if value is None or value in ("memory", "sqlite"):
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError(
                "must be memory, sqlite or a redis:// URL with a host (redis://host:6379/0)"
            )
        return value

    @field_validator("talknotes_outbound_secret")
    @classmethod
    def _outbound_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return check_outbound_secret(value, info.data.get("talknotes_outbound_url"))

    @field_validator("highlevel_webhook_key")
    @classmethod
    def _usable_key(cls, value: str | None) -> str | None:
        HighLevelKeys.from_setting(value)  # KeyFormatError is a ValueError: named at load
        return value

    def webhook_keys(self) -> HighLevelKeys:
        """The keys `/webhooks/highlevel` verifies deliveries with."""
        return HighLevelKeys.from_setting(self.highlevel_webhook_key)

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        # A worker must finish a call before its lease ends, or another worker could take the
        # same events and send a create twice. One call is up to 3 tries of http_timeout.
        if self.lease_seconds < 3 * self.http_timeout + 2:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds:g}) must be at least 3 x http_timeout + 2 "
                f"({3 * self.http_timeout + 2:g}): a call must end before its lease does"
            )
        return self

    def connection_list(self) -> list[ConnectionSettings]:
        """The connections served: `connections`, else "default" from the single-location
        settings (none when no location_id is set)."""
        if self.connections:
            return list(self.connections)
        if not self.location_id:
            return []
        return [
            ConnectionSettings(
                name=DEFAULT_CONNECTION,
                location_id=self.location_id,
                highlevel_token=self.highlevel_token,
                talknotes_secret=self.talknotes_secret,
                mapping_file=self.mapping_file,
                talknotes_outbound_url=self.talknotes_outbound_url,
                talknotes_outbound_secret=self.talknotes_outbound_secret,
                dry_run=self.dry_run,
            )
        ]

    @property
    def store_url(self) -> str:
        """The store's URL: `database_url`, else SQLite `tnhl.db` in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tnhl.db').as_posix()}"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    def require_highlevel(self) -> tuple[str, SecretStr | None, str]:
        """Base URL, PIT (None: OAuth, see `oauth_files`) and location id, or a SettingsError
        naming the missing one."""
        if not self.highlevel_base_url:
            raise SettingsError(
                "highlevel_base_url",
                "not set; point it at HighLevel (https://services.leadconnectorhq.com) or at "
                "`tnhl simulate`, or try `tnhl demo`",
            )
        if not self.location_id:
            raise SettingsError("location_id", "not set (the HighLevel sub-account id)")
        if self.highlevel_token is not None and self.highlevel_token.get_secret_value():
            return self.highlevel_base_url, self.highlevel_token, self.location_id
        if self.oauth_client_id or self.token_file is not None:
            self.oauth_files()
            return self.highlevel_base_url, None, self.location_id
        raise SettingsError(
            "highlevel_token",
            "not set (a Private Integration Token; or set oauth_client_id, "
            "oauth_client_secret, token_file and token_file_key for stored OAuth tokens)",
        )

    def oauth_files(self) -> tuple[str, SecretStr, Path, SecretStr]:
        """OAuth client id and secret, token file and its key, or a SettingsError."""
        if not self.oauth_client_id:
            raise SettingsError("oauth_client_id", "not set (the marketplace app's client id)")
        if self.oauth_client_secret is None or not self.oauth_client_secret.get_secret_value():
            raise SettingsError("oauth_client_secret", "not set")
        token_file = self.token_file or self.data_dir / "tokens.enc"
        if not token_file.exists():
            raise SettingsError("token_file", f"{token_file} does not exist")
        if self.token_file_key is None or not self.token_file_key.get_secret_value():
            raise SettingsError(
                "token_file_key", "not set (the key the token file is encrypted with)"
            )
        return self.oauth_client_id, self.oauth_client_secret, token_file, self.token_file_key

    def require_talknotes_secret(self) -> SecretStr:
        if self.talknotes_secret is None or not self.talknotes_secret.get_secret_value():
            raise SettingsError(
                "talknotes_secret", "not set (the whsec_... secret TalkNotes signs with)"
            )
        return self.talknotes_secret


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; every problem becomes a SettingsError naming the field and, for a
    value from the settings file, the file and line."""
    path = config_file
    if path is None and os.environ.get("TNHL_CONFIG"):
        path = Path(os.environ["TNHL_CONFIG"])
    source = read_settings_file(path) if path is not None else SettingsFile()
    check_names(source, Settings.model_fields)
    file_values = source.values
    clean = {k: v for k, v in overrides.items() if v is not None}

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, YamlSource(settings_cls, file_values))

    try:
        loaded = _Loaded(**clean)
    except ValidationError as exc:
        raise _named(exc.errors()[0], source, clean) from None
    except pydantic_settings.SettingsError as exc:
        # A complex setting (connections) from the environment that is not JSON.
        found = re.search(r'field "(\w+)"', str(exc))
        raise SettingsError(found.group(1) if found else "?", "not valid JSON") from None
    values = {k: getattr(loaded, k) for k in Settings.model_fields}
    return Settings.model_construct(**_with_single_connection(values))


def _named(err: Any, source: SettingsFile, overrides: dict[str, Any]) -> SettingsError:
    """The SettingsError of one validation error: the field, the problem (never the input
    value, which may be a secret) and, when the value came from the file, where in it."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    # The one model-level rule is about lease_seconds (see _lease_outlasts_a_call).
    field = _field_name(loc, source.values) or "lease_seconds"
    problem = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden" and len(loc) == 3 and loc[0] == "connections":
        known = ConnectionSettings.model_fields
        problem = "unknown key" + suggest(str(loc[2]), known, "known: " + ", ".join(known))
    top = str(loc[0]) if loc else field
    if top in overrides or in_environment(top) or top not in source.values:
        return SettingsError(field, problem)
    return Located(field, problem, f"{source.where(loc)}: {field}: {problem}")


_PER_CONNECTION = (
    "location_id",
    "highlevel_token",
    "talknotes_secret",
    "mapping_file",
    "talknotes_outbound_url",
    "talknotes_outbound_secret",
)


def _with_single_connection(values: dict[str, Any]) -> dict[str, Any]:
    """With `connections:` the per-location settings live in its entries only; one entry is
    served as the single-location settings were."""
    connections: list[ConnectionSettings] = values["connections"]
    if not connections:
        return values
    for name in _PER_CONNECTION:
        if values[name] is not None:
            raise SettingsError(
                name,
                "is set (by TNHL_" + name.upper() + " or the file) while `connections:` is "
                "given: set it in each connection entry instead",
            )
    if len(connections) == 1:
        [one] = connections
        values.update({name: getattr(one, name) for name in _PER_CONNECTION})
    return values


def _field_name(loc: tuple[int | str, ...], file_values: dict[str, Any]) -> str:
    """A dotted field path; a connection is named by its `name`: connections[acme].field."""
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "connections" and isinstance(loc[1], int):
        entries = file_values.get("connections")
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"connections[{name}]" if isinstance(name, str) else f"connections[{loc[1]}]"
        parts = [label, *parts[2:]]
    return ".".join(parts)

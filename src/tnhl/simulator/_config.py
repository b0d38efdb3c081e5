"""`SimulatorConfig`: locations, tokens, OAuth clients and the EDGES parts, from YAML or JSON."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from tnhl.simulator._errors import ConfigError
from tnhl.simulator._faults import FaultConfig
from tnhl.simulator._ratelimit import RateLimitConfig
from tnhl.simulator._webhooks import WebhookConfig

__all__ = [
    "DEFAULT_LOCATION_ID",
    "LocationConfig",
    "OAuthClientConfig",
    "PitConfig",
    "SimulatorConfig",
    "load_config",
]

DEFAULT_LOCATION_ID = "SimLocation000000001"
_ALL_SCOPES = ["contacts.readonly", "contacts.write"]


def _email_then_phone() -> list[Literal["email", "phone"]]:
    return ["email", "phone"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationConfig(_Model):
    """A sub-account and its duplicate rules (Settings > Allow Duplicate Contact)."""

    id: str = Field(min_length=1)
    name: str = "Simulated location"
    allow_duplicates: bool = False
    duplicate_priority: list[Literal["email", "phone"]] = Field(default_factory=_email_then_phone)

    @field_validator("duplicate_priority")
    @classmethod
    def _priority(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError("must list email and/or phone, each once")
        return value


class PitConfig(_Model):
    """A Private Integration Token of one location."""

    token: SecretStr
    location_id: str = Field(min_length=1)
    scopes: list[str] = Field(default_factory=lambda: list(_ALL_SCOPES))
    app_id: str = "pit"


class OAuthClientConfig(_Model):
    """A marketplace app installed in a company at some locations."""

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    company_id: str = Field(min_length=1)
    locations: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=lambda: list(_ALL_SCOPES))


class SimulatorConfig(_Model):
    """Everything `create_app` needs; `with_defaults()` fills in a location and a token."""

    locations: list[LocationConfig] = Field(default_factory=list)
    tokens: list[PitConfig] = Field(default_factory=list)
    oauth_clients: list[OAuthClientConfig] = Field(default_factory=list)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    time_scale: float = Field(1.0, gt=0)
    seed: int | None = None  # makes generated ids reproducible
    state_file: Path | None = None
    # The admin API has no HighLevel auth; by default it answers loopback clients only.
    admin_remote: bool = False

    def with_defaults(
        self, *, token: str | None = None, location_id: str | None = None
    ) -> SimulatorConfig:
        """A copy with at least one location and one PIT (generated if none is given)."""
        cfg = self.model_copy(deep=True)
        loc_id = location_id or (cfg.locations[0].id if cfg.locations else DEFAULT_LOCATION_ID)
        if not any(loc.id == loc_id for loc in cfg.locations):
            cfg.locations.insert(0, LocationConfig(id=loc_id))
        if token is not None:
            cfg.tokens.insert(0, PitConfig(token=SecretStr(token), location_id=loc_id))
        elif not cfg.tokens:
            generated = f"pit-{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}"
            generated += f"-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
            cfg.tokens.append(PitConfig(token=SecretStr(generated), location_id=loc_id))
        return cfg

    @property
    def default_token(self) -> str:
        if not self.tokens:
            raise ConfigError("tokens: no token configured (call with_defaults())")
        return self.tokens[0].token.get_secret_value()

    @property
    def default_location_id(self) -> str:
        return self.tokens[0].location_id if self.tokens else DEFAULT_LOCATION_ID


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def parse_config(data: Any, *, source: str = "config") -> SimulatorConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    try:
        return SimulatorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def load_config(path: Path) -> SimulatorConfig:
    """Read a YAML (.yaml/.yml) or JSON file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    import yaml  # here, not at the top: `tnhl simulate` without --config skips it

    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    return parse_config(data, source=str(path))

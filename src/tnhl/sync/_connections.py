"""Connections: one HighLevel sub-account (location) each, with its own credentials, TalkNotes
secret, mapping and time zone, as the settings file's `connections:` list gives them.

A secret may be written `env:VARNAME`, so the file holds none: it is read from that
environment variable when the settings load, and an unset variable is an error naming the
connection, the field and the variable (never a value).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, field_validator

from tnhl.talknotes import SecretFormatError, decode_secret

__all__ = [
    "DEFAULT_CONNECTION",
    "ConnectionSettings",
    "check_connections",
    "check_outbound_secret",
    "check_secret",
    "check_url",
    "is_loopback",
]

DEFAULT_CONNECTION = "default"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ConnectionSettings(BaseModel):
    """One entry of `connections:`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    location_id: str
    highlevel_token: SecretStr | None = None
    talknotes_secret: SecretStr | None = None
    mapping_file: Path | None = None
    time_zone: str | None = None
    # HighLevel -> TalkNotes: where HighLevel's changes are POSTed, signed with this secret.
    talknotes_outbound_url: str | None = None
    talknotes_outbound_secret: SecretStr | None = None
    # Dry run (issue 11): records are planned and held with the calls they would make;
    # nothing goes to HighLevel until `tnhl go-live`.
    dry_run: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("must be 1-64 letters, digits, '-' or '_' (it is part of a URL)")
        return value

    @field_validator("location_id")
    @classmethod
    def _location(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value) or len(value) > 255:
            raise ValueError("must be a HighLevel location id (no spaces, at most 255 characters)")
        return value

    @field_validator("talknotes_outbound_url")
    @classmethod
    def _outbound_url(cls, value: str | None) -> str | None:
        return check_url(value)

    @field_validator("talknotes_outbound_secret")
    @classmethod
    def _outbound_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return check_outbound_secret(value, info.data.get("talknotes_outbound_url"))

    def outbound(self) -> tuple[str, str] | None:
        """(URL, secret) when HighLevel's changes go out to TalkNotes, else None."""
        if self.talknotes_outbound_url is None or self.talknotes_outbound_secret is None:
            return None
        return self.talknotes_outbound_url, self.talknotes_outbound_secret.get_secret_value()

    @field_validator(
        "highlevel_token", "talknotes_secret", "talknotes_outbound_secret", mode="before"
    )
    @classmethod
    def _from_env(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.startswith("env:"):
            return value
        var = value.removeprefix("env:")
        if not _ENV_VAR.fullmatch(var):
            raise ValueError(f"env:{var} does not name an environment variable")
        found = os.environ.get(var)
        if not found:
            raise ValueError(f"environment variable {var} is not set")
        return found

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. America/New_York)"
            ) from None
        return value


def check_url(value: str | None) -> str | None:
    """An https URL with a host; plain http only for a loopback host (this machine: a local
    `tnhl simulate`, a receiver under test), where nothing crosses a network. A ValueError
    says what is wrong without repeating the value (it may hold credentials)."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host, e.g. https://example.com/path")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            "must use https:// (http:// is allowed only for this machine: localhost, "
            "127.0.0.1 or ::1)"
        )
    return value.strip()


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secret(value: SecretStr | None) -> SecretStr | None:
    """A usable `whsec_` secret (or none, or empty: "not set"); the error never holds it."""
    if value is None or not value.get_secret_value():
        return value
    try:
        decode_secret(value.get_secret_value())
    except SecretFormatError as exc:
        raise ValueError(str(exc)) from None
    return value


def check_outbound_secret(value: SecretStr | None, url: str | None) -> SecretStr | None:
    """A usable `whsec_` secret, given exactly when the outbound URL is."""
    if value is None:
        if url is not None:
            raise ValueError("is required with talknotes_outbound_url")
        return None
    if url is None:
        raise ValueError("is set without talknotes_outbound_url")
    if not value.get_secret_value():
        raise ValueError("is empty")
    return check_secret(value)


def check_connections(connections: list[ConnectionSettings]) -> None:
    """Names and locations are unique: a ValueError naming the first repeat."""
    names: set[str] = set()
    locations: dict[str, str] = {}
    for c in connections:
        if c.name in names:
            raise ValueError(f"connection name {c.name!r} is used twice")
        names.add(c.name)
        if c.location_id in locations:
            raise ValueError(
                f"connections {locations[c.location_id]!r} and {c.name!r} have the same "
                "location_id: one location is one connection"
            )
        locations[c.location_id] = c.name

"""The way in for Zapier, Make and n8n (issue 10): API keys for the unsigned TalkNotes entry,
kept as SHA-256 digests only, and REST hook subscriptions."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa

from tnhl.store._models import ApiKey, Hook
from tnhl.store._schema import api_keys, hooks

__all__ = [
    "add_hook",
    "create_api_key",
    "delete_hook",
    "key_location",
    "list_api_keys",
    "list_hooks",
    "revoke_api_key",
]

PREFIX = "tnhl_key_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(conn: sa.Connection, location_id: str, now: float) -> tuple[ApiKey, str]:
    """A new key of a location: its record, and the key itself (shown once, never stored)."""
    key = PREFIX + secrets.token_urlsafe(32)
    hint = key[len(PREFIX) : len(PREFIX) + 4]
    row = conn.execute(
        sa.insert(api_keys)
        .values(location_id=location_id, key_hash=_digest(key), hint=hint, created_at=now)
        .returning(api_keys.c.id)
    ).scalar_one()
    return ApiKey(int(row), location_id, hint, now, None), key


def key_location(conn: sa.Connection, key: str) -> str | None:
    """The location a live key belongs to; None for an unknown or revoked one. The digest is
    looked up, then compared in constant time."""
    digest = _digest(key)
    found = conn.execute(
        sa.select(api_keys.c.location_id, api_keys.c.key_hash).where(
            api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
        )
    ).first()
    if found is None or not hmac.compare_digest(found.key_hash, digest):
        return None
    return str(found.location_id)


def list_api_keys(conn: sa.Connection, location_id: str | None) -> list[ApiKey]:
    q = sa.select(api_keys).order_by(api_keys.c.id)
    if location_id is not None:
        q = q.where(api_keys.c.location_id == location_id)
    return [
        ApiKey(int(r.id), r.location_id, r.hint, float(r.created_at), r.revoked_at)
        for r in conn.execute(q)
    ]


def revoke_api_key(conn: sa.Connection, key_id: int, now: float) -> bool:
    """Revoke a key; False when there is no such live key."""
    done = conn.execute(
        sa.update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(done.rowcount)


def add_hook(
    conn: sa.Connection, location_id: str, event: str, target_url: str, now: float
) -> Hook:
    values = {"location_id": location_id, "event": event, "target_url": target_url}
    new = conn.execute(
        sa.insert(hooks).values(**values, created_at=now).returning(hooks.c.id)
    ).scalar_one()
    return Hook(int(new), location_id, event, target_url, now)


def list_hooks(conn: sa.Connection, location_id: str | None) -> list[Hook]:
    q = sa.select(hooks).order_by(hooks.c.id)
    if location_id is not None:
        q = q.where(hooks.c.location_id == location_id)
    return [
        Hook(int(r.id), r.location_id, r.event, r.target_url, float(r.created_at))
        for r in conn.execute(q)
    ]


def delete_hook(conn: sa.Connection, location_id: str, hook_id: int) -> bool:
    """Unsubscribe; False when the location has no such hook."""
    gone = conn.execute(
        sa.delete(hooks).where(hooks.c.id == hook_id, hooks.c.location_id == location_id)
    )
    return bool(gone.rowcount)

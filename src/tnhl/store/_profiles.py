"""Contacts' profiles (issue 9): which changed since last sent, coalesced per contact, and the
rows one is built from (each entity of the contact as HighLevel holds it, `told`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tnhl.store._bulk import insert_rows, one_of
from tnhl.store._models import ProfileDue, Told
from tnhl.store._schema import id_map, profiles, told

__all__ = ["due_profiles", "mark_profile", "profile_rows", "profile_sent", "told_row"]


def told_row(location_id: str, r: Any) -> Told:
    return Told(
        location_id,
        r.highlevel_id,
        r.kind,
        r.digest,
        float(r.changed_at),
        bool(r.deleted),
        r.contact_id,
        None if r.data is None else json.loads(r.data),
    )


def _keep_dirty(stmt: Any) -> Any:
    # A profile already waiting keeps the time it first changed (coalescing counts from it).
    return stmt.on_conflict_do_update(
        index_elements=["location_id", "contact_id"],
        set_={"dirty_at": sa.func.coalesce(profiles.c.dirty_at, stmt.excluded.dirty_at)},
    )


def mark_profile(conn: sa.Connection, location_id: str, contact_id: str, now: float) -> None:
    row = {"location_id": location_id, "contact_id": contact_id, "dirty_at": now}
    insert_rows(conn, profiles, [row], on_conflict=("keep-dirty", _keep_dirty))


def due_profiles(
    conn: sa.Connection,
    now: float,
    interval: float,
    limit: int,
    locations: Sequence[str] | None,
    settle: float = 0.0,
) -> list[ProfileDue]:
    """Profiles changed at least `settle` seconds ago (a contact's changes come together:
    its own, then its tasks' and notes') and not sent in the last `interval` seconds, longest
    waiting first."""
    q = sa.select(
        profiles.c.location_id, profiles.c.contact_id, profiles.c.dirty_at, profiles.c.digest
    ).where(
        profiles.c.dirty_at <= now - settle,
        sa.or_(profiles.c.sent_at.is_(None), profiles.c.sent_at <= now - interval),
    )
    if locations is not None:
        q = q.where(one_of(conn, profiles.c.location_id, locations))
    q = q.order_by(profiles.c.dirty_at).limit(limit)
    return [
        ProfileDue(r.location_id, r.contact_id, float(r.dirty_at), r.digest)
        for r in conn.execute(q)
    ]


def profile_sent(
    conn: sa.Connection,
    location_id: str,
    contact_id: str,
    *,
    now: float,
    changed_at: float,
    digest: str | None,
) -> None:
    """A profile built from the changes up to `changed_at` was sent (or, `digest` None,
    needs none): a change noted since keeps it waiting, for the next turn."""
    key = sa.and_(profiles.c.location_id == location_id, profiles.c.contact_id == contact_id)
    values: dict[str, Any] = {
        "dirty_at": sa.case(
            (profiles.c.dirty_at <= changed_at, sa.null()), else_=profiles.c.dirty_at
        )
    }
    if digest is not None:
        values.update(sent_at=now, digest=digest)
    conn.execute(sa.update(profiles).where(key).values(**values))


def profile_rows(
    conn: sa.Connection, location_id: str, contact_id: str
) -> list[tuple[Told, str | None]]:
    """The contact's own row and its tasks', notes' and appointments' (deleted ones too), each
    with its TalkNotes id where the id map links it: one query."""
    link = id_map.c.talknotes_id.label("talknotes_id")
    q = (
        sa.select(told, link)
        .select_from(
            told.outerjoin(
                id_map,
                sa.and_(
                    id_map.c.location_id == told.c.location_id,
                    id_map.c.kind == told.c.kind,
                    id_map.c.highlevel_id == told.c.highlevel_id,
                ),
            )
        )
        .where(told.c.location_id == location_id, told.c.contact_id == contact_id)
        .order_by(told.c.changed_at, told.c.highlevel_id)
    )
    return [(told_row(location_id, r), r.talknotes_id) for r in conn.execute(q)]

"""Id map, outbound operations and cursors as functions of an open connection."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tnhl.store._errors import InvalidRecordError, MappingConflictError
from tnhl.store._models import MAP_KINDS, OutboundOp
from tnhl.store._schema import cursors, id_map, outbound_ops

__all__ = [
    "Mapping",
    "check_op",
    "find_mapping",
    "get_cursor",
    "get_op",
    "op_from_row",
    "put_mapping",
    "set_cursor",
]


@dataclass(frozen=True)
class Mapping:
    """One TalkNotes id and the HighLevel id it became, in one location."""

    location_id: str
    kind: str
    talknotes_id: str
    highlevel_id: str
    content_hash: str | None
    updated_at: float


def _check_ids(**values: str | None) -> None:
    for name, value in values.items():
        if value is not None and (not isinstance(value, str) or not value or len(value) > 255):
            raise InvalidRecordError(name, "must be a non-empty string of at most 255 characters")


def _check_kind(kind: str) -> None:
    if kind not in MAP_KINDS:
        raise InvalidRecordError("kind", f"must be one of {', '.join(MAP_KINDS)}, not {kind!r}")


def find_mapping(
    conn: sa.Connection,
    location_id: str,
    kind: str,
    *,
    talknotes_id: str | None = None,
    highlevel_id: str | None = None,
) -> Mapping | None:
    _check_kind(kind)
    if (talknotes_id is None) == (highlevel_id is None):
        raise InvalidRecordError("talknotes_id", "give exactly one of talknotes_id, highlevel_id")
    q = sa.select(id_map).where(id_map.c.location_id == location_id, id_map.c.kind == kind)
    if talknotes_id is not None:
        q = q.where(id_map.c.talknotes_id == talknotes_id)
    else:
        q = q.where(id_map.c.highlevel_id == highlevel_id)
    r = conn.execute(q).first()
    return None if r is None else Mapping(**dict(r._mapping))


def put_mapping(
    conn: sa.Connection,
    location_id: str,
    kind: str,
    talknotes_id: str,
    highlevel_id: str,
    content_hash: str | None,
    now: float,
) -> None:
    """Record the pair; repeating it is a no-op (except refreshing content_hash)."""
    _check_kind(kind)
    _check_ids(location_id=location_id, talknotes_id=talknotes_id, highlevel_id=highlevel_id)
    by_tn = find_mapping(conn, location_id, kind, talknotes_id=talknotes_id)
    if by_tn is not None:
        if by_tn.highlevel_id != highlevel_id:
            raise MappingConflictError(
                f"{kind} {talknotes_id!r} in location {location_id!r} is already mapped to "
                f"HighLevel id {by_tn.highlevel_id!r}, not {highlevel_id!r}"
            )
        if content_hash is not None and content_hash != by_tn.content_hash:
            conn.execute(
                sa.update(id_map)
                .where(
                    id_map.c.location_id == location_id,
                    id_map.c.kind == kind,
                    id_map.c.talknotes_id == talknotes_id,
                )
                .values(content_hash=content_hash, updated_at=now)
            )
        return
    by_hl = find_mapping(conn, location_id, kind, highlevel_id=highlevel_id)
    if by_hl is not None:
        raise MappingConflictError(
            f"HighLevel {kind} {highlevel_id!r} in location {location_id!r} is already mapped "
            f"to TalkNotes id {by_hl.talknotes_id!r}, not {talknotes_id!r}"
        )
    conn.execute(
        sa.insert(id_map).values(
            location_id=location_id,
            kind=kind,
            talknotes_id=talknotes_id,
            highlevel_id=highlevel_id,
            content_hash=content_hash,
            updated_at=now,
        )
    )


def op_from_row(r: sa.Row[Any]) -> OutboundOp:
    m = r._mapping
    return OutboundOp(**{f.name: m[f.name] for f in dataclasses.fields(OutboundOp)})


def get_op(conn: sa.Connection, key: str) -> OutboundOp | None:
    r = conn.execute(sa.select(outbound_ops).where(outbound_ops.c.key == key)).first()
    return None if r is None else op_from_row(r)


def check_op(key: str, operation_id: str) -> None:
    if not isinstance(key, str) or not key or len(key) > 512:
        raise InvalidRecordError("key", "must be a non-empty string of at most 512 characters")
    if not operation_id or len(operation_id) > 128:
        raise InvalidRecordError(
            "operation_id", "must be a non-empty name of at most 128 characters"
        )


def get_cursor(conn: sa.Connection, name: str) -> str | None:
    return conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name)).scalar()


def set_cursor(conn: sa.Connection, name: str, value: str, now: float, insert: Any) -> None:
    _check_ids(name=name)
    if not isinstance(value, str):
        raise InvalidRecordError("value", "must be a string")
    stmt = insert(cursors).values(name=name, value=value, updated_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": now}
        )
    )

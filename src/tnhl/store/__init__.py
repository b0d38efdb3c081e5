"""The sync engine's durable store: inbox, id map, outbound operations, dead letters, cursors.

`open_store(url)` returns a migrated `SqlStore` on SQLite (default, WAL) or PostgreSQL.
"""

from __future__ import annotations

from tnhl.store._errors import (
    InvalidRecordError,
    LeaseLostError,
    MappingConflictError,
    OutOfOrderError,
    RecordNotFoundError,
    StoreConfigError,
    StoreError,
    StoreUnavailableError,
)
from tnhl.store._migrate import current_revision, head_revision, upgrade_to_head
from tnhl.store._models import (
    Claim,
    DeadLetter,
    EntityKey,
    EventState,
    InboundEvent,
    InboxRow,
    MapKind,
    OpState,
    OutboundOp,
    Source,
    StoreStats,
)
from tnhl.store._protocols import Store
from tnhl.store._sql import SqlStore, open_store

__all__ = [
    "Claim",
    "DeadLetter",
    "EntityKey",
    "EventState",
    "InboundEvent",
    "InboxRow",
    "InvalidRecordError",
    "LeaseLostError",
    "MapKind",
    "MappingConflictError",
    "OpState",
    "OutOfOrderError",
    "OutboundOp",
    "RecordNotFoundError",
    "Source",
    "SqlStore",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreStats",
    "StoreUnavailableError",
    "current_revision",
    "head_revision",
    "open_store",
    "upgrade_to_head",
]

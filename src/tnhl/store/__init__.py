"""The sync engine's durable store: inbox, id map, outbound operations, dead letters, cursors.

`open_store(url)` returns a migrated `SqlStore` on SQLite (default, WAL) or PostgreSQL.
"""

from __future__ import annotations

from tnhl.store._errors import (
    InvalidRecordError,
    LeaseLostError,
    MappingConflictError,
    RecordNotFoundError,
    StoreConfigError,
    StoreError,
    StoreUnavailableError,
)
from tnhl.store._fast_inbox import FastInbox
from tnhl.store._migrate import current_revision, head_revision, upgrade_to_head
from tnhl.store._models import (
    ApiKey,
    BatchRead,
    DeadLetter,
    Delivery,
    Delta,
    EventCall,
    EventState,
    EventVerdict,
    Hook,
    InboundEvent,
    InboxRow,
    Link,
    MapKind,
    OpMark,
    OpState,
    OutboundOp,
    PendingEvent,
    ProfileDue,
    RecordClaim,
    RecordState,
    Settlement,
    Source,
    StoreStats,
    Told,
)
from tnhl.store._open import open_store
from tnhl.store._protocols import Store
from tnhl.store._sql import SqlStore
from tnhl.store._work import Folder, lww_merge

__all__ = [
    "ApiKey",
    "BatchRead",
    "DeadLetter",
    "Delivery",
    "Delta",
    "EventCall",
    "EventState",
    "EventVerdict",
    "FastInbox",
    "Folder",
    "Hook",
    "InboundEvent",
    "InboxRow",
    "InvalidRecordError",
    "LeaseLostError",
    "Link",
    "MapKind",
    "MappingConflictError",
    "OpMark",
    "OpState",
    "OutboundOp",
    "PendingEvent",
    "ProfileDue",
    "RecordClaim",
    "RecordNotFoundError",
    "RecordState",
    "Settlement",
    "Source",
    "SqlStore",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreStats",
    "StoreUnavailableError",
    "Told",
    "current_revision",
    "head_revision",
    "lww_merge",
    "open_store",
    "upgrade_to_head",
]

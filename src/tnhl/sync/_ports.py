"""What the executor needs from its collaborators, as narrow protocols.

The real store (`tnhl.store`), HighLevel client (`tnhl.highlevel`) and rate limiter satisfy
these through the small adapters in `_wiring.py`; unit tests use in-memory doubles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CallFn",
    "ExecStore",
    "InboxItem",
    "Limiter",
    "OpState",
    "WorkBatch",
]


@dataclass(frozen=True)
class InboxItem:
    """One claimed inbox row."""

    id: int
    event_id: str
    event_type: str
    location_id: str
    entity_key: str
    body: str
    attempts: int
    source: str = "talknotes"


@dataclass(frozen=True)
class WorkBatch:
    """A run of consecutive pending events of one entity, leased to one worker, oldest first."""

    location_id: str
    entity_key: str
    items: tuple[InboxItem, ...]
    lease_until: float = float("inf")


@dataclass(frozen=True)
class OpState:
    """An outbound operation's row: `state` is planned | sent | succeeded | failed | unknown."""

    key: str
    state: str
    highlevel_id: str | None
    request_body: str | None = None  # JSON of the body given when the op was first planned


class ExecStore(Protocol):
    """The store operations the executor uses (times are epoch seconds)."""

    def get_highlevel_id(self, location_id: str, kind: str, talknotes_id: str) -> str | None: ...
    def get_talknotes_id(self, location_id: str, kind: str, highlevel_id: str) -> str | None: ...
    def put_mapping(
        self, location_id: str, kind: str, talknotes_id: str, highlevel_id: str
    ) -> None: ...
    def begin_op(
        self, key: str, *, inbox_id: int, operation_id: str, body: Mapping[str, Any] | None
    ) -> OpState: ...
    def mark_sent(self, key: str) -> None: ...
    def finish_op(self, key: str, *, highlevel_id: str | None, response: str) -> None: ...
    def mark_unknown(self, key: str, error: str) -> None: ...
    def complete(self, inbox_ids: Sequence[int], *, worker: str, result: str) -> None: ...
    def retry_later(
        self, inbox_id: int, *, worker: str, at: float, error: str, count_attempt: bool
    ) -> None: ...
    def dead_letter(self, inbox_id: int, *, worker: str, reason: str, error: str) -> None: ...
    def release(self, inbox_ids: Sequence[int], *, worker: str) -> None: ...


class CallFn(Protocol):
    """`HighLevelClient.call`'s shape."""

    def __call__(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any: ...


class Limiter(Protocol):
    """The rate limiter's non-blocking side."""

    def try_acquire(self, key: str) -> float: ...

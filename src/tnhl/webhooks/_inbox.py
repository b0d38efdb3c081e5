"""The inbox as intake sees it: what it persists to (`InboxWriter`, `AsyncInboxWriter`), what
it tells about a stored event (`StoredInfo`), and the one step that writes a delivery there
(`InboxStep`): on the event loop, awaited, or in a worker thread, and what became of it.

The row is the durable truth: intake answers 2xx only once `add` returned. An inbox that cannot
persist now makes the sender retry; one that refuses an event for good (a `ValueError`) makes
intake refuse it; any other failure is treated as "not persisted", never as stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from anyio import to_thread

from tnhl.webhooks._errors import InboxUnavailable

__all__ = ["AsyncInboxWriter", "InboxStep", "InboxWriter", "StoredInfo"]

_log = logging.getLogger("tnhl.webhooks.intake")


class InboxWriter(Protocol):
    """Where intake persists events. The engine adapts the store to it.

    `add` returns False when (source, event_id) is already stored (a duplicate delivery) and
    raises `InboxUnavailable` (or an error type given to `create_intake_app` as `unavailable`)
    when it cannot persist. It must be durable when it returns. A
    `ValueError` (such as the store's `InvalidRecordError`) means the event can never be stored:
    intake refuses it (422 / 400) rather than ask the sender to retry it.
    """

    def add(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool: ...


@runtime_checkable
class AsyncInboxWriter(Protocol):
    """An `InboxWriter` that can also be awaited on the event loop (without a thread hop).

    Same contract as `add`: durable when it returns, False for a duplicate, `InboxUnavailable`
    when it cannot persist. Intake prefers it (when not offloading): an inbox can then commit
    the events of concurrent requests together, answering each after the commit holding it.
    """

    async def add_async(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class StoredInfo:
    """A newly stored event, passed to `on_stored` (e.g. to dispatch it to a worker now)."""

    source: str
    event_id: str
    event_type: str
    location_id: str
    entity_key: str
    received_at: datetime


class InboxStep:
    """Writes one delivery to the inbox the way intake was set up, and says what became of it."""

    def __init__(
        self,
        inbox: InboxWriter,
        *,
        clock: Callable[[], float],
        on_stored: Callable[[StoredInfo], None] | None,
        offload: bool,
        unavailable: tuple[type[Exception], ...],
    ) -> None:
        self.inbox = inbox
        self.unavailable: tuple[type[Exception], ...] = (InboxUnavailable, *unavailable)
        self.clock = clock
        self.on_stored = on_stored
        self.offload = offload
        self.async_inbox = inbox if not offload and isinstance(inbox, AsyncInboxWriter) else None

    async def store(
        self, source: str, event_id: str, event_type: str, location: str, key: str, body: bytes
    ) -> bool | ValueError | None:
        """True stored, False duplicate, None could not persist (the caller answers retry), a
        ValueError when the inbox refuses the event for good (the caller answers 4xx)."""
        received_at = datetime.fromtimestamp(self.clock(), UTC)
        text = body.decode("utf-8", "replace")
        try:
            if self.offload:
                # For an inbox that may block long (a network database): a worker thread lets
                # requests overlap, at the price of a thread hop per request.
                stored = await to_thread.run_sync(
                    self.inbox.add, source, event_id, event_type, location, key, text, received_at
                )
            elif self.async_inbox is not None:
                stored = await self.async_inbox.add_async(
                    source, event_id, event_type, location, key, text, received_at
                )
            else:
                stored = self.inbox.add(
                    source, event_id, event_type, location, key, text, received_at
                )
        except self.unavailable as exc:
            _log.warning("inbox unavailable for %s event %s: %s", source, event_id, exc)
            return None
        except ValueError as exc:
            # Retrying cannot make it storable. Error level: the door should have refused it,
            # so its checks have a gap to close.
            _log.error("inbox refused %s event %s for good: %s", source, event_id, exc)
            return exc
        except Exception:
            # Not persisted, whatever the cause: tell the sender to retry rather than lose it.
            _log.exception("inbox failed for %s event %s", source, event_id)
            return None
        if stored and self.on_stored is not None:
            info = StoredInfo(source, event_id, event_type, location, key, received_at)
            try:
                self.on_stored(info)
            except Exception:
                # The row is durable; the sweeper dispatches it if this hook failed.
                _log.exception("on_stored failed for %s event %s", source, event_id)
        return stored

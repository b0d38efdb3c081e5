"""Backfill (issue 9): what one side already held before the connection, sent to the other.

- **To TalkNotes**: every contact of the location (`POST /contacts/search` by `dateAdded`, paged
  by `searchAfter`) with its tasks, notes and appointments, stored as HighLevel events the
  outbound pump tells TalkNotes (as `*.created`: TalkNotes has not heard of them). A HighLevel
  contact whose email or phone matches a TalkNotes contact tnhl holds without a HighLevel id
  is linked to it first, so it arrives with TalkNotes' id. The events' ids are those
  reconciliation gives the same contents: one change is stored once either way.
- **To HighLevel**: TalkNotes events (the inbound contract's bodies, one JSON object per line)
  stored in the inbox as if received, checked like intake checks them; the engine applies
  them at the rate limit's pace.

Both are resumable: to TalkNotes keeps its place (the last page's `searchAfter`) in a cursor
moved after each page is stored; to HighLevel derives each event's id from its content, so a
second run stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tnhl.mapping import MappingConfig, TransformError, normalise_email, to_e164
from tnhl.store import InboundEvent, MappingConflictError, SqlStore
from tnhl.sync._readback import CallFn
from tnhl.sync._reconcile import (
    CHILDREN,
    child_events,
    contact_event,
    contacts_of,
    search_body,
)
from tnhl.talknotes import InvalidEvent, MalformedEvent, entity_key, parse_event

__all__ = ["BackfillReport", "backfill_to_highlevel", "backfill_to_talknotes"]

_PAGE = 100
Progress = Callable[[int, int | None], None]  # (done, total if known)


@dataclass(frozen=True)
class BackfillReport:
    """What one backfill run did: items read, events stored (new), links made, and the
    problems of lines not stored (to HighLevel)."""

    read: int
    stored: int
    linked: int
    problems: tuple[str, ...] = ()


def _keys(email: Any, phone: Any, mapping: MappingConfig) -> list[str]:
    """How a contact is matched: its email, then its phone, as the mapping would write them."""
    keys = []
    for kind, value, norm in (
        ("email", email, normalise_email),
        ("phone", phone, lambda v: to_e164(v, region=mapping.contact.phone.default_region)),
    ):
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            keys.append(f"{kind}:{norm(value)}")
        except TransformError:
            continue
    return keys


def _unlinked(store: SqlStore, location_id: str, mapping: MappingConfig) -> dict[str, str]:
    """email:/phone: key -> TalkNotes contact id, for TalkNotes' contacts not in HighLevel."""
    index: dict[str, str] = {}
    for state in store.unlinked_records(location_id, "contact"):
        values = state.values()
        for key in _keys(values.get("email"), values.get("phone"), mapping):
            index.setdefault(key, state.talknotes_id)
    return index


def backfill_to_talknotes(
    store: SqlStore,
    call: CallFn,
    location_id: str,
    mapping: MappingConfig,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> BackfillReport:
    """Store every HighLevel contact of the location (and its children) for the pump."""
    name = f"backfill-to-talknotes:{location_id}"
    raw = store.get_cursor(name)  # "" (or none): from the first; "[]": done
    after: list[Any] | None = json.loads(raw) if raw else None
    if after == []:  # done before: nothing left
        return BackfillReport(0, 0, 0)
    matches = _unlinked(store, location_id, mapping)
    read = stored = linked = 0
    while True:
        answer = call("search-contacts-advanced", json=search_body(location_id, "dateAdded", after))
        page = contacts_of(answer)
        total = answer.get("total") if isinstance(answer, Mapping) else None
        now = clock()
        for contact in page:
            read += 1
            linked += _link(store, location_id, contact, matches, mapping)
            events = [contact_event(location_id, contact, now)]
            children = [call(op, params={"contactId": contact["id"]}) for op, *_ in CHILDREN]
            events += child_events(location_id, contact, children, now)
            stored += sum(1 for e in events if store.add_inbound(e))
        last = page[-1].get("searchAfter") if page else None
        if len(page) < _PAGE or not isinstance(last, list) or not last:
            last = []  # the end: the cursor says done
        store.set_cursor(name, json.dumps(last))
        if progress is not None:
            progress(read, total if isinstance(total, int) else None)
        if not last:
            return BackfillReport(read, stored, linked)
        after = last


def _link(
    store: SqlStore,
    location_id: str,
    contact: Mapping[str, Any],
    matches: dict[str, str],
    mapping: MappingConfig,
) -> int:
    hl_id = str(contact["id"])
    if store.get_talknotes_id(location_id, "contact", hl_id) is not None:
        return 0
    for key in _keys(contact.get("email"), contact.get("phone"), mapping):
        tn_id = matches.pop(key, None)
        if tn_id is None:
            continue
        try:
            store.put_mapping(location_id, "contact", tn_id, hl_id)
        except MappingConflictError:
            continue  # that TalkNotes contact got a HighLevel id meanwhile
        return 1
    return 0


def backfill_to_highlevel(
    store: SqlStore,
    location_id: str,
    lines: Iterable[str],
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> BackfillReport:
    """Store TalkNotes events (one JSON body per line) for the engine; a line that is not a
    valid event is reported by number and field, and not stored."""
    read = stored = 0
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        read += 1
        try:
            event = parse_event(text)
        except (InvalidEvent, MalformedEvent) as exc:
            problems.append(f"line {number}: {exc.summary()}")
        else:
            event_id = "backfill:" + hashlib.sha256(text.encode()).hexdigest()[:32]
            stored += store.add_inbound(
                InboundEvent(
                    "talknotes", event_id, event.type, location_id, entity_key(event), text, clock()
                )
            )
        if progress is not None:
            progress(read, None)
    return BackfillReport(read, stored, 0, tuple(problems))

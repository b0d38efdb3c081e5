"""The simulator's state: locations and their contacts, tasks, notes and appointments.

Everything lives in memory behind one re-entrant lock; an optional `SqliteStateStore` is written
through on each change so the state survives a restart. Records are plain JSON-able dicts in the
shape the API returns, plus a few private keys starting with `_` (never sent to clients).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tnhl.simulator._ids import IdFactory
from tnhl.simulator._persist import SqliteStateStore

__all__ = [
    "KINDS",
    "Kind",
    "LocationSettings",
    "MatchField",
    "SimState",
    "iso",
    "normalize_phone",
    "public",
]

Kind = Literal["contact", "task", "note", "appointment"]
KINDS: tuple[Kind, ...] = ("contact", "task", "note", "appointment")
MatchField = Literal["email", "phone"]


@dataclass
class LocationSettings:
    """A location's duplicate rules (HighLevel: Settings > Business Profile > Allow Duplicate)."""

    location_id: str
    name: str = "Simulated location"
    allow_duplicates: bool = False
    duplicate_priority: list[MatchField] = field(default_factory=lambda: ["email", "phone"])


def iso(moment: datetime) -> str:
    """HighLevel's timestamp format: `2021-07-02T05:18:26.704Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalize_phone(raw: str) -> str:
    """E.164 the way HighLevel stores it for a US location (digits only, leading +)."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not digits:
        return raw.strip()
    if raw.strip().startswith("+"):
        return "+" + digits
    if len(digits) == 10:
        return "+1" + digits
    return "+" + digits


def _default_clock() -> datetime:
    return datetime.now(UTC)


class SimState:
    """Thread-safe store of every location's records; hold `lock` across read-modify-write."""

    def __init__(
        self,
        *,
        ids: IdFactory | None = None,
        clock: Callable[[], datetime] = _default_clock,
        store: SqliteStateStore | None = None,
    ) -> None:
        self.ids = ids or IdFactory()
        self.clock = clock
        self.lock = threading.RLock()
        self._store = store
        self.locations: dict[str, LocationSettings] = {}
        self._records: dict[Kind, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        # (location, value) -> contact ids in creation order, for the duplicate rules.
        self._by_email: dict[tuple[str, str], list[str]] = {}
        self._by_phone: dict[tuple[str, str], list[str]] = {}
        if store is not None:
            self._load(store)

    # -- locations -------------------------------------------------------------------------

    def ensure_location(self, settings: LocationSettings) -> None:
        """Add a configured location unless the persisted state already knows it."""
        with self.lock:
            if settings.location_id not in self.locations:
                self.put_location(settings)

    def put_location(self, settings: LocationSettings) -> None:
        with self.lock:
            self.locations[settings.location_id] = settings
            if self._store is not None:
                self._store.put_settings(settings.location_id, asdict(settings))

    def location(self, location_id: str) -> LocationSettings | None:
        with self.lock:
            return self.locations.get(location_id)

    # -- records ---------------------------------------------------------------------------

    def now(self) -> str:
        return iso(self.clock())

    def get(self, kind: Kind, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self._records[kind].get(record_id)

    def all(self, kind: Kind) -> list[dict[str, Any]]:
        """Records of one kind in creation order (a copy of the list, same dicts)."""
        with self.lock:
            return list(self._records[kind].values())

    def put(self, kind: Kind, record: dict[str, Any]) -> None:
        with self.lock:
            if kind == "contact":
                old = self._records[kind].get(record["id"])
                if old is not None:
                    self._unindex(old)
                self._index(record)
            self._records[kind][record["id"]] = record
            if self._store is not None:
                self._store.put(kind, record["id"], record)

    def delete(self, kind: Kind, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self._records[kind].pop(record_id, None)
            if record is not None:
                if kind == "contact":
                    self._unindex(record)
                if self._store is not None:
                    self._store.delete(kind, record_id)
            return record

    def children(self, kind: Kind, contact_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self._records[kind].values() if r.get("contactId") == contact_id]

    def find_by(self, location_id: str, match: MatchField, value: str) -> str | None:
        """The oldest contact of `location_id` whose email (any case) or phone is `value`."""
        with self.lock:
            if match == "email":
                ids = self._by_email.get((location_id, value.strip().lower()), [])
            else:
                ids = self._by_phone.get((location_id, normalize_phone(value)), [])
            return ids[0] if ids else None

    def reset(self) -> None:
        """Forget every record (locations and their settings stay)."""
        with self.lock:
            for records in self._records.values():
                records.clear()
            self._by_email.clear()
            self._by_phone.clear()
            if self._store is not None:
                self._store.clear()

    def snapshot(self) -> dict[str, Any]:
        """Per-location counts and records, for the admin endpoint and tests."""
        with self.lock:
            out: dict[str, Any] = {}
            for loc_id, settings in self.locations.items():
                out[loc_id] = {"settings": asdict(settings), "counts": {}, "records": {}}
            for kind, records in self._records.items():
                for record in records.values():
                    loc = record.get("locationId") or self._location_of(record)
                    entry = out.setdefault(loc, {"settings": None, "counts": {}, "records": {}})
                    entry["records"].setdefault(kind, []).append(public(record))
            for entry in out.values():
                entry["counts"] = {k: len(entry["records"].get(k, [])) for k in KINDS}
            return out

    # -- internals -------------------------------------------------------------------------

    def _location_of(self, record: dict[str, Any]) -> str:
        contact = self._records["contact"].get(record.get("contactId", ""))
        return str(contact["locationId"]) if contact else str(record.get("_locationId", ""))

    def _index(self, contact: dict[str, Any]) -> None:
        loc = contact["locationId"]
        if contact.get("email"):
            self._by_email.setdefault((loc, contact["email"].lower()), []).append(contact["id"])
        if contact.get("phone"):
            key = (loc, normalize_phone(contact["phone"]))
            self._by_phone.setdefault(key, []).append(contact["id"])

    def _unindex(self, contact: dict[str, Any]) -> None:
        loc = contact["locationId"]
        if contact.get("email"):
            _discard(self._by_email, (loc, contact["email"].lower()), contact["id"])
        if contact.get("phone"):
            _discard(self._by_phone, (loc, normalize_phone(contact["phone"])), contact["id"])

    def _load(self, store: SqliteStateStore) -> None:
        for loc_id, data in store.load_settings():
            self.locations[loc_id] = LocationSettings(**data)
        for kind, record in store.load_records():
            if kind in self._records:
                self._records[kind][record["id"]] = record
                if kind == "contact":
                    self._index(record)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its private (`_`-prefixed) keys and without null values."""
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}


def _discard(index: dict[tuple[str, str], list[str]], key: tuple[str, str], value: str) -> None:
    ids = index.get(key)
    if ids and value in ids:
        ids.remove(value)
        if not ids:
            del index[key]

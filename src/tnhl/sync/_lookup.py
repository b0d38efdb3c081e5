"""The id map and record tombstones as one claim batch sees them: each read once, then cached.

A batch's records are distinct, so what one record's settlement links (a contact just created)
is learnt here and seen by the records planned after it in the same batch.
"""

from __future__ import annotations

from tnhl.store import Link, SqlStore

__all__ = ["BatchLookup"]


class BatchLookup:
    """`IdLookup` over the store for one location, cached for one batch."""

    def __init__(self, store: SqlStore, location_id: str) -> None:
        self._store = store
        self._location = location_id
        self._hl: dict[tuple[str, str], str | None] = {}
        self._tn: dict[tuple[str, str], str | None] = {}
        self._deleted: dict[tuple[str, str], bool] = {}

    def highlevel_id(self, kind: str, talknotes_id: str) -> str | None:
        key = (kind, talknotes_id)
        if key not in self._hl:
            self._hl[key] = self._store.get_highlevel_id(self._location, kind, talknotes_id)
        return self._hl[key]

    def talknotes_id(self, kind: str, highlevel_id: str) -> str | None:
        key = (kind, highlevel_id)
        if key not in self._tn:
            self._tn[key] = self._store.get_talknotes_id(self._location, kind, highlevel_id)
        return self._tn[key]

    def is_deleted(self, kind: str, talknotes_id: str) -> bool:
        key = (kind, talknotes_id)
        if key not in self._deleted:
            state = self._store.get_record(self._location, kind, talknotes_id)
            self._deleted[key] = state is not None and state.deleted_at is not None
        return self._deleted[key]

    def learn(self, link: Link) -> None:
        self._hl[(link.kind, link.talknotes_id)] = link.highlevel_id
        self._tn[(link.kind, link.highlevel_id)] = link.talknotes_id

    def learn_deleted(self, kind: str, talknotes_id: str) -> None:
        self._deleted[(kind, talknotes_id)] = True

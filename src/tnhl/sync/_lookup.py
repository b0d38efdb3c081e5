"""The id map and record tombstones as one claim batch sees them: each read once, then cached.

A batch's records are distinct, so what one record's settlement links (a contact just created)
is learnt here and seen by the records planned after it in the same batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from tnhl.store import Link, OutboundOp, RecordClaim, RecordState, SqlStore
from tnhl.sync._plan_types import create_key

__all__ = ["BatchLookup", "batch_lookups"]


def batch_lookups(store: SqlStore, claims: Sequence[RecordClaim]) -> dict[str, BatchLookup]:
    """One lookup per location of the batch, primed with what its records' plans will ask,
    read for all locations at once (three queries, not three per location nor ~4 a record)."""
    lookups = {loc: BatchLookup(store, loc) for loc in {c.state.location_id for c in claims}}
    triples = []
    keys = []
    for c in claims:
        st = c.state
        triples += [
            (st.location_id, st.kind, st.talknotes_id),
            (st.location_id, "contact", st.contact_id),
        ]
        keys.append(create_key(st.location_id, st.kind, st.talknotes_id))
    got = store.read_batch(records=triples, op_keys=keys)
    for loc, kind, tn in got.asked:
        lookup = lookups[loc]
        lookup._hl.setdefault((kind, tn), got.links.get((loc, kind, tn)))
        lookup._deleted.setdefault((kind, tn), (loc, kind, tn) in got.deleted)
    for c, key in zip(claims, keys, strict=True):
        lookups[c.state.location_id]._ops.setdefault(key, got.ops.get(key))
    return lookups


class BatchLookup:
    """`IdLookup` over the store for one location, cached for one batch (`batch_lookups`
    fills it)."""

    def __init__(self, store: SqlStore, location_id: str) -> None:
        self._store = store
        self._location = location_id
        self._hl: dict[tuple[str, str], str | None] = {}
        self._tn: dict[tuple[str, str], str | None] = {}
        self._deleted: dict[tuple[str, str], bool] = {}
        self._ops: dict[str, OutboundOp | None] = {}
        self._learnt: set[tuple[str, str]] = set()

    def op(self, key: str) -> OutboundOp | None:
        """The outbound op under `key` as it was when the batch began (each is used once)."""
        if key not in self._ops:
            return self._store.get_op(key)
        return self._ops.pop(key)

    def op_absent(self, key: str) -> bool:
        """Known (read when the batch began) to have no outbound op yet."""
        return key in self._ops and self._ops[key] is None

    def touched(self, state: RecordState) -> bool:
        """Something was learnt about this record or its contact since the batch began."""
        return (state.kind, state.talknotes_id) in self._learnt or (
            "contact",
            state.contact_id,
        ) in self._learnt

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

    def create_unconfirmed(self, kind: str, talknotes_id: str) -> bool:
        key = create_key(self._location, kind, talknotes_id)
        if key not in self._ops:
            self._ops[key] = self._store.get_op(key)
        op = self._ops[key]
        return op is not None and op.state in ("sent", "unknown")

    def is_deleted(self, kind: str, talknotes_id: str) -> bool:
        key = (kind, talknotes_id)
        if key not in self._deleted:
            state = self._store.get_record(self._location, kind, talknotes_id)
            self._deleted[key] = state is not None and state.deleted_at is not None
        return self._deleted[key]

    def learn(self, link: Link) -> None:
        self._learnt.add((link.kind, link.talknotes_id))
        self._hl[(link.kind, link.talknotes_id)] = link.highlevel_id
        self._tn[(link.kind, link.highlevel_id)] = link.talknotes_id

    def learn_deleted(self, kind: str, talknotes_id: str) -> None:
        self._learnt.add((kind, talknotes_id))
        self._deleted[(kind, talknotes_id)] = True

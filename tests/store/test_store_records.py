"""Records converge whatever order their events arrive in: `lww_merge` is order-free, and so
is folding through the real store (hypothesis)."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.store.test_store_contract import change, fold_body

from tnhl.store import Delta, SqlStore, lww_merge

FIELDS = ("name", "phone", "email")
VALUES = st.one_of(st.none(), st.integers(-2, 2), st.text("xyz", max_size=2))
_examples = itertools.count()


@st.composite
def deltas(draw: st.DrawFn) -> list[Delta]:
    """1-7 Deltas on one contact: few fields, `at` in 0..2 (so equal times are common) and
    distinct tiebreaks; now and then a delete."""
    tiebreaks = draw(
        st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=7, unique=True)
    )
    out = []
    for i, tiebreak in enumerate(tiebreaks, start=1):
        fields = draw(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=3))
        out.append(
            Delta(
                inbox_id=i,
                kind="contact",
                talknotes_id="c1",
                contact_id="c1",
                at=float(draw(st.integers(0, 2))),
                tiebreak=tiebreak,
                fields=fields,
                delete=draw(st.integers(0, 3)) == 0,
            )
        )
    return out


@given(ds=deltas(), data=st.data())
def test_lww_merge_is_the_same_over_any_permutation(ds: list[Delta], data: st.DataObject) -> None:
    """lww_merge gives the same registers, delete time and first time for any order of the
    same Deltas, and merging in two steps equals merging at once."""
    whole = lww_merge({}, None, None, ds)
    shuffled = data.draw(st.permutations(ds))
    assert lww_merge({}, None, None, shuffled) == whole
    cut = data.draw(st.integers(0, len(ds)))
    assert lww_merge(*lww_merge({}, None, None, shuffled[:cut]), shuffled[cut:]) == whole


def _add(store: SqlStore, loc: str, d: Delta, n: int) -> None:
    ev = change(
        n,
        "c1",
        at=d.at,
        fields=dict(d.fields),
        delete=d.delete,
        tiebreak=d.tiebreak,
        loc=loc,
        event_id=f"{loc}-{n}",
    )
    assert store.add_inbound(ev)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ds=deltas(), data=st.data())
def test_folding_through_the_store_in_two_orders_gives_the_same_record(
    store: SqlStore, ds: list[Delta], data: st.DataObject
) -> None:
    """The same events folded by the store in two orders (all in one claim, or one claim per
    event in a shuffled order) leave equal records, equal to lww_merge's."""
    n = next(_examples)  # the store lives across examples: fresh locations each time
    at_once, one_by_one = f"p{n}-a", f"p{n}-b"
    for i, d in enumerate(ds):
        _add(store, at_once, d, i)
    assert store.claim("w", fold=fold_body, limit=0) == []
    for i, d in enumerate(data.draw(st.permutations(ds))):
        _add(store, one_by_one, d, i)
        assert store.claim("w", fold=fold_body, limit=0, fold_limit=1) == []

    a = store.get_record(at_once, "contact", "c1")
    b = store.get_record(one_by_one, "contact", "c1")
    assert a is not None
    assert b is not None
    assert a.values() == b.values()
    fields, deleted_at, first_at = lww_merge({}, None, None, ds)
    expected: dict[str, Any] = {name: reg[0] for name, reg in fields.items()}
    assert a.values() == expected
    for rec in (a, b):
        assert (dict(rec.fields), rec.deleted_at, rec.first_at) == (fields, deleted_at, first_at)

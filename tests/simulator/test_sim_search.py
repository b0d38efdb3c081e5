"""Search filters, sort and paging; the deprecated list's cursor; business skip/limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tnhl.simulator import RunningSimulator


@pytest.fixture
def people(client: httpx.Client, sim: RunningSimulator) -> list[dict[str, Any]]:
    """Five contacts, created 1 ms apart (the fixture's step clock)."""
    rows = [
        {"firstName": "Ann", "email": "ann@x.io", "tags": ["vip", "lead"], "dnd": True},
        {"firstName": "Bob", "email": "bob@y.io", "tags": ["lead"]},
        {"firstName": "Cid", "phone": "+15550007001"},
        {"firstName": "Dee", "email": "dee@x.io", "tags": ["vip"]},
        {"firstName": "Eve", "email": "eve@z.io"},
    ]
    out = []
    for row in rows:
        r = client.post("/contacts/", json={"locationId": sim.location_id, **row})
        assert r.status_code == 201
        out.append(r.json()["contact"])
    return out


def _search(client: httpx.Client, sim: RunningSimulator, **body: Any) -> dict[str, Any]:
    r = client.post(
        "/contacts/search", json={"locationId": sim.location_id, "pageLimit": 20, **body}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _names(result: dict[str, Any]) -> list[str]:
    return [c["firstName"] for c in result["contacts"]]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"field": "email", "operator": "eq", "value": "BOB@y.io"}, ["Bob"]),
        ({"field": "tags", "operator": "eq", "value": "vip"}, ["Ann", "Dee"]),
        ({"field": "tags", "operator": "not_eq", "value": "vip"}, ["Bob", "Cid", "Eve"]),
        ({"field": "email", "operator": "contains", "value": "x.io"}, ["Ann", "Dee"]),
        ({"field": "email", "operator": "not_contains", "value": "x.io"}, ["Bob", "Cid", "Eve"]),
        ({"field": "phone", "operator": "exists"}, ["Cid"]),
        ({"field": "email", "operator": "not_exists"}, ["Cid"]),
        ({"field": "dnd", "operator": "eq", "value": True}, ["Ann"]),
    ],
)
def test_filter_operators(client, sim, people, flt, expected) -> None:
    """Each operator selects exactly the matching contacts."""
    result = _search(client, sim, filters=[flt], sort=[{"field": "firstName", "direction": "asc"}])
    assert _names(result) == expected
    assert result["total"] == len(expected)


def test_range_on_date_added(client, sim, people) -> None:
    """range with gte/lt on dateAdded bounds by time (ISO values)."""
    flt = {
        "field": "dateAdded",
        "operator": "range",
        "value": {"gte": people[1]["dateAdded"], "lt": people[3]["dateAdded"]},
    }
    result = _search(client, sim, filters=[flt], sort=[{"field": "dateAdded", "direction": "asc"}])
    assert _names(result) == ["Bob", "Cid"]


def test_and_or_groups(client, sim, people) -> None:
    """An OR group inside the ANDed top level."""
    filters = [
        {
            "group": "OR",
            "filters": [
                {"field": "firstNameLowerCase", "operator": "eq", "value": "bob"},
                {"field": "tags", "operator": "eq", "value": "vip"},
            ],
        },
        {"field": "email", "operator": "not_contains", "value": "ann"},
    ]
    result = _search(
        client, sim, filters=filters, sort=[{"field": "firstName", "direction": "asc"}]
    )
    assert _names(result) == ["Bob", "Dee"]


def test_default_sort_is_newest_first_and_search_after_is_set(client, sim, people) -> None:
    """Without sort, newest first; each contact carries searchAfter [dateAdded ms, id]."""
    result = _search(client, sim)
    assert _names(result) == ["Eve", "Dee", "Cid", "Bob", "Ann"]
    last = result["contacts"][-1]
    assert last["searchAfter"][1] == last["id"]
    assert isinstance(last["searchAfter"][0], int)


def test_page_and_page_limit(client, sim, people) -> None:
    """page/pageLimit walk the sorted hits; total counts them all."""
    sort = [{"field": "firstName", "direction": "asc"}]
    pages = [_names(_search(client, sim, sort=sort, pageLimit=2, page=p)) for p in (1, 2, 3)]
    assert pages == [["Ann", "Bob"], ["Cid", "Dee"], ["Eve"]]
    assert _search(client, sim, sort=sort, pageLimit=2, page=3)["total"] == 5


def test_search_after_walks_every_contact_once(client, sim, people) -> None:
    """Copying the last contact's searchAfter returns the next page, without overlap."""
    seen: list[str] = []
    cursor = None
    while True:
        body: dict[str, Any] = {
            "pageLimit": 2,
            "sort": [{"field": "dateAdded", "direction": "desc"}],
        }
        if cursor is not None:
            body["searchAfter"] = cursor
        page = _search(client, sim, **body)["contacts"]
        if not page:
            break
        seen.extend(c["firstName"] for c in page)
        cursor = page[-1]["searchAfter"]
    assert seen == ["Eve", "Dee", "Cid", "Bob", "Ann"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"pageLimit": 501}, 422),
        ({"pageLimit": 500, "page": 21}, 400),
        ({"page": 1, "searchAfter": [1, "x"]}, 400),
        ({"filters": [{"field": "email", "operator": "like", "value": "a"}]}, 422),
        ({"filters": [{"field": "email", "operator": "eq", "value": "a" * 76}]}, 422),
        ({"bogus": 1}, 422),
    ],
)
def test_search_limits(client, sim, body, status) -> None:
    """pageLimit <= 500, page*pageLimit <= 10,000, no page with searchAfter, known operators."""
    r = client.post(
        "/contacts/search", json={"locationId": sim.location_id, "pageLimit": 10, **body}
    )
    assert r.status_code == status, r.text


def test_query_is_a_text_search(client, sim, people) -> None:
    """`query` matches names, emails and phones, case-insensitively."""
    assert _names(_search(client, sim, query="DEE")) == ["Dee"]


def test_deprecated_list_pages_with_start_after(client, sim, people) -> None:
    """GET /contacts/ pages oldest first; meta carries startAfterId/startAfter until the end."""
    seen: list[str] = []
    params: dict[str, Any] = {"locationId": sim.location_id, "limit": 2}
    pages = 0
    while True:
        r = client.get("/contacts/", params=params)
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == 5
        assert body["meta"]["total"] == 5
        seen.extend(c["firstName"] for c in body["contacts"])
        pages += 1
        meta = body["meta"]
        if "startAfterId" not in meta:
            break
        assert meta["nextPageUrl"].endswith(
            f"startAfter={meta['startAfter']}&startAfterId={meta['startAfterId']}"
        )
        params = {**params, "startAfterId": meta["startAfterId"], "startAfter": meta["startAfter"]}
    assert seen == ["Ann", "Bob", "Cid", "Dee", "Eve"]
    assert pages == 3


def test_deprecated_list_limit_is_capped(client, sim) -> None:
    """limit above 100 is a 422."""
    r = client.get("/contacts/", params={"locationId": sim.location_id, "limit": 101})
    assert r.status_code == 422


def test_business_contacts_skip_and_limit(client, sim, people) -> None:
    """Business contacts page with skip/limit (strings) and count them all."""
    biz = "0123456789abcdef01234567"
    ids = [p["id"] for p in people]
    r = client.post(
        "/contacts/bulk/business",
        json={"locationId": sim.location_id, "ids": ids, "businessId": biz},
    )
    assert r.json()["ids"] == ids
    r = client.get(
        f"/contacts/business/{biz}",
        params={"locationId": sim.location_id, "skip": "1", "limit": "2"},
    )
    body = r.json()
    assert [c["firstName"] for c in body["contacts"]] == ["Bob", "Cid"]
    assert body["count"] == 5
    client.post(
        "/contacts/bulk/business",
        json={"locationId": sim.location_id, "ids": ids[:4], "businessId": None},
    )
    r = client.get(f"/contacts/business/{biz}", params={"locationId": sim.location_id})
    assert [c["firstName"] for c in r.json()["contacts"]] == ["Eve"]

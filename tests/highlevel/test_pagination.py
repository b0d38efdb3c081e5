"""Paginating iterators of both clients: search, the deprecated list, business contacts."""

from __future__ import annotations

import json

import httpx
import pytest
from hl_support import LOCATION, Recorder, Runner, reply

from tnhl.highlevel import PaginationError, SearchRequest


def _contacts(start: int, count: int) -> list[dict[str, object]]:
    return [{"id": f"c{n}", "searchAfter": [n, f"c{n}"]} for n in range(start, start + count)]


def test_search_pages_then_switches_to_search_after(runner: Runner) -> None:
    """Search reads pages 1..20 of 500, then continues with searchAfter from the last contact."""
    total = 10_700

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        limit = body["pageLimit"]
        if "page" in body:
            assert "searchAfter" not in body
            start = (body["page"] - 1) * limit
        else:
            start = body["searchAfter"][0] + 1
        return reply(200, {"contacts": _contacts(start, min(limit, total - start)), "total": total})

    rec = Recorder(handler)
    request = SearchRequest(location_id=LOCATION, page_limit=500)
    contacts = runner.collect(rec, "search_contacts", request)
    assert [c.id for c in contacts] == [f"c{n}" for n in range(total)]
    bodies = rec.bodies()
    assert [b.get("page") for b in bodies[:20]] == list(range(1, 21))
    assert bodies[20]["searchAfter"] == [9_999, "c9999"]
    assert "page" not in bodies[20]
    assert all(b["locationId"] == LOCATION for b in bodies)


def test_search_stops_on_a_short_page(runner: Runner) -> None:
    """A page shorter than pageLimit ends the search (one request for 3 of 10)."""
    rec = Recorder([reply(200, {"contacts": _contacts(0, 3), "total": 3})])
    contacts = runner.collect(rec, "search_contacts", {"locationId": LOCATION, "pageLimit": 10})
    assert len(contacts) == 3
    assert len(rec.requests) == 1


def test_search_repeating_cursor_raises(runner: Runner) -> None:
    """A searchAfter cursor returned twice raises PaginationError instead of looping."""
    same = {"contacts": [{"id": "x", "searchAfter": [5, "x"]}] * 2}
    rec = Recorder(lambda _: reply(200, same))
    request = SearchRequest(location_id=LOCATION, page_limit=2, search_after=[1, "a"])
    with pytest.raises(PaginationError):
        runner.collect(rec, "search_contacts", request)
    assert len(rec.requests) == 2


def test_list_contacts_follows_meta_cursor(runner: Runner) -> None:
    """GET /contacts/ pages with startAfterId/startAfter from meta until a short page."""
    pages = [
        {"contacts": _contacts(0, 2), "meta": {"startAfterId": "c1", "startAfter": 111}},
        {"contacts": _contacts(2, 2), "meta": {"startAfterId": "c3", "startAfter": 222}},
        {"contacts": _contacts(4, 1), "meta": {"startAfterId": "c4", "startAfter": 333}},
    ]
    rec = Recorder([reply(200, p) for p in pages])
    contacts = runner.collect(rec, "list_contacts", LOCATION, limit=2)
    assert [c.id for c in contacts] == ["c0", "c1", "c2", "c3", "c4"]
    params = [dict(r.url.params) for r in rec.requests]
    assert params[0] == {"locationId": LOCATION, "limit": "2"}
    assert params[1]["startAfterId"] == "c1"
    assert params[1]["startAfter"] == "111"
    assert params[2]["startAfterId"] == "c3"


def test_list_contacts_stops_without_cursor(runner: Runner) -> None:
    """A full page whose meta has no startAfterId ends the listing."""
    rec = Recorder([reply(200, {"contacts": _contacts(0, 2), "meta": {}})])
    assert len(runner.collect(rec, "list_contacts", LOCATION, limit=2)) == 2
    assert len(rec.requests) == 1


def test_list_contacts_repeating_cursor_raises(runner: Runner) -> None:
    """The same startAfterId twice raises PaginationError."""
    page = {"contacts": _contacts(0, 2), "meta": {"startAfterId": "c1", "startAfter": 1}}
    rec = Recorder(lambda _: reply(200, page))
    with pytest.raises(PaginationError):
        runner.collect(rec, "list_contacts", LOCATION, limit=2)
    assert len(rec.requests) == 2


def test_business_contacts_skip_and_limit(runner: Runner) -> None:
    """Business contacts page with skip/limit as strings until a short page."""
    rec = Recorder(
        [reply(200, {"contacts": _contacts(0, 2)}), reply(200, {"contacts": _contacts(2, 1)})]
    )
    contacts = runner.collect(rec, "list_business_contacts", "b" * 24, LOCATION, limit=2)
    assert [c.id for c in contacts] == ["c0", "c1", "c2"]
    assert [r.url.params["skip"] for r in rec.requests] == ["0", "2"]
    assert rec.requests[0].url.path == f"/contacts/business/{'b' * 24}"


def test_business_contacts_ignoring_skip_raises(runner: Runner) -> None:
    """A server that ignores skip (same page again) raises PaginationError."""
    rec = Recorder(lambda _: reply(200, {"contacts": _contacts(0, 2)}))
    with pytest.raises(PaginationError):
        runner.collect(rec, "list_business_contacts", "b" * 24, LOCATION, limit=2)


def test_answer_without_contacts_list_raises(runner: Runner) -> None:
    """An answer with no contacts list is a PaginationError, not a silent empty listing."""
    rec = Recorder([reply(200, {"contacts": "nope"})])
    with pytest.raises(PaginationError):
        runner.collect(rec, "list_contacts", LOCATION)

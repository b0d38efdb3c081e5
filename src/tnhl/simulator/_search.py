"""POST /contacts/search filters, sort and paging; the deprecated list; business contacts.

Search semantics follow docs/highlevel-api.md section 5: top-level filters are ANDed, groups are
`{group: AND|OR, filters}`, pageLimit <= 500, page * pageLimit <= 10,000, and `searchAfter` is the
`[sortValue, id]` of the last contact of the previous page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tnhl.simulator._contacts import list_view
from tnhl.simulator._http import SimHTTPError

__all__ = ["business_page", "list_page", "search"]

_DATE_FIELDS = {"dateAdded", "dateUpdated", "dateOfBirth", "lastActivity"}
_OPERATORS = {"eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"}
_OPS_ORDER = ("eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range")
_RANGE_KEYS = {"gte", "lte", "gt", "lt"}
_MAX_VALUE_LEN = 75


def to_ms(value: Any) -> float | None:
    """Epoch milliseconds of an ISO date string or a number; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            return None
    return None


def _value(contact: dict[str, Any], field: str) -> Any:
    value = contact.get(field)
    if field in _DATE_FIELDS and value is not None:
        return to_ms(value)
    return value


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _compile(item: Any, path: str) -> Callable[[dict[str, Any]], bool]:
    if not isinstance(item, dict):
        raise SimHTTPError(422, [f"{path} must be an object"])
    if "group" in item:
        group, subs = item.get("group"), item.get("filters")
        if group not in ("AND", "OR") or not isinstance(subs, list):
            raise SimHTTPError(422, [f"{path}.group must be AND or OR with a filters array"])
        parts = [_compile(sub, f"{path}.filters.{i}") for i, sub in enumerate(subs)]
        if group == "AND":
            return lambda c: all(p(c) for p in parts)
        return lambda c: any(p(c) for p in parts)
    field, op, value = item.get("field"), item.get("operator"), item.get("value")
    extra = set(item) - {"field", "operator", "value"}
    if extra:
        raise SimHTTPError(422, [f"{path}.property {sorted(extra)[0]} should not exist"])
    if not isinstance(field, str) or not field:
        raise SimHTTPError(422, [f"{path}.field must be a string"])
    if op not in _OPERATORS:
        raise SimHTTPError(
            422,
            [f"{path}.operator must be one of the following values: {', '.join(_OPS_ORDER)}"],
        )
    if isinstance(value, str) and len(value) > _MAX_VALUE_LEN:
        raise SimHTTPError(422, [f"{path}.value must be shorter than or equal to 75 characters"])
    if op in ("exists", "not_exists"):
        want = op == "exists"
        return lambda c: (_value(c, field) not in (None, "", [])) == want
    if op == "range":
        if not isinstance(value, dict) or not value or set(value) - _RANGE_KEYS:
            raise SimHTTPError(422, [f"{path}.value must be an object of gte, lte, gt, lt"])
        bounds = {k: (to_ms(v) if field in _DATE_FIELDS else v) for k, v in value.items()}
        return lambda c: _in_range(_value(c, field), bounds)
    if value is None:
        raise SimHTTPError(422, [f"{path}.value should not be empty"])
    target = to_ms(value) if field in _DATE_FIELDS else _norm(value)
    if op in ("eq", "not_eq"):
        positive = op == "eq"
        return lambda c: _equals(_value(c, field), target) == positive
    needle = str(value).lower()
    positive = op == "contains"
    return lambda c: _contains(_value(c, field), needle) == positive


def _equals(actual: Any, target: Any) -> bool:
    if isinstance(actual, list):
        return any(_norm(a) == target for a in actual)
    return bool(_norm(actual) == target)


def _contains(actual: Any, needle: str) -> bool:
    if isinstance(actual, list):
        return any(needle in str(a).lower() for a in actual)
    return actual is not None and needle in str(actual).lower()


def _in_range(actual: Any, bounds: dict[str, Any]) -> bool:
    if actual is None:
        return False
    try:
        return all(
            (k == "gte" and actual >= b)
            or (k == "gt" and actual > b)
            or (k == "lte" and actual <= b)
            or (k == "lt" and actual < b)
            for k, b in bounds.items()
        )
    except TypeError:
        return False


def _matches_query(contact: dict[str, Any], query: str | None) -> bool:
    if not query:
        return True
    q = query.lower()
    hay = ("name", "email", "phone", "companyName", "firstName", "lastName")
    return any(q in str(contact.get(k) or "").lower() for k in hay)


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(c: dict[str, Any]) -> tuple[int, Any]:
        v = _value(c, field)
        if v is None:
            return (0, 0)
        if isinstance(v, str):
            return (1, v.lower())
        if isinstance(v, bool | int | float):
            return (2, float(v))
        return (3, str(v))

    return key


def search(contacts: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """Run a validated SearchBodyV2DTO over a location's contacts: `{contacts, total}`."""
    page_limit = body["pageLimit"]
    if page_limit < 1 or page_limit != int(page_limit):
        raise SimHTTPError(422, ["pageLimit must not be less than 1"])
    if page_limit > 500:
        raise SimHTTPError(422, ["pageLimit must not be greater than 500"])
    page = body.get("page")
    search_after = body.get("searchAfter")
    if page is not None and search_after is not None:
        raise SimHTTPError(400, "page and searchAfter cannot be used together")
    if page is not None and (page < 1 or page != int(page)):
        raise SimHTTPError(422, ["page must not be less than 1"])
    if page is not None and page * page_limit > 10_000:
        raise SimHTTPError(400, "page * pageLimit must not exceed 10000; use searchAfter")
    query = body.get("query")
    if isinstance(query, str) and len(query) > _MAX_VALUE_LEN:
        raise SimHTTPError(422, ["query must be shorter than or equal to 75 characters"])
    preds = [_compile(f, f"filters.{i}") for i, f in enumerate(body.get("filters") or [])]
    sort = body.get("sort") or [{"field": "dateAdded", "direction": "desc"}]
    for i, s in enumerate(sort):
        if not isinstance(s, dict) or not isinstance(s.get("field"), str):
            raise SimHTTPError(422, [f"sort.{i}.field must be a string"])
        if s.get("direction", "asc") not in ("asc", "desc"):
            raise SimHTTPError(
                422, [f"sort.{i}.direction must be one of the following values: asc, desc"]
            )
    hits = [c for c in contacts if _matches_query(c, query) and all(p(c) for p in preds)]
    # Stable multi-key sort: last key first; the id breaks ties so searchAfter is exact.
    first = sort[0]
    hits.sort(key=lambda c: c["id"], reverse=first.get("direction", "asc") == "desc")
    for s in reversed(sort):
        hits.sort(key=_sort_key(s["field"]), reverse=s.get("direction", "asc") == "desc")
    total = len(hits)
    primary = first["field"]
    if search_after is not None:
        hits = _after(hits, search_after, primary, first.get("direction", "asc") == "desc")
    else:
        start = ((int(page) if page else 1) - 1) * int(page_limit)
        hits = hits[start:]
    out = []
    for c in hits[: int(page_limit)]:
        view = list_view(c)
        sort_value = _value(c, primary)
        if isinstance(sort_value, float) and sort_value.is_integer():
            sort_value = int(sort_value)
        view["searchAfter"] = [sort_value if sort_value is not None else 0, c["id"]]
        out.append(view)
    return {"contacts": out, "total": total}


def _after(
    hits: list[dict[str, Any]], cursor: Any, primary: str, desc: bool
) -> list[dict[str, Any]]:
    if not isinstance(cursor, list) or len(cursor) != 2 or not isinstance(cursor[1], str):
        raise SimHTTPError(422, ["searchAfter must be an array of [sortValue, id]"])
    for i, c in enumerate(hits):
        if c["id"] == cursor[1]:
            return hits[i + 1 :]
    # The cursor's contact is gone (deleted): resume after its (sort value, id) position.
    key = _sort_key(primary)
    probe = (
        key({primary: cursor[0]}) if primary not in _DATE_FIELDS else (2, float(cursor[0])),
        cursor[1],
    )
    try:
        if desc:
            return [c for c in hits if (key(c), c["id"]) < probe]
        return [c for c in hits if (key(c), c["id"]) > probe]
    except (TypeError, ValueError):
        return []


def list_page(
    contacts: list[dict[str, Any]],
    *,
    base_url: str,
    location_id: str,
    limit: int,
    start_after_id: str | None,
    start_after: float | None,
    query: str | None,
) -> dict[str, Any]:
    """The deprecated GET /contacts/: oldest first, cursor = (dateAdded ms, id) of the last item."""
    hits = [c for c in contacts if _matches_query(c, query)]
    hits.sort(key=lambda c: (to_ms(c["dateAdded"]) or 0, c["id"]))
    if start_after_id is not None or start_after is not None:
        ids = [c["id"] for c in hits]
        if start_after_id in ids:
            hits = hits[ids.index(start_after_id) + 1 :]
        elif start_after is not None:
            hits = [c for c in hits if (to_ms(c["dateAdded"]) or 0) > start_after]
    total = len([c for c in contacts if _matches_query(c, query)])
    offset = total - len(hits)
    page = hits[:limit]
    more = len(hits) > limit
    current = offset // limit + 1 if limit else 1
    meta: dict[str, Any] = {
        "total": total,
        "currentPage": current,
        "nextPage": current + 1 if more else None,
        "prevPage": current - 1 if current > 1 else None,
    }
    if more and page:
        last = page[-1]
        last_ms = int(to_ms(last["dateAdded"]) or 0)
        meta["startAfterId"] = last["id"]
        meta["startAfter"] = last_ms
        meta["nextPageUrl"] = (
            f"{base_url}/contacts/?locationId={location_id}"
            f"&startAfter={last_ms}&startAfterId={last['id']}"
        )
    # `count` is what the spec declares; `meta` is what HighLevel really sends.
    return {"contacts": [list_view(c) for c in page], "count": total, "meta": meta}


def business_page(
    contacts: list[dict[str, Any]], *, business_id: str, skip: int, limit: int, query: str | None
) -> dict[str, Any]:
    hits = [c for c in contacts if c.get("businessId") == business_id and _matches_query(c, query)]
    return {"contacts": [list_view(c) for c in hits[skip : skip + limit]], "count": len(hits)}

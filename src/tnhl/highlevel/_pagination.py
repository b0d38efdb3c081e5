"""Pagers: the paging logic of the three contact listings, shared by the sync and async clients.

A pager says which call comes next (``next_call``) and reads each answer (``feed``); the clients
only loop. Each pager guards against a cursor it has already seen (``PaginationError``), since a
server that repeats a cursor would otherwise make a sync loop forever.

- ``POST /contacts/search``: ``page`` 1, 2, ... while standard paging may go (10,000 records);
  past that, ``searchAfter`` copied from the last contact of the previous page.
- ``GET /contacts/`` (deprecated): ``startAfterId`` + ``startAfter`` from ``meta``; stop when they
  are missing or a page is short.
- ``GET /contacts/business/{businessId}``: ``skip`` / ``limit`` (strings on the wire).

Source: highlevel-api.md §5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tnhl.highlevel._errors import PaginationError
from tnhl.highlevel._models import Contact
from tnhl.highlevel._search import MAX_STANDARD_RECORDS, SearchRequest

__all__ = ["BusinessContactsPager", "ContactListPager", "NextCall", "Pager", "SearchPager"]


@dataclass(frozen=True, slots=True)
class NextCall:
    """The arguments of the next ``call``."""

    operation_id: str
    params: dict[str, object]
    json: object | None = None


class Pager(Protocol):
    def next_call(self) -> NextCall | None:
        """The next call to make, or None when the listing is done."""
        ...

    def feed(self, body: Any) -> list[Contact]:
        """Read one answer; return its contacts and move the cursor."""
        ...


def _contacts(body: Any, where: str) -> list[Contact]:
    if not isinstance(body, Mapping) or not isinstance(body.get("contacts", []), list):
        raise PaginationError(f"{where}: the answer has no `contacts` list")
    return [Contact.model_validate(item) for item in body.get("contacts", [])]


class SearchPager:
    """Pages through ``search-contacts-advanced``."""

    def __init__(self, request: SearchRequest) -> None:
        self._request = request.model_copy()
        self._limit = request.page_limit
        self._page: int | None = request.page if request.search_after is None else None
        if self._page is None and request.search_after is None:
            self._page = 1
        self._search_after: list[Any] | None = request.search_after
        self._seen: set[str] = set()
        self._done = False

    def next_call(self) -> NextCall | None:
        if self._done:
            return None
        wire = self._request.to_wire()
        wire.pop("page", None)
        wire.pop("searchAfter", None)
        if self._page is not None:
            wire["page"] = self._page
        else:
            wire["searchAfter"] = self._search_after
        return NextCall("search-contacts-advanced", {}, wire)

    def feed(self, body: Any) -> list[Contact]:
        contacts = _contacts(body, "search-contacts-advanced")
        if len(contacts) < self._limit:
            self._done = True
            return contacts
        if self._page is not None and (self._page + 1) * self._limit <= MAX_STANDARD_RECORDS:
            self._page += 1
            return contacts
        cursor = contacts[-1].search_after
        if not cursor:
            raise PaginationError(
                "search-contacts-advanced: going past 10,000 records needs the last contact's "
                "`searchAfter`, which the answer lacks"
            )
        key = repr(cursor)
        if key in self._seen:
            raise PaginationError(f"search-contacts-advanced: searchAfter {key} repeated")
        self._seen.add(key)
        self._page = None
        self._search_after = list(cursor)
        return contacts


class ContactListPager:
    """Pages through ``get-contacts`` with ``startAfterId`` / ``startAfter`` from ``meta``."""

    def __init__(self, location_id: str, *, limit: int = 100, query: str | None = None) -> None:
        self._params: dict[str, object] = {"locationId": location_id, "limit": limit}
        if query:
            self._params["query"] = query
        self._limit = limit
        self._seen: set[tuple[object, object]] = set()
        self._done = False

    def next_call(self) -> NextCall | None:
        return None if self._done else NextCall("get-contacts", dict(self._params))

    def feed(self, body: Any) -> list[Contact]:
        contacts = _contacts(body, "get-contacts")
        meta = body.get("meta") if isinstance(body, Mapping) else None
        after_id = meta.get("startAfterId") if isinstance(meta, Mapping) else None
        after = meta.get("startAfter") if isinstance(meta, Mapping) else None
        if len(contacts) < self._limit or not after_id:
            self._done = True
            return contacts
        cursor = (after_id, after)
        if cursor in self._seen:
            raise PaginationError(f"get-contacts: cursor startAfterId={after_id!r} repeated")
        self._seen.add(cursor)
        self._params["startAfterId"] = after_id
        if after is not None:
            self._params["startAfter"] = after
        else:
            self._params.pop("startAfter", None)
        return contacts


class BusinessContactsPager:
    """Pages through ``get-contacts-by-businessId`` with ``skip`` / ``limit``."""

    def __init__(self, business_id: str, location_id: str, *, limit: int = 100) -> None:
        self._base: dict[str, object] = {
            "businessId": business_id,
            "locationId": location_id,
            "limit": str(limit),
        }
        self._limit = limit
        self._skip = 0
        self._first_ids: set[str] = set()
        self._done = False

    def next_call(self) -> NextCall | None:
        if self._done:
            return None
        return NextCall("get-contacts-by-businessId", {**self._base, "skip": str(self._skip)})

    def feed(self, body: Any) -> list[Contact]:
        contacts = _contacts(body, "get-contacts-by-businessId")
        if contacts:
            # An offset cursor cannot repeat, but a server ignoring `skip` repeats its page.
            first = contacts[0].id
            if first in self._first_ids:
                raise PaginationError(
                    f"get-contacts-by-businessId: skip={self._skip} returned a page already seen"
                )
            self._first_ids.add(first)
        if len(contacts) < self._limit:
            self._done = True
        self._skip += len(contacts)
        return contacts

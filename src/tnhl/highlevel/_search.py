"""The body of ``POST /contacts/search`` (search-contacts-advanced).

The current spec leaves ``SearchBodyV2DTO`` empty; the shape below is the one documented in the
white-label copy of HighLevel's docs (https://help.hoopai.com/api-reference/overview/contacts-search),
which agrees with the first spec version (highlevel-api.md §5):
``{locationId, pageLimit, page | searchAfter, filters, sort, query}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from tnhl.highlevel._models import WireModel

__all__ = [
    "MAX_PAGE_LIMIT",
    "MAX_STANDARD_RECORDS",
    "FilterGroup",
    "SearchFilter",
    "SearchRequest",
    "SortSpec",
]

# Standard paging (`page`) reaches at most this many records; past it, `searchAfter`.
MAX_STANDARD_RECORDS = 10_000
MAX_PAGE_LIMIT = 500
_MAX_VALUE_LENGTH = 75
_RANGE_KEYS = frozenset({"gte", "lte", "gt", "lt"})

Operator = Literal["eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"]


class SearchFilter(WireModel):
    """One condition ``{field, operator, value}``; exists/not_exists take no value."""

    field: str
    operator: Operator
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> SearchFilter:
        where = f"filters[{self.field}]"
        if self.operator in ("exists", "not_exists"):
            if self.value is not None:
                raise ValueError(f"{where}: operator {self.operator} takes no value")
        elif self.operator == "range":
            if not isinstance(self.value, dict) or not self.value:
                raise ValueError(f"{where}: range needs an object with gte/lte/gt/lt")
            unknown = set(self.value) - _RANGE_KEYS
            if unknown:
                raise ValueError(f"{where}: unknown range keys {sorted(unknown)}")
        elif self.value is None:
            raise ValueError(f"{where}: operator {self.operator} needs a value")
        elif isinstance(self.value, str) and len(self.value) > _MAX_VALUE_LENGTH:
            raise ValueError(f"{where}: value longer than {_MAX_VALUE_LENGTH} characters")
        return self


class FilterGroup(WireModel):
    """A group of conditions joined by AND or OR; groups may nest."""

    group: Literal["AND", "OR"]
    filters: list[SearchFilter | FilterGroup]


class SortSpec(WireModel):
    """One sort key."""

    field: str
    direction: Literal["asc", "desc"] = "asc"


class SearchRequest(WireModel):
    """The search body; top-level filters are ANDed. Use ``page`` or ``searchAfter``, not both."""

    location_id: str
    page_limit: int = Field(default=100, ge=1, le=MAX_PAGE_LIMIT)
    page: int | None = Field(default=None, ge=1)
    search_after: list[Any] | None = None
    filters: list[SearchFilter | FilterGroup] | None = None
    sort: list[SortSpec] | None = None
    query: str | None = Field(default=None, max_length=_MAX_VALUE_LENGTH)

    @model_validator(mode="after")
    def _one_paging_style(self) -> SearchRequest:
        if self.page is not None and self.search_after is not None:
            raise ValueError("page and searchAfter: give one of them, not both")
        return self

    def to_wire(self) -> dict[str, Any]:
        # pageLimit is required by HighLevel even when the caller kept the default.
        wire = super().to_wire()
        wire["pageLimit"] = self.page_limit
        return wire

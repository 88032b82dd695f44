"""``GET /v1/customers``: choosing an index and reading one page from it.

Every constraint becomes either an equality (email, name, city, segment) or an inclusive
millisecond interval on ``created_at`` (the ``created_at[...]`` filters and the
``starting_after`` cursor) or on ``updated_at`` (the ``updated_at[...]`` filters).

Candidate sources, each a contiguous range of a sorted list found by bisection:

- the ``created_at`` index narrowed by the created interval;
- each equality group (they are sorted by ``created_at``) narrowed the same way;
- the ``updated_at`` index narrowed by the updated interval;
- the ``source_id`` index (``source_id`` orders only).

If one source is already in the requested order and enforces every constraint, the
page is a slice: O(log n + limit), and ``total`` is the range's length. That covers
every single filter in the default order, any ``created_at`` window, the cursor, and
deep pages. Otherwise the smallest source is scanned and filtered, and sorted if its
order differs: O(m) or O(m log m) where m is the size of that source's range (combining
several equality filters scans the smallest matching group).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from ._index import created_key, created_range, source_key, updated_key
from ._models import Customer
from ._store import Store

__all__ = ["ORDERS", "CustomerPage", "CustomerQuery", "list_customers"]

#: The ``order`` values ``GET /v1/customers`` accepts.
ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id")

_SORT_KEYS: dict[str, Any] = {
    "created_at": created_key,
    "updated_at": updated_key,
    "source_id": source_key,
}
_sort_updated = attrgetter("sort_updated")


@dataclass
class CustomerQuery:
    """A validated ``GET /v1/customers`` query. Times are epoch milliseconds.

    Example: ``CustomerQuery(limit=100, order="created_at", starting_after=t)``.
    """

    limit: int = 10
    page: int = 1
    order: str = "-created_at"
    email: str | None = None
    name: str | None = None
    city: str | None = None
    segment_id: str | None = None
    created_before: int | None = None
    created_after: int | None = None
    updated_before: int | None = None
    updated_after: int | None = None
    starting_after: int | None = None
    inclusive_cursor: bool = False

    @property
    def descending(self) -> bool:
        """Whether the order is descending (a leading ``-``)."""
        return self.order.startswith("-")

    @property
    def sort_field(self) -> str:
        """The order without its direction: ``created_at``, ``updated_at`` or ``source_id``."""
        return self.order.lstrip("-")

    def created_interval(self) -> tuple[int | None, int | None]:
        """The inclusive ``created_at`` bounds the filters and the cursor impose."""
        low = None if self.created_after is None else self.created_after + 1
        high = None if self.created_before is None else self.created_before - 1
        if self.starting_after is not None:
            # Descending lists continue with older customers, ascending with newer ones.
            shift = 0 if self.inclusive_cursor else 1
            if self.descending:
                bound = self.starting_after - shift
                high = bound if high is None else min(high, bound)
            else:
                bound = self.starting_after + shift
                low = bound if low is None else max(low, bound)
        return low, high

    def updated_interval(self) -> tuple[int | None, int | None]:
        """The inclusive ``updated_at`` bounds the filters impose."""
        low = None if self.updated_after is None else self.updated_after + 1
        high = None if self.updated_before is None else self.updated_before - 1
        return low, high


@dataclass
class CustomerPage:
    """One page of customers plus ``total`` (matching filters and cursor) and ``has_more``."""

    customers: list[Customer]
    total: int
    has_more: bool


@dataclass
class _Source:
    items: list[Customer]
    lo: int
    hi: int
    sorted_by: str
    enforces: set[str] = field(default_factory=set)

    @property
    def size(self) -> int:
        return self.hi - self.lo


def list_customers(store: Store, query: CustomerQuery) -> CustomerPage:
    """Answer a customer listing from the store's indexes (see the module docstring).

    Example: ``list_customers(store, CustomerQuery(email="bob@example.com")).total``.
    """
    created_low, created_high = query.created_interval()
    updated_low, updated_high = query.updated_interval()
    constraints: set[str] = set()
    equalities: list[tuple[str, list[Customer]]] = []
    for name, value, index in (
        ("email", query.email, store.emails),
        ("name", query.name, store.names),
        ("city", query.city, store.cities),
    ):
        if value is not None:
            equalities.append((name, index.group(value)))
    segment_ids: set[str] | None = None
    if query.segment_id is not None:
        segment = store.segments.by_id.get(query.segment_id)
        equalities.append(("segment", segment.members if segment is not None else []))
        segment_ids = segment.member_ids if segment is not None else set()
    constraints.update(name for name, _ in equalities)
    has_created = created_low is not None or created_high is not None
    has_updated = updated_low is not None or updated_high is not None
    if has_created:
        constraints.add("created")
    if has_updated:
        constraints.add("updated")

    sources: list[_Source] = []
    lo, hi = created_range(store.created.items, created_low, created_high)
    sources.append(_Source(store.created.items, lo, hi, "created_at", {"created"}))
    for name, group in equalities:
        lo, hi = created_range(group, created_low, created_high)
        sources.append(_Source(group, lo, hi, "created_at", {name, "created"}))
    if has_updated or query.sort_field == "updated_at":
        items = store.updated.items
        lo, hi = _updated_range(items, updated_low, updated_high)
        sources.append(_Source(items, lo, hi, "updated_at", {"updated"}))
    elif query.sort_field == "source_id":
        items = store.sourced.items
        sources.append(_Source(items, 0, len(items), "source_id"))

    exact = [
        source
        for source in sources
        if source.sorted_by == query.sort_field and constraints <= source.enforces
    ]
    if exact:
        return _slice(min(exact, key=lambda s: s.size), query)
    # Prefer, among equally small sources, one already in the requested order.
    source = min(sources, key=lambda s: (s.size, s.sorted_by != query.sort_field))
    matches = _matcher(query, segment_ids, (created_low, created_high), (updated_low, updated_high))
    if source.sorted_by == query.sort_field:
        return _scan(source, query, matches)
    found = [c for c in source.items[source.lo : source.hi] if matches(c)]
    found.sort(key=_SORT_KEYS[query.sort_field], reverse=query.descending)
    offset = (query.page - 1) * query.limit
    page = found[offset : offset + query.limit]
    return CustomerPage(page, len(found), offset + len(page) < len(found))


def _updated_range(items: list[Customer], low: int | None, high: int | None) -> tuple[int, int]:
    lo = 0 if low is None else bisect_left(items, low, key=_sort_updated)
    hi = len(items) if high is None else bisect_right(items, high, key=_sort_updated)
    return lo, max(lo, hi)


def _slice(source: _Source, query: CustomerQuery) -> CustomerPage:
    offset = (query.page - 1) * query.limit
    total = source.size
    if query.descending:
        end = source.hi - offset
        begin = max(source.lo, end - query.limit)
        page = source.items[begin:end][::-1] if end > source.lo else []
    else:
        begin = source.lo + offset
        end = min(source.hi, begin + query.limit)
        page = source.items[begin:end] if begin < source.hi else []
    return CustomerPage(page, total, offset + len(page) < total)


def _scan(
    source: _Source, query: CustomerQuery, matches: Callable[[Customer], bool]
) -> CustomerPage:
    offset = (query.page - 1) * query.limit
    end = offset + query.limit
    positions = (
        range(source.hi - 1, source.lo - 1, -1) if query.descending else range(source.lo, source.hi)
    )
    items = source.items
    page: list[Customer] = []
    total = 0
    for position in positions:
        customer = items[position]
        if matches(customer):
            if offset <= total < end:
                page.append(customer)
            total += 1
    return CustomerPage(page, total, offset + len(page) < total)


def _matcher(
    query: CustomerQuery,
    segment_ids: set[str] | None,
    created: tuple[int | None, int | None],
    updated: tuple[int | None, int | None],
) -> Callable[[Customer], bool]:
    created_low, created_high = created
    updated_low, updated_high = updated

    def matches(customer: Customer) -> bool:
        if query.email is not None and customer.email != query.email:
            return False
        if query.name is not None and customer.name != query.name:
            return False
        if query.city is not None and customer.city != query.city:
            return False
        if segment_ids is not None and customer.id not in segment_ids:
            return False
        if created_low is not None and customer.created_at < created_low:
            return False
        if created_high is not None and customer.created_at > created_high:
            return False
        if updated_low is not None and customer.sort_updated < updated_low:
            return False
        return not (updated_high is not None and customer.sort_updated > updated_high)

    return matches

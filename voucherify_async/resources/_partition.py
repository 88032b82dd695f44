"""Splitting a filtered customer set into disjoint ``created_at`` windows of similar size.

The cut points come from the list's ``total`` under ``created_at[before]`` filters: a search
per cut (interpolation, falling back to bisection) that shares every count it has learnt, so
``n`` partitions cost a few requests each. Each window is then streamed on its own, by any
task, process or machine; together they cover every customer exactly once, because each
stream also drops, on the client, anything outside its half-open window (the API does not
document whether its ``created_at`` filters are strict).
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from .._core.scan import PaginationError
from ..models import CustomerList, CustomerListOrder

if TYPE_CHECKING:
    from ..models import Customer

__all__ = ["CustomerPartition", "find_cuts", "split_into_partitions"]

_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class _CustomerLister(Protocol):
    @property
    def list(self) -> Callable[..., AsyncIterable[Customer]]: ...


class _Client(Protocol):
    # What `stream()` needs of `AsyncVoucherify`: naming the client itself would make an
    # import cycle (the client imports the resources, which import this module).
    @property
    def customers(self) -> _CustomerLister: ...


def _to_ms(value: datetime) -> int:
    return (value - _EPOCH) // _MS


def _from_ms(value: int) -> datetime:
    return _EPOCH + value * _MS


class CustomerPartition(msgspec.Struct, frozen=True, kw_only=True):
    """One window of a partitioned scan: customers with ``start <= created_at < end``.

    ``start``/``end`` of ``None`` mean "from the beginning"/"to the end". ``filters`` are the
    other list filters (``city``, ``email``, ...). A partition is a small msgspec Struct:
    `dumps()` and `loads()` move it to another process or machine as JSON.

    Examples:
        ```python
        parts = await vf.customers.partition(4, city="Warsaw")
        async for customer in parts[0].stream(vf):
            ...
        ```
    """

    index: int
    count: int
    start: datetime | None = None
    end: datetime | None = None
    filters: dict[str, Any] = msgspec.field(default_factory=dict)

    def list_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``vf.customers.list`` that fetch this window."""
        arguments = dict(self.filters)
        if self.start is not None:
            arguments["created_at_after"] = self.start - _MS
        if self.end is not None:
            arguments["created_at_before"] = self.end
        arguments.setdefault("order", "created_at")
        return arguments

    def contains(self, created_at: datetime | None) -> bool:
        """Whether a customer created at ``created_at`` belongs to this window."""
        if created_at is None:
            return self.start is None
        if self.start is not None and created_at < self.start:
            return False
        return self.end is None or created_at < self.end

    async def stream(self, client: _Client, **options: Any) -> AsyncIterator[Customer]:
        """Yield every customer of this window once (``options`` go to ``customers.list``)."""
        async for customer in client.customers.list(**self.list_arguments(), **options):
            if self.contains(customer.created_at):
                yield customer

    def dumps(self) -> bytes:
        """Serialise the partition as JSON."""
        return msgspec.json.encode(self)

    @classmethod
    def loads(cls, data: bytes | str) -> CustomerPartition:
        """Read a partition written by `dumps()`."""
        return msgspec.json.decode(data, type=cls)


async def find_cuts(
    parts: int,
    total: int,
    low: datetime,
    high: datetime,
    count_before: Callable[[datetime], Awaitable[int]],
) -> list[tuple[datetime, int]]:
    """Find ``parts - 1`` cut times splitting ``total`` items created in ``[low, high]``.

    ``count_before(t)`` is the number of items created before ``t``. Returns the cuts in
    order, each with the count before it. Cuts are whole milliseconds, so items sharing a
    millisecond stay together.
    """
    known_ms = [_to_ms(low), _to_ms(high) + 1]
    known_count = [0, total]
    cuts: list[tuple[datetime, int]] = []
    tolerance = max(total // (parts * 100), 0)
    for index in range(1, parts):
        target = round(index * total / parts)
        while True:
            right = bisect.bisect_left(known_count, target)
            if right < len(known_count) and abs(known_count[right] - target) <= tolerance:
                chosen = right
                break
            left = right - 1
            if left >= 0 and abs(known_count[left] - target) <= tolerance:
                chosen = left
                break
            t_lo, t_hi = known_ms[left], known_ms[right]
            c_lo, c_hi = known_count[left], known_count[right]
            if t_hi - t_lo <= 1:
                # One millisecond holds the target: cut on the nearer side.
                chosen = left if target - c_lo <= c_hi - target else right
                break
            guess = t_lo + round((target - c_lo) / max(c_hi - c_lo, 1) * (t_hi - t_lo))
            middle = (t_lo + t_hi) // 2
            # Interpolation converges fast on even data; the pull to the middle bounds the
            # bad cases to bisection's log2 steps.
            guess = (guess + middle) // 2 if len(known_ms) % 3 == 0 else guess
            guess = min(max(guess, t_lo + 1), t_hi - 1)
            counted = await count_before(_from_ms(guess))
            position = bisect.bisect_left(known_ms, guess)
            known_ms.insert(position, guess)
            # Counts are monotonic in time; clamp so concurrent writes cannot break the order.
            counted = min(max(counted, known_count[position - 1]), known_count[position])
            known_count.insert(position, counted)
        cuts.append((_from_ms(known_ms[chosen]), known_count[chosen]))
    return cuts


async def split_into_partitions(
    first_page: Callable[..., Awaitable[CustomerList]],
    parts: int,
    filters: dict[str, Any],
) -> list[CustomerPartition]:
    """Split the customers matching ``filters`` into ``parts`` windows of similar size.

    Args:
        first_page: fetches a one-customer page of ``vf.customers.list`` with the keyword
            arguments it is given (the filters, ``order``); its ``total`` counts the matches.
        parts: how many windows, at least 1.
        filters: checked list filters; ``created_at_after``/``created_at_before`` bound the
            first and last window, the others go into every partition's ``filters``.

    Raises:
        PaginationError: the customers have no ``created_at`` to cut on.
    """
    given = {key: value for key, value in filters.items() if value is not None}
    created_at_after = given.pop("created_at_after", None)
    created_at_before = given.pop("created_at_before", None)
    bounds = {"created_at_after": created_at_after, "created_at_before": created_at_before}

    async def first(order: str) -> CustomerList:
        return await first_page(order=order, **given, **bounds)

    async def count_before(moment: datetime) -> int:
        before = moment if created_at_before is None else min(moment, created_at_before)
        page = await first_page(
            **given, created_at_after=created_at_after, created_at_before=before
        )
        return page.total or 0

    oldest = await first(CustomerListOrder.CREATED_AT)
    total = oldest.total or 0
    start = None if created_at_after is None else created_at_after + _MS
    end = created_at_before
    if parts == 1 or total <= 1 or not oldest.customers:
        return [CustomerPartition(index=0, count=total, start=start, end=end, filters=given)]
    newest = await first(CustomerListOrder.CREATED_AT_DESC)
    low, high = oldest.customers[0].created_at, newest.customers[0].created_at
    if low is None or high is None:
        raise PaginationError("customers without created_at cannot be partitioned")
    cuts = await find_cuts(parts, total, low, high, count_before)
    edges = [(start, 0), *cuts, (end, total)]
    return [
        CustomerPartition(
            index=index,
            count=edges[index + 1][1] - edges[index][1],
            start=edges[index][0],
            end=edges[index + 1][0],
            filters=given,
        )
        for index in range(len(edges) - 1)
    ]

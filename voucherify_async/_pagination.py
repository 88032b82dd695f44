"""One generic pager for every list endpoint.

A list method returns a :class:`Pager` without sending anything. ``await pager`` fetches one
page; ``async for item in pager`` walks every item of every page; ``pager.pages()`` walks the
pages. How to find the next page is the only thing an endpoint says, as a :class:`Paging`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any, Generic, Protocol, TypeVar

from ._query import Query

__all__ = [
    "CursorPaging",
    "LastItemPaging",
    "PageNumberPaging",
    "Pager",
    "Paging",
    "replace_param",
]

PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")
PageT_contra = TypeVar("PageT_contra", contravariant=True)
ItemT_co = TypeVar("ItemT_co", covariant=True)


def replace_param(query: Query, name: str, value: str | None) -> Query:
    """Return ``query`` with parameter ``name`` set to ``value`` (or removed, for ``None``)."""
    result = [(key, val) for key, val in query if key != name]
    if value is not None:
        result.append((name, value))
    return result


def get_param(query: Query, name: str) -> str | None:
    """The value of parameter ``name`` in ``query``, if present."""
    for key, value in query:
        if key == name:
            return value
    return None


class Paging(Protocol[PageT_contra, ItemT_co]):
    """How an endpoint pages: the items of a page, and the query of the next page."""

    def items(self, page: PageT_contra) -> Sequence[ItemT_co]:
        """The items of ``page``, in order."""
        ...

    def next_query(self, query: Query, page: PageT_contra) -> Query | None:
        """The query that fetches the page after ``page``, or ``None`` after the last page."""
        ...


class PageNumberPaging(Generic[PageT, ItemT]):
    """``page`` = 1, 2, ... while ``has_more`` says so, up to the API's last page (99)."""

    def __init__(
        self, items: Callable[[PageT], Sequence[ItemT]], has_more: Callable[[PageT], bool | None],
        *, default_limit: int = 10, max_page: int = 99,
    ) -> None:
        self._items = items
        self._has_more = has_more
        self._default_limit = default_limit
        self._max_page = max_page

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of ``page``."""
        return self._items(page)

    def next_query(self, query: Query, page: PageT) -> Query | None:
        """The next page number, while there are more items and pages left."""
        items = self._items(page)
        more = self._has_more(page)
        limit = int(get_param(query, "limit") or self._default_limit)
        if not items or (more is False) or (more is None and len(items) < limit):
            return None
        number = int(get_param(query, "page") or 1)
        if number >= self._max_page:
            return None
        return replace_param(query, "page", str(number + 1))


class CursorPaging(Generic[PageT, ItemT]):
    """A cursor the page names itself (``more_starting_after`` with ``has_more``)."""

    def __init__(
        self,
        items: Callable[[PageT], Sequence[ItemT]],
        cursor: Callable[[PageT], str | None],
        *,
        param: str = "starting_after_id",
    ) -> None:
        self._items = items
        self._cursor = cursor
        self._param = param

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of ``page``."""
        return self._items(page)

    def next_query(self, query: Query, page: PageT) -> Query | None:
        """Follow the page's cursor; stop when it gives none or it would not move."""
        cursor = self._cursor(page)
        if not cursor or not self._items(page) or cursor == get_param(query, self._param):
            return None
        return replace_param(query, self._param, cursor)


class LastItemPaging(Generic[PageT, ItemT]):
    """A cursor taken from the last item of a full page (for lists that name no cursor)."""

    def __init__(
        self,
        items: Callable[[PageT], Sequence[ItemT]],
        cursor_of: Callable[[ItemT], str | None],
        *,
        param: str,
        has_more: Callable[[PageT], bool | None] | None = None,
        default_limit: int = 10,
    ) -> None:
        self._items = items
        self._cursor_of = cursor_of
        self._param = param
        self._has_more = has_more
        self._default_limit = default_limit

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of ``page``."""
        return self._items(page)

    def next_query(self, query: Query, page: PageT) -> Query | None:
        """Continue after the last item while pages come back full (or ``has_more``)."""
        items = self._items(page)
        if not items:
            return None
        more = self._has_more(page) if self._has_more is not None else None
        limit = int(get_param(query, "limit") or self._default_limit)
        if more is False or (more is None and len(items) < limit):
            return None
        cursor = self._cursor_of(items[-1])
        if not cursor or cursor == get_param(query, self._param):
            return None
        return replace_param(query, self._param, cursor)


class Pager(Generic[PageT, ItemT]):
    """The result of a list method: awaitable for one page, async-iterable for every item.

    Example:
        >>> page = await vf.customers.list(limit=100, city="Warsaw")   # one page
        >>> async for customer in vf.customers.list(city="Warsaw"):     # every customer
        ...     print(customer.id)
        >>> async for page in vf.customers.list(limit=100).pages():     # page by page
        ...     print(len(page.customers))

    Nothing is sent until the pager is awaited or iterated; each of those starts afresh.
    """

    def __init__(
        self,
        fetch: Callable[[Query], Awaitable[PageT]],
        query: Query,
        paging: Paging[PageT, ItemT],
    ) -> None:
        self._fetch = fetch
        self._query = query
        self._paging = paging

    def __await__(self) -> Generator[Any, None, PageT]:
        return self._fetch(list(self._query)).__await__()

    async def pages(self) -> AsyncIterator[PageT]:
        """Yield every page, fetching the next one as the caller asks for it."""
        query: Query | None = list(self._query)
        while query is not None:
            page = await self._fetch(query)
            yield page
            query = self._paging.next_query(query, page)

    async def _items(self) -> AsyncIterator[ItemT]:
        async for page in self.pages():
            for item in self._paging.items(page):
                yield item

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items()

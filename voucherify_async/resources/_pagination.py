"""One generic pager for every list endpoint.

A list method returns a `Pager` without sending anything. ``await pager`` fetches one
page; ``async for item in pager`` walks every item of every page; ``pager.pages()`` walks the
pages. How to find the next page is the only thing an endpoint says, as a `Paging`.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Sequence,
)
from typing import Any, Generic, NoReturn, Protocol, TypeVar

import msgspec

from .._core.query import Query
from .._exceptions import VoucherifyError
from .._transport.transport import RawAnswer

__all__ = [
    "CursorPaging",
    "LastItemPaging",
    "PageNumberPaging",
    "Pager",
    "Paging",
    "PagingWalk",
    "ScanProgress",
    "Walk",
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


class ScanProgress(msgspec.Struct, frozen=True, kw_only=True):
    """How far a parallel scan is (``pager.progress``).

    Attributes:
        yielded: items handed to the caller so far (in this run, if resumed).
        total: the list's ``total`` when the scan started (``None`` before it is known).
        streams: streams reading now.
        elapsed: seconds since the scan started.
        seconds_left: an estimate of the time left, from the pages left, the latency seen
            and the budget the rate-limit headers announce (``None`` until known).
        requests: requests the scan has sent, finding the range included.
        splits: windows split so a free stream could help (work stealing).
    """

    yielded: int
    total: int | None
    streams: int
    elapsed: float
    seconds_left: float | None
    requests: int
    splits: int

    @property
    def fraction(self) -> float | None:
        """``yielded / total`` (at most 1.0), or ``None`` without a total."""
        if not self.total:
            return None
        return min(self.yielded / self.total, 1.0)


class Paging(Protocol[PageT_contra, ItemT_co]):
    """How an endpoint pages: the items of a page, and the query of the next page."""

    def items(self, page: PageT_contra) -> Sequence[ItemT_co]:
        """The items of ``page``, in order."""
        ...

    def next_query(self, query: Query, page: PageT_contra) -> Query | None:
        """The query that fetches the page after ``page``, or ``None`` after the last page."""
        ...


class PageNumberPaging(Generic[PageT, ItemT]):
    """``page`` = 1, 2, ... while ``has_more`` says so, up to the API's last page (99).

    With ``past_last_page``, more items after the last page raise the exception it builds
    instead of ending the walk quietly.
    """

    def __init__(
        self,
        items: Callable[[PageT], Sequence[ItemT]],
        has_more: Callable[[PageT], bool | None],
        *,
        default_limit: int = 10,
        max_page: int = 99,
        past_last_page: Callable[[int], Exception] | None = None,
    ) -> None:
        self._items = items
        self._has_more = has_more
        self._default_limit = default_limit
        self._max_page = max_page
        self._past_last_page = past_last_page

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
            if self._past_last_page is not None:
                raise self._past_last_page(number)
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
    """A cursor taken from the last item of a full page (for lists that name no cursor).

    With ``stuck``, a full page whose last item gives the cursor the page was fetched with
    raises the exception it builds instead of ending the walk quietly.
    """

    def __init__(
        self,
        items: Callable[[PageT], Sequence[ItemT]],
        cursor_of: Callable[[ItemT], str | None],
        *,
        param: str,
        has_more: Callable[[PageT], bool | None] | None = None,
        default_limit: int = 10,
        stuck: Callable[[str], Exception] | None = None,
    ) -> None:
        self._items = items
        self._cursor_of = cursor_of
        self._param = param
        self._has_more = has_more
        self._default_limit = default_limit
        self._stuck = stuck

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
            # The page says there is more, but its last item cannot move the cursor.
            if self._stuck is not None and cursor:
                raise self._stuck(cursor)
            return None
        return replace_param(query, self._param, cursor)


class Walk(Protocol[PageT, ItemT]):
    """One pass over a list: what to fetch next, and what of each answer is new.

    A walk has state (a cursor, the ids already handed out); the pager makes a new one for
    every iteration.
    """

    def next_query(self) -> Query | None:
        """The query of the next page, or ``None`` when the walk is over."""
        ...

    def accept(self, page: PageT) -> PageT:
        """Take the answer to `next_query()`; return it as the caller should see it."""
        ...

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of a page returned by `accept()`."""
        ...

    def handed_out(self, items: Sequence[ItemT]) -> None:
        """Note that ``items`` (the items of a page, or the first of them) reached the caller.

        Called at the end of every page and whenever the position is asked for; a sequence
        given again, or one that starts with the last one given, changes nothing more.
        """
        ...

    def position(self) -> str | None:
        """A token to resume after the last item handed out, where the walk supports it."""
        ...

    def guess(self, body: bytes) -> Query | None:
        """The query `next_query()` will give once the answer ``body`` is accepted, if it
        can be read from the undecoded bytes; ``None`` if not (or not sure)."""
        ...


class PagingWalk(Generic[PageT, ItemT]):
    """A walk driven by a stateless `Paging`; drops items repeated from the last page.

    The repeat check makes a cursor that the server treats as inclusive harmless.
    """

    def __init__(
        self,
        query: Query,
        paging: Paging[PageT, ItemT],
        *,
        item_id: Callable[[ItemT], str] | None = None,
        rebuild: Callable[[PageT, list[ItemT]], PageT] | None = None,
    ) -> None:
        self._query: Query | None = list(query)
        self._paging = paging
        self._item_id = item_id
        self._rebuild = rebuild
        self._previous: set[str] = set()
        self._last: str | None = None
        self._stop: VoucherifyError | None = None

    def next_query(self) -> Query | None:
        """The query of the next page; raises what stopped the walk, if anything did."""
        if self._stop is not None:
            raise self._stop
        return self._query

    def accept(self, page: PageT) -> PageT:
        """Advance the cursor; with ``item_id``, drop items the previous page already had."""
        assert self._query is not None
        try:
            self._query = self._paging.next_query(self._query, page)
        except VoucherifyError as exc:
            self._query, self._stop = None, exc
        if self._item_id is None or self._rebuild is None:
            return page
        items = self._paging.items(page)
        ids = [self._item_id(item) for item in items]
        if self._previous.intersection(ids):
            kept = [item for item, i in zip(items, ids, strict=True) if i not in self._previous]
            page = self._rebuild(page, kept)
        self._previous = set(ids)
        return page

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of ``page``."""
        return self._paging.items(page)

    def handed_out(self, items: Sequence[ItemT]) -> None:
        """Remember the last id handed out."""
        if self._item_id is not None and items:
            self._last = self._item_id(items[-1])

    def position(self) -> str | None:
        """The id of the last item handed out (use it as ``starting_after_id``)."""
        return self._last

    def guess(self, body: bytes) -> Query | None:
        """Never: these lists are short, and a wrong guess would cost a request."""
        return None


class Pager(Generic[PageT, ItemT]):
    """The result of a list method: awaitable for one page, async-iterable for every item.

    Examples:
        ```python
        page = await vf.customers.list(limit=100, city="Warsaw")   # one page
        async for customer in vf.customers.list(city="Warsaw"):     # every customer
            print(customer.id)
        async for page in vf.customers.list(limit=100).pages():     # page by page
            print(len(page.customers))
        ```

    Nothing is sent until the pager is awaited or iterated; each of those starts afresh. While
    the caller works on one page, the next is already being fetched (``prefetch=False`` on
    the list method turns that off); at most one page waits ahead, so memory stays bounded by
    two pages.
    """

    def __init__(
        self,
        fetch: Callable[[Query], Awaitable[PageT]],
        query: Query,
        walk: Callable[[Query], Walk[PageT, ItemT]],
        *,
        prefetch: bool = True,
        fetch_raw: Callable[[Query], Awaitable[RawAnswer[PageT]]] | None = None,
        on_page: Callable[[int], Awaitable[None]] | None = None,
        traced: Callable[[], Any] | None = None,
    ) -> None:
        self._fetch = fetch
        self._on_page = on_page
        # Makes the OpenTelemetry span of an iteration (a `ListTrace`); None when off.
        self._traced = traced
        #: The `APIResponse` of the last page read (for lists read undecoded first, as
        #: ``customers.list`` is; ``None`` before the first page and for the others).
        self.last_response: RawAnswer[PageT] | None = None
        self._fetch_raw = fetch_raw
        self._query = query
        self._make_walk = walk
        self._prefetch = prefetch
        self._walk: Walk[PageT, ItemT] | None = None
        # The page being handed out by `async for`, and how many of its items have been.
        self._page_items: Sequence[ItemT] | None = None
        self._handed = 0

    @property
    def progress(self) -> ScanProgress | None:
        """How far a parallel scan is (``list(parallel=...)``); ``None`` for one stream."""
        return None

    def __await__(self) -> Generator[Any, None, PageT]:
        return self._fetch(list(self._query)).__await__()

    @property
    def position(self) -> str | None:
        """Where the current iteration stands: a token to resume after the last item yielded.

        ``None`` before iterating. For ``customers.list`` pass it back as ``resume_from``; for
        the id-cursor lists it is the last id yielded (their ``starting_after_id``).
        """
        walk = self._walk
        if walk is None:
            return None
        if self._page_items is not None and self._handed:
            walk.handed_out(self._page_items[: self._handed])
        return walk.position()

    async def pages(self) -> AsyncGenerator[PageT, None]:
        """Yield every page, each item once, fetching one page ahead of the caller."""
        walk = self._walk = self._make_walk(list(self._query))
        query = walk.next_query()
        if query is None:
            return
        # A list that can be fetched undecoded (``fetch_raw``) asks for the next page as
        # soon as this one's bytes are in, its cursor read from them, before they are
        # decoded and checked, so the server works on it meanwhile. Each guess is checked
        # against the walk's own next query once the page is accepted; a wrong one is
        # dropped (one request spent) and the walk stops guessing.
        fetch: Callable[[Query], Awaitable[Any]] = self._fetch
        decode: Callable[[Any], PageT] = _as_is
        if self._fetch_raw is not None:
            fetch, decode = self._fetch_raw, RawAnswer.decode
        guessing = self._prefetch and self._fetch_raw is not None
        listing = None if self._traced is None else self._traced()
        if listing is not None:
            # Each page is fetched with the iteration's span current, in its own task.
            untraced = fetch

            def fetch(query: Query) -> Awaitable[Any]:
                traced: Awaitable[Any] = listing.run(untraced(query))
                return traced

        failure: BaseException | None = None
        # The prefetch is a plain asyncio task, on purpose: it lives across `yield`, and an
        # anyio task group cannot stay open across the yield of an async generator (its
        # cancel scope would be entered in one task step and left in another). The task is
        # always awaited, or cancelled and awaited, before this generator ends.
        pending: asyncio.Future[Any] | None = asyncio.ensure_future(fetch(query))
        try:
            while pending is not None:
                answer = await pending
                pending = None
                if self._fetch_raw is not None:
                    self.last_response = answer
                guess = walk.guess(answer.body) if guessing else None
                if guess is not None:
                    pending = asyncio.ensure_future(fetch(guess))
                    await _let_it_send()
                page = walk.accept(decode(answer))
                del answer
                # A walk that cannot go on says so after the caller has this page's items.
                stop: VoucherifyError | None = None
                try:
                    query = walk.next_query()
                except VoucherifyError as exc:
                    query, stop = None, exc
                if pending is not None and query != guess:
                    guessing = False
                    await _discard(pending)
                    pending = None
                if query is not None and pending is None and self._prefetch:
                    pending = asyncio.ensure_future(fetch(query))
                    await _let_it_send()
                if self._on_page is not None:
                    await self._on_page(len(walk.items(page)))
                if listing is not None:
                    listing.page(len(walk.items(page)))
                yield page
                if stop is not None:
                    raise stop
                if query is not None and pending is None:
                    pending = asyncio.ensure_future(fetch(query))
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if pending is not None:
                await _discard(pending)
            if listing is not None:
                listing.finish(failure)

    async def _items(self) -> AsyncGenerator[ItemT, None]:
        pages = self.pages()
        try:
            async for page in pages:
                walk = self._walk
                assert walk is not None
                items = self._page_items = walk.items(page)
                # The count goes up before each yield: a caller that saves `position` after
                # handling an item resumes after that item. Only the count is kept per item;
                # the walk hears of the items once a page (or when `position` is read).
                for self._handed, item in enumerate(items, 1):
                    yield item
                walk.handed_out(items)
                self._page_items, self._handed = None, 0
        finally:
            await pages.aclose()

    def __iter__(self) -> NoReturn:
        raise TypeError(
            "a list is read with 'async for': 'async for item in vf.customers.list(...)'"
            " (or 'await' it for one page)"
        )

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items()


def _as_is(page: Any) -> Any:
    return page


async def _let_it_send() -> None:
    """One turn of the loop, so a fetch task just made takes its first step: it sends.

    A task made with ``ensure_future`` only runs once the caller waits for something; a
    caller that goes on working (decoding a page, handing out its items) would ask for the
    next page only after all that. The task is kept before this await, so a cancellation
    here still finds it and cancels it.
    """
    await asyncio.sleep(0)


async def _discard(task: asyncio.Future[Any]) -> None:
    """Cancel a prefetch nobody will read, and wait for it so no connection is left open."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # read, so asyncio does not log it as never retrieved

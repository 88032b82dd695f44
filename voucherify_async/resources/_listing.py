"""Choosing how a ``created_at``-cursored list is paged: the exactly-once scan or page numbers.

The customers list has one cursor, ``starting_after``, on ``created_at``. Ordered by
``created_at`` (either way, or by default) it is read with `CreatedAtWalk`, which goes past the
API's page 99 and can resume from a `ScanPosition`; any other order can only count pages up to
99. `created_at_listing` makes that choice, checks ``resume_from`` against it and returns the
first page's query and the walk a `Pager` drives; the resource only declares its page's shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from .._core.query import Query, format_datetime
from .._core.scan import CreatedAtPages, CreatedAtWalk, PaginationError, ScanPosition
from ._pagination import PageNumberPaging, PagingWalk, Walk

__all__ = ["CREATED_AT_ORDERS", "ListShape", "created_at_listing", "peek_created_at"]

PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

#: The orders the ``created_at`` scan serves (``None``: the API's default, newest first).
CREATED_AT_ORDERS = frozenset({None, "created_at", "-created_at"})

_CREATED_AT = re.compile(rb'"created_at"\s*:\s*"([0-9T:.+Z-]{10,40})"')
_HAS_MORE = re.compile(rb'"has_more"\s*:\s*(true|false)')


def peek_created_at(body: bytes) -> tuple[datetime, bool] | None:
    """The last ``created_at`` and the ``has_more`` of an undecoded list page, if plain.

    Read from the end of the bytes without decoding them, so the next page can be asked for
    at once. The last ``"created_at"`` in a page is its last item's (nested objects that
    come after it in an item would fool it; the pager checks every guess against the
    decoded page and stops guessing after a wrong one).
    """
    at = body.rfind(b'"created_at"')
    more = body.rfind(b'"has_more"')
    if at < 0 or more < 0:
        return None
    stamp, flag = _CREATED_AT.match(body, at), _HAS_MORE.match(body, more)
    if stamp is None or flag is None:
        return None
    try:
        moment = datetime.fromisoformat(stamp.group(1).decode("ascii").replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment, flag.group(1) == b"true"


@dataclass(frozen=True)
class ListShape(Generic[PageT, ItemT]):
    """What the pagers need to know of a list's page.

    Args:
        items: the page's items.
        has_more: whether the page says more follow.
        rebuild: the same page holding only the given items.
        key: an item's ``(created_at, id)``.
        peek: the last item's ``created_at`` and the page's ``has_more``, read from the
            undecoded page (``None`` when it cannot tell); see `peek_created_at`.
    """

    items: Callable[[PageT], Sequence[ItemT]]
    has_more: Callable[[PageT], bool | None]
    rebuild: Callable[[PageT, list[ItemT]], PageT]
    key: Callable[[ItemT], tuple[datetime | None, str]]
    peek: Callable[[bytes], tuple[datetime, bool] | None] | None = None


def created_at_listing(
    shape: ListShape[PageT, ItemT],
    filters: Query,
    *,
    order: str | None,
    limit: int | None,
    page: int | None,
    starting_after: str | None,
    resume_from: str | None,
) -> tuple[Query, Callable[[Query], Walk[PageT, ItemT]]]:
    """The first page's query and the walk for a list ordered by ``order``.

    Args:
        shape: the list's page.
        filters: the checked filters, ``order`` included.
        order: the requested order, already checked.
        limit: items per page as asked (``None``: the API's 10 for one page, 100 to iterate).
        page: the page to start at.
        starting_after: the formatted ``created_at`` cursor, if any.
        resume_from: a ``pager.position`` token.

    Raises:
        ValueError: a bad ``resume_from``, or one that cannot go with the other arguments.
    """
    by_created_at = order in CREATED_AT_ORDERS
    descending = order != "created_at"
    position = None
    if resume_from is not None:
        position = ScanPosition.loads(resume_from)
        if not by_created_at:
            raise ValueError("resume_from works with the created_at orders only")
        if page is not None or starting_after is not None:
            raise ValueError("resume_from cannot be combined with page or starting_after")
    cursor: Query = [] if starting_after is None else [("starting_after", starting_after)]
    one_page: Query = [(k, str(v)) for k, v in (("limit", limit), ("page", page)) if v is not None]
    one_page += filters + cursor
    if position is not None and position.boundary is not None:
        # One millisecond back from the boundary in scan order, as the walk itself would ask.
        step = timedelta(milliseconds=1 if descending else -1)
        resume_at = format_datetime(position.boundary + step, "resume_from")
        one_page = [("limit", str(limit or 10)), *filters, ("starting_after", resume_at)]
    page_size = limit or 100
    base: Query = [("limit", str(page_size)), *filters]

    def scan(_: Query) -> Walk[PageT, ItemT]:
        walk = CreatedAtWalk(
            base,
            descending=descending,
            limit=page_size,
            key=shape.key,
            start=position,
            starting_after=starting_after,
            first_page=page or 1,
        )
        return CreatedAtPages(
            walk,
            items=shape.items,
            has_more=shape.has_more,
            rebuild=shape.rebuild,
            key=shape.key,
            peek=shape.peek,
        )

    def by_page(_: Query) -> Walk[PageT, ItemT]:
        paging: PageNumberPaging[PageT, ItemT] = PageNumberPaging(
            shape.items,
            shape.has_more,
            past_last_page=lambda n: PaginationError(
                f"order={order!r} cannot be listed past page {n}: the API's only cursor"
                " is on created_at; order by created_at or narrow the filters"
            ),
        )
        first = base + ([("page", str(page))] if page else []) + cursor
        return PagingWalk(first, paging)

    return one_page, scan if by_created_at else by_page

"""Exactly-once walks over cursor-paged lists, as pure state machines (no I/O).

The customers list stops at page 99 and its only cursor, ``starting_after``, is a
``created_at`` with millisecond resolution that many customers can share. Taking the last
item's ``created_at`` as the next cursor loses or repeats the customers that share it across a
page boundary, depending on whether the server treats the cursor as exclusive or inclusive
(undocumented). :class:`CreatedAtWalk` does not depend on either:

* each window starts one millisecond *before* the last yielded ``created_at`` (``B``), so the
  whole group sharing ``B`` is in it whichever way the server compares;
* the answers are filtered: items before ``B`` (in scan order) and items at ``B`` whose id was
  already yielded are dropped; everything else is new;
* while a page ends inside the group a window started at, the window goes on with ``page``
  (offsets are stable there), and if that would pass page 99 the walk raises
  :class:`PaginationError` instead of skipping anyone.

Customers deleted during a scan do not shift a keyset cursor, and customers created during it
land past the cursor (ascending) or before the window (descending), so every customer that
existed for the whole scan is yielded once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import msgspec

from ._errors import VoucherifyError
from ._query import Query, format_datetime

__all__ = ["CreatedAtPages", "CreatedAtWalk", "PaginationError", "ScanPosition"]

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")
MAX_PAGE = 99
_ONE_MS = timedelta(milliseconds=1)


class PaginationError(VoucherifyError):
    """A list cannot be walked exactly once with the API's cursors.

    Raised instead of silently skipping or repeating items: for example when more items share
    one ``created_at`` millisecond than 99 pages can hold, or when a list ordered by something
    other than ``created_at`` goes past page 99.
    """


class _PositionWire(msgspec.Struct, array_like=True):
    version: int
    boundary: str | None
    seen: list[str]


@dataclass
class ScanPosition:
    """Where an exactly-once scan stands: the last yielded ``created_at`` and the ids at it.

    ``str(position)`` (or :meth:`dumps`) gives a short, URL-safe token that
    :meth:`loads` turns back into a position, so a worker can resume elsewhere.
    """

    boundary: datetime | None = None
    seen: set[str] = field(default_factory=set)

    def dumps(self) -> str:
        """Serialise the position as a short URL-safe token."""
        stamp = None if self.boundary is None else self.boundary.isoformat()
        raw = msgspec.json.encode(_PositionWire(1, stamp, sorted(self.seen)))
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def loads(cls, token: str) -> ScanPosition:
        """Read a position written by :meth:`dumps`; a malformed token raises ``ValueError``."""
        if not isinstance(token, str):
            raise TypeError(
                f"resume_from must be a position token (str), got {type(token).__name__}"
            )
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            wire = msgspec.json.decode(raw, type=_PositionWire)
            boundary = None if wire.boundary is None else datetime.fromisoformat(wire.boundary)
        except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
            raise ValueError(f"resume_from is not a scan position token: {token[:40]!r}") from exc
        if wire.version != 1 or (boundary is not None and boundary.tzinfo is None):
            raise ValueError(f"resume_from is not a scan position token: {token[:40]!r}")
        return cls(boundary, set(wire.seen))

    def __str__(self) -> str:
        return self.dumps()

    def is_new(self, created_at: datetime, item_id: str, descending: bool) -> bool:
        """Whether an item has not been yielded yet, judged from this position."""
        boundary = self.boundary
        if boundary is None:
            return item_id not in self.seen
        if created_at == boundary:
            return item_id not in self.seen
        return created_at < boundary if descending else created_at > boundary

    def advance(self, created_at: datetime, item_id: str) -> None:
        """Record that an item was yielded (items come in scan order)."""
        if created_at != self.boundary:
            self.boundary = created_at
            self.seen = {item_id}
        else:
            self.seen.add(item_id)


class CreatedAtWalk(Generic[ItemT]):
    """Plans the requests of an exactly-once scan on ``created_at`` and filters the answers.

    Args:
        query: the list's query without ``page`` and ``starting_after``.
        descending: the scan order (``-created_at``, the API's default, is descending).
        limit: items per page.
        key: ``(created_at, id)`` of an item.
        start: a position to resume from (``None``: from the start).
        starting_after: the caller's own initial cursor, if any.
        first_page: the caller's own first page number, if any.
    """

    def __init__(
        self,
        query: Query,
        *,
        descending: bool,
        limit: int,
        key: Callable[[ItemT], tuple[datetime | None, str]],
        start: ScanPosition | None = None,
        starting_after: str | None = None,
        first_page: int = 1,
    ) -> None:
        self._query = query
        self._descending = descending
        self._limit = limit
        self._key = key
        self.fetched = ScanPosition()
        self.yielded = ScanPosition()
        self._cursor: str | None = starting_after
        self._group: datetime | None = None  # the created_at the current window starts at
        self._page = first_page
        self._done = False
        self._stop: PaginationError | None = None
        if start is not None and start.boundary is not None:
            self.fetched = ScanPosition(start.boundary, set(start.seen))
            self.yielded = ScanPosition(start.boundary, set(start.seen))
            self._window_at(start.boundary)

    def _window_at(self, boundary: datetime) -> None:
        step = _ONE_MS if self._descending else -_ONE_MS
        self._cursor = format_datetime(boundary + step, "starting_after")
        self._group = boundary
        self._page = 1

    def next_query(self) -> Query | None:
        """The query of the next page, or ``None`` when the walk is over."""
        if self._stop is not None:
            raise self._stop
        if self._done:
            return None
        query = list(self._query)
        if self._page > 1:
            query.append(("page", str(self._page)))
        if self._cursor is not None:
            query.append(("starting_after", self._cursor))
        return query

    def _past_group(self, created_at: datetime) -> bool:
        if self._group is None:
            return True
        return created_at < self._group if self._descending else created_at > self._group

    def accept(self, items: Sequence[ItemT], has_more: bool | None) -> list[ItemT]:
        """Take the answer to :meth:`next_query`; return its new items in order."""
        fresh: list[ItemT] = []
        for item in items:
            created_at, item_id = self._key(item)
            if created_at is None:
                raise PaginationError(
                    f"item {item_id!r} has no created_at, so the list cannot be walked past"
                    " page 99 with the created_at cursor"
                )
            if self.fetched.is_new(created_at, item_id, self._descending):
                self.fetched.advance(created_at, item_id)
                fresh.append(item)
        finished = has_more is False or len(items) < self._limit
        if finished or not items:
            self._done = True
            return fresh
        last_created_at, _ = self._key(items[-1])
        assert last_created_at is not None
        if self._past_group(last_created_at) and self.fetched.boundary is not None:
            self._window_at(self.fetched.boundary)
        elif self._page >= MAX_PAGE:
            # Raised by next_query, so the caller still gets this page's new items.
            assert self._group is not None
            self._done = True
            self._stop = PaginationError(
                f"more customers share created_at {format_datetime(self._group, 'created_at')}"
                f" than {MAX_PAGE} pages of {self._limit} can hold; they cannot all be listed"
                " exactly once with the API's created_at cursor"
            )
        else:
            self._page += 1
        return fresh


class CreatedAtPages(Generic[PageT, ItemT]):
    """A :class:`CreatedAtWalk` over whole pages, as the pager drives it.

    Pages handed on contain only new items, so ``pages()`` sees each item once too.
    """

    def __init__(
        self,
        walk: CreatedAtWalk[ItemT],
        *,
        items: Callable[[PageT], Sequence[ItemT]],
        has_more: Callable[[PageT], bool | None],
        rebuild: Callable[[PageT, list[ItemT]], PageT],
        key: Callable[[ItemT], tuple[datetime | None, str]],
    ) -> None:
        self._walk = walk
        self._items = items
        self._has_more = has_more
        self._rebuild = rebuild
        self._key = key

    def next_query(self) -> Query | None:
        """The query of the next page."""
        return self._walk.next_query()

    def accept(self, page: PageT) -> PageT:
        """Keep the new items of ``page``."""
        items = self._items(page)
        fresh = self._walk.accept(items, self._has_more(page))
        return page if len(fresh) == len(items) else self._rebuild(page, fresh)

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of ``page``."""
        return self._items(page)

    def yielded(self, item: ItemT) -> None:
        """Move the resumable position past ``item``."""
        created_at, item_id = self._key(item)
        if created_at is not None:
            self._walk.yielded.advance(created_at, item_id)

    def position(self) -> str | None:
        """A token for ``resume_from``: the scan continues after the last item yielded."""
        return self._walk.yielded.dumps()

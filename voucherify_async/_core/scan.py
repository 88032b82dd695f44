"""Exactly-once walks over cursor-paged lists, as pure state machines (no I/O).

The customers list stops at page 99 and its only cursor, ``starting_after``, is a
``created_at`` with millisecond resolution that many customers can share. Taking the last
item's ``created_at`` as the next cursor loses or repeats the customers that share it across a
page boundary, depending on whether the server treats the cursor as exclusive or inclusive
(undocumented). `CreatedAtWalk` does not depend on either:

* each window starts one millisecond *before* the last fetched ``created_at`` (``B``), so the
  whole group sharing ``B`` is in it whichever way the server compares (once an answer shows
  the cursor is inclusive, windows start at ``B`` itself, which is the same set);
* the answers are filtered: items before ``B`` (in scan order) and items at ``B`` whose id was
  already fetched are dropped; everything else is new;
* when a window's first page ends inside the group it started at, the walk reads that group
  by page number, narrowed to its millisecond by ``created_at`` filters. Page 1 is read again
  so that the ``total`` of every page of the group counts the same set: if ``total`` shrinks,
  items before the current page were deleted and later ones moved up, so the walk steps back
  as many pages as needed instead of skipping them. Past page 99 it raises
  `PaginationError` instead of skipping anyone;
* once the group is read completely, the walk goes on strictly after it by keyset: with the
  cursor at ``B`` (exclusive) or one millisecond past it (once known to be inclusive).

Customers deleted during a scan do not shift a keyset cursor, and customers created during it
land past the cursor (ascending) or before the window (descending), so every customer that
existed for the whole scan is yielded once. (Inside one millisecond this relies on the API's
``total``; an answer without one cannot show deletions there.)
"""

from __future__ import annotations

import base64
import binascii
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Generic, TypeVar

import msgspec

from .._exceptions import ListOrderError, PaginationError
from .query import Query, format_datetime

__all__ = [
    "CreatedAtPages",
    "CreatedAtWalk",
    "ListOrderError",
    "PaginationError",
    "ScanPosition",
]

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")
MAX_PAGE = 99
_ONE_MS = timedelta(milliseconds=1)
#: The query parameters that bound a list by ``created_at``.
CREATED_FILTERS = ("created_at[after]", "created_at[before]")
# The kinds of window a walk reads (see CreatedAtWalk).
_WINDOW, _GROUP, _PAST = "window", "group", "past"


class _PositionWire(msgspec.Struct, array_like=True):
    version: int
    boundary: str | None
    seen: list[str]


@dataclass
class ScanPosition:
    """Where an exactly-once scan stands: the last yielded ``created_at`` and the ids at it.

    ``str(position)`` (or `dumps()`) gives a short, URL-safe token that
    `loads()` turns back into a position, so a worker can resume elsewhere.
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
        """Read a position written by `dumps()`; a malformed token raises ``ValueError``."""
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

    A walk moves through three kinds of window (see the module docstring): ``window``
    (keyset, from a boundary, whole group included), ``group`` (page numbers inside one
    millisecond, bounded to it, watching ``total``) and ``past`` (keyset, strictly after a
    group that has been read completely).
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
        self._cursor_at: datetime | None = None  # the cursor as sent, when the walk chose it
        self._group: datetime | None = None  # the created_at the current window is about
        self._page = first_page
        self._mode = _WINDOW
        self._total: int | None = None  # the last ``total`` of the current group walk
        # Learnt from the answers: the server's cursor includes its own millisecond.
        self.inclusive = False
        self._done = False
        self._stop: PaginationError | None = None
        if start is not None and start.boundary is not None:
            self.fetched = ScanPosition(start.boundary, set(start.seen))
            self.yielded = ScanPosition(start.boundary, set(start.seen))
            self._open_window(start.boundary)

    # -- windows -------------------------------------------------------------------------

    def _toward_yielded(self, moment: datetime) -> datetime:
        """One millisecond back toward the items already walked past."""
        return moment + _ONE_MS if self._descending else moment - _ONE_MS

    def _set_cursor(self, moment: datetime) -> None:
        self._cursor_at = moment
        self._cursor = format_datetime(moment, "starting_after")

    def _open_window(self, boundary: datetime) -> None:
        """A keyset window that holds every item at ``boundary`` and everything after it."""
        self._mode = _WINDOW
        self._group = boundary
        self._page = 1
        self._total = None
        self._set_cursor(boundary if self.inclusive else self._toward_yielded(boundary))

    def _open_group(self) -> None:
        """Walk the current window's group by page number, bounded to its millisecond."""
        assert self._group is not None
        self._mode = _GROUP
        self._page = 1  # read page 1 again: its ``total`` is the baseline the next pages use
        self._total = None
        group = self._group
        self._set_cursor(group if self.inclusive else self._toward_yielded(group))

    def _open_past(self, boundary: datetime) -> None:
        """A keyset window strictly after ``boundary``, whose items were all fetched."""
        self._mode = _PAST
        self._group = boundary
        self._page = 1
        self._total = None
        # Unknown semantics: try the boundary itself. An exclusive server skips the group;
        # an inclusive one sends it again (dropped as seen) and so teaches the walk.
        past = boundary - _ONE_MS if self._descending else boundary + _ONE_MS
        self._set_cursor(past if self.inclusive else boundary)

    def _bounded(self, query: Query) -> Query:
        """``query`` narrowed to the group's millisecond (give or take one) by filters."""
        assert self._group is not None
        low, high = self._group - _ONE_MS, self._group + _ONE_MS
        after = param_datetime(query, "created_at[after]")
        before = param_datetime(query, "created_at[before]")
        low = low if after is None else max(after, low)
        high = high if before is None else min(before, high)
        bounded = [(name, value) for name, value in query if name not in CREATED_FILTERS]
        bounded.append(("created_at[after]", format_datetime(low, "created_at_after")))
        bounded.append(("created_at[before]", format_datetime(high, "created_at_before")))
        return bounded

    def next_query(self) -> Query | None:
        """The query of the next page, or ``None`` when the walk is over."""
        if self._stop is not None:
            raise self._stop
        if self._done:
            return None
        query = self._bounded(self._query) if self._mode == _GROUP else list(self._query)
        if self._page > 1:
            query.append(("page", str(self._page)))
        if self._cursor is not None:
            query.append(("starting_after", self._cursor))
        return query

    def guess_next(self, last: datetime, has_more: bool | None) -> Query | None:
        """What `next_query()` will give after the answer now awaited, if it is the common one.

        The common answer is a full page (``has_more`` true) whose last item, at ``last``, is
        past the group the current window started at: the walk then opens a window at
        ``last``. ``None`` for anything else (a group walk, an end, a page inside the group).
        The guess is only a guess; the caller checks it against `next_query()`.
        """
        if has_more is not True or self._done or self._stop is not None or self._mode == _GROUP:
            return None
        if self._group is not None and not self._past_group(last):
            return None
        cursor = last if self.inclusive else self._toward_yielded(last)
        return [*self._query, ("starting_after", format_datetime(cursor, "starting_after"))]

    def _past_group(self, created_at: datetime) -> bool:
        if self._group is None:
            return True
        return created_at < self._group if self._descending else created_at > self._group

    # -- answers -------------------------------------------------------------------------

    def accept(
        self, items: Sequence[ItemT], has_more: bool | None, total: int | None = None
    ) -> list[ItemT]:
        """Take the answer to `next_query()`; return its new items in order.

        ``total`` is the answer's ``total`` (``None`` if it gave none): while the walk pages
        through one millisecond, a smaller ``total`` means items before the current page
        were deleted, and the walk steps back instead of skipping what moved up.
        """
        cursor_at = self._cursor_at
        descending = self._descending
        keys = list(map(self._key, items))
        stamps = [key[0] for key in keys]
        fetched = self.fetched
        fresh = self._all_fresh(items, keys, stamps)
        if fresh is not None:
            if cursor_at is not None and cursor_at in stamps:
                self.inclusive = True
            fetched.boundary, fetched.seen = keys[-1][0], {keys[-1][1]}
            return self._after_accept(items, has_more, total, fresh)
        fresh = []
        # ScanPosition.is_new and .advance of self.fetched, inlined: this runs per item.
        boundary, seen = fetched.boundary, fetched.seen
        previous: datetime | None = cursor_at
        try:
            for item, (created_at, item_id) in zip(items, keys, strict=True):
                if created_at is None:
                    raise PaginationError(
                        f"item {item_id!r} has no created_at, so the list cannot be walked"
                        " past page 99 with the created_at cursor"
                    )
                if previous is not None and (
                    (created_at > previous) if descending else (created_at < previous)
                ):
                    # Before the cursor or the item before it in the order asked for: the
                    # server did not answer in that order, and the walk would drop items.
                    raise ListOrderError(
                        f"the API answered out of order: customer {item_id!r}, created at"
                        f" {format_datetime(created_at, 'created_at')}, came after"
                        f" {format_datetime(previous, 'created_at')} in a list asked for in"
                        f" {'descending' if descending else 'ascending'} created_at order"
                    )
                previous = created_at
                if created_at == cursor_at:
                    self.inclusive = True
                if boundary is None or created_at == boundary:
                    if item_id in seen:
                        continue
                elif (created_at > boundary) if descending else (created_at < boundary):
                    continue
                if created_at != boundary:
                    boundary, seen = created_at, {item_id}
                else:
                    seen.add(item_id)
                fresh.append(item)
        finally:
            fetched.boundary, fetched.seen = boundary, seen
        return self._after_accept(items, has_more, total, fresh)

    def _all_fresh(
        self,
        items: Sequence[ItemT],
        keys: list[tuple[datetime | None, str]],
        stamps: list[datetime | None],
    ) -> list[ItemT] | None:
        """The new items of the common page, found in C-speed passes instead of one by one.

        The common page starts with the items at the boundary that were fetched already (a
        window starts with the whole group at its boundary), then has only items no two of
        which share a millisecond, each strictly after the one before in scan order.
        ``None`` for any other page: the item-by-item walk handles it.
        """
        if not stamps or None in stamps:
            return None
        fetched = self.fetched
        boundary, seen = fetched.boundary, fetched.seen
        start = 0
        if boundary is None:
            if seen:
                return None
        else:
            count = len(stamps)
            while start < count and stamps[start] == boundary:
                if keys[start][1] not in seen:
                    return None
                start += 1
            if start == count:
                return None
        rest: list[datetime] = stamps[start:] if start else stamps  # type: ignore[assignment]
        if self._descending:
            ordered = all(map(operator.gt, rest, islice(rest, 1, None)))
            past = boundary is None or rest[0] < boundary
        else:
            ordered = all(map(operator.lt, rest, islice(rest, 1, None)))
            past = boundary is None or rest[0] > boundary
        if not (ordered and past):
            return None
        return list(items[start:])

    def _after_accept(
        self,
        items: Sequence[ItemT],
        has_more: bool | None,
        total: int | None,
        fresh: list[ItemT],
    ) -> list[ItemT]:
        """Choose the next window from the page just accepted; return its new items."""
        full = bool(items) and has_more is not False and len(items) >= self._limit
        if self._mode == _GROUP:
            self._after_group_page(items, full, total)
            return fresh
        if not full:
            self._done = True
            return fresh
        last, _ = self._key(items[-1])
        assert last is not None
        boundary = self.fetched.boundary
        if self._group is None or self._past_group(last):
            assert boundary is not None
            self._open_window(boundary)
        elif self._mode == _PAST:
            # A whole page at the boundary itself: the cursor is inclusive (now learnt).
            self.inclusive = True
            self._open_past(self._group)
        elif last == self._group:
            self._open_group()
        elif self.inclusive:
            # A whole page at the cursor's own millisecond: start at the group itself.
            self._open_window(self._group)
        else:  # pragma: no cover - a server that answers before its own cursor
            self._open_group()
        return fresh

    def _after_group_page(self, items: Sequence[ItemT], full: bool, total: int | None) -> None:
        previous, self._total = self._total, total
        if total is not None and previous is not None and total < previous:
            # Items before this page were deleted, so later ones moved up by as many places:
            # go back far enough to read them again (the seen ones are dropped).
            self._page = max(1, self._page - -(-(previous - total) // self._limit))
            return
        boundary = self.fetched.boundary
        if not full:
            # Every item of the group's milliseconds was fetched: continue strictly after.
            if boundary is None:
                self._done = True
            else:
                self._open_past(boundary)
            return
        last, _ = self._key(items[-1])
        assert last is not None and boundary is not None
        if self._past_group(last):
            # The server's filters let the next millisecond in: go on from it by keyset.
            self._open_window(boundary)
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


def param_datetime(query: Query, name: str) -> datetime | None:
    """The datetime value of parameter ``name`` in ``query`` (``None``: absent or unreadable)."""
    for key, value in query:
        if key == name:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
    return None


class CreatedAtPages(Generic[PageT, ItemT]):
    """A `CreatedAtWalk` over whole pages, as the pager drives it.

    Pages handed on contain only new items, so ``pages()`` sees each item once too.
    ``total`` reads a page's ``total``; by default its ``total`` attribute, if an int.
    ``peek`` reads the last item's ``created_at`` and ``has_more`` from an undecoded page
    (``None`` if it cannot), so the next page can be asked for before this one is decoded.
    """

    def __init__(
        self,
        walk: CreatedAtWalk[ItemT],
        *,
        items: Callable[[PageT], Sequence[ItemT]],
        has_more: Callable[[PageT], bool | None],
        rebuild: Callable[[PageT, list[ItemT]], PageT],
        key: Callable[[ItemT], tuple[datetime | None, str]],
        total: Callable[[PageT], int | None] | None = None,
        peek: Callable[[bytes], tuple[datetime, bool] | None] | None = None,
    ) -> None:
        self._walk = walk
        self._peek = peek
        self._items = items
        self._has_more = has_more
        self._rebuild = rebuild
        self._key = key
        self._total = total if total is not None else _total_attribute

    def next_query(self) -> Query | None:
        """The query of the next page."""
        return self._walk.next_query()

    def accept(self, page: PageT) -> PageT:
        """Keep the new items of ``page``."""
        items = self._items(page)
        fresh = self._walk.accept(items, self._has_more(page), self._total(page))
        return page if len(fresh) == len(items) else self._rebuild(page, fresh)

    def items(self, page: PageT) -> Sequence[ItemT]:
        """The items of ``page``."""
        return self._items(page)

    def handed_out(self, items: Sequence[ItemT]) -> None:
        """Move the resumable position past ``items``, handed out in order.

        The same as ``advance`` on each in turn: the position ends at the last item's
        ``created_at``, with the ids of the run of items at it that ends the sequence (and
        the ids it had, if that run reaches back past the sequence's start to the same
        millisecond). Only that run is read, from the end. Giving a sequence again, or one
        that starts with the last one given, changes nothing more.
        """
        boundary: datetime | None = None
        ids: list[str] = []
        whole = True
        for item in reversed(items):
            created_at, item_id = self._key(item)
            if created_at is None:
                continue
            if boundary is None:
                boundary = created_at
            elif created_at != boundary:
                whole = False
                break
            ids.append(item_id)
        if boundary is None:
            return
        position = self._walk.yielded
        if whole and position.boundary == boundary:
            position.seen.update(ids)
        else:
            position.boundary, position.seen = boundary, set(ids)

    def position(self) -> str | None:
        """A token for ``resume_from``: the scan continues after the last item handed out."""
        return self._walk.yielded.dumps()

    def guess(self, body: bytes) -> Query | None:
        """The next query, read from an undecoded answer with ``peek`` (see `guess_next`)."""
        if self._peek is None:
            return None
        peeked = self._peek(body)
        return None if peeked is None else self._walk.guess_next(*peeked)


def _total_attribute(page: object) -> int | None:
    total = getattr(page, "total", None)
    return total if isinstance(total, int) and not isinstance(total, bool) else None

"""The parallel scan: several exactly-once walks over disjoint ``created_at`` windows at once.

`ParallelScan` finds the range of the list (its oldest and newest customer, two requests sent
together), cuts it into windows by time (`WindowPlan`), and runs one stream per window as an
asyncio task. Each stream reads its window with its own `CreatedAtWalk` and hands whole pages
to the caller through a queue; when its window is read it takes another (an idle one, or the
far half of the largest unread remainder), so every stream stays busy until the end. With
``parallel="auto"`` the number of streams follows the latency seen and the budget the
rate-limit headers announce (`auto_streams`). Memory is bounded: each stream holds at most
one page that the caller has not taken and the one it is fetching.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from .._core.query import Query, format_datetime
from .._core.ratelimit import RateLimit
from .._core.scan import CREATED_FILTERS, CreatedAtPages, CreatedAtWalk, param_datetime
from .._core.windows import (
    MAX_STREAMS,
    Window,
    WindowPlan,
    auto_streams,
    dumps_windows,
    from_ms,
    to_ms,
)
from ._listing import ListShape
from ._pagination import Pager, ScanProgress

__all__ = ["ParallelPager", "ParallelScan", "ScanProgress"]

PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

# Latency samples kept for "auto": a low quantile of them is the network's round trip (a
# request the pacer held back takes longer, and must not make "auto" open more streams).
_SAMPLES = 64
_QUANTILE = 0.25
# How often a closing scan cancels again a stream that has not ended yet.
_RECANCEL = 0.05


class _Exit:
    """A stream's last word in the queue: how it ended (``error`` is what it raised)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class ParallelScan(Generic[PageT, ItemT]):
    """Streams a ``created_at``-ordered list through several windows at once.

    Args:
        fetch: fetches one page for a query.
        shape: what the scan needs to know of a page.
        filters: the checked filters (no ``order``, ``limit`` or cursor).
        limit: items per page.
        parallel: the number of streams, or ``"auto"``.
        resume: the windows of a position token, to go on from.
        rate_limit: the rate-limit headers of the last answer (``vf.rate_limit``).
        max_streams: the most streams ``"auto"`` may open (``max_concurrency``).
        clock: seconds, monotonic.
    """

    def __init__(
        self,
        fetch: Callable[[Query], Awaitable[PageT]],
        shape: ListShape[PageT, ItemT],
        *,
        filters: Query,
        limit: int,
        parallel: int | str,
        resume: list[Window] | None = None,
        rate_limit: Callable[[], RateLimit | None] = lambda: None,
        max_streams: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._shape = shape
        self._filters = [(k, v) for k, v in filters if k not in CREATED_FILTERS]
        self._after = _bound(filters, "created_at[after]")
        self._before = _bound(filters, "created_at[before]")
        self._user_filters = filters
        self._limit = limit
        self._parallel = parallel
        self._resume = resume
        self._rate_limit = rate_limit
        self._cap = max(1, min(max_streams or MAX_STREAMS, MAX_STREAMS))
        self._clock = clock
        self._wall = wall
        self._plan: WindowPlan | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._live = 0
        self._samples: deque[float] = deque(maxlen=_SAMPLES)
        self._period: float | None = None
        self._total: int | None = None
        self._started: float | None = None
        self._yielded = 0
        self._requests = 0
        # The page being handed out, and how many of its items have been.
        self._current: tuple[Window, Sequence[ItemT]] | None = None
        self._handed = 0

    # -- what the caller sees --------------------------------------------------------------

    @property
    def position(self) -> str | None:
        """A token for ``resume_from``: every unfinished window and where it stands."""
        plan = self._plan
        if plan is None:
            return None
        self._note_handed()
        return dumps_windows(plan.windows)

    @property
    def progress(self) -> ScanProgress:
        """How far the scan is; see `ScanProgress`."""
        elapsed = 0.0 if self._started is None else self._clock() - self._started
        return ScanProgress(
            yielded=self._yielded + self._handed,
            total=self._total,
            streams=self._live,
            elapsed=elapsed,
            seconds_left=self._seconds_left(),
            requests=self._requests,
            splits=0 if self._plan is None else self._plan.splits,
        )

    def _seconds_left(self) -> float | None:
        latency = self._latency()
        if latency is None or self._plan is None or not self._live:
            return None
        if self._total is not None:
            left: float = max(self._total - self._yielded - self._handed, 0)
        else:
            left = self._plan.remaining()
        if math.isinf(left):
            return None
        pages = math.ceil(left / self._limit)
        rate = self._live / max(latency, 1e-3)
        limits = self._rate_limit()
        if limits is not None and limits.limit and self._period:
            rate = min(rate, limits.limit / self._period)
        return pages / rate

    async def items(self) -> AsyncGenerator[ItemT, None]:
        """Every item of every window, once, in no particular order."""
        pages = self.pages()
        try:
            async for window, _, items in pages:
                self._current, self._handed = (window, items), 0
                # Only the count goes up per item; the window hears of them once a page.
                for self._handed, item in enumerate(items, 1):
                    yield item
                self._current, self._handed = None, 0
        finally:
            await pages.aclose()

    def _note_handed(self) -> None:
        """Move the position of the window being handed out past the items handed so far."""
        current = self._current
        if current is not None and self._handed:
            window, items = current
            window.reader.handed_out(items[: self._handed])

    # -- the engine --------------------------------------------------------------------------

    async def pages(self) -> AsyncGenerator[tuple[Window, PageT, Sequence[ItemT]], None]:
        """Yield ``(window, page, items)`` per page read, each item once, in no set order."""
        self._started = self._clock()
        plan = self._plan = await self._prepare()
        try:
            for _ in range(self._target()):
                window = plan.take()
                if window is None:
                    break
                self._spawn(window)
            while self._live:
                entry = await self._queue.get()
                if isinstance(entry, _Exit):
                    self._live -= 1
                    if entry.error is not None:
                        raise entry.error
                    continue
                window, page, items, last, taken = entry
                taken.set_result(None)
                if items:
                    yield window, page, items
                    window.reader.handed_out(items)
                    self._yielded += len(items)
                if last:
                    window.closed = True
        finally:
            await self._stop()

    async def _prepare(self) -> WindowPlan:
        """The oldest and newest customer (two requests at once), then the windows."""
        # Plain tasks, not a task group: an error comes out as itself (an
        # AuthenticationError, say), not wrapped in an ExceptionGroup.
        tasks = [
            asyncio.ensure_future(
                self._timed([("limit", "1"), *self._user_filters, ("order", order)])
            )
            for order in ("created_at", "-created_at")
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        answers = [task.result() for task in tasks]
        oldest, newest = (self._shape.items(answer) for answer in answers)
        total = getattr(answers[0], "total", None)
        self._total = total if isinstance(total, int) and not isinstance(total, bool) else None
        self._learn_period()
        stamps = [self._shape.key(items[0])[0] for items in (oldest, newest) if items]
        if len(stamps) < 2 or stamps[0] is None or stamps[1] is None:
            # Empty (or no created_at to cut on): one window, read as the sequential scan.
            now = int(self._wall() * 1000)
            windows = self._resume if self._resume is not None else [Window(None, None)]
            return WindowPlan(windows, low=now, high=now, limit=self._limit)
        low, high = to_ms(stamps[0]), to_ms(stamps[1])
        if self._resume is not None:
            return WindowPlan(self._resume, low=low, high=high, limit=self._limit)
        return WindowPlan.cut(self._target(), low=low, high=high, limit=self._limit)

    def _target(self) -> int:
        if isinstance(self._parallel, int):
            return self._parallel
        return auto_streams(
            latency=self._latency(),
            rate_limit=self._rate_limit(),
            period=self._period,
            cap=self._cap,
        )

    def _latency(self) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        return ordered[int(len(ordered) * _QUANTILE)]

    def _learn_period(self) -> None:
        """The period of the rate limit: the longest time to a reset an answer announced."""
        limits = self._rate_limit()
        if limits is None or limits.retry_at is None:
            return
        left = limits.retry_at - self._wall()
        if left > 0 and (self._period is None or left > self._period):
            self._period = left

    async def _timed(self, query: Query) -> PageT:
        start = self._clock()
        self._requests += 1
        page = await self._fetch(query)
        self._samples.append(self._clock() - start)
        return page

    def _spawn(self, window: Window) -> None:
        self._live += 1
        task = asyncio.ensure_future(self._stream(window))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _grow(self) -> None:
        """Open streams up to the target while there is work to give them."""
        assert self._plan is not None
        if isinstance(self._parallel, int):
            target = self._parallel
        else:
            target = self._target()
            # The caller is the bottleneck when pages already wait for it: more streams
            # would only hold more pages.
            if self._queue.qsize() >= self._live:
                return
        while self._live < target:
            window = self._plan.take()
            if window is None:
                return
            self._spawn(window)

    async def _stream(self, window: Window | None) -> None:
        error: BaseException | None = None
        try:
            while window is not None:
                if not await self._read(window):
                    return  # released: "auto" wants fewer streams
                assert self._plan is not None
                window = self._plan.take()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the caller, who raises it
            error = exc
        finally:
            self._queue.put_nowait(_Exit(error))

    async def _read(self, window: Window) -> bool:
        """Read ``window`` until it is exhausted (True) or the stream is released (False)."""
        plan = self._plan
        assert plan is not None
        reader = window.reader
        if reader is None:
            reader = window.reader = self._reader(window)
        taken: asyncio.Future[None] | None = None
        query = reader.next_query()
        while query is not None:
            page = await self._timed(query)
            self._learn_period()
            page = reader.accept(page)
            every = reader.items(page)
            items = self._within(window, every)
            if len(items) != len(every):
                page = self._shape.rebuild(page, list(items))
            window.fetched += len(items)
            boundary = reader.fetched_boundary()
            if boundary is not None:
                window.reached = to_ms(boundary)
            stop: BaseException | None = None
            try:
                query = reader.next_query()
            except Exception as exc:  # a walk that cannot go on: after this page's items
                query, stop = None, exc
            if window.reached is not None and window.past_end(window.reached):
                query = None
            last = query is None
            if last:
                window.exhausted = True
            # At most one page of this stream waits for the caller.
            if taken is not None:
                await taken
            if self._stopping:
                # The scan is closing; this stream missed its cancellation.
                raise asyncio.CancelledError
            taken = asyncio.get_running_loop().create_future()
            self._queue.put_nowait((window, page, items, last, taken))
            if stop is not None:
                raise stop
            if last:
                return True
            self._grow()
            if not isinstance(self._parallel, int) and self._live > self._target():
                plan.release(window)
                return False
        window.exhausted = True  # the walk had nothing left to ask
        return True

    def _reader(self, window: Window) -> CreatedAtPages[PageT, ItemT]:
        """A walk over one window, ascending, bounded by filters (and checked on the client)."""
        query: Query = [("limit", str(self._limit)), *self._filters, ("order", "created_at")]
        after = self._after
        if window.lo is not None:
            after = window.lo - 1 if after is None else max(after, window.lo - 1)
        before = self._before
        if window.hi is not None:
            before = window.hi if before is None else min(before, window.hi)
        if after is not None:
            query.append(("created_at[after]", format_datetime(from_ms(after), "created_at")))
        if before is not None:
            query.append(("created_at[before]", format_datetime(from_ms(before), "created_at")))
        start = window.position if window.position.boundary is not None else None
        walk = CreatedAtWalk(
            query, descending=False, limit=self._limit, key=self._shape.key, start=start
        )
        shape = self._shape
        reader = _WindowReader(
            walk,
            items=shape.items,
            has_more=shape.has_more,
            rebuild=shape.rebuild,
            key=shape.key,
        )
        window.position = walk.yielded
        return reader

    def _within(self, window: Window, items: Sequence[ItemT]) -> Sequence[ItemT]:
        """The items of a page that belong to the window (it may have been split since)."""
        if not items:
            return items
        key = self._shape.key
        first, last = key(items[0])[0], key(items[-1])[0]
        if (
            first is not None
            and last is not None
            and window.contains(to_ms(first))
            and window.contains(to_ms(last))
        ):
            return items
        kept = []
        for item in items:
            created_at = key(item)[0]
            if created_at is None or window.contains(to_ms(created_at)):
                kept.append(item)
        return kept

    async def _stop(self) -> None:
        """Cancel every stream and wait for them: no task outlives the scan.

        A stream can swallow its cancellation: code under it (a hook, a library racing a
        cancellation with an answer) may catch it. Such a stream would go on to wait for
        the caller to take its page, which no one will: it is cancelled again, every
        `_RECANCEL` seconds, until it ends.
        """
        self._stopping = True
        tasks = set(self._tasks)
        while tasks:
            for task in tasks:
                task.cancel()
            _, tasks = await asyncio.wait(tasks, timeout=_RECANCEL)
        self._live = 0

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self.items()


class _WindowReader(CreatedAtPages[PageT, ItemT]):
    """A `CreatedAtPages` that also says how far its walk has fetched."""

    def fetched_boundary(self) -> datetime | None:
        """The ``created_at`` of the last item fetched."""
        return self._walk.fetched.boundary


def _bound(filters: Query, name: str) -> int | None:
    moment = param_datetime(filters, name)
    return None if moment is None else to_ms(moment)


class ParallelPager(Pager[PageT, ItemT]):
    """A `Pager` whose iteration runs a `ParallelScan` (``customers.list(parallel=...)``).

    ``await pager`` still fetches one page; ``async for`` and `pages()` stream every window at
    once, items in no global order. `position` encodes every window's position, and
    `progress` says how far the scan is.
    """

    def __init__(
        self,
        fetch: Callable[[Query], Awaitable[PageT]],
        query: Query,
        scan: Callable[[], ParallelScan[PageT, ItemT]],
    ) -> None:
        super().__init__(fetch, query, _no_walk, prefetch=False)
        self._make_scan = scan
        self._scan: ParallelScan[PageT, ItemT] | None = None

    @property
    def position(self) -> str | None:
        """A token for ``resume_from`` (with ``parallel``): every window's position."""
        return None if self._scan is None else self._scan.position

    @property
    def progress(self) -> ScanProgress | None:
        """How far the current iteration is (``None`` before iterating); see `ScanProgress`."""
        return None if self._scan is None else self._scan.progress

    async def pages(self) -> AsyncGenerator[PageT, None]:
        """Yield every page (holding only new items), in no particular order."""
        scan = self._scan = self._make_scan()
        pages = scan.pages()
        try:
            async for _, page, _ in pages:
                yield page
        finally:
            await pages.aclose()

    def __aiter__(self) -> AsyncIterator[ItemT]:
        scan = self._scan = self._make_scan()
        return scan.items()


def _no_walk(query: Query) -> Any:  # pragma: no cover - ParallelPager never walks
    raise AssertionError("a parallel pager iterates with its scan")

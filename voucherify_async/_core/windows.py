"""The arithmetic of a parallel scan: disjoint ``created_at`` windows, split as streams free up.

A parallel scan cuts the ``created_at`` range of a list into half-open windows of whole
milliseconds, ``[lo, hi)``, and reads each with its own exactly-once walk (ascending, so the
unread part of a window is always its end). No two windows share a millisecond, so
customers created in the same millisecond stay in one window and every customer belongs to
exactly one. When a stream runs out of work it takes the far half of the largest unread
remainder of another window (work stealing): the victim's ``hi`` moves down to the cut, and
the victim drops anything it later fetches at or past it.

Everything here is pure bookkeeping; `resources/_parallel.py` does the I/O. The position of
a parallel scan is the list of its unfinished windows, each with the position of its own
walk: `dumps_windows` and `loads_windows` turn it into a token and back.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from .ratelimit import RateLimit
from .scan import ScanPosition

__all__ = [
    "MAX_STREAMS",
    "Window",
    "WindowPlan",
    "auto_streams",
    "check_parallel",
    "dumps_windows",
    "from_ms",
    "is_parallel_token",
    "loads_windows",
    "to_ms",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
#: The most streams ``parallel="auto"`` opens (a number given explicitly may be higher).
MAX_STREAMS = 64
#: The most streams a number given explicitly may ask for.
_MAX_PARALLEL = 1_000
_POSITION_VERSION = 2
# "auto" spends a period's budget within this share of the period, so a fixed window's
# quota is used early and the streams are not idle when the next period opens.
_SPEND_WITHIN = 0.25
# Without a known budget: one stream per this many seconds of latency (2 at least).
_LATENCY_PER_STREAM = 0.01
_UNLIMITED_STREAMS = 16


def to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch (floored)."""
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of a millisecond count (inverse of `to_ms`)."""
    return _EPOCH + ms * _MS


def check_parallel(parallel: object, order: str | None, created_at_orders: frozenset[Any]) -> None:
    """Refuse a ``parallel`` argument that cannot be honoured, before any request.

    Raises:
        ValueError: ``parallel`` is not ``None``, ``"auto"`` or an int from 1 to 1000, or
            is given with an order other than ``created_at``/``-created_at``.
    """
    if parallel is None:
        return
    allowed = f'an int from 1 to {_MAX_PARALLEL}, "auto" or None'
    if isinstance(parallel, bool) or not isinstance(parallel, (int, str)):
        raise ValueError(f"parallel must be {allowed}, got {parallel!r}")
    if isinstance(parallel, str) and parallel != "auto":
        raise ValueError(f"parallel must be {allowed}, got {parallel!r}")
    if isinstance(parallel, int) and not 1 <= parallel <= _MAX_PARALLEL:
        raise ValueError(f"parallel must be {allowed}, got {parallel!r}")
    if order not in created_at_orders:
        raise ValueError(
            f"parallel works with order='created_at' or '-created_at' only, got order={order!r}:"
            " the windows are cut on created_at"
        )


@dataclass(eq=False)
class Window:
    """One window ``[lo, hi)`` of milliseconds (``None``: unbounded on that side).

    ``position`` is where its reader stands, as handed out to the caller (resumable);
    ``reached`` is the last millisecond its walk has fetched. ``fetched`` counts the items it
    kept; ``busy`` says a stream is reading it; ``exhausted`` that everything in it was
    fetched; ``closed`` that everything fetched was also handed out.
    """

    lo: int | None
    hi: int | None
    position: ScanPosition = field(default_factory=ScanPosition)
    reached: int | None = None
    fetched: int = 0
    busy: bool = False
    exhausted: bool = False
    closed: bool = False
    #: The reader's state (the driver's walk); not part of the position.
    reader: Any = None

    def contains(self, ms: int) -> bool:
        """Whether the millisecond ``ms`` belongs to this window."""
        return (self.lo is None or ms >= self.lo) and (self.hi is None or ms < self.hi)

    def past_end(self, ms: int) -> bool:
        """Whether a walk that has reached ``ms`` has read everything of this window."""
        return self.hi is not None and ms >= self.hi


class _WindowWire(msgspec.Struct, array_like=True):
    lo: int | None
    hi: int | None
    boundary: str | None
    seen: list[str]


class _PlanWire(msgspec.Struct, array_like=True):
    version: int
    windows: list[_WindowWire]


def dumps_windows(windows: Sequence[Window]) -> str:
    """A URL-safe token of the unclosed windows and their positions."""
    wire = _PlanWire(
        _POSITION_VERSION,
        [
            _WindowWire(
                window.lo,
                window.hi,
                None if window.position.boundary is None else window.position.boundary.isoformat(),
                sorted(window.position.seen),
            )
            for window in windows
            if not window.closed
        ],
    )
    return base64.urlsafe_b64encode(msgspec.json.encode(wire)).decode("ascii").rstrip("=")


def is_parallel_token(token: str) -> bool:
    """Whether a ``resume_from`` token was taken from a parallel scan."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        head = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return False
    return isinstance(head, list) and bool(head) and head[0] == _POSITION_VERSION


def loads_windows(token: str) -> list[Window]:
    """The windows of a token written by `dumps_windows`.

    Raises:
        ValueError: the token is not a parallel scan's position.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        wire = msgspec.json.decode(raw, type=_PlanWire)
        windows = []
        for item in wire.windows:
            boundary = None if item.boundary is None else datetime.fromisoformat(item.boundary)
            if boundary is not None and boundary.tzinfo is None:
                raise ValueError("naive boundary")
            if item.lo is not None and item.hi is not None and item.lo >= item.hi:
                raise ValueError("empty window")
            windows.append(Window(item.lo, item.hi, ScanPosition(boundary, set(item.seen))))
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise ValueError(
            f"resume_from is not a parallel scan's position token: {token[:40]!r}"
        ) from exc
    if wire.version != _POSITION_VERSION:
        raise ValueError(f"resume_from is not a parallel scan's position token: {token[:40]!r}")
    return windows


class WindowPlan:
    """The windows of one parallel scan, and the choice of what a free stream reads next.

    Args:
        windows: the windows (from `cut` or a resumed position).
        low: the oldest ``created_at`` millisecond known (an estimate's lower end).
        high: the newest known; an unbounded window's unread part is estimated up to it.
        limit: items per page; a remainder is split only if each half holds a page or more.
    """

    def __init__(self, windows: list[Window], *, low: int, high: int, limit: int) -> None:
        self.windows = windows
        self.low = low
        self.high = max(high, low)
        self.limit = limit
        self.splits = 0

    @classmethod
    def cut(
        cls,
        parts: int,
        *,
        low: int,
        high: int,
        limit: int,
        lo: int | None = None,
        hi: int | None = None,
    ) -> WindowPlan:
        """``parts`` windows of equal time over ``[low, high]``, the outer ones unbounded.

        ``lo``/``hi`` bound the first and last window instead (the caller's own filters).
        """
        span = high - low + 1
        parts = max(1, min(parts, span))
        edges: list[int | None] = [lo]
        edges += [low + span * index // parts for index in range(1, parts)]
        edges.append(hi)
        windows = [Window(edges[i], edges[i + 1]) for i in range(parts)]
        return cls(windows, low=low, high=high, limit=limit)

    def _start(self, window: Window) -> int:
        """The first millisecond of a window's unread part."""
        if window.reached is not None:
            return window.reached + 1
        if window.position.boundary is not None:
            return to_ms(window.position.boundary)
        return self.low if window.lo is None else max(window.lo, self.low)

    def _end(self, window: Window) -> int:
        return self.high + 1 if window.hi is None else min(window.hi, self.high + 1)

    def _density(self, window: Window) -> float:
        """Items per millisecond: the window's own, once it has read a page, else overall."""
        origin = self.low if window.lo is None else max(window.lo, self.low)
        if window.reached is not None and window.fetched >= self.limit:
            return window.fetched / max(window.reached - origin + 1, 1)
        total = sum(w.fetched for w in self.windows)
        covered = sum(
            max(w.reached - (self.low if w.lo is None else max(w.lo, self.low)) + 1, 1)
            for w in self.windows
            if w.reached is not None
        )
        if total >= self.limit and covered:
            return total / covered
        return math.inf  # nothing known: any remainder may hold pages

    def unread(self, window: Window) -> float:
        """An estimate of the items a window has not fetched yet."""
        if window.exhausted:
            return 0.0
        span = self._end(window) - self._start(window)
        return 0.0 if span <= 0 else span * self._density(window)

    def take(self) -> Window | None:
        """A window for a free stream: an idle one, else the far half of the largest remainder.

        Returns ``None`` when nothing is left worth a stream (no remainder holds two pages).
        The returned window is marked busy.
        """
        for window in self.windows:
            if not window.busy and not window.exhausted:
                window.busy = True
                return window
        best: Window | None = None
        best_unread = 2.0 * self.limit
        for window in self.windows:
            unread = self.unread(window)
            if unread >= best_unread and self._end(window) - self._start(window) >= 2:
                best, best_unread = window, unread
        if best is None:
            return None
        start, end = self._start(best), self._end(best)
        middle = start + (end - start) // 2
        thief = Window(middle, best.hi, busy=True)
        best.hi = middle
        self.windows.append(thief)
        self.splits += 1
        return thief

    def release(self, window: Window) -> None:
        """A stream stops reading ``window`` (its reader is kept; another stream resumes it)."""
        window.busy = False

    def remaining(self) -> float:
        """An estimate of the items no window has fetched yet."""
        return sum(self.unread(window) for window in self.windows)


def auto_streams(
    *,
    latency: float | None,
    rate_limit: RateLimit | None,
    period: float | None,
    cap: int,
) -> int:
    """How many streams spend the budget the headers announce, at the latency seen.

    With a known budget (``X-Rate-Limit-Limit`` and a period learnt from
    ``X-Rate-Limit-Retry``): enough streams to spend a period's requests within a quarter of
    it, since a fixed window's quota is best used early; more would only wait in the pacer.
    With none: one stream per 10 ms of latency, 2 to 16. Always 1 to ``cap``.
    """
    if latency is None:
        return max(1, min(4, cap))
    if rate_limit is not None and rate_limit.limit and period and period > 0:
        wanted = math.ceil(rate_limit.limit * latency / (_SPEND_WITHIN * period))
    else:
        wanted = min(_UNLIMITED_STREAMS, math.ceil(latency / _LATENCY_PER_STREAM))
    return max(1, min(max(wanted, 2), cap, MAX_STREAMS))

"""Fixed-window request counters and a billing-cycle quota, with the API's headers.

A window opens with its first request and lasts ``period`` seconds; the next request
after that opens a new one. Every /v1 response carries ``X-Rate-Limit-Limit``,
``X-Rate-Limit-Remaining`` (left in this window after this request) and
``X-Rate-Limit-Retry`` (Unix epoch seconds when the window ends and the quota refills);
a request over a limit gets 429 with ``Retry-After`` and ``X-Rate-Limit-Type`` naming the
limit: ``api_calls`` (every request), ``bulk_api_calls`` (the bulk endpoints) or
``api_calls_cycle`` (the billing cycle's quota, which no wait short of the cycle's end
refills).

Written apart from the client's own reading of these headers on purpose: this module
imports nothing of the client's protocol code (``voucherify_async._core.ratelimit``), so the
emulator stays an independent check of the client; a misreading of the protocol on one
side shows up as a failing test instead of being shared by both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CycleQuota", "FixedWindowLimiter", "RateDecision"]


@dataclass(frozen=True)
class RateDecision:
    """The limiter's verdict on one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int
    type: str = "api_calls"

    def headers(self) -> dict[str, str]:
        """The headers every response carries while limits are on."""
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Retry": str(self.reset_epoch),
        }

    def rejection_headers(self) -> dict[str, str]:
        """The extra headers of a 429."""
        return {"Retry-After": str(self.retry_after), "X-Rate-Limit-Type": self.type}


class FixedWindowLimiter:
    """Counts requests per fixed window.

    Example::

        limiter = FixedWindowLimiter(20, period=1.0)
        decision = limiter.hit()
        decision.allowed, decision.remaining   # (True, 19)
    """

    __slots__ = (
        "_clock", "_count", "_start", "_wall", "_wall_start", "kind", "limit", "period"
    )  # fmt: skip

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        kind: str = "api_calls",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.period = period
        self.kind = kind
        self._clock = clock
        self._wall = wall
        self._start: float | None = None
        self._wall_start = 0.0
        self._count = 0

    def hit(self) -> RateDecision:
        """Count one request and decide whether it may proceed."""
        now = self._clock()
        if self._start is None or now >= self._start + self.period:
            self._start = now
            self._wall_start = self._wall()
            self._count = 0
        self._count += 1
        left = self._start + self.period - now
        return RateDecision(
            allowed=self._count <= self.limit,
            limit=self.limit,
            remaining=max(0, self.limit - self._count),
            reset_epoch=math.ceil(self._wall_start + self.period),
            retry_after=max(1, math.ceil(left)),
            type=self.kind,
        )


class CycleQuota:
    """The billing cycle's quota of /v1 requests (``api_calls_cycle``).

    Once ``limit`` requests were let through, every request is refused until the cycle
    ends (``cycle_s`` after it started) or the emulator is reset: ``Retry-After`` is the
    seconds left in the cycle, far more than a client should wait.

    Example::

        quota = CycleQuota(2)
        quota.take(), quota.take(), quota.take()   # (None, None, <RateDecision refused>)
    """

    __slots__ = ("_clock", "_start", "_wall", "_wall_start", "cycle_s", "limit", "used")

    def __init__(
        self,
        limit: int,
        cycle_s: float = 30 * 86_400.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.cycle_s = cycle_s
        self._clock = clock
        self._wall = wall
        self._start = clock()
        self._wall_start = wall()
        self.used = 0

    @property
    def remaining(self) -> int:
        """Requests left in this cycle."""
        return max(0, self.limit - self.used)

    @property
    def ends_epoch(self) -> int:
        """When the cycle ends, Unix epoch seconds."""
        return math.ceil(self._wall_start + self.cycle_s)

    def take(self) -> RateDecision | None:
        """Count one request; ``None`` lets it through, a decision refuses it."""
        now = self._clock()
        if now >= self._start + self.cycle_s:
            self._start, self._wall_start, self.used = now, self._wall(), 0
        if self.used < self.limit:
            self.used += 1
            return None
        return RateDecision(
            allowed=False,
            limit=self.limit,
            remaining=0,
            reset_epoch=self.ends_epoch,
            retry_after=max(1, math.ceil(self._start + self.cycle_s - now)),
            type="api_calls_cycle",
        )

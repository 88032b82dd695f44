"""A fixed-window request counter with the API's rate-limit headers.

The window opens with its first request and lasts ``period`` seconds; the next request
after that opens a new one. Every /v1 response carries ``X-Rate-Limit-Limit``,
``X-Rate-Limit-Remaining`` (left in this window after this request) and
``X-Rate-Limit-Retry`` (Unix epoch seconds when the window ends and the quota refills);
a request over the limit gets 429 with ``Retry-After`` and ``X-Rate-Limit-Type``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FixedWindowLimiter", "RateDecision"]


@dataclass(frozen=True)
class RateDecision:
    """The limiter's verdict on one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        """The headers every response carries while limits are on."""
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Retry": str(self.reset_epoch),
        }

    def rejection_headers(self) -> dict[str, str]:
        """The extra headers of a 429."""
        return {"Retry-After": str(self.retry_after), "X-Rate-Limit-Type": "api_calls"}


class FixedWindowLimiter:
    """Counts requests per fixed window.

    Example::

        limiter = FixedWindowLimiter(20, period=1.0)
        decision = limiter.hit()
        decision.allowed, decision.remaining   # (True, 19)
    """

    __slots__ = ("_clock", "_count", "_start", "_wall", "_wall_start", "limit", "period")

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.period = period
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
        )

"""The rate-limiter seam: what the transport asks before, and tells after, every attempt.

The transport asks `RateLimiter.reserve` before each attempt and tells `RateLimiter.settle`
how it ended; after a 429 it calls `RateLimiter.hold`. Waiting (sleeping) stays in the
transport, so its clock and sleep stay injectable and the client's ``max_retry_wait``
bounds every wait: a limiter only decides and counts. `LocalRateLimiter` is the in-process
default; an implementation shared between processes (Redis, say) plugs in through
``AsyncVoucherify(rate_limiter=...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .._core.pacing import Pacer
from .._core.ratelimit import NO_RATE_LIMIT, RateLimit
from .._core.retry import is_quota_spent

__all__ = ["LocalRateLimiter", "RateLimiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when the next request may be sent, from what the answers said.

    Examples:
        ```python
        limiter = LocalRateLimiter()
        async with AsyncVoucherify(rate_limiter=limiter) as vf:
            ...
        ```
    """

    async def reserve(self) -> float:
        """Ask to send one request.

        Returns:
            ``0.0``: one request is counted as in flight and may be sent now. ``> 0``:
            nothing was counted; ask again after this many seconds.
        """
        ...

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        """The attempt that `reserve` counted has ended.

        Called exactly once per successful `reserve`.

        Args:
            status: the HTTP status of the answer, ``None`` when no answer came
                (connection failure, timeout, cancellation).
            rate_limit: the answer's parsed rate-limit headers, ``None`` with no answer.
        """
        ...

    async def hold(self, until: float) -> None:
        """Hold every request back until ``until`` (Unix epoch seconds).

        After a 429 the transport calls this with now + the server's wait. Never called
        for a spent billing-cycle quota (``X-Rate-Limit-Type: api_calls_cycle``).
        """
        ...


class LocalRateLimiter:
    """The in-process `RateLimiter`: the pacer of one client (`Pacer`).

    Shared by every client ``with_options`` makes from the client that made it.

    Args:
        clock: returns Unix epoch seconds (the unit of ``X-Rate-Limit-Retry``).
    """

    __slots__ = ("pacer",)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.pacer = Pacer(clock)

    def __repr__(self) -> str:
        return f"LocalRateLimiter(in_flight={self.pacer.in_flight})"

    def reserve_nowait(self) -> float:
        """`reserve` without the coroutine: the transport calls this on its hot path."""
        # No await between the pacer's "go" and counting: no other task slips through.
        return self.pacer.try_send()

    def settle_nowait(self, status: int | None, rate_limit: RateLimit | None) -> None:
        """`settle` without the coroutine: the transport calls this on its hot path."""
        pacer = self.pacer
        if status is not None and rate_limit is not None:
            # A spent billing-cycle quota says nothing about the per-period limit.
            pacer.observe(NO_RATE_LIMIT if is_quota_spent(status, rate_limit) else rate_limit)
        pacer.answered()

    async def reserve(self) -> float:
        """0.0 and one request counted, or the seconds to wait before asking again."""
        return self.reserve_nowait()

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        """Count the attempt as ended and learn from its rate-limit headers, if any."""
        self.settle_nowait(status, rate_limit)

    async def hold(self, until: float) -> None:
        """Hold every request back until ``until`` (Unix epoch seconds)."""
        pacer = self.pacer
        pacer.block(until - pacer.clock())

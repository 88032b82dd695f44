"""The rate-limiter seam: what the transport asks before, and tells after, every attempt.

The transport asks `RateLimiter.reserve` before each attempt and tells `RateLimiter.settle`
how it ended; after a 429 it calls `RateLimiter.hold`. Waiting (sleeping) stays in the
transport, so its clock and sleep stay injectable and the client's ``max_retry_wait``
bounds every wait: a limiter only decides and counts. `LocalRateLimiter` is the in-process
default; an implementation shared between processes (Redis, say) plugs in through
``AsyncVoucherify(rate_limiter=...)``.

Each request has a priority (``AsyncVoucherify(priority=...)``, ``with_options(priority=...)``).
A limiter whose ``reserve`` takes a ``priority`` keyword is told it; one written for the
earlier ``reserve(self)`` is still asked that way (the client decides which once, when it
is made). A limiter that keeps a waiting line may also have ``withdraw()``: the client
calls it when a request told to wait gives up (its deadline, ``max_retry_wait``, a
cancellation), so that it stops holding its place.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from .._core.pacing import (
    DEFAULT_INTERACTIVE_IDLE,
    DEFAULT_INTERACTIVE_SHARE,
    INTERACTIVE,
    Pacer,
    Priority,
    check_priority,
)
from .._core.ratelimit import NO_RATE_LIMIT, RateLimit
from .._core.retry import is_quota_spent
from .._exceptions import ConfigurationError

__all__ = ["LocalRateLimiter", "Priority", "RateLimiter", "asker", "takes_priority"]


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

        A limiter may also take the request's priority, as ``reserve(self, priority:
        Priority = "interactive")``: the client then passes it as a keyword,
        ``reserve(priority="background")``.

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


def takes_priority(limiter: object) -> bool:
    """Whether ``limiter.reserve`` can be given ``priority=`` (a keyword it names, or
    ``**kwargs``)."""
    reserve = getattr(limiter, "reserve", None)
    if reserve is None:
        return False
    try:
        parameters = inspect.signature(reserve).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "priority" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in parameters
    )


def asker(limiter: RateLimiter) -> Callable[[Priority], Awaitable[float]]:
    """How to ask ``limiter`` for a request of a priority: with ``priority=`` if its
    ``reserve`` takes it, else without (a limiter written for ``reserve(self)``)."""
    reserve: Any = limiter.reserve
    if takes_priority(limiter):
        return lambda priority: reserve(priority=priority)
    return lambda priority: reserve()


class LocalRateLimiter:
    """The in-process `RateLimiter`: the pacer of one client (`Pacer`).

    Shared by every client ``with_options`` makes from the client that made it.

    Background requests (``priority="background"``) leave the last ``interactive_share``
    of each period's limit to interactive ones and never go ahead of an interactive
    request waiting its turn; after ``interactive_idle`` seconds without an interactive
    request, they may use the whole budget.

    Args:
        clock: returns Unix epoch seconds (the unit of ``X-Rate-Limit-Retry``).
        interactive_share: the share of each period's limit background requests leave to
            interactive ones (rounded, one request at least; ``0``: none).
        interactive_idle: seconds after the last interactive request after which
            background requests may use the whole budget (``None``: never).

    Raises:
        ConfigurationError: ``interactive_share`` not in ``[0, 1)``, or ``interactive_idle``
            not seconds > 0 or ``None``.

    Examples:
        ```python
        limiter = LocalRateLimiter(interactive_share=0.3)
        async with AsyncVoucherify(rate_limiter=limiter) as vf:
            backfill = vf.with_options(priority="background")
            ...
        ```
    """

    __slots__ = ("pacer",)

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        interactive_share: float = DEFAULT_INTERACTIVE_SHARE,
        interactive_idle: float | None = DEFAULT_INTERACTIVE_IDLE,
    ) -> None:
        try:
            self.pacer = Pacer(
                clock, interactive_share=interactive_share, interactive_idle=interactive_idle
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    def __repr__(self) -> str:
        return f"LocalRateLimiter(in_flight={self.pacer.in_flight})"

    def reserve_nowait(self, priority: Priority = INTERACTIVE) -> float:
        """`reserve` without the coroutine: the transport calls this on its hot path."""
        # No await between the pacer's "go" and counting: no other task slips through.
        return self.pacer.try_send(priority, asyncio.current_task())

    def withdraw_nowait(self) -> None:
        """`withdraw` without the coroutine."""
        self.pacer.withdraw(asyncio.current_task())

    def settle_nowait(self, status: int | None, rate_limit: RateLimit | None) -> None:
        """`settle` without the coroutine: the transport calls this on its hot path."""
        pacer = self.pacer
        if status is not None and rate_limit is not None:
            # A spent billing-cycle quota says nothing about the per-period limit.
            pacer.observe(NO_RATE_LIMIT if is_quota_spent(status, rate_limit) else rate_limit)
        pacer.answered()

    async def reserve(self, priority: Priority = INTERACTIVE) -> float:
        """0.0 and one request counted, or the seconds to wait before asking again.

        Raises:
            ConfigurationError: ``priority`` is not ``"interactive"`` or ``"background"``.
        """
        if priority != INTERACTIVE:
            _checked(priority)
        return self.reserve_nowait(priority)

    async def withdraw(self) -> None:
        """The asking task's request, told to wait, gives up: it no longer waits its turn."""
        self.withdraw_nowait()

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        """Count the attempt as ended and learn from its rate-limit headers, if any."""
        self.settle_nowait(status, rate_limit)

    async def hold(self, until: float) -> None:
        """Hold every request back until ``until`` (Unix epoch seconds)."""
        pacer = self.pacer
        pacer.block(until - pacer.clock())


def _checked(priority: object) -> Priority:
    """``priority``, or `ConfigurationError` naming the choices."""
    try:
        return check_priority(priority)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None

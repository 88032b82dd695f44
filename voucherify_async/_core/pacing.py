"""Client-wide pacing from the rate-limit headers, so a long job meets no 429.

Every call of a client (and of the clients ``with_options`` made from it) goes through one
`Pacer`. It reads ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Retry`` from every
answer, counts the requests still in flight, and holds a request back only when the current
period's quota is spent, until the period ends. After a 429 it holds every request back for
the ``Retry-After`` the server gave. Until the first answer has told it the quota, it lets
one request out at a time (for at most a couple of seconds), so a burst of concurrent calls
at start-up cannot overrun a small quota before the headers are known. A scan therefore
runs at the full allowed rate (less the rounding of the retry time to whole seconds) and
concurrent scans and lookups share the quota.
"""

from __future__ import annotations

from collections.abc import Callable

from .ratelimit import RateLimit

__all__ = ["Pacer"]

# When the quota is spent and only answers still in flight can tell more, look again after this.
_IN_FLIGHT_POLL = 0.05
# Before any answer has come back, the others wait for it, polling this often, but no longer
# than _FIRST_ANSWER_MAX_WAIT after the first request left (a stuck request must not hold
# every other one back until its timeout).
_FIRST_ANSWER_POLL = 0.01
_FIRST_ANSWER_MAX_WAIT = 2.0


class Pacer:
    """Decides how long the next request must wait; pure bookkeeping, the caller sleeps.

    ``clock`` returns Unix epoch seconds (the unit of ``X-Rate-Limit-Retry``).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.in_flight = 0
        self._limit: int | None = None
        self._remaining: int | None = None
        self._period_end: float | None = None
        self._blocked_until = 0.0
        self._informed = False  # whether any answer has come back yet
        self._first_sent: float | None = None

    def wait_time(self) -> float:
        """Seconds to wait before the next request may be sent (0: send now)."""
        now = self.clock()
        if self._blocked_until > now:
            return self._blocked_until - now
        if self._remaining is None or self._period_end is None:
            if (
                not self._informed
                and self.in_flight > 0
                and self._first_sent is not None
                and now - self._first_sent < _FIRST_ANSWER_MAX_WAIT
            ):
                return _FIRST_ANSWER_POLL
            return 0.0
        if now >= self._period_end:
            # The period the headers spoke of is over: assume a fresh quota until told more.
            quota = self._limit if self._limit is not None else 1
            return 0.0 if self.in_flight < quota else _IN_FLIGHT_POLL
        if self._remaining - self.in_flight > 0:
            return 0.0
        if self.in_flight > 0 and self._remaining > 0:
            return _IN_FLIGHT_POLL
        return self._period_end - now

    def try_send(self) -> float:
        """`wait_time`, and when it is 0 count the request as sent (`sent`) at once.

        Returns:
            ``0.0`` with the request counted, or the seconds to wait, with nothing counted.
        """
        wait = self.wait_time()
        if wait <= 0:
            self.sent()
            return 0.0
        return wait

    def sent(self) -> None:
        """Count a request that is about to be sent."""
        if self._first_sent is None:
            self._first_sent = self.clock()
        self.in_flight += 1

    def answered(self) -> None:
        """Count a request that got an answer or failed."""
        self.in_flight = max(self.in_flight - 1, 0)

    def observe(self, rate_limit: RateLimit) -> None:
        """Learn from the rate-limit headers of an answer (called for every answer)."""
        self._informed = True
        if rate_limit.limit is not None:
            self._limit = rate_limit.limit
        if rate_limit.remaining is None:
            return
        end = rate_limit.retry_at
        if end is None or self._period_end is None or end > self._period_end:
            # A new period (or the first answer): its count starts here.
            self._period_end = end
            self._remaining = rate_limit.remaining
        elif end == self._period_end:
            # Answers can arrive out of order; the lowest count is the latest.
            assert self._remaining is not None
            self._remaining = min(self._remaining, rate_limit.remaining)
        # An answer from an earlier period says nothing about this one.

    def block(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (the server's ``Retry-After``)."""
        self._blocked_until = max(self._blocked_until, self.clock() + seconds)

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

The limit can change while a period runs (a project's configuration or plan changes), and
the API then answers from a new period. The pacer follows it down from the next request:
an answer with a lower ``X-Rate-Limit-Limit`` (and a retry time ahead) is the truth, its
remaining count and retry time replace what was known; an earlier retry time more than
`EARLIER_RESET_MARGIN` ahead ends the known period there. An answer that may be a late one
from before the change never raises the count: a late answer of an earlier period (its
retry time at or about now) is ignored, and a higher limit is believed only from the first
answer after the known period has ended. See `Pacer.observe`.
"""

from __future__ import annotations

from collections.abc import Callable

from .ratelimit import RateLimit

__all__ = ["EARLIER_RESET_MARGIN", "Pacer"]

# When the quota is spent and only answers still in flight can tell more, look again after this.
_IN_FLIGHT_POLL = 0.05
# Before any answer has come back, the others wait for it, polling this often, but no longer
# than _FIRST_ANSWER_MAX_WAIT after the first request left (a stuck request must not hold
# every other one back until its timeout).
_FIRST_ANSWER_POLL = 0.01
_FIRST_ANSWER_MAX_WAIT = 2.0
#: How far ahead an earlier retry time must be to end the known period there. A period the
#: API has already closed can still announce up to a second ahead (retry times are rounded up
#: to whole seconds); the rest allows for the API's clock and this one's not quite agreeing.
EARLIER_RESET_MARGIN = 1.5


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
        """Learn from the rate-limit headers of an answer (called for every answer).

        Answers arrive out of order: a late one may come from an earlier period, or from
        before the limit changed. Against the known limit, count and period end:

        * no period known, or no retry time in the answer: the answer is the period;
        * an earlier end, at or about now (within `EARLIER_RESET_MARGIN`): a late answer of
          an earlier period, whatever its limit; ignored;
        * a lower limit: the limit was lowered, and the answer's limit, count and end
          replace the known ones (a late answer from before a raise looks the same; its
          count is then a little high at worst, and the next answers correct it);
        * a later end: a new period, whose count starts here; unless the limit is higher and
          the known period still runs: that may be a late answer from before a lowering, so
          its count may only lower the known one, and its limit waits for the next period;
        * the same end: the same period; the lowest count is the latest;
        * an earlier end, further ahead: the period was shortened; it ends there now, and
          the count may only go down (a higher limit waits for the next period).
        """
        self._informed = True
        limit, remaining, end = rate_limit.limit, rate_limit.remaining, rate_limit.retry_at
        if remaining is None:
            if limit is not None:
                self._limit = limit
            return
        known_end, known_remaining, known_limit = self._period_end, self._remaining, self._limit
        if end is None or known_end is None or known_remaining is None:
            self._start_period(limit, remaining, end)
            return
        if end < known_end and end <= self.clock() + EARLIER_RESET_MARGIN:
            return  # a late answer of an earlier period, whatever its limit
        lowered = raised = False
        if limit is not None and known_limit is not None:
            lowered, raised = limit < known_limit, limit > known_limit
        if lowered:
            self._start_period(limit, remaining, end)
        elif end > known_end:
            if raised and self.clock() < known_end:
                self._remaining = min(known_remaining, remaining)
            else:
                self._start_period(limit, remaining, end)
        elif end == known_end:
            self._remaining = min(known_remaining, remaining)
        else:  # an earlier end, ahead
            self._period_end = end
            self._remaining = min(known_remaining, remaining)

    def _start_period(self, limit: int | None, remaining: int, end: float | None) -> None:
        """Take an answer as the current period: its count (and limit, if sent) are the truth."""
        if limit is not None:
            self._limit = limit
        self._period_end = end
        self._remaining = remaining

    def block(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (the server's ``Retry-After``)."""
        self._blocked_until = max(self._blocked_until, self.clock() + seconds)

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

Every request has a priority, ``"interactive"`` (the default) or ``"background"``.
Background requests never take the budget interactive ones need: they leave the last
``interactive_share`` of each period's limit (one request at least) to interactive
requests, and wait for the next period rather than use it; and while an interactive
request waits its turn, no background request goes ahead of it. The share shrinks as the
period runs out (half of it is kept half-way to the period's end): interactive requests
coming at a steady rate still find their part, and what they leave is not wasted. It is
kept only while interactive requests are being made: after ``interactive_idle`` seconds
without one, background requests may use the whole budget (a backfill alone on a key is
not slowed down).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Literal

from .ratelimit import RateLimit

__all__ = [
    "BACKGROUND",
    "DEFAULT_INTERACTIVE_IDLE",
    "DEFAULT_INTERACTIVE_SHARE",
    "EARLIER_RESET_MARGIN",
    "INTERACTIVE",
    "PRIORITIES",
    "Pacer",
    "Priority",
    "check_interactive_idle",
    "check_interactive_share",
    "check_priority",
    "held_back",
]

#: How urgent a request is: ``"interactive"`` (someone waits for it) or ``"background"``.
Priority = Literal["interactive", "background"]
INTERACTIVE: Priority = "interactive"
BACKGROUND: Priority = "background"
PRIORITIES: tuple[Priority, ...] = (INTERACTIVE, BACKGROUND)
#: The share of each period's limit background requests leave to interactive ones.
DEFAULT_INTERACTIVE_SHARE = 0.2
#: Seconds without an interactive request after which background ones may use it all.
DEFAULT_INTERACTIVE_IDLE = 60.0
# Periods are taken to be no longer than this (a retry time far ahead is a hold, not a period).
_LONGEST_SPAN = 3600.0
# An interactive request told to wait counts as waiting (background requests let it go
# first) until this long after it should have asked again.
_WAITER_GRACE = 2.0

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


def check_priority(value: object) -> Priority:
    """``value`` if it is a priority, else `ValueError` naming ``priority`` and the choices."""
    if value == INTERACTIVE and isinstance(value, str):
        return INTERACTIVE
    if value == BACKGROUND and isinstance(value, str):
        return BACKGROUND
    raise ValueError(f"priority must be 'interactive' or 'background', got {value!r}")


def check_interactive_share(value: object) -> float:
    """A share in ``[0, 1)``, else `ValueError` naming ``interactive_share``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"interactive_share must be a number in [0, 1), got {value!r}")
    return float(value)


def check_interactive_idle(value: object) -> float | None:
    """Seconds > 0 or ``None``, else `ValueError` naming ``interactive_idle``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"interactive_idle must be seconds > 0 or None, got {value!r}")
    return float(value)


def held_back(share: float, limit: int | None) -> int:
    """How many requests of a period of ``limit`` background requests leave unused.

    ``share`` of the limit, rounded, one at least (when ``share`` > 0), but never the whole
    limit: a limit of one is left to background requests too. None while the limit is not
    known.
    """
    if share <= 0 or limit is None:
        return 0
    return max(min(max(1, int(share * limit + 0.5)), limit - 1), 0)


class Pacer:
    """Decides how long the next request must wait; pure bookkeeping, the caller sleeps.

    ``clock`` returns Unix epoch seconds (the unit of ``X-Rate-Limit-Retry``).
    ``interactive_share`` and ``interactive_idle``: see the module's documentation.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        interactive_share: float = DEFAULT_INTERACTIVE_SHARE,
        interactive_idle: float | None = DEFAULT_INTERACTIVE_IDLE,
    ) -> None:
        self.clock = clock
        self.in_flight = 0
        self.interactive_share = check_interactive_share(interactive_share)
        self.interactive_idle = check_interactive_idle(interactive_idle)
        self._limit: int | None = None
        self._remaining: int | None = None
        self._period_end: float | None = None
        self._blocked_until = 0.0
        self._informed = False  # whether any answer has come back yet
        self._first_sent: float | None = None
        self._interactive_at: float | None = None  # when an interactive request last asked
        self._span = 0.0  # the longest time to a period's end an answer announced
        # Interactive requests told to wait, and until when they count as waiting.
        self._waiting: dict[Hashable, float] = {}

    def wait_time(self, priority: Priority = INTERACTIVE) -> float:
        """Seconds to wait before the next request of ``priority`` may be sent (0: now)."""
        now = self.clock()
        if priority == BACKGROUND:
            return self._background_wait(now)
        self._interactive_at = now
        return self._wait(now, 0)

    def _background_wait(self, now: float) -> float:
        """`wait_time` of a background request: behind waiting interactive ones, and
        never within the share kept for them."""
        if self._waiting:
            for waiter, until in list(self._waiting.items()):
                if until <= now:
                    del self._waiting[waiter]
            if self._waiting:
                return max(self._wait(now, 0), _IN_FLIGHT_POLL)
        held = 0
        seen, idle = self._interactive_at, self.interactive_idle
        if seen is not None and (idle is None or now - seen < idle):
            held = held_back(self.interactive_share, self._limit)
            end, span = self._period_end, self._span
            if held and end is not None and now < end < now + span:
                held = math.ceil(held * (end - now) / span)
        return self._wait(now, held)

    def _wait(self, now: float, held: int) -> float:
        """The wait with ``held`` requests of the period left unused."""
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
            return 0.0 if self.in_flight < quota - held else _IN_FLIGHT_POLL
        if self._remaining - self.in_flight > held:
            return 0.0
        if self.in_flight > 0 and self._remaining > held:
            return _IN_FLIGHT_POLL
        return self._period_end - now

    def try_send(self, priority: Priority = INTERACTIVE, waiter: Hashable | None = None) -> float:
        """`wait_time`, and when it is 0 count the request as sent (`sent`) at once.

        Args:
            priority: the request's priority.
            waiter: who asks (the asking task, say), for an interactive request: told to
                wait, it counts as waiting until it is let through (or `withdraw`), and
                background requests do not go ahead of it meanwhile.

        Returns:
            ``0.0`` with the request counted, or the seconds to wait, with nothing counted.
        """
        wait = self.wait_time(priority)
        if wait <= 0:
            if self._waiting and waiter is not None:
                self._waiting.pop(waiter, None)
            self.sent()
            return 0.0
        if waiter is not None and priority != BACKGROUND:
            self._waiting[waiter] = self.clock() + wait + _WAITER_GRACE
        return wait

    def withdraw(self, waiter: Hashable) -> None:
        """``waiter`` no longer waits (it gave up, or was cancelled)."""
        self._waiting.pop(waiter, None)

    @property
    def waiting(self) -> int:
        """How many interactive requests are counted as waiting their turn."""
        return len(self._waiting)

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
        if end is not None:
            self._span = min(max(self._span, end - self.clock()), _LONGEST_SPAN)
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

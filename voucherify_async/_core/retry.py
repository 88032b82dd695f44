"""Retry decisions, as pure functions: which failures to retry and how long to wait.

The API has no idempotency keys: a write that reached the server and is sent again is done
again. So whether a failed attempt may be sent again depends on two things only:

- the call: ``retry_safe`` on its [Request][voucherify_async._core.request.Request], ``True``
  when doing it twice leaves the same state as doing it once (reads, ``PUT``, ``DELETE``, a
  create that names its ``id`` or ``source_id``; see `create_is_retry_safe`);
- what is known about the failed attempt, a `Delivery`: it surely never left, the API
  refused it before doing anything, or it may have been carried out.

`may_resend` combines the two, and `decide` makes the whole decision after a failed
attempt: retry after a wait (making every call of the client wait too, after a 429), or
raise. The transport sends, sleeps and counts; everything it decides is here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from .ratelimit import NO_RATE_LIMIT, RateLimit

__all__ = [
    "INITIAL_BACKOFF",
    "MAX_BACKOFF",
    "MAX_SERVER_WAIT",
    "QUOTA_TYPE",
    "RETRYABLE_STATUSES",
    "Delivery",
    "Raise",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "backoff_delay",
    "create_is_retry_safe",
    "decide",
    "is_quota_spent",
    "may_resend",
    "retry_delay",
    "server_wait",
    "status_delivery",
]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# The default of the client's max_retry_wait: a server that asks for a longer wait than this
# is not waited for; the error is raised so the caller decides, instead of a call that hangs.
MAX_SERVER_WAIT = 60.0
# X-Rate-Limit-Type of a 429 that means the billing cycle's quota is spent.
QUOTA_TYPE = "api_calls_cycle"


class Delivery(enum.Enum):
    """What is known about a failed attempt: could the server have carried it out?"""

    NOT_SENT = "not sent"
    """It never left: connection refused, DNS failure, connect or pool timeout."""
    REFUSED = "refused"
    """The API answered without doing it: a 429, a 4xx, a redirect."""
    MAY_HAVE_ARRIVED = "may have arrived"
    """It may have been carried out: dropped or timed out after sending, a 5xx, a reply cut
    short or unreadable."""


def may_resend(retry_safe: bool, delivery: Delivery) -> bool:
    """Whether a failed attempt may be sent again (retries left permitting).

    A call that is not ``retry_safe`` is sent again only when the failed attempt surely
    did nothing.

    Examples:
        ```python
        may_resend(False, Delivery.MAY_HAVE_ARRIVED)
        # False
        ```
    """
    return retry_safe or delivery is not Delivery.MAY_HAVE_ARRIVED


def status_delivery(status: int, rate_limit: RateLimit) -> Delivery:
    """What a non-2xx answer says about the request it answers.

    A 429 is `Delivery.REFUSED`: the API answers a request over its rate limit (and a
    gateway in front of it answers one it throttles) without doing any of it, as HTTP
    defines the status (RFC 6585 §4). A 5xx may come after the work was done (the server,
    or a proxy waiting for it, failed at some point), so it is `Delivery.MAY_HAVE_ARRIVED`.
    Any other status (4xx, 3xx) is an answer about a request that was not carried out.
    """
    if status >= 500:
        return Delivery.MAY_HAVE_ARRIVED
    return Delivery.REFUSED


def is_quota_spent(status: int, rate_limit: RateLimit) -> bool:
    """Whether an answer says the billing cycle's quota is spent (no wait helps)."""
    return status == 429 and rate_limit.type == QUOTA_TYPE


def create_is_retry_safe(id: object, source_id: object) -> bool:
    """Whether a ``POST /v1/customers`` may be sent twice: only when it names its customer.

    With an ``id`` or a ``source_id`` the second arrival updates the customer the first one
    made; with neither, every arrival creates another customer.

    Examples:
        ```python
        create_is_retry_safe(None, "bob"), create_is_retry_safe(None, None)
        # (True, False)
        ```
    """
    return any(isinstance(key, str) and key != "" for key in (id, source_id))


def _seconds(value: object, name: str, *, low: float = 0.0) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
    ):
        raise ValueError(f"RetryPolicy {name} must be a finite number >= {low:g}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RetryPolicy:
    """How failed attempts are retried: how often, how soon, which answers, how much in all.

    The defaults suit workers (a scan, a backfill): two retries, 0.5 s doubling up to 8 s.
    In a web request's path, where someone waits for the answer, use
    `RetryPolicy.request_path` with a ``deadline`` on the client.

    Attributes:
        max_retries: retries after the first attempt (0: none).
        initial_delay: seconds before the first retry; each next one waits twice as long.
        max_delay: the longest backoff between two attempts, in seconds.
        jitter: the share of each backoff removed at random (0: none, 1: anything from 0
            to the full delay), so clients that failed together do not retry together.
        statuses: the HTTP statuses retried (429 and the 5xx by default). A 429 always
            waits for the time the API asks, whatever the backoff says.
        budget: retries allowed per request sent, over the whole client (``0.2``: one retry
            for every five requests, plus a reserve of 10), so an outage does not multiply
            the traffic by ``max_retries + 1``; ``None``: no budget.

    Examples:
        ```python
        from voucherify_async import AsyncVoucherify, RetryPolicy

        web = AsyncVoucherify(retry=RetryPolicy.request_path(), deadline=2.0)
        patient = AsyncVoucherify(retry=RetryPolicy(max_retries=5, max_delay=30))
        ```

    Raises:
        ValueError: a value out of range, naming the field.
    """

    max_retries: int = 2
    initial_delay: float = INITIAL_BACKOFF
    max_delay: float = MAX_BACKOFF
    jitter: float = 0.25
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)
    budget: float | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ValueError(
                f"RetryPolicy max_retries must be an int >= 0, got {self.max_retries!r}"
            )
        _seconds(self.initial_delay, "initial_delay")
        if _seconds(self.max_delay, "max_delay") < self.initial_delay:
            raise ValueError(
                f"RetryPolicy max_delay ({self.max_delay!r}) must be >= initial_delay"
                f" ({self.initial_delay!r})"
            )
        if not 0.0 <= _seconds(self.jitter, "jitter") <= 1.0:
            raise ValueError(f"RetryPolicy jitter must be in [0, 1], got {self.jitter!r}")
        statuses = self.statuses
        if isinstance(statuses, (str, bytes)) or not isinstance(statuses, Iterable):
            raise ValueError(
                f"RetryPolicy statuses must be a set of HTTP statuses, got {statuses!r}"
            )
        checked = frozenset(statuses)
        wrong = sorted(
            repr(code)
            for code in checked
            if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599
        )
        if wrong:
            raise ValueError(
                f"RetryPolicy statuses must be error statuses (400-599), got {', '.join(wrong)}"
            )
        object.__setattr__(self, "statuses", checked)
        if self.budget is not None and not 0.0 < _seconds(self.budget, "budget") <= 10.0:
            raise ValueError(f"RetryPolicy budget must be in (0, 10] or None, got {self.budget!r}")

    @classmethod
    def request_path(cls) -> RetryPolicy:
        """For a web handler: one quick retry (50 ms, at most 250 ms), and retries kept to
        one in ten requests, so an upstream outage answers fast instead of piling up.

        Pair it with a ``deadline`` on the client (a second or two): the deadline bounds
        the whole call, the policy keeps retries from spending it.
        """
        return cls(max_retries=1, initial_delay=0.05, max_delay=0.25, jitter=0.5, budget=0.1)


#: The client's default: two retries, 0.5 s doubling up to 8 s, less up to 25 % of jitter.
DEFAULT_RETRY = RetryPolicy()
# Retries a budget holds when idle: a quiet client may still retry a short burst.
_BUDGET_RESERVE = 10.0


class RetryBudget:
    """Retries allowed across a client, earned by the requests it sends (a token bucket).

    Each first attempt adds ``ratio`` tokens (up to a reserve of 10); each retry takes one.
    With no token left, a failed call is not retried but raised.
    """

    def __init__(self) -> None:
        self.tokens = _BUDGET_RESERVE

    def deposit(self, ratio: float) -> None:
        """Count a first attempt under a policy with ``budget=ratio``."""
        self.tokens = min(self.tokens + ratio, _BUDGET_RESERVE)

    def withdraw(self) -> bool:
        """Take one retry, if the budget holds one."""
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def backoff_delay(retries_done: int, jitter: float, policy: RetryPolicy = DEFAULT_RETRY) -> float:
    """Exponential backoff: ``initial_delay`` doubling up to ``max_delay``, less jitter.

    ``jitter`` is a random number in ``[0, 1)``; spreading the waits keeps many clients that
    failed together from retrying together. With the default policy: 0.5 s doubling up to
    8 s, less up to 25 %.
    """
    base = min(policy.initial_delay * (1 << min(retries_done, 16)), policy.max_delay)
    return base * (1.0 - policy.jitter * jitter)


def server_wait(status: int | None, rate_limit: RateLimit | None, now: float) -> float | None:
    """The wait the server asked for, if any.

    ``Retry-After`` counts on any answer. ``X-Rate-Limit-Retry`` is on every answer of a
    rate-limited project, so it only means "wait" on a 429 or once no request is left.
    """
    if rate_limit is None:
        return None
    if rate_limit.retry_after is not None:
        return max(rate_limit.retry_after, 0.0)
    if status == 429 or rate_limit.remaining == 0:
        return rate_limit.wait_seconds(now)
    return None


def retry_delay(
    retries_done: int,
    status: int | None,
    rate_limit: RateLimit | None,
    jitter: float,
    now: float,
    max_wait: float = MAX_SERVER_WAIT,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> float | None:
    """How long to wait before the next attempt, or ``None`` to give up now.

    ``status`` is the HTTP status of the failed attempt (``None`` for a connection error). The
    server's own wait (see `server_wait`) wins over the backoff; a wait longer than
    ``max_wait`` (the client's ``max_retry_wait``) gives up.
    """
    wait = server_wait(status, rate_limit, now)
    if wait is None:
        return backoff_delay(retries_done, jitter, policy)
    if wait > max_wait:
        return None
    return wait


class Retry:
    """`decide`'s answer: send the request again.

    Attributes:
        after: seconds to sleep before the next attempt (0 when ``hold_until`` is set: the
            rate limiter then makes this call wait, with every other call of the client).
        hold_until: Unix epoch seconds until which every call of the client waits (after a
            429), or ``None``.
    """

    __slots__ = ("after", "hold_until")

    def __init__(self, after: float, hold_until: float | None = None) -> None:
        self.after = after
        self.hold_until = hold_until

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Retry) and (self.after, self.hold_until) == (
            other.after,
            other.hold_until,
        )

    def __repr__(self) -> str:
        return f"Retry(after={self.after!r}, hold_until={self.hold_until!r})"


class Raise:
    """`decide`'s answer: give up and raise the error for this attempt.

    Attributes:
        delivery: what is known of the failed attempt (says whether a write may be done).
        retry_after: the server's wait, for a 429 (the `RateLimitError`'s ``retry_after``).
        hold_until: Unix epoch seconds until which every other call of the client waits
            (a 429 not retried), or ``None``.
    """

    __slots__ = ("delivery", "hold_until", "retry_after")

    def __init__(
        self,
        delivery: Delivery,
        retry_after: float | None = None,
        hold_until: float | None = None,
    ) -> None:
        self.delivery = delivery
        self.retry_after = retry_after
        self.hold_until = hold_until

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raise) and (self.delivery, self.retry_after, self.hold_until) == (
            other.delivery,
            other.retry_after,
            other.hold_until,
        )

    def __repr__(self) -> str:
        return (
            f"Raise(delivery={self.delivery!r}, retry_after={self.retry_after!r},"
            f" hold_until={self.hold_until!r})"
        )


def decide(
    retries_done: int,
    status: int | None,
    delivery: Delivery | None,
    rate_limit: RateLimit | None,
    *,
    retry_safe: bool,
    max_retries: int,
    max_wait: float,
    now: float,
    jitter: float,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> Retry | Raise:
    """What to do after a failed attempt: retry after a wait, or raise.

    Args:
        retries_done: how many retries this call has made already.
        status: the non-2xx status of the answer; ``None`` when no answer came.
        delivery: for an attempt without an answer, what is known of it (the send
            failure's); ignored when ``status`` is given (the status says it).
        rate_limit: the answer's parsed rate-limit headers (``None`` without an answer).
        retry_safe: whether doing the call twice leaves the same state as doing it once.
        max_retries: the client's ``max_retries``.
        max_wait: the client's ``max_retry_wait``: a longer server wait is not waited for.
        now: the clock, Unix epoch seconds (the unit of ``X-Rate-Limit-Retry``).
        jitter: a random number in ``[0, 1)`` for the backoff.
        policy: the backoff and the statuses retried (``max_retries`` is the argument).

    Returns:
        `Retry` or `Raise`. A call that is not ``retry_safe`` is retried only when the
        attempt surely did nothing; a spent billing-cycle quota is never retried nor held;
        no wait is negative, infinite or longer than ``max_wait`` when the server set it.

    Examples:
        ```python
        decide(0, None, Delivery.NOT_SENT, None, retry_safe=False, max_retries=2,
               max_wait=60.0, now=0.0, jitter=0.0)
        # Retry(after=0.5, hold_until=None)
        ```
    """
    if status is None:
        sent = Delivery.MAY_HAVE_ARRIVED if delivery is None else delivery
        if may_resend(retry_safe, sent) and retries_done < max_retries:
            return Retry(backoff_delay(retries_done, jitter, policy))
        return Raise(sent)
    known = rate_limit if rate_limit is not None else NO_RATE_LIMIT
    quota = is_quota_spent(status, known)
    sent = status_delivery(status, known)
    if (
        status in policy.statuses
        and not quota
        and may_resend(retry_safe, sent)
        and retries_done < max_retries
    ):
        delay = retry_delay(retries_done, status, known, jitter, now, max_wait, policy)
        if delay is not None:
            if status == 429:
                return Retry(0.0, now + delay)
            return Retry(delay)
    wait = server_wait(status, known, now) if status == 429 else None
    hold = now + wait if wait is not None and not quota else None
    return Raise(sent, wait, hold)

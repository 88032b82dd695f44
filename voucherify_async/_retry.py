"""Retry decisions, as pure functions: which failures to retry and how long to wait.

The API has no idempotency keys: a write that reached the server and is sent again is done
again. So whether a failed attempt may be sent again depends on two things only:

- the call: ``retry_safe`` on its [Request][voucherify_async._request.Request], ``True``
  when doing it twice leaves the same state as doing it once (reads, ``PUT``, ``DELETE``, a
  create that names its ``id`` or ``source_id``; see `create_is_retry_safe`);
- what is known about the failed attempt, a `Delivery`: it surely never left, the API
  refused it before doing anything, or it may have been carried out.

`may_resend` combines the two.
"""

from __future__ import annotations

import enum

from ._ratelimit import RateLimit

__all__ = [
    "INITIAL_BACKOFF",
    "MAX_BACKOFF",
    "MAX_SERVER_WAIT",
    "QUOTA_TYPE",
    "RETRYABLE_STATUSES",
    "Delivery",
    "backoff_delay",
    "create_is_retry_safe",
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

    Example:
        >>> may_resend(False, Delivery.MAY_HAVE_ARRIVED)
        False
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

    Example:
        >>> create_is_retry_safe(None, "bob"), create_is_retry_safe(None, None)
        (True, False)
    """
    return any(isinstance(key, str) and key != "" for key in (id, source_id))


def backoff_delay(retries_done: int, jitter: float) -> float:
    """Exponential backoff: 0.5 s doubling up to 8 s, less up to 25 % of jitter.

    ``jitter`` is a random number in ``[0, 1)``; spreading the waits keeps many clients that
    failed together from retrying together.
    """
    base = min(INITIAL_BACKOFF * (1 << min(retries_done, 16)), MAX_BACKOFF)
    return base * (1.0 - 0.25 * jitter)


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
) -> float | None:
    """How long to wait before the next attempt, or ``None`` to give up now.

    ``status`` is the HTTP status of the failed attempt (``None`` for a connection error). The
    server's own wait (see `server_wait`) wins over the backoff; a wait longer than
    ``max_wait`` (the client's ``max_retry_wait``) gives up.
    """
    wait = server_wait(status, rate_limit, now)
    if wait is None:
        return backoff_delay(retries_done, jitter)
    if wait > max_wait:
        return None
    return wait

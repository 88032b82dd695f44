"""Retry decisions, as pure functions: which failures to retry and how long to wait."""

from __future__ import annotations

from ._ratelimit import RateLimit

__all__ = [
    "INITIAL_BACKOFF",
    "MAX_BACKOFF",
    "MAX_SERVER_WAIT",
    "RETRYABLE_STATUSES",
    "backoff_delay",
    "retry_delay",
    "server_wait",
]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# A server that asks for a longer wait than this is not waited for: the error is raised so the
# caller decides, instead of a call that silently hangs for minutes.
MAX_SERVER_WAIT = 60.0


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
) -> float | None:
    """How long to wait before the next attempt, or ``None`` to give up now.

    ``status`` is the HTTP status of the failed attempt (``None`` for a connection error). The
    server's own wait (see :func:`server_wait`) wins over the backoff; a wait longer than
    :data:`MAX_SERVER_WAIT` gives up.
    """
    wait = server_wait(status, rate_limit, now)
    if wait is None:
        return backoff_delay(retries_done, jitter)
    if wait > MAX_SERVER_WAIT:
        return None
    return wait

"""Rate-limit headers: what the API says about the caller's quota, read from every answer."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RateLimit", "parse_rate_limit"]


@dataclass(frozen=True)
class RateLimit:
    """The rate-limit headers of one response.

    Attributes:
        limit: ``X-Rate-Limit-Limit``, the requests allowed in the current period.
        remaining: ``X-Rate-Limit-Remaining``, the requests left in the current period.
        retry_at: ``X-Rate-Limit-Retry``, when the next request may be made (Unix epoch seconds).
        retry_after: ``Retry-After`` in seconds, sent once a limit is reached.
        type: ``X-Rate-Limit-Type`` (``api_calls``, ``bulk_api_calls``, ...), sent once a limit
            is reached.

    Every attribute is ``None`` when the server did not send that header.

    Example:
        >>> vf.rate_limit
        RateLimit(limit=600, remaining=598, retry_at=1764092460.0, retry_after=None, type=None)
    """

    limit: int | None = None
    remaining: int | None = None
    retry_at: float | None = None
    retry_after: float | None = None
    type: str | None = None

    def wait_seconds(self, now: float | None = None) -> float | None:
        """Seconds the server asked the caller to wait, from ``Retry-After`` or the retry time.

        ``Retry-After`` wins when both are present; ``None`` when neither asks for a wait.
        """
        if self.retry_after is not None:
            return max(self.retry_after, 0.0)
        if self.retry_at is not None:
            wait = self.retry_at - (time.time() if now is None else now)
            return wait if wait > 0 else None
        return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        try:
            return int(float(value.strip()))
        except ValueError:
            return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number else None  # NaN is not a time


def _retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` is either delay seconds or an HTTP date (RFC 9110 §10.2.3)."""
    seconds = _float(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


def parse_rate_limit(headers: Mapping[str, str], now: float | None = None) -> RateLimit:
    """Read the ``X-Rate-Limit-*`` and ``Retry-After`` headers of a response.

    Headers that are absent or unreadable become ``None``; this never raises.
    """
    current = time.time() if now is None else now
    return RateLimit(
        limit=_int(headers.get("X-Rate-Limit-Limit")),
        remaining=_int(headers.get("X-Rate-Limit-Remaining")),
        retry_at=_float(headers.get("X-Rate-Limit-Retry")),
        retry_after=_retry_after(headers.get("Retry-After"), current),
        type=headers.get("X-Rate-Limit-Type"),
    )

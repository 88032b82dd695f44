"""Rate-limit headers: what the API says about the caller's quota, read from every answer.

The emulator writes these headers with code of its own (`voucherify_async.emulator`), on
purpose: the two sides share no protocol code, so the emulator stays a real check of this
reading of them.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import msgspec

__all__ = ["MAX_AHEAD", "NO_RATE_LIMIT", "RateLimit", "parse_rate_limit"]

log = logging.getLogger("voucherify_async")
V = TypeVar("V")


class RateLimit(msgspec.Struct, frozen=True):
    """The rate-limit headers of one response (immutable; compares by value).

    Attributes:
        limit: ``X-Rate-Limit-Limit``, the requests allowed in the current period.
        remaining: ``X-Rate-Limit-Remaining``, the requests left in the current period.
        retry_at: ``X-Rate-Limit-Retry``, when the next request may be made (Unix epoch seconds).
        retry_after: ``Retry-After`` in seconds, sent once a limit is reached.
        type: ``X-Rate-Limit-Type`` (``api_calls``, ``bulk_api_calls``, ...), sent once a limit
            is reached.

    Every attribute is ``None`` when the server did not send that header.

    Examples:
        ```python
        vf.rate_limit
        # RateLimit(limit=600, remaining=598, retry_at=1764092460.0, retry_after=None, type=None)
        ```
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


#: The `RateLimit` of an answer that sent none of the headers (every attribute ``None``).
NO_RATE_LIMIT = RateLimit()

# What a sane header value looks like: ASCII digits, at most 12 of them before an optional
# fraction (int("١٢") and float("1e400") would accept far more).
_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", re.ASCII)
_INTEGER = re.compile(r"[0-9]{1,12}", re.ASCII)
# The documented periods are a minute or an hour: a retry time or a Retry-After further
# away than a day is not one of them, and is ignored rather than obeyed.
MAX_AHEAD = 86_400.0
_MAX_TYPE_CHARS = 64
_LIMIT, _REMAINING, _RETRY, _AFTER, _TYPE = (
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Retry",
    "Retry-After",
    "X-Rate-Limit-Type",
)
_ABSENT = (None, None, None, None, None)
# Header names already reported as unreadable (each is logged once, at debug level).
_REPORTED: set[str] = set()


def _plain(value: str) -> int | None:
    """The common case, read fast: 1 to 12 ASCII digits and nothing else."""
    if value.isdigit() and value.isascii() and len(value) <= 12:
        return int(value)
    return None


def _int(value: str) -> int | None:
    text = value.strip(" \t")
    return int(text) if _INTEGER.fullmatch(text) else None


def _float(value: str) -> float | None:
    text = value.strip(" \t")
    return float(text) if _NUMBER.fullmatch(text) else None


def _retry_at(value: str, now: float) -> float | None:
    when = _float(value)
    return when if when is not None and when <= now + MAX_AHEAD else None


def _retry_after(value: str, now: float) -> float | None:
    """``Retry-After`` is either delay seconds or an HTTP date (RFC 9110 §10.2.3)."""
    seconds = _float(value)
    if seconds is None:
        try:
            when = email.utils.parsedate_to_datetime(value.strip(" \t"))
            seconds = max(when.timestamp() - now, 0.0)
        except (TypeError, ValueError, OverflowError, IndexError, OSError):
            return None
    return seconds if math.isfinite(seconds) and seconds <= MAX_AHEAD else None


def _type(value: str) -> str | None:
    text = value.strip(" \t")
    if not text or len(text) > _MAX_TYPE_CHARS or not text.isascii() or not text.isprintable():
        return None
    return text


def _read(name: str, raw: str, read: Callable[[str], V | None], seen: set[str]) -> V | None:
    """One header's value, or ``None`` (logged once per name) when it is not a sane one."""
    try:
        value = read(raw)
    except Exception:  # a header must never break an answer
        value = None
    if value is None and name not in seen:
        seen.add(name)
        log.debug("ignoring the %s header %.60r: not a sane value", name, raw)
    return value


def parse_rate_limit(
    headers: Mapping[str, str], now: float | None = None, *, reported: set[str] | None = None
) -> RateLimit:
    """Read the ``X-Rate-Limit-*`` and ``Retry-After`` headers of a response.

    This never raises. A header that is absent becomes ``None``; so does one that is not a
    sane value (not plain ASCII digits, negative, ``inf``, ``nan``, ``1e400``, over 12
    digits, a retry time or wait more than a day away, a type that is not a short printable
    name), and it is logged once per header name at debug level (``reported`` holds the
    names already logged; by default, one set for the process). An answer with none of the
    headers gives `NO_RATE_LIMIT` itself.
    """
    # This runs for every answer: plain digits take a fast path, anything else the checks.
    get = headers.get
    raw_limit, raw_remaining, raw_retry = get(_LIMIT), get(_REMAINING), get(_RETRY)
    raw_after, raw_type = get(_AFTER), get(_TYPE)
    if (raw_limit, raw_remaining, raw_retry, raw_after, raw_type) == _ABSENT:
        return NO_RATE_LIMIT
    current = time.time() if now is None else now
    seen = _REPORTED if reported is None else reported
    limit: int | None = None
    remaining: int | None = None
    retry_at: float | None = None
    retry_after: float | None = None
    if raw_limit is not None:
        limit = _plain(raw_limit)
        if limit is None:
            limit = _read(_LIMIT, raw_limit, _int, seen)
    if raw_remaining is not None:
        remaining = _plain(raw_remaining)
        if remaining is None:
            remaining = _read(_REMAINING, raw_remaining, _int, seen)
    if raw_retry is not None:
        whole = _plain(raw_retry)
        if whole is not None and whole <= current + MAX_AHEAD:
            retry_at = float(whole)
        else:
            retry_at = _read(_RETRY, raw_retry, lambda value: _retry_at(value, current), seen)
    if raw_after is not None:
        retry_after = _read(_AFTER, raw_after, lambda value: _retry_after(value, current), seen)
    kind = None if raw_type is None else _read(_TYPE, raw_type, _type, seen)
    return RateLimit(limit, remaining, retry_at, retry_after, kind)

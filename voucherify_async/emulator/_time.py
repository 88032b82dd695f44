"""Millisecond timestamps: the clock, the API's rendering and ISO 8601 parsing.

The API keeps every timestamp with millisecond resolution and renders it as
``2022-08-30T06:32:07.380Z``; the emulator stores them as integer epoch milliseconds so
that sorting and comparing is plain integer work.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import time

__all__ = ["format_ms", "is_valid_date", "now_ms", "parse_datetime_ms"]

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now_ms() -> int:
    """Return the current time as integer Unix epoch milliseconds.

    Example: ``now_ms()`` -> ``1661841127380``.
    """
    return time.time_ns() // 1_000_000


def format_ms(ms: int) -> str:
    """Render epoch milliseconds the way the API does.

    Example: ``format_ms(1661841127380)`` -> ``"2022-08-30T06:32:07.380Z"``.
    """
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_datetime_ms(text: str) -> int:
    """Parse an ISO 8601 date or date-time into epoch milliseconds (UTC when no offset).

    Fractions below a millisecond are truncated. Raises ``ValueError`` on anything
    that is not ISO 8601.

    Example: ``parse_datetime_ms("2022-08-30T06:32:07.380Z")`` -> ``1661841127380``;
    ``parse_datetime_ms("2022-08-30")`` is midnight UTC of that day.
    """
    match = _ISO.match(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    # datetime() validates the calendar (month 13, February 30 ...) for us.
    moment = _dt.datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
    )
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    offset_minutes = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_minutes = sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))
    seconds = calendar.timegm(moment.timetuple()) - offset_minutes * 60
    return seconds * 1000 + millis


def is_valid_date(text: str) -> bool:
    """Tell whether ``text`` is a real calendar date written ``YYYY-MM-DD``.

    Example: ``is_valid_date("2022-01-31")`` is true, ``is_valid_date("2022-02-30")`` false.
    """
    if not _DATE.match(text):
        return False
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True

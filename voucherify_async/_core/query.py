"""Checking and encoding what goes into a URL: path segments, query parameters, datetimes.

Every check runs before a request is sent and names the parameter it rejects.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote

__all__ = [
    "Query",
    "check_choice",
    "check_int_range",
    "encode_query",
    "format_datetime",
    "path_segment",
]

# One query parameter after encoding decisions: (name, value), both still unescaped.
Query = list[tuple[str, str]]

# Square brackets and `$` stay readable in parameter names, as the API documents them
# (`created_at[before]`, `filters[holder_role][conditions][$in][0]`).
_NAME_SAFE = "[]$"
# Strings that percent-encoding leaves as they are (RFC 3986 unreserved characters): most
# ids, names and values, which then skip `quote`.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*", re.ASCII).fullmatch
_NAME_PLAIN = re.compile(r"[A-Za-z0-9_.~\[\]$-]*", re.ASCII).fullmatch


def path_segment(value: object, name: str) -> str:
    """Percent-encode one path segment so that any string reaches the server as one segment.

    Every character outside the unreserved set is escaped, so ``/``, ``?``, ``#``, ``%`` and
    spaces cannot change the URL's structure; the dot segments ``.`` and ``..`` are escaped
    too, so nothing along the way resolves them.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must be a non-empty string")
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return value if _UNRESERVED(value) else quote(value, safe="")


def format_datetime(value: object, name: str) -> str:
    """Format an aware datetime as the API expects: UTC, ISO 8601, milliseconds, ``Z``.

    A naive datetime is rejected: its meaning depends on the machine's clock zone.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a timezone-aware datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime (e.g. datetime(..., tzinfo=timezone.utc));"
            f" got the naive datetime {value.isoformat()}"
        )
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(
            f"{name} is out of range: {value.isoformat()} has no UTC equivalent"
        ) from None
    # Not strftime: its %Y does not pad years before 1000 to four digits on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}"
        f":{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def check_int_range(value: object, name: str, low: int, high: int) -> int:
    """Return ``value`` if it is an int in ``[low, high]``; otherwise raise naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    return value


def check_choice(value: object, name: str, allowed: Collection[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise raise naming ``name``."""
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(choice) for choice in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_str(value: object, name: str) -> str:
    """Return ``value`` if it is a str; otherwise raise naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def _scalar(value: object, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value, name)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"{name} has a value of unsupported type {type(value).__name__}: {value!r}")


def deep_object(name: str, value: object) -> Query:
    """Flatten a nested mapping into bracket names (OpenAPI ``style: deepObject``).

    ``deep_object("filters", {"holder_role": {"conditions": {"$in": ["OWNER"]}}})`` gives
    ``[("filters[holder_role][conditions][$in][0]", "OWNER")]``. Lists take their index as the
    bracketed key; ``None`` values are left out.
    """
    pairs: Query = []

    def walk(prefix: str, node: object) -> None:
        if node is None:
            return
        if isinstance(node, Mapping):
            for key, child in node.items():
                if not isinstance(key, str):
                    raise TypeError(f"{prefix} keys must be str, got {key!r}")
                walk(f"{prefix}[{key}]", child)
        elif isinstance(node, (list, tuple)):
            for index, child in enumerate(node):
                walk(f"{prefix}[{index}]", child)
        else:
            pairs.append((prefix, _scalar(node, prefix)))

    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}")
    walk(name, value)
    return pairs


def params(items: Iterable[tuple[str, str, Any]]) -> Query:
    """Turn ``(wire name, parameter name, value)`` triples into query pairs.

    ``None`` values are left out; a value that cannot be sent raises an error naming the
    caller's parameter (``created_at_before``), not the wire name (``created_at[before]``).
    """
    return [(wire, _scalar(value, name)) for wire, name, value in items if value is not None]


def encode_query(query: Query) -> str:
    """Encode query pairs as a query string (without the leading ``?``)."""
    return "&".join(
        f"{key if _NAME_PLAIN(key) else quote(key, safe=_NAME_SAFE)}"
        f"={value if _UNRESERVED(value) else quote(value, safe='')}"
        for key, value in query
    )

"""Query-string parsing with the API's ``invalid_query_params`` errors.

Malformed or out-of-range values are a 400, never a 500: ``limit=abc``, ``page=100``,
``order=name``, ``created_at[before]=yesterday``. An empty value counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import EmulatorHTTPError, invalid_query
from ._time import parse_datetime_ms

__all__ = ["get_choice", "get_datetime", "get_int", "get_text", "parse_deep_object"]

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def get_text(query: Mapping[str, str], name: str) -> str | None:
    """The parameter's value, or ``None`` when absent or empty."""
    value = query.get(name)
    return value if value else None


def get_int(query: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    """An integer parameter within ``[low, high]``; raises a 400 otherwise.

    Example: ``get_int(query, "limit", default=10, low=1, high=100)``.
    """
    raw = get_text(query, name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise invalid_query(f"Property .{name} must be an integer") from None
    if value < low:
        raise invalid_query(f"Property .{name} must be greater than or equal to {low}")
    if value > high:
        raise invalid_query(f"Property .{name} must be less than or equal to {high}")
    return value


def get_choice(
    query: Mapping[str, str], name: str, choices: Sequence[str], *, default: str | None
) -> str | None:
    """A parameter that must be one of ``choices``; raises a 400 otherwise."""
    raw = get_text(query, name)
    if raw is None:
        return default
    if raw not in choices:
        raise invalid_query(f"Property .{name} must be one of: {', '.join(choices)}")
    return raw


def get_datetime(query: Mapping[str, str], name: str) -> int | None:
    """An ISO 8601 date or date-time parameter as epoch milliseconds; 400 if malformed."""
    raw = get_text(query, name)
    if raw is None:
        return None
    try:
        return parse_datetime_ms(raw)
    except ValueError:
        raise invalid_query(
            f"Property .{name} cannot be recognized as a ISO-8601 compliant date"
        ) from None


def parse_deep_object(items: Sequence[tuple[str, str]], name: str) -> dict[str, Any]:
    """Collect ``name[a][b]=v`` style parameters into a nested dict.

    Numeric or empty segments (``[$in][0]=x``, ``[$in][]=x``) build lists, so
    ``filters[holder_role][conditions][$in][0]=OWNER`` becomes
    ``{"holder_role": {"conditions": {"$in": ["OWNER"]}}}``. Raises a 400 on a malformed
    key or on a key that is both a value and an object.
    """
    root: dict[str, Any] = {}
    prefix = name + "["
    for key, value in items:
        if not key.startswith(prefix):
            continue
        rest = key[len(name) :]
        segments = _BRACKETS.findall(rest)
        if not segments or "".join(f"[{s}]" for s in segments) != rest:
            raise invalid_query(f"Property .{key} is not a valid {name} parameter")
        _assign(root, segments, value, key)
    return root


def _assign(root: dict[str, Any], segments: list[str], value: str, key: str) -> None:
    node: Any = root
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        following = None if last else segments[position + 1]
        wants_list = following is not None and (following == "" or following.isdigit())
        if isinstance(node, list):
            # A list index only says "one more item"; the order of the query is kept.
            if last:
                node.append(value)
                return
            child: Any = [] if wants_list else {}
            node.append(child)
            node = child
            continue
        if not isinstance(node, dict) or segment == "" or segment.isdigit():
            raise _conflict(key)
        if last:
            if segment in node:
                raise _conflict(key)
            node[segment] = value
            return
        child = node.get(segment)
        if child is None:
            child = [] if wants_list else {}
            node[segment] = child
        elif isinstance(child, str) or isinstance(child, list) != wants_list:
            raise _conflict(key)
        node = child


def _conflict(key: str) -> EmulatorHTTPError:
    return invalid_query(f"Property .{key} conflicts with another parameter")

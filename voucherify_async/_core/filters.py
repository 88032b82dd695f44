"""List filters declared once, as a ``TypedDict`` whose fields carry their wire names.

A list's filters are one ``TypedDict`` (``total=False``): the keyword arguments users pass,
typed for mypy through ``**filters: Unpack[...]``. Each field is ``Annotated`` with a
`Filter` giving its name on the wire (``created_at[before]``), its command-line flag and a
one-line help. From that one declaration come the checks and the query of the method, the
partition's filters and the CLI's options.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from .query import Query, check_str, format_datetime

__all__ = ["Filter", "FilterField", "filter_fields", "filter_query"]


@dataclass(frozen=True)
class Filter:
    """What a filter field says beyond its name and type.

    Args:
        help: one line for the CLI's ``--help``.
        wire: the query parameter's name (default: the field's name).
        flag: the CLI option (default: ``--`` and the name with dashes).
    """

    help: str
    wire: str | None = None
    flag: str | None = None


@dataclass(frozen=True)
class FilterField:
    """One declared filter: keyword ``name``, value ``type``, ``wire`` name, ``flag``, ``help``."""

    name: str
    type: type
    wire: str
    flag: str
    help: str


@cache
def filter_fields(declaration: type) -> tuple[FilterField, ...]:
    """The fields of a filters ``TypedDict``, in declaration order."""
    hints = typing.get_type_hints(declaration, include_extras=True)
    fields = []
    for name, hint in hints.items():
        meta = next(m for m in hint.__metadata__ if isinstance(m, Filter))
        # `Annotated[datetime | None, ...]`: the type is the one that is not None.
        value_type = next(
            t for t in typing.get_args(typing.get_args(hint)[0]) if t is not type(None)
        )
        fields.append(
            FilterField(
                name=name,
                type=value_type,
                wire=meta.wire or name,
                flag=meta.flag or "--" + name.replace("_", "-"),
                help=meta.help,
            )
        )
    return tuple(fields)


def filter_query(declaration: type, given: Mapping[str, Any], method: str) -> Query:
    """Check ``given`` against ``declaration`` and return its query, in declaration order.

    ``None`` values are left out.

    Raises:
        TypeError: an unknown keyword (named, with the allowed ones), a value of the wrong type.
        ValueError: a naive datetime.
    """
    fields = filter_fields(declaration)
    names = [field.name for field in fields]
    for key in given:
        if key not in names:
            raise TypeError(
                f"{method}() got an unexpected argument {key!r}; allowed: {', '.join(names)}"
            )
    query: Query = []
    for field in fields:
        value = given.get(field.name)
        if value is None:
            continue
        if field.type is datetime:
            query.append((field.wire, format_datetime(value, field.name)))
        else:
            query.append((field.wire, check_str(value, field.name)))
    return query

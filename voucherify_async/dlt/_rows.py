"""Rows of the warehouse tables, built from the models with every field, defaults included.

The models omit their defaults when encoded (``omit_defaults=True``), so
``msgspec.to_builtins`` drops a ``0``, an empty ``{}`` or ``[]`` and a ``null``, and the
warehouse would hold ``NULL`` where the API said ``0``. The builders here read every field
of the Struct instead, into the flattened ``parent__child`` columns `columns_from_struct`
declares, with ``None`` in each column of a nested Struct that is absent.

Inside a ``json`` column (``loyalty__campaigns``, ``referrals__campaigns``), a Struct is
written as the API writes it: a field that is ``None`` by default and ``None`` is left out
(the API leaves such keys out rather than sending ``null``), a ``0`` stays, and a UTC
date-time is written with milliseconds and ``Z``, the API's form.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import inspect

from ._columns import _JSON, _SCALARS, _strip

__all__ = ["RowBuilder", "row_builder"]

RowBuilder = Callable[[Any], dict[str, Any]]
"""Makes the row of one Struct: a new dict of column name to value."""

#: Leaf types whose decoded values are JSON values already.
_PLAIN = (
    inspect.AnyType,
    inspect.NoneType,
    inspect.StrType,
    inspect.IntType,
    inspect.FloatType,
    inspect.BoolType,
    inspect.LiteralType,
)


def _is_plain(info: inspect.Type) -> bool:
    """Whether a decoded value of this type is made of JSON builtins only (no conversion)."""
    if isinstance(info, _PLAIN):
        return True
    if isinstance(info, inspect.UnionType):
        return all(_is_plain(t) for t in info.types)
    if isinstance(info, inspect.DictType):
        return _is_plain(info.key_type) and _is_plain(info.value_type)
    if isinstance(info, inspect.ListType):
        return _is_plain(info.item_type)
    return False


_UTC = timedelta(0)


def _to_json(value: Any) -> Any:
    """A decoded value as JSON builtins, as the API wrote it (see the module's docstring)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_to_json(item) for item in value]
    if isinstance(value, msgspec.Struct):
        return {
            field.encode_name: _to_json(item)
            for field in msgspec.structs.fields(value)
            if (item := getattr(value, field.name)) is not None or field.default is not None
        }
    if isinstance(value, datetime) and value.utcoffset() == _UTC and not value.microsecond % 1000:
        return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
    # Other date-times, date, time, Decimal, UUID, Enum, bytes ...: msgspec's JSON form.
    return msgspec.to_builtins(value)


def _uuid(value: Any) -> Any:
    return None if value is None else str(value)


def _enum(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _conversion(info: inspect.Type) -> str | None:
    """The name of the function a column's value goes through, ``None`` for none."""
    kind = _strip(info)
    if isinstance(kind, _JSON) or type(kind) not in _SCALARS:  # a json column
        return None if _is_plain(info) else "_to_json"
    if isinstance(kind, inspect.UUIDType):
        return "_uuid"
    if isinstance(kind, inspect.EnumType):
        return "_enum"
    return None


def _columns_of(struct: inspect.StructType, prefix: str) -> list[str]:
    names: list[str] = []
    for field in struct.fields:
        kind = _strip(field.type)
        if isinstance(kind, inspect.StructType):
            names.extend(_columns_of(kind, prefix + field.encode_name + "__"))
        else:
            names.append(prefix + field.encode_name)
    return names


#: Appends the code setting one column: (lines, indent, column, the read of the field, the
#: field's type).
_LeafCode = Callable[[list[str], str, str, str, Any], None]


def _walk(
    struct: inspect.StructType,
    lines: list[str],
    indent: str,
    *,
    leaf: _LeafCode,
    absent: Callable[[str], str] | None,
) -> None:
    """Append straight-line code reading every field of ``struct`` from ``obj``, once.

    A scalar or open field is one column, its code made by ``leaf``. A nested Struct is
    read once into a variable and walked under ``if it is not None``; ``absent`` gives the
    statement for each of its columns when it is ``None`` (no such branch without it).
    Attribute names are the Struct's own field names (identifiers).
    """
    count = 0

    def walk(info: inspect.StructType, var: str, prefix: str, indent: str) -> None:
        nonlocal count
        for field in info.fields:
            column = prefix + field.encode_name
            kind = _strip(field.type)
            read = f"{var}.{field.name}"
            if not isinstance(kind, inspect.StructType):
                leaf(lines, indent, column, read, field.type)
                continue
            count += 1
            name = f"v{count}"
            lines.append(f"{indent}{name} = {read}")
            if absent is None:
                lines.append(f"{indent}if {name} is not None:")
            else:
                lines.append(f"{indent}if {name} is None:")
                lines.append(f"{indent}    pass")
                for empty in _columns_of(kind, column + "__"):
                    lines.append(f"{indent}    {absent(empty)}")
                lines.append(f"{indent}else:")
            lines.append(f"{indent}    pass")  # a Struct without fields
            walk(kind, name, column + "__", indent + "    ")

    walk(struct, "obj", "", indent)


def _source(struct: inspect.StructType, keep_none: bool) -> str:
    """The code of a function making the row of ``struct``, one statement per column.

    Straight-line code reads each field once, with no call per nested Struct: it runs for
    every row loaded, several times faster than walking the fields at run time. Column
    names are ``repr`` literals. Without ``keep_none``, a ``None`` value is left out of the
    row instead.
    """
    lines = ["def build(obj):", "    row = {}"]

    def leaf(lines: list[str], indent: str, column: str, read: str, kind: Any) -> None:
        convert = _conversion(kind)
        if keep_none:
            value = read if convert is None else f"{convert}({read})"
            lines.append(f"{indent}row[{column!r}] = {value}")
            return
        lines.append(f"{indent}value = {read}")
        lines.append(f"{indent}if value is not None:")
        value = "value" if convert is None else f"{convert}(value)"
        lines.append(f"{indent}    row[{column!r}] = {value}")

    def absent(column: str) -> str:
        return f"row[{column!r}] = None"

    _walk(struct, lines, "    ", leaf=leaf, absent=absent if keep_none else None)
    lines.append("    return row")
    return "\n".join(lines) + "\n"


def row_builder(model: type[msgspec.Struct], *, keep_none: bool = True) -> RowBuilder:
    """A function making the row of a ``model`` instance, every field included.

    The row has exactly the columns `columns_from_struct` declares for ``model``: scalars
    as decoded (dates stay ``datetime``/``date``), nested Structs flattened into
    ``parent__child`` columns (each ``None`` when the Struct is absent), and open values
    (mappings, lists, mixed types) kept whole as JSON values, with every field of the
    Structs inside them. Nothing is left out for being a default: ``0``, ``""``, ``{}``,
    ``[]`` and ``None`` are all kept.

    With ``keep_none=False`` the columns whose value is ``None`` are left out of the row:
    to dlt a missing column is ``NULL`` all the same, and its normalizer is faster without
    them (it checks each ``None`` against the column's hints).

    Args:
        model: a msgspec Struct class, e.g. `Customer`.
        keep_none: whether the row has a ``None`` for each column without a value.

    Returns:
        A function of one instance returning its row, a new dict each call.

    Raises:
        TypeError: ``model`` is not a msgspec Struct class.
    """
    info = inspect.type_info(model)
    if not isinstance(info, inspect.StructType):
        raise TypeError(f"model must be a msgspec Struct class, got {model!r}")
    namespace: dict[str, Any] = {"_to_json": _to_json, "_uuid": _uuid, "_enum": _enum}
    code = compile(_source(info, keep_none), f"<row of {model.__qualname__}>", "exec")
    exec(code, namespace)
    build: RowBuilder = namespace["build"]
    return build

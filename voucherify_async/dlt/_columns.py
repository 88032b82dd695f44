"""dlt column hints derived from the msgspec models, so the warehouse schema is typed."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import inspect

__all__ = ["columns_from_struct"]

_SCALARS: dict[type[inspect.Type], str] = {
    inspect.StrType: "text",
    inspect.IntType: "bigint",
    inspect.FloatType: "double",
    inspect.BoolType: "bool",
    inspect.DateTimeType: "timestamp",
    inspect.DateType: "date",
    inspect.TimeType: "time",
    inspect.DecimalType: "decimal",
    inspect.BytesType: "binary",
    inspect.UUIDType: "text",
    inspect.LiteralType: "text",
    inspect.EnumType: "text",
}
_JSON = (
    inspect.DictType,
    inspect.ListType,
    inspect.SetType,
    inspect.FrozenSetType,
    inspect.VarTupleType,
    inspect.TupleType,
    inspect.AnyType,
    inspect.TypedDictType,
    inspect.DataclassType,
)


def _strip(info: inspect.Type) -> inspect.Type:
    """The type without ``None`` in a union (``Any`` for a mixed union)."""
    if not isinstance(info, inspect.UnionType):
        return info
    rest = [t for t in info.types if not isinstance(t, inspect.NoneType)]
    return rest[0] if len(rest) == 1 else inspect.AnyType()


def columns_from_struct(
    model: type[msgspec.Struct], *, not_null: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """dlt column hints for the rows the source makes of ``model``, every field a column.

    Each scalar field becomes a typed column (``datetime`` a ``timestamp``, ``date`` a
    ``date``, ``int`` a ``bigint``, ...). A nested Struct is flattened the way dlt flattens
    nested objects, into ``parent__child`` columns. Mappings, lists, mixed and untyped values
    become ``json`` columns, so dlt keeps them whole, as received, instead of inventing tables
    or columns for their keys. Every column of a row is declared, so dlt infers none.

    Args:
        model: a msgspec Struct class, e.g. `Customer`.
        not_null: top-level field names declared ``nullable: False``.

    Returns:
        A mapping of column name to dlt column hints, in field order.

    Examples:
        ```python
        from voucherify_async.models import Customer
        columns = columns_from_struct(Customer)
        columns["address__city"]  # {"data_type": "text", "nullable": True}
        ```
    """
    columns: dict[str, dict[str, Any]] = {}
    info = inspect.type_info(model)
    if not isinstance(info, inspect.StructType):
        raise TypeError(f"model must be a msgspec Struct class, got {model!r}")
    _add(columns, info, "", not_null=not_null)
    return columns


def _add(
    columns: dict[str, dict[str, Any]],
    struct: inspect.StructType,
    prefix: str,
    *,
    not_null: tuple[str, ...],
) -> None:
    for field in struct.fields:
        name = prefix + field.encode_name
        kind = _strip(field.type)
        if isinstance(kind, inspect.StructType):
            _add(columns, kind, name + "__", not_null=())
            continue
        if isinstance(kind, _JSON):
            data_type = "json"
        else:
            found = _SCALARS.get(type(kind))
            data_type = "json" if found is None else found
        columns[name] = {
            "data_type": data_type,
            "nullable": not (prefix == "" and field.name in not_null),
        }

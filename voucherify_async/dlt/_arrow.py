"""Batches of rows as arrow tables, built column by column from the models.

dlt takes an arrow table whole: its extract step writes it to a parquet file as it is and
applies the incremental cursor with arrow's compute functions, with no Python work per row.
The tables here hold exactly the values of the row builders (`row_builder`), typed by the
same column hints: a ``json`` column holds each value's JSON text, which the destination
stores as its JSON type (DuckDB's ``JSON``, Postgres's ``jsonb``), as it does the dict
rows' values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]  # no type information
from msgspec import inspect

from ._columns import columns_from_struct
from ._rows import _conversion, _enum, _to_json, _uuid, _walk

__all__ = ["ColumnsBuilder", "arrow_type", "columns_builder"]

ColumnsBuilder = Callable[[Sequence[Any]], list[list[Any]]]
"""Makes the columns of a batch of Structs: one list of values per column, in order."""

_encode = msgspec.json.Encoder().encode

#: The arrow type of each dlt data type the models' columns have.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    # dlt's own choice for its default precision (microseconds) and a zone-aware column.
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    # The JSON text of the value: the destination parses it into its JSON type.
    "json": pa.string(),
}


def arrow_type(data_type: str) -> pa.DataType:
    """The arrow type a column of a dlt ``data_type`` is built as.

    Args:
        data_type: a dlt data type of `columns_from_struct`'s hints (``"text"``,
            ``"bigint"``, ``"json"``, ...).

    Returns:
        The arrow type: ``json`` is a string column holding each value's JSON text.

    Raises:
        TypeError: a data type the tables here do not build (``time``, ``decimal``,
            ``binary``).
    """
    found = _ARROW_TYPES.get(data_type)
    if found is None:
        raise TypeError(f"no arrow column is built for dlt's data type {data_type!r}")
    return found


def _json_text(value: Any) -> bytes | None:
    return None if value is None else _encode(value)


def _json_text_of_structs(value: Any) -> bytes | None:
    return None if value is None else _encode(_to_json(value))


def _source(struct: inspect.StructType, columns: dict[str, dict[str, Any]]) -> str:
    """The code of a function making the columns of a batch of ``struct``, in one pass.

    Straight-line code per Struct, one ``append`` per column: no dict per row. A ``json``
    column's value becomes its JSON text; a nested Struct that is absent is ``None`` in
    each of its columns.
    """
    names = list(columns)
    index = {name: number for number, name in enumerate(names)}
    lines = ["def build(objs):"]
    for number in range(len(names)):
        lines.append(f"    c{number} = []")
        lines.append(f"    a{number} = c{number}.append")
    lines.append("    for obj in objs:")

    def leaf(lines: list[str], indent: str, column: str, read: str, kind: Any) -> None:
        convert = _conversion(kind)
        if columns[column]["data_type"] == "json":
            convert = "_json_text" if convert is None else "_json_text_of_structs"
        value = read if convert is None else f"{convert}({read})"
        lines.append(f"{indent}a{index[column]}({value})")

    def absent(column: str) -> str:
        return f"a{index[column]}(None)"

    _walk(struct, lines, "        ", leaf=leaf, absent=absent)
    lines.append(f"    return [{', '.join(f'c{number}' for number in range(len(names)))}]")
    return "\n".join(lines) + "\n"


def columns_builder(model: type[msgspec.Struct]) -> ColumnsBuilder:
    """A function making the columns of a batch of ``model`` instances, every field included.

    The columns are those of `columns_from_struct` for ``model``, in its order, each a list
    with one value per instance: the value `row_builder` gives the column, except in a
    ``json`` column, which holds the value's JSON text (``bytes``; ``None`` for none).
    Turn them into arrow arrays of `arrow_type` of each column's data type.

    Args:
        model: a msgspec Struct class, e.g. `Customer`.

    Returns:
        A function of a sequence of instances returning one list per column.

    Raises:
        TypeError: ``model`` is not a msgspec Struct class, or has a column of a data type
            `arrow_type` does not build.
    """
    info = inspect.type_info(model)
    if not isinstance(info, inspect.StructType):
        raise TypeError(f"model must be a msgspec Struct class, got {model!r}")
    columns = columns_from_struct(model)
    for hints in columns.values():
        arrow_type(hints["data_type"])
    namespace: dict[str, Any] = {
        "_json_text": _json_text,
        "_json_text_of_structs": _json_text_of_structs,
        "_uuid": _uuid,
        "_enum": _enum,
    }
    code = compile(_source(info, columns), f"<columns of {model.__qualname__}>", "exec")
    exec(code, namespace)
    build: ColumnsBuilder = namespace["build"]
    return build

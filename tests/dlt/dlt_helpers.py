"""Helpers of the dlt tests: a pipeline into a DuckDB file in ``tmp_path``, emulator calls."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import duckdb

from voucherify_async import AsyncVoucherify, CustomerUpdate
from voucherify_async.dlt import columns_from_struct, pipeline
from voucherify_async.emulator import Emulator
from voucherify_async.models import Customer
from voucherify_async.tools.cli import main

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one emulator control call from a synchronous test."""
    return asyncio.run(coroutine)


class Credentials(TypedDict):
    app_id: str
    app_token: str
    base_url: str


def credentials(emulator: Emulator) -> Credentials:
    return {"app_id": emulator.app_id, "app_token": emulator.app_token, "base_url": emulator.url}


def target(tmp_path: Path, name: str = "voucherify") -> Any:
    return pipeline(
        duckdb_path=tmp_path / "warehouse.duckdb",
        pipelines_dir=tmp_path / "pipelines",
        pipeline_name=name,
    )


def rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def requests_seen(emulator: Emulator) -> int:
    count: int = run(emulator.stats())["requests_total"]
    return count


async def change(emulator: Emulator, changed: list[str], deleted: list[str]) -> None:
    async with emulator.client() as vf:
        await vf.customers.update_many(
            {cid: CustomerUpdate(name=f"renamed {cid}") for cid in changed}
        )
        for cid in deleted:
            await vf.customers.delete(cid)


# --- Field-by-field comparison of loaded rows with the API's own answers -----------------

JsonObject = dict[str, Any]


def json_equal(left: Any, right: Any) -> bool:
    """Equal as JSON values: numbers by value, ``true`` never ``1``, keys neither more nor less."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        return isinstance(left, (int, float)) and isinstance(right, (int, float)) and left == right
    if isinstance(left, dict) or isinstance(right, dict):
        return (
            isinstance(left, dict)
            and isinstance(right, dict)
            and left.keys() == right.keys()
            and all(json_equal(left[key], right[key]) for key in left)
        )
    if isinstance(left, list) or isinstance(right, list):
        return (
            isinstance(left, list)
            and isinstance(right, list)
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    return type(left) is type(right) and left == right


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None, f"the API sent a time without a zone: {value!r}"
    return parsed


def _same(data_type: str, loaded: Any, sent: Any) -> bool:
    """Whether a loaded value is the API's, for a column of ``data_type``."""
    if sent is None or loaded is None:
        return sent is None and loaded is None
    if data_type == "json":
        # DuckDB hands JSON back as text, a Postgres driver may parse it already.
        value = json.loads(loaded) if isinstance(loaded, str) else loaded
        return json_equal(value, sent)
    if data_type == "timestamp":
        return (
            isinstance(sent, str)
            and isinstance(loaded, datetime)
            and loaded.utcoffset() is not None
            and loaded == _instant(sent)
        )
    if data_type == "date":
        return isinstance(sent, str) and loaded == date.fromisoformat(sent)
    if data_type == "text":
        return isinstance(loaded, str) and isinstance(sent, str) and loaded == sent
    return json_equal(loaded, sent)  # bigint, double, bool


def _expected_columns(
    sent: JsonObject, columns: dict[str, dict[str, Any]], prefix: str, problems: list[str]
) -> dict[str, Any]:
    """The API object's value of each column; a field of the API with no column is a problem."""
    found: dict[str, Any] = {}
    for key, value in sent.items():
        name = prefix + key
        if name in columns:
            found[name] = value
        elif any(column.startswith(name + "__") for column in columns):
            if value is None:
                continue  # an absent object: every column under it is NULL
            if not isinstance(value, dict):
                problems.append(f"{name}: the API sent {value!r} where the columns nest")
                continue
            found.update(_expected_columns(value, columns, name + "__", problems))
        else:
            problems.append(f"{name}: a field of the API with no column")
    return found


def compare_rows(
    rows: Iterable[Mapping[str, Any]],
    api: Mapping[tuple[Any, ...], JsonObject],
    columns: dict[str, dict[str, Any]],
    *,
    key: tuple[str, ...] = ("id",),
    derived: Mapping[str, Callable[[JsonObject], Any]] | None = None,
    ignored: Iterable[str] = (),
) -> list[str]:
    """Every field of every loaded row against the API's answer; the differences found.

    Args:
        rows: the table's rows, each a mapping of column name to the value read back from
            the destination (DuckDB, Postgres, ...).
        api: the API's JSON object of each row, by the row's ``key`` values.
        columns: the declared columns (name to dlt hints, ``data_type`` used); a loaded
            column neither declared, derived, ignored nor dlt's own (``_dlt_...``) is a
            difference, and so is a field of the API with no column.
        key: the columns that find a row's API object.
        derived: columns computed from the API object (``changed_at``): their expected value.
        ignored: columns not compared (they must still be NULL).

    Returns:
        A line per difference (empty: the rows are the API's exactly, one per object).
    """
    derived = dict(derived or {})
    ignored = set(ignored)
    problems: list[str] = []
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        ident = tuple(row[name] for name in key)
        if ident in seen:
            problems.append(f"{ident}: loaded twice")
            continue
        seen.add(ident)
        sent = api.get(ident)
        if sent is None:
            problems.append(f"{ident}: loaded, but not in the API")
            continue
        where: list[str] = []
        expected = _expected_columns(sent, columns, "", where)
        for name, loaded in row.items():
            if name.startswith("_dlt_"):
                continue
            if name in ignored:
                if loaded is not None:
                    where.append(f"{name}: {loaded!r} in a column that must be NULL")
                continue
            if name in derived:
                if not _same(columns[name]["data_type"], loaded, derived[name](sent)):
                    where.append(f"{name}: loaded {loaded!r}, expected {derived[name](sent)!r}")
                continue
            if name not in columns:
                where.append(f"{name}: a column that is not declared ({loaded!r})")
                continue
            if not _same(columns[name]["data_type"], loaded, expected.get(name)):
                where.append(f"{name}: loaded {loaded!r}, the API sent {expected.get(name)!r}")
        missing = set(columns) - set(row) - ignored
        if missing:
            where.append(f"columns not loaded: {sorted(missing)}")
        problems.extend(f"{ident} {line}" for line in where)
    problems.extend(f"{ident}: in the API, not loaded" for ident in set(api) - seen)
    return problems


#: The customers table's columns as declared, ``changed_at`` included, for `compare_rows`.
CUSTOMER_COLUMNS = {
    **columns_from_struct(Customer),
    "changed_at": {"data_type": "timestamp", "nullable": False},
}
CHANGED_AT = {"changed_at": lambda sent: sent.get("updated_at") or sent["created_at"]}
"""How ``changed_at`` follows from what the API sent, for `compare_rows`'s ``derived``."""


def assert_rows_match(
    rows: Iterable[Mapping[str, Any]],
    api: Mapping[tuple[Any, ...], JsonObject],
    columns: dict[str, dict[str, Any]],
    **options: Any,
) -> int:
    """`compare_rows`, failing with the first differences; the number of rows compared."""
    materialized = list(rows)
    problems = compare_rows(materialized, api, columns, **options)
    shown = "\n".join(problems[:20])
    assert not problems, f"{len(problems)} differences, the first:\n{shown}"
    return len(materialized)


def duckdb_rows(path: Path, table: str, dataset: str = "voucherify") -> Iterator[dict[str, Any]]:
    """A DuckDB table's rows as dicts of column name to value, read only."""
    with duckdb.connect(str(path), read_only=True) as connection:
        cursor = connection.execute(f'SELECT * FROM "{dataset}"."{table}"')
        names = [column[0] for column in cursor.description or ()]
        while batch := cursor.fetchmany(5000):
            for values in batch:
                yield dict(zip(names, values, strict=True))


async def api_customers(vf: AsyncVoucherify, *, expected: int) -> dict[tuple[Any, ...], JsonObject]:
    """Every customer as the API's raw JSON, by ``(id,)``: pages in ``created_at`` order.

    Each page starts at the millisecond the last one ended at (so customers sharing it are
    not skipped) and repeats are dropped by id; the loop is bounded by ``expected``.
    """
    found: dict[tuple[Any, ...], JsonObject] = {}
    after: str | None = None
    for _ in range(expected // 50 + 10):
        query: dict[str, Any] = {"limit": 100, "order": "created_at"}
        if after is not None:
            query["created_at[after]"] = after
        page = await vf.request("GET", "/v1/customers", query=query)
        fresh = [c for c in page["customers"] if (c["id"],) not in found]
        for customer in page["customers"]:
            found[(customer["id"],)] = customer
        if not page["has_more"]:
            assert len(found) == expected, (len(found), expected)
            return found
        assert fresh, "over 100 customers share a millisecond: the pages cannot move on"
        last = _instant(page["customers"][-1]["created_at"]) - timedelta(milliseconds=1)
        after = last.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    raise AssertionError(f"more than {expected} customers listed")


async def api_children(
    vf: AsyncVoucherify, customer_ids: Iterable[str], what: str
) -> dict[tuple[Any, ...], JsonObject]:
    """The raw JSON of each customer's ``segments``/``redeemables``/``activity`` item.

    By ``(customer_id, id)``, each object with ``customer_id`` (the column the table adds;
    a redeemable has it already, and the same).
    """
    found: dict[tuple[Any, ...], JsonObject] = {}
    for cid in customer_ids:
        query = {} if what == "segments" else {"limit": 100}
        page = await vf.request("GET", f"/v1/customers/{cid}/{what}", query=query)
        assert not page.get("has_more"), f"{cid}: more {what} than one page"
        for item in page["data"]:
            assert item.get("customer_id", cid) == cid
            found[(cid, item["id"])] = {**item, "customer_id": cid}
    return found


def cli(*argv: str) -> tuple[int, str, str]:
    """Run ``voucherify-async`` in this process: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def connection(emulator: Emulator) -> list[str]:
    """The command line's connection options for ``emulator``."""
    return ["--app-id", emulator.app_id, "--app-token", emulator.app_token,
            "--base-url", emulator.url]  # fmt: skip

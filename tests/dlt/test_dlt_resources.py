"""The per-customer resources, async actions, the client hook, the columns and the command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]  # no type information
import pytest
from dlt_helpers import credentials, rows, run, target

from voucherify_async import AsyncVoucherify
from voucherify_async.dlt import (
    DELETED_COLUMN,
    RESOURCES,
    columns_from_struct,
    load,
    voucherify_source,
)
from voucherify_async.dlt._source import _customer_ids
from voucherify_async.emulator import Emulator


class Inner(msgspec.Struct):
    when: date | None = None
    tags: list[str] = msgspec.field(default_factory=list)


class Outer(msgspec.Struct):
    id: str
    count: int | None = None
    ratio: float = 0.0
    flag: bool = False
    at: datetime | None = None
    inner: Inner | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    mixed: int | str | None = None
    renamed: str = msgspec.field(default="", name="wireName")


def test_columns_from_struct_types_every_field() -> None:
    assert columns_from_struct(Outer, not_null=("id",)) == {
        "id": {"data_type": "text", "nullable": False},
        "count": {"data_type": "bigint", "nullable": True},
        "ratio": {"data_type": "double", "nullable": True},
        "flag": {"data_type": "bool", "nullable": True},
        "at": {"data_type": "timestamp", "nullable": True},
        "inner__when": {"data_type": "date", "nullable": True},
        "inner__tags": {"data_type": "json", "nullable": True},
        "extra": {"data_type": "json", "nullable": True},
        "mixed": {"data_type": "json", "nullable": True},
        "wireName": {"data_type": "text", "nullable": True},
    }
    with pytest.raises(TypeError, match="msgspec Struct"):
        columns_from_struct(dict)  # type: ignore[arg-type]


def test_every_resource_loads_what_the_api_lists(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(40))
    ids = run(emu.customer_ids())
    run(emu.seed_segment("vip", ids[:10]))
    for cid in ids[:3]:
        run(emu.seed_redeemable(cid))
        run(emu.seed_redeemable(cid))

    async def expected() -> tuple[int, int]:
        async with emu.client() as vf:
            job = await vf.customers.update_metadata_in_bulk(
                [f"seed-{i}" for i in range(1, 6)], {"batch": 1}
            )
            await job.wait()
            events = 0
            for cid in ids:
                events += len([e async for e in vf.customers.list_activity(cid)])
            actions = len([a async for a in vf.async_actions.list()])
            return events, actions

    events, actions = run(expected())
    assert events >= 5 and actions >= 1  # the bulk update wrote events

    made: list[AsyncVoucherify] = []

    def factory() -> AsyncVoucherify:
        client = AsyncVoucherify(**credentials(emu), max_concurrency=4)
        made.append(client)
        return client

    load(target(tmp_path), resources=RESOURCES, concurrency=4, client_factory=factory)

    def count(table: str) -> int:
        return int(rows(tmp_path, f"SELECT count(*) FROM voucherify.{table}")[0][0])

    assert count("customers") == 40
    assert count("customer_segments") == 10
    members = rows(tmp_path, "SELECT customer_id FROM voucherify.customer_segments")
    assert {member for (member,) in members} == set(ids[:10])
    assert count("customer_activity") == events
    assert count("customer_redeemables") == 6
    assert count("async_actions") == actions
    status = rows(tmp_path, "SELECT status FROM voucherify.async_actions")[0][0]
    assert status in ("ENQUEUED", "IN_PROGRESS", "DONE", "FAILED")
    # The hook for a shared limiter: the factory's clients did the work and were closed.
    assert made and all(client.is_closed for client in made)


def test_per_customer_resources_follow_every_arrow_batch(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    # Customers reach dlt as arrow tables of 500: the transformers read each table's ids.
    emu = voucherify_emulator
    run(emu.seed_customers(1_100, step_ms=1))
    ids = run(emu.customer_ids())
    members = [*ids[:2], ids[600], *ids[-3:]]
    run(emu.seed_segment("vip", members, segment_id="seg_vip"))
    load(target(tmp_path), resources=["customers", "customer_segments"], **credentials(emu))
    found = rows(tmp_path, "SELECT customer_id, id FROM voucherify.customer_segments")
    assert sorted(found) == sorted((cid, "seg_vip") for cid in members)
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers") == [(1_100,)]


def test_customer_ids_of_a_table_or_of_rows() -> None:
    table = pa.table({"id": ["a", "b"], "name": ["x", None]})
    assert _customer_ids(table) == ["a", "b"]
    assert _customer_ids([{"id": "a"}, {"id": "c", "name": "y"}]) == ["a", "c"]


def test_outside_a_pipeline_customers_are_dict_rows(voucherify_emulator: Emulator) -> None:
    # Iterating the source by hand (no pipeline, so no load to stamp): the rows as dicts.
    run(voucherify_emulator.seed_customers(3))
    source = voucherify_source(
        resources=["customers", "customer_segments"], **credentials(voucherify_emulator)
    )
    items = list(source)
    customers = [item for item in items if "changed_at" in item]
    assert len(customers) == 3 and all(isinstance(item, dict) for item in items)
    assert {item[DELETED_COLUMN] for item in items if item not in customers} == {True}


def test_python_m_loads_the_emulator_into_duckdb(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "voucherify_async.dlt",
            "--emulator",
            "250",
            "--path",
            str(tmp_path / "c.duckdb"),
            "--resources",
            "customers,async_actions",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # The options and the output of `voucherify-async load`: a count per resource.
    assert result.stdout.splitlines() == [
        'SELECT count(*) FROM "voucherify"."customers" -> 250',
        "async_actions: no rows loaded yet",
    ]
    assert (tmp_path / "c.duckdb.dlt").is_dir()

    missing = subprocess.run(
        [sys.executable, "-m", "voucherify_async.dlt", "--path", str(tmp_path / "d.duckdb")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: missing credentials")
    assert "Traceback" not in missing.stderr

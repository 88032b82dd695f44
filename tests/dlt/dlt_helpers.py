"""Helpers of the dlt tests: a pipeline into a DuckDB file in ``tmp_path``, emulator calls."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from voucherify_async import CustomerUpdate
from voucherify_async.dlt import pipeline
from voucherify_async.emulator import Emulator

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one emulator control call from a synchronous test."""
    return asyncio.run(coroutine)


def credentials(emulator: Emulator) -> dict[str, str]:
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

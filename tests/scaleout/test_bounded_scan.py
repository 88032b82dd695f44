"""A partition scan bounded in time: it stops at a page boundary, checkpointed, and the
next run goes on from there; every customer is written once over all the runs."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from voucherify_async import AsyncVoucherify
from voucherify_async.checkpoints import scan_partition
from voucherify_async.contrib.sqlite import SQLiteSink
from voucherify_async.emulator import Emulator
from voucherify_async.models import Customer

N = 95  # customers; pages of 10


class SlowSink(SQLiteSink):
    """The exactly-once SQLite sink, each page taking ``delay`` seconds."""

    def __init__(self, path: Path, delay: float) -> None:
        super().__init__(path)
        self.delay = delay

    async def write(self, key: str, customers: Sequence[Customer], checkpoint: bytes) -> None:
        await super().write(key, customers, checkpoint)
        await asyncio.sleep(self.delay)


async def test_a_bounded_scan_stops_checkpointed_and_the_next_run_goes_on(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    await voucherify_emulator.seed_customers(N, same_created_at=3)
    (whole,) = await voucherify_client.customers.partition(1)
    sink = SlowSink(tmp_path / "sink.db", delay=0.1)
    runs = []
    for _ in range(30):
        started = time.monotonic()
        result = await scan_partition(
            voucherify_client, whole, sink, key="k", limit=10, max_seconds=0.25
        )
        assert time.monotonic() - started < 0.25 + 0.1 + 0.5  # the bound, one page's write
        runs.append(result)
        if result.done:
            break
    assert runs[-1].done and len(runs) >= 3
    assert not any(r.done for r in runs[:-1])
    assert all(r.resumed for r in runs[1:])
    assert sink.count() == N and sink.rewritten() == 0  # every customer once
    assert runs[-1].total_items == sum(r.items for r in runs) == N
    assert runs[-1].total_pages == sum(r.pages for r in runs) >= 10  # 95 customers, pages of 10
    for before, after in itertools.pairwise(runs):
        assert after.total_pages - after.pages == before.total_pages  # went on where it stopped
    again = await scan_partition(voucherify_client, whole, sink, key="k", max_seconds=0.25)
    assert again.done and again.pages == 0 and again.total_pages == runs[-1].total_pages


async def test_a_page_not_fetched_by_the_bound_is_abandoned(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    await voucherify_emulator.seed_customers(30, same_created_at=3)
    (whole,) = await voucherify_client.customers.partition(1)
    sink = SQLiteSink(tmp_path / "sink.db")
    await voucherify_emulator.configure(latency_ms=2000)
    started = time.monotonic()
    result = await scan_partition(voucherify_client, whole, sink, key="k", max_seconds=0.3)
    assert time.monotonic() - started < 1.5  # not the 2 s the answer takes
    assert not result.done and result.pages == 0 and sink.count() == 0
    await voucherify_emulator.configure(latency_ms=0)
    result = await scan_partition(voucherify_client, whole, sink, key="k", max_seconds=5)
    assert result.done and sink.count() == 30 and sink.rewritten() == 0


@pytest.mark.parametrize("bad", [0, -1.0])
async def test_the_bound_must_be_positive(
    voucherify_client: AsyncVoucherify, tmp_path: Path, bad: float
) -> None:
    (whole,) = await voucherify_client.customers.partition(1)
    with pytest.raises(ValueError, match="max_seconds"):
        await scan_partition(
            voucherify_client, whole, SQLiteSink(tmp_path / "s.db"), max_seconds=bad
        )

"""Partitioned scans against the emulator: disjoint windows that cover the set exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio

from voucherify_async import AsyncVoucherify, CustomerPartition
from voucherify_async.emulator import Emulator


async def test_partitions_cover_every_customer_exactly_once(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(3_000, same_created_at=7, city="Warsaw")
    await voucherify_emulator.seed_customers(500, city="Paris")
    expected = set(await voucherify_emulator.customer_ids())
    requests_before = (await voucherify_emulator.stats())["requests_total"]
    parts = await voucherify_client.customers.partition(6)
    planning = (await voucherify_emulator.stats())["requests_total"] - requests_before
    assert len(parts) == 6
    assert planning <= 6 * 12, f"finding 5 cuts took {planning} requests"
    sizes = [part.count for part in parts]
    assert sum(sizes) == len(expected)
    assert max(sizes) - min(sizes) <= len(expected) // 6 // 5 + 14, sizes
    seen: list[list[str]] = [[] for _ in parts]

    async def work(part: CustomerPartition) -> None:
        # Each window travels as JSON, as it would to another process or machine.
        again = CustomerPartition.loads(part.dumps())
        async for customer in again.stream(voucherify_client):
            seen[part.index].append(customer.id)

    async with anyio.create_task_group() as tg:
        for part in parts:
            tg.start_soon(work, part)
    everything = [cid for chunk in seen for cid in chunk]
    assert len(everything) == len(set(everything)) == len(expected)
    assert set(everything) == expected
    assert [len(chunk) for chunk in seen] == sizes


async def test_partitions_keep_the_filters(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(400, city="Warsaw")
    await voucherify_emulator.seed_customers(300, city="Paris")
    parts = await voucherify_client.customers.partition(3, city="Paris")
    assert sum(part.count for part in parts) == 300
    found = [c for part in parts async for c in part.stream(voucherify_client)]
    assert len(found) == 300
    assert all(c.address is not None and c.address.city == "Paris" for c in found)


async def test_one_partition_and_empty_sets(voucherify_client: AsyncVoucherify) -> None:
    parts = await voucherify_client.customers.partition(4)
    assert [part.count for part in parts] == [0]
    after = datetime(2020, 1, 1, tzinfo=timezone.utc)
    single = await voucherify_client.customers.partition(1, created_at_after=after)
    assert single[0].start == after + timedelta(milliseconds=1)
    assert single[0].contains(after + timedelta(milliseconds=1))
    assert not single[0].contains(after)

"""Pacing holds with a client-wide max_concurrency: the limiter wait cannot race the pacer."""

from __future__ import annotations

import anyio

from voucherify_async.emulator import Emulator


async def test_burst_through_max_concurrency_meets_no_429(
    voucherify_emulator: Emulator,
) -> None:
    await voucherify_emulator.seed_customers(10)
    ids = (await voucherify_emulator.customer_state())["source_ids"]
    await voucherify_emulator.configure(rate_limit=12, rate_limit_period=1.0)
    async with (
        voucherify_emulator.client(max_concurrency=6, max_retries=0) as client,
        anyio.create_task_group() as tg,
    ):
        for index in range(25):
            tg.start_soon(client.customers.get, ids[index % 10])
    stats = await voucherify_emulator.stats()
    assert stats["by_status"].get("429", 0) == 0, stats["by_status"]
    assert stats["by_status"]["200"] == 25

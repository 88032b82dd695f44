"""A limit lowered mid-period is obeyed from the first answer that announces it.

The emulator's limit goes from 1,000,000 a minute to 10 per 3 s while a warm client knows
the old quota (and a period that ends much later than the new one). Real clock, real HTTP.
"""

from __future__ import annotations

import asyncio

import anyio
from e2e_helpers import SentAfterAnnouncement

from voucherify_async import AsyncVoucherify, Customer
from voucherify_async.emulator import Emulator

NEW_LIMIT = 10
CALLS = 30


async def warm_then_lower(emulator: Emulator, client: AsyncVoucherify) -> list[str]:
    """Seed, make a few calls under the old limit, then lower it; the ids to get."""
    await emulator.configure(rate_limit=1_000_000, rate_limit_period=60)
    await emulator.seed_customers(10)
    ids: list[str] = (await emulator.customer_state())["source_ids"]
    for source_id in ids[:3]:
        await client.customers.get(source_id)
    assert client.rate_limit is not None and client.rate_limit.limit == 1_000_000
    await emulator.configure(rate_limit=NEW_LIMIT, rate_limit_period=3)
    return ids


async def get_all(client: AsyncVoucherify, ids: list[str]) -> list[Customer]:
    with anyio.fail_after(20):  # at 10 per 3 s the 30 calls take about 8 s
        return await asyncio.gather(*(client.customers.get(ids[i % 10]) for i in range(CALLS)))


async def test_no_request_sent_after_the_new_limit_is_announced_meets_a_429(
    voucherify_emulator: Emulator,
) -> None:
    watch = SentAfterAnnouncement(NEW_LIMIT)
    async with voucherify_emulator.client(rate_limiter=watch) as client:
        ids = await warm_then_lower(voucherify_emulator, client)
        watch.attempts.clear()
        customers = await get_all(client, ids)
        assert client.rate_limit is not None and client.rate_limit.limit == NEW_LIMIT
    assert len(customers) == CALLS
    stats = await voucherify_emulator.stats()
    assert stats["by_status"]["200"] == 3 + CALLS
    before = watch.statuses(sent_after=False)
    after = watch.statuses(sent_after=True)
    # All 30 left at once, before any answer could tell the new limit (29 were still in
    # flight when the first one came). Only those may meet a 429, and at most as many of
    # them as exceed the new limit: 30 - 10. Every request sent after it (the retries of
    # those 429s among them) waits for its turn instead.
    assert watch.in_flight_at_announcement == CALLS - 1
    assert len(before) == watch.in_flight_at_announcement + 1
    assert before.count(429) <= len(before) - NEW_LIMIT
    assert after.count(429) == 0, after
    assert stats["by_status"].get("429", 0) == before.count(429)


async def test_with_no_more_in_flight_than_the_new_limit_no_request_meets_a_429(
    voucherify_emulator: Emulator,
) -> None:
    async with voucherify_emulator.client(max_concurrency=5) as client:
        ids = await warm_then_lower(voucherify_emulator, client)
        customers = await get_all(client, ids)
    assert len(customers) == CALLS
    stats = await voucherify_emulator.stats()
    assert stats["by_status"].get("429", 0) == 0, stats["by_status"]
    assert stats["by_status"]["200"] == 3 + CALLS

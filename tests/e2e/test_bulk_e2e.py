"""Bulk updates against the emulator: split under 10 MB, waited to DONE, state checked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voucherify_async import (
    AsyncActionFailedError,
    AsyncActionTimeoutError,
    AsyncVoucherify,
    JobProgress,
    PartialSubmissionError,
)
from voucherify_async.emulator import Emulator

FAST: dict[str, Any] = {"poll_interval": 0.02, "max_poll_interval": 0.1}
PADDING = "p" * 4_300  # makes 5,000 customers about 22 MB of JSON: three requests


def customer(i: int) -> dict[str, object]:
    return {
        "source_id": f"bulk-{i}",
        "name": f"Customer {i}",
        "email": f"c{i}@example.com",
        "description": PADDING,
        "address": {"city": f"City {i % 7}"},
        "metadata": {"n": i, "even": i % 2 == 0},
    }


async def test_twenty_two_mb_of_customers_across_several_actions(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(1_000, source_id="bulk-{i}", name="Old {i}", email=None)
    job = await voucherify_client.customers.update_in_bulk(customer(i) for i in range(5_000))
    # The emulator answers 413 to a body over 10 MB: every request fit.
    assert len(job.async_action_ids) == 3
    assert sum(part.size or 0 for part in job.parts) == 5_000
    seen: list[JobProgress] = []
    result = await job.wait(timeout=60, on_progress=seen.append, **FAST)
    assert result.succeeded and result.done_count == 5_000 and result.failed_count == 0
    assert [a.status for a in result.actions] == ["DONE"] * 3
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].done == seen[-1].total == 5_000 and seen[-1].finished
    store = emu.store
    assert len(store.by_source) == 5_000  # 1,000 updated, 4,000 created
    for i in range(5_000):
        stored = store.by_source[f"bulk-{i}"]
        assert stored.name == f"Customer {i}", i
        assert stored.email == f"c{i}@example.com"
        assert stored.description == PADDING
        assert stored.address == {"city": f"City {i % 7}"}
        assert stored.metadata == {"n": i, "even": i % 2 == 0}


async def test_waiting_rides_out_faults_and_reports_per_customer_errors(
    voucherify_emulator: Emulator,
) -> None:
    emu = voucherify_emulator
    await emu.configure(job_item_delay_ms=0.05)  # so the job is still running under faults
    items = [
        {"source_id": f"s{i}", "email": "not-an-email" if i % 300 == 0 else f"s{i}@x.io"}
        for i in range(1_500)
    ]

    async def short_sleep(seconds: float) -> None:  # the retries, not their waits, are tested
        await asyncio.sleep(min(seconds, 0.01))

    async with emu.client(sleep=short_sleep) as vf:
        job = await vf.customers.update_in_bulk(items, batch_size=500)
        assert len(job.async_action_ids) == 3
        await emu.configure(error_rate=0.3, drop_rate=0.1, html_rate=0.1, fault_seed=3)
        result = await job.wait(timeout=60, **FAST)
    stats = await emu.stats()
    assert sum(stats["faults"].values()) > 0
    assert result.done_count == 1_495 and result.failed_count == 5
    assert {e.source_id for e in result.errors} == {f"s{i}" for i in range(0, 1_500, 300)}
    assert all(e.key == "invalid_customer" and "email" in (e.details or "") for e in result.errors)
    await emu.configure(error_rate=0, drop_rate=0, html_rate=0)
    store = emu.store
    assert all(store.by_source[f"s{i}"].email == f"s{i}@x.io" for i in range(1_500) if i % 300)
    assert all(f"s{i}" not in store.by_source for i in range(0, 1_500, 300))


async def test_a_dropped_request_mid_way_says_what_to_resubmit(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    items = [{"source_id": f"d{i}", "name": f"D{i}"} for i in range(3_000)]
    await emu.script_faults(
        [
            {"kind": "latency", "latency_ms": 0, "method": "POST", "path": "/v1/customers/bulk"},
            {"kind": "drop", "method": "POST", "path": "/v1/customers/bulk"},
        ]
    )
    with pytest.raises(PartialSubmissionError) as caught:
        await voucherify_client.customers.update_in_bulk(items, batch_size=1_000)
    error = caught.value
    assert error.first_unsent == 1_000 and len(error.job.async_action_ids) == 1
    assert (await error.job.wait(**FAST)).done_count == 1_000
    rest = await voucherify_client.customers.update_in_bulk(
        items[error.first_unsent :], batch_size=1_000
    )
    assert (await rest.wait(**FAST)).done_count == 2_000
    assert sorted(emu.store.by_source) == sorted(f"d{i}" for i in range(3_000))
    posts = (await emu.stats())["by_status"]
    assert posts.get("202") == 3  # the dropped one started nothing


async def test_metadata_for_five_thousand_source_ids_in_batches(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(2_000, source_id="m{i}", metadata={"keep": 1})
    ids = [f"m{i}" for i in range(1, 5_001)]
    job = await voucherify_client.customers.update_metadata_in_bulk(
        ids, {"tier": "gold"}, batch_size=2_000
    )
    assert len(job.async_action_ids) == 3
    result = await job.wait(timeout=60, **FAST)
    assert result.done_count == 5_000
    store = emu.store
    for i in range(1, 5_001):
        expected = {"keep": 1, "tier": "gold"} if i <= 2_000 else {"tier": "gold"}
        assert store.by_source[f"m{i}"].metadata == expected, i


async def test_a_timeout_leaves_the_job_running(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.configure(job_item_delay_ms=5)
    job = await voucherify_client.customers.update_in_bulk(
        [{"source_id": f"t{i}"} for i in range(100)]
    )
    with pytest.raises(AsyncActionTimeoutError, match=job.async_action_id):
        await job.wait(timeout=0.1, **FAST)
    await voucherify_emulator.configure(job_item_delay_ms=0)
    result = await job.wait(timeout=30, **FAST)  # still running, so it can still finish
    assert result.done_count == 100


async def test_a_failed_action_raises_with_its_result(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.configure(job_item_delay_ms=20)
    job = await voucherify_client.customers.update_in_bulk(
        [{"source_id": f"f{i}"} for i in range(50)]
    )
    # The emulator fails an action whose processing breaks: a store error does that.
    await asyncio.sleep(0.05)
    store = emu.store
    original = store.create

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("disk full")

    store.create = broken  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(AsyncActionFailedError, match="disk full") as caught:
            await job.wait(timeout=30, **FAST)
    finally:
        store.create = original  # type: ignore[method-assign]
    assert caught.value.failed_actions[0].id == job.async_action_id
    assert caught.value.result.actions[0].status == "FAILED"

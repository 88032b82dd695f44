"""Fan-out against the emulator: many lookups and writes, faults, cancellation, the client bound."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp
import anyio
import pytest

from tests.conftest import session_of
from voucherify_async import AsyncVoucherify, LocalRateLimiter, NotFoundError, fan_out
from voucherify_async.emulator import Emulator


async def quick_sleep(seconds: float) -> None:
    """Keep retry waits short (the retries themselves are what is under test)."""
    await asyncio.sleep(min(seconds, 0.01))


try:
    import psutil
except ImportError:  # psutil comes with the bench extra; the check below is then skipped
    psutil = None  # type: ignore[assignment]


def client_sockets(port: int) -> int:
    """Open client-side TCP connections of this process to ``port`` (-1: cannot tell)."""
    if psutil is None:
        return -1
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


async def test_two_thousand_lookups_at_concurrency_100_with_missing_ids_and_faults(
    voucherify_emulator: Emulator,
) -> None:
    # 20 times the concurrency, so slots are reused many times over while faults hit them.
    emu = voucherify_emulator
    await emu.seed_customers(1_800, source_id="user-{i}", email=None)
    ids = [f"user-{i}" for i in range(1, 2_001)]  # user-1801 .. user-2000 do not exist
    random.Random(7).shuffle(ids)
    await emu.configure(error_rate=0.05, drop_rate=0.03, fault_seed=11)
    async with emu.client(max_retries=6, sleep=quick_sleep) as vf:
        customers = await vf.customers.get_many(ids, concurrency=100)
    assert len(customers) == 2_000
    for customer_id, customer in zip(ids, customers, strict=True):
        if int(customer_id.removeprefix("user-")) > 1_800:
            assert customer is None, customer_id
        else:
            assert customer is not None and customer.source_id == customer_id
    stats = await emu.stats()
    assert stats["faults"].get("error", 0) > 50 and stats["faults"].get("drop", 0) > 20
    assert stats["by_status"]["404"] == 200


async def test_missing_ids_as_errors_or_per_item_results(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(5, source_id="s{i}")
    ids = ["s1", "nobody", "s2", "s1"]
    with pytest.raises(NotFoundError) as caught:
        await voucherify_client.customers.get_many(ids, missing_ok=False)
    assert "nobody" in caught.value.url
    before = (await voucherify_emulator.stats())["requests_total"]
    results = await voucherify_client.customers.get_many(
        ids, missing_ok=False, return_exceptions=True
    )
    assert isinstance(results[1], NotFoundError)
    assert [getattr(r, "source_id", None) for r in results] == ["s1", None, "s2", "s1"]
    # A repeated id is looked up once.
    assert (await voucherify_emulator.stats())["requests_total"] - before == 3


async def test_a_cancelled_fan_out_leaves_nothing_open(voucherify_emulator: Emulator) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(500, source_id="s{i}")
    port = int(emu.url.rsplit(":", 1)[1])
    before_tasks = len(asyncio.all_tasks())
    async with emu.client(max_concurrency=10) as vf:
        await vf.customers.get("s1")  # the client has heard the server once
        await emu.configure(latency_ms=400)
        sent_before = (await emu.stats())["requests_total"]
        with anyio.move_on_after(0.2) as scope:
            await vf.customers.get_many([f"s{i}" for i in range(1, 501)], concurrency=50)
        assert scope.cancelled_caught
        sent = (await emu.stats())["requests_total"] - sent_before
        assert sent == 10  # the client-wide bound held while the fan-out ran
        assert vf.in_flight == 0
        limiter = vf.rate_limiter
        assert isinstance(limiter, LocalRateLimiter) and limiter.pacer.in_flight == 0
        session = session_of(vf)
        assert session is not None
        connector = session.connector
        assert connector is not None and not connector._acquired
        assert len(asyncio.all_tasks()) == before_tasks
        await anyio.sleep(0.5)
        assert (await emu.stats())["requests_total"] - sent_before == sent  # nothing new
        await emu.configure(latency_ms=0)
        assert (await vf.customers.get("s2")).source_id == "s2"  # the client still works
    await anyio.sleep(0.05)
    assert client_sockets(port) in (0, -1)


async def test_max_concurrency_bounds_every_fan_out_of_the_client(
    voucherify_emulator: Emulator,
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(200, source_id="s{i}")
    await emu.configure(latency_ms=15)
    in_flight = peak = 0

    async def started(*_: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)

    async def ended(*_: Any) -> None:
        nonlocal in_flight
        in_flight -= 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    trace.on_request_exception.append(ended)
    trace.freeze()
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        vf = AsyncVoucherify(
            app_id=emu.app_id,
            app_token=emu.app_token,
            base_url=emu.url,
            session=session,
            max_concurrency=8,
        )
        patient = vf.with_options(timeout=30)  # shares the bound
        ids = [f"s{i}" for i in range(1, 201)]
        first, second = await asyncio.gather(
            vf.customers.get_many(ids, concurrency=50),
            patient.customers.get_many(ids[::-1], concurrency=50),
        )
    assert peak == 8
    assert [c.source_id for c in first if c] == ids
    assert [c.source_id for c in second if c] == ids[::-1]


async def test_create_and_update_many(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    created = await vf.customers.create_many(
        ({"source_id": f"c{i}", "name": f"Name {i}"} for i in range(300)), concurrency=25
    )
    assert [c.source_id for c in created] == [f"c{i}" for i in range(300)]
    updated = await vf.customers.update_many(
        {f"c{i}": {"metadata": {"n": i}, "phone": None} for i in range(0, 300, 2)}
    )
    assert [c.source_id for c in updated] == [f"c{i}" for i in range(0, 300, 2)]
    store = voucherify_emulator.store
    for i in range(300):
        customer = store.by_source[f"c{i}"]
        assert customer.name == f"Name {i}"
        assert (customer.metadata or {}) == ({"n": i} if i % 2 == 0 else {})
    requests = (await voucherify_emulator.stats())["requests_total"]
    with pytest.raises(TypeError, match=r"invalid changes\[1\]\.email"):
        await vf.customers.update_many([("c1", {"name": "ok"}), ("c2", {"email": 5})])
    with pytest.raises(TypeError, match=r"customers\[2\] has an unexpected field 'nmae'"):
        await vf.customers.create_many([{}, {}, {"nmae": "x"}])
    assert (await voucherify_emulator.stats())["requests_total"] == requests  # none sent


async def test_fan_out_runs_any_coroutine_of_the_client(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(30, source_id="s{i}")
    await voucherify_emulator.seed_segment("VIP", ["s3", "s17"])
    segments = await fan_out(
        voucherify_client.customers.list_segments,
        [f"s{i}" for i in range(1, 31)],
        concurrency=10,
    )
    in_vip = [i for i, page in enumerate(segments, start=1) if page.data]
    assert in_vip == [3, 17] and segments[2].data[0].name == "VIP"

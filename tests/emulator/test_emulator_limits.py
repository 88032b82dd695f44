"""Rate limits by type: api_calls, bulk_api_calls, and the api_calls_cycle quota."""

from __future__ import annotations

import aiohttp
import pytest
from emulator_helpers import Http

from voucherify_async import RateLimitError
from voucherify_async.emulator import DEFAULT_BULK_RATE_LIMIT, Emulator, EmulatorControlError
from voucherify_async.emulator._ratelimit import CycleQuota

C = "/v1/customers"


async def test_a_spent_quota_refuses_every_request_until_reset(http: Http, emu: Emulator) -> None:
    await emu.configure(quota=3)
    assert (await http.get("/_emulator/quota")).json["remaining"] == 3
    for _ in range(3):
        assert (await http.get(C)).status == 200
    for path in (C, "/v1/async-actions", f"{C}/nobody"):
        refused = await http.get(path)
        assert refused.status == 429
        assert refused.json["code"] == 429
        assert refused.json["message"] == "Too many requests hit the API too quickly."
        assert refused.headers["X-Rate-Limit-Type"] == "api_calls_cycle"
        # The wait is the rest of the billing cycle: far longer than any client should wait.
        assert int(refused.headers["Retry-After"]) > 86_400
        # The per-minute headers are still there, and still say requests are left there.
        assert int(refused.headers["X-Rate-Limit-Remaining"]) > 0
    state = (await http.get("/_emulator/quota")).json
    assert (state["quota"], state["used"], state["remaining"]) == (3, 3, 0)
    assert (await emu.stats())["rate_limited"] == 3
    await emu.reset()  # a new cycle; the quota itself is kept
    assert (await http.get(C)).status == 200
    assert (await http.get("/_emulator/quota")).json["used"] == 1
    await emu.configure(quota=None)
    assert (await http.get("/_emulator/quota")).json["quota"] is None


async def test_the_client_gives_up_at_once_on_a_spent_quota() -> None:
    async with Emulator(quota=1) as emu, emu.client(max_retries=3) as vf:
        await vf.customers.list(limit=1)
        with pytest.raises(RateLimitError) as caught:
            await vf.customers.list(limit=1)
        assert caught.value.rate_limit.type == "api_calls_cycle"


async def test_bulk_endpoints_have_their_own_limit(http: Http, emu: Emulator) -> None:
    assert (await emu.config())["bulk_rate_limit"] == DEFAULT_BULK_RATE_LIMIT
    await emu.configure(bulk_rate_limit=1)
    first = await http.post(f"{C}/bulk/async", json=[{"source_id": "b1"}])
    assert first.status == 202
    second = await http.post(f"{C}/metadata/async", json={"source_ids": ["b1"], "metadata": {}})
    assert second.status == 429
    assert second.headers["X-Rate-Limit-Type"] == "bulk_api_calls"
    assert "X-Rate-Limit-Limit" in second.headers
    assert (await http.get(C)).status == 200  # other requests are not bulk calls


async def test_bad_limits_are_refused(emu: Emulator) -> None:
    for config in ({"quota": -1}, {"quota": "lots"}, {"bulk_rate_limit": 0}):
        with pytest.raises(EmulatorControlError) as caught:
            await emu.configure(**config)
        assert caught.value.status == 400


def test_cycle_quota_refills_only_when_the_cycle_ends() -> None:
    now = [1000.0]
    quota = CycleQuota(2, cycle_s=100.0, clock=lambda: now[0], wall=lambda: 1_700_000_000.0)
    assert quota.take() is None and quota.take() is None
    refused = quota.take()
    assert refused is not None and refused.type == "api_calls_cycle"
    assert refused.retry_after == 100 and refused.reset_epoch == 1_700_000_100
    now[0] += 99.5
    assert quota.take() is not None  # waiting most of the cycle does not help
    now[0] += 0.5
    assert quota.take() is None and quota.remaining == 1


async def test_process_mode_takes_the_limit_and_seed_options() -> None:
    emulator = Emulator(
        mode="process", quota=5, bulk_rate_limit=7, rate_limit=900, seed=2, seed_activity=True
    )
    async with emulator as emu:
        config = await emu.config()
        assert (config["quota"], config["bulk_rate_limit"], config["rate_limit"]) == (5, 7, 900)
        async with aiohttp.ClientSession(headers=emu.headers) as session:
            async with session.get(emu.url + C) as reply:
                assert reply.headers["X-Rate-Limit-Limit"] == "900"
            async with session.get(emu.url + C + "/seed-2/activity") as reply:
                events = (await reply.json())["data"]
                assert [e["type"] for e in events][-1] == "customer.created"
